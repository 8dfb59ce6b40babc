from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, no_translations
from django.utils import timezone

from chairtime.announcements.store import (
    Announcement,
    AnnouncementStoreError,
    InvalidAnnouncement,
    get_store,
)

FIELDS = {"id", "text", "starts_at", "ends_at"}


def _parse_time(value: Any, field: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidAnnouncement(
            field, "Give the time as an ISO 8601 string, e.g. 2026-12-24T17:00:00+01:00."
        )
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidAnnouncement(
            field, f"{value!r} is not an ISO 8601 time, e.g. 2026-12-24T17:00:00+01:00."
        ) from None
    if timezone.is_naive(parsed):
        raise InvalidAnnouncement(field, f"{value!r} has no UTC offset; add one, e.g. +01:00 or Z.")
    return parsed


def parse_entry(entry: Any, now: datetime) -> Announcement:
    if not isinstance(entry, dict):
        raise InvalidAnnouncement("entry", "Each entry must be a JSON object.")
    unknown = sorted(set(entry) - FIELDS)
    if unknown:
        raise InvalidAnnouncement(
            "entry", f"Unknown field(s) {', '.join(unknown)}; allowed: {', '.join(sorted(FIELDS))}."
        )
    for required in ("id", "text"):
        if required not in entry:
            raise InvalidAnnouncement(required, "This field is required.")
    if not isinstance(entry["text"], str):
        raise InvalidAnnouncement("text", "The text must be a string.")
    return Announcement(
        id=entry["id"],
        text=entry["text"].strip(),
        starts_at=_parse_time(entry.get("starts_at"), "starts_at"),
        ends_at=_parse_time(entry.get("ends_at"), "ends_at"),
        created_at=now,
        updated_at=now,
    )


class Command(BaseCommand):
    help = (
        "Load announcements from a JSON file: a list of objects with id, text and optional "
        "starts_at / ends_at (ISO 8601 with a UTC offset). Entries are matched by id, so "
        "running it again changes nothing. The whole file is checked before anything is written."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("file", type=Path, help="Path to the JSON file.")

    # An operator's command: the rules' messages (store.check_announcement, translated
    # for the back office) stay in English here, whatever language the process last used.
    @no_translations
    def handle(self, *args, file: Path, **options) -> None:
        now = timezone.now()
        announcements = self._read(file, now)
        store = get_store()
        counts = {"created": 0, "updated": 0, "unchanged": 0}
        try:
            existing = {a.id: a for a in store.list_all()}
            for announcement in announcements:
                old = existing.get(announcement.id)
                if old is None:
                    outcome = "created"
                elif old.same_content(announcement):
                    outcome = "unchanged"
                else:
                    outcome = "updated"
                    announcement = old.edited(
                        text=announcement.text,
                        starts_at=announcement.starts_at,
                        ends_at=announcement.ends_at,
                        now=now,
                    )
                if outcome != "unchanged":
                    store.put(announcement)
                counts[outcome] += 1
                if options["verbosity"] >= 2:
                    self.stdout.write(f"{announcement.id}: {outcome}")
        except AnnouncementStoreError as e:
            raise CommandError(
                f"DynamoDB failed after {counts['created'] + counts['updated']} write(s): {e}. "
                "Loading is idempotent: run the command again."
            ) from e
        self.stdout.write(
            self.style.SUCCESS(
                f"Loaded {len(announcements)} announcement(s) into {store.table_name}: "
                f"{counts['created']} created, {counts['updated']} updated, {counts['unchanged']} unchanged."
            )
        )

    def _read(self, file: Path, now: datetime) -> list[Announcement]:
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except OSError as e:
            raise CommandError(f"Cannot read {file}: {e.strerror or e}") from e
        except (ValueError, UnicodeDecodeError) as e:
            raise CommandError(f"{file} is not valid JSON: {e}") from e
        if not isinstance(data, list):
            raise CommandError(f"{file} must contain a JSON list of announcements.")
        announcements: list[Announcement] = []
        seen: set[str] = set()
        for number, entry in enumerate(data, start=1):
            label = f"entry {number}"
            if isinstance(entry, dict) and "id" in entry:
                label += f" (id {entry['id']!r})"
            try:
                announcement = parse_entry(entry, now)
            except InvalidAnnouncement as e:
                raise CommandError(f"{file}, {label}: {e.field}: {e.message} Nothing was loaded.") from e
            if announcement.id in seen:
                raise CommandError(f"{file}, {label}: the id appears twice in the file. Nothing was loaded.")
            seen.add(announcement.id)
            announcements.append(announcement)
        return announcements
