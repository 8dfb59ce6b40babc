from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from chairtime.announcements.store import AnnouncementStoreError, get_store


class Command(BaseCommand):
    help = (
        "Create the announcements DynamoDB table (ANNOUNCEMENTS_TABLE) if it is missing and "
        "enable its TTL on expires_at. Safe to run on every deploy."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--no-wait",
            action="store_true",
            help="Do not wait for a new table to become ACTIVE (TTL is then enabled by the next run).",
        )

    def handle(self, *args, no_wait: bool, **options) -> None:
        try:
            setup = get_store().create_table(wait=not no_wait)
        except AnnouncementStoreError as e:
            raise CommandError(f"Could not set up the announcements table: {e}") from e
        if setup.created:
            self.stdout.write(self.style.SUCCESS(f"Created table {setup.table}."))
        else:
            self.stdout.write(f"Table {setup.table} already exists.")
        if setup.ttl == "enabled":
            self.stdout.write(self.style.SUCCESS("Enabled TTL on expires_at."))
        elif setup.ttl == "already enabled":
            self.stdout.write("TTL on expires_at is already enabled.")
        else:
            self.stdout.write(
                self.style.WARNING("The table is not ACTIVE yet; run this again to enable TTL on expires_at.")
            )
