"""``manage.py dump_salon [-o FILE]``: write the salon as a salon file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chairtime.booking.models import Salon
from chairtime.booking.salonfile import SalonFileError, salon_file_dump, salon_file_parse


class Command(BaseCommand):
    help = (
        "Write the salon (settings, resources, services and their phases, stylists and their own "
        "prices, hours, time off, closures) as a salon "
        "file that load_salon reads back unchanged. Times are the salon's local times."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")

    def handle(self, *args: Any, output: str | None, **options: Any) -> None:
        try:
            text = salon_file_dump()
        except Salon.DoesNotExist:
            raise CommandError("There is no salon to dump yet; set one up with load_salon first.") from None

        # The back office can store what a salon file refuses (overlapping hours,
        # say). The dump is still written, as a backup, but nobody should learn at
        # restore time that it does not load.
        try:
            salon_file_parse(text)
        except SalonFileError as e:
            problems = "\n".join(f"  {problem}" for problem in e.problems)
            self.stderr.write(
                f"Warning: load_salon would refuse this dump until these are fixed:\n{problems}"
            )

        if output is None:
            self.stdout.write(text, ending="")
            return
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as e:
            raise CommandError(f"{output}: cannot be written: {e.strerror or e}") from None
        self.stdout.write(f"Wrote {output}")
