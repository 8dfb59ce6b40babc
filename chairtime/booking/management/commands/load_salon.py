"""``manage.py load_salon FILE``: create or update the salon from a salon file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from chairtime.booking.salonfile import SalonFileError, salon_file_load, salon_file_parse


class Command(BaseCommand):
    help = (
        "Create or update the salon (settings, resources, services and their phases, stylists and "
        "their own prices, hours, time off, closures) "
        "from a salon file. Services and stylists are matched by key; rows already as the file "
        "says are not written. The format is described in docs/salon-file.md."
    )
    # Lets tests (and callers of call_command) hand in what "-" reads.
    stealth_options = ("stdin",)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", help='the salon file (JSON); "-" reads standard input')
        parser.add_argument(
            "--prune",
            action="store_true",
            help="deactivate (never delete) the services and stylists the file does not list",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="check the file and report what would change; write nothing",
        )

    def handle(self, *args: Any, file: str, prune: bool, dry_run: bool, **options: Any) -> None:
        text = self._read(file, options.get("stdin") or sys.stdin)
        try:
            salon_file = salon_file_parse(text)
            result = salon_file_load(salon_file=salon_file, now=timezone.now(), prune=prune, dry_run=dry_run)
        except SalonFileError as e:
            problems = "\n".join(f"  {problem}" for problem in e.problems)
            name = "The standard input" if file == "-" else file
            raise CommandError(f"{name} is not a valid salon file:\n{problems}") from None

        verb = "Dry run, nothing written; loading would give" if dry_run else "Loaded"
        self.stdout.write(self.style.SUCCESS(f"{verb} {file}: {result.total}"))
        for name in ("salon", "resources", "services", "stylists", "closures"):
            self.stdout.write(f"  {name}: {getattr(result, name)}")

    def _read(self, file: str, stdin: Any) -> str:
        if file == "-":
            return stdin.read()
        try:
            # utf-8-sig: a byte order mark, as some Windows editors write, is not an error.
            return Path(file).read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise CommandError(f"{file}: no such file") from None
        except UnicodeDecodeError as e:
            raise CommandError(f"{file}: not UTF-8 text ({e.reason} at byte {e.start})") from None
        except OSError as e:
            raise CommandError(f"{file}: cannot be read: {e.strerror or e}") from None
