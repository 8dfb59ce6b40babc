"""The demo announcements (demo/announcements.json) say only what the demo salon
(demo/salon.json) makes true: the stylists they name work there, the dates they
name are its closures or special days, and the times of day they name are when
its special days open or close."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import pytest
from django.conf import settings

DEMO = Path(settings.BASE_DIR) / "demo"
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
# Capitalised words of the demo announcements that name no person. A new one is a
# decision: add it here if it is no name, or to demo/salon.json if it is a stylist.
NOT_NAMES = {"Open", "Closed", "Book", "While", "The", "Rue", "Saint-Maur", "Holiday"}
_CAPITALISED = re.compile(r"\b[A-Z][\w'-]*")
# "25 December", "24 and 31 December 2026", "December 25", "December 25, 2026".
_DAY_MONTH = re.compile(rf"\b((?:\d{{1,2}}(?:, | and | & ))*\d{{1,2}}) ({'|'.join(MONTHS)})(?: (\d{{4}}))?")
_MONTH_DAY = re.compile(rf"\b({'|'.join(MONTHS)}) (\d{{1,2}})\b(?:,? (\d{{4}}))?")
_TIME_OF_DAY = re.compile(r"\b\d{1,2}(?::\d{2})?\s?(?:am|pm|a\.m\.|p\.m\.)|\b\d{1,2}:\d{2}\b|\bnoon\b", re.I)


def announcements() -> list[dict]:
    return json.loads((DEMO / "announcements.json").read_text(encoding="utf-8"))


def salon() -> dict:
    return json.loads((DEMO / "salon.json").read_text(encoding="utf-8"))


def closures() -> set[date]:
    return {date.fromisoformat(c if isinstance(c, str) else c["date"]) for c in salon()["closures"]}


def special_days() -> dict[date, list[list[str]]]:
    """The salon-wide special hours: date -> [["09:00", "15:00"], ...]."""
    return {date.fromisoformat(d["date"]): d["hours"] for d in salon()["salon"].get("special_hours", [])}


def as_hhmm(text: str) -> str:
    """ "3 pm" -> "15:00", "9:30 am" -> "09:30", "noon" -> "12:00", "15:00" -> "15:00"."""
    if text.lower() == "noon":
        return "12:00"
    match = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?\s?(am|pm|a\.m\.|p\.m\.)?", text, re.I)
    assert match, text
    hour, minute, half = int(match[1]), int(match[2] or 0), (match[3] or "").lower()
    if half.startswith("p") and hour != 12:
        hour += 12
    if half.startswith("a") and hour == 12:
        hour = 0
    return f"{hour:02}:{minute:02}"


def vocabulary() -> set[str]:
    """Capitalised words the salon file itself uses for things other than stylists."""
    data = salon()
    phrases = [data["salon"]["name"]]
    phrases += [s["name"] for s in data["services"]]
    phrases += [c["reason"] for c in data["closures"] if isinstance(c, dict)]
    phrases += [d.get("reason", "") for d in data["salon"].get("special_hours", [])]
    return {word for phrase in phrases for word in _CAPITALISED.findall(phrase)}


def mentioned_dates(text: str) -> list[tuple[int, int, int | None]]:
    """(month, day, year or None) of every date written out in ``text``."""
    found = [
        (MONTHS.index(m) + 1, int(d), int(y) if y else None)
        for days, m, y in _DAY_MONTH.findall(text)
        for d in re.findall(r"\d+", days)
    ]
    found += [(MONTHS.index(m) + 1, int(d), int(y) if y else None) for m, d, y in _MONTH_DAY.findall(text)]
    return found


@pytest.mark.parametrize("entry", announcements(), ids=lambda entry: entry["id"])
def test_it_names_only_stylists_of_the_demo_salon(entry):
    stylists = {s["name"] for s in salon()["stylists"] if s.get("is_active", True)}
    known = stylists | vocabulary() | NOT_NAMES | set(MONTHS) | set(WEEKDAYS) | {f"{d}s" for d in WEEKDAYS}

    unknown = [word for word in _CAPITALISED.findall(entry["text"]) if word not in known]

    assert unknown == [], f"not stylists of demo/salon.json ({', '.join(sorted(stylists))}): {unknown}"


@pytest.mark.parametrize("entry", announcements(), ids=lambda entry: entry["id"])
def test_it_names_only_dates_the_demo_salon_is_closed_or_keeps_special_hours(entry):
    closed = closures() | set(special_days())

    for month, day, year in mentioned_dates(entry["text"]):
        if year is None:
            assert any((c.month, c.day) == (month, day) for c in closed), (month, day)
        else:
            assert date(year, month, day) in closed, date(year, month, day)


@pytest.mark.parametrize("entry", announcements(), ids=lambda entry: entry["id"])
def test_it_announces_only_the_opening_and_closing_times_of_its_special_days(entry):
    named_days = {
        day
        for day in special_days()
        for month, day_of_month, year in mentioned_dates(entry["text"])
        if (day.month, day.day) == (month, day_of_month) and year in (None, day.year)
    }
    true_times = {bound for day in named_days for interval in special_days()[day] for bound in interval}

    for said in _TIME_OF_DAY.findall(entry["text"]):
        assert as_hhmm(said.strip()) in true_times, f"{said!r} is no opening or closing time of {named_days}"


def test_it_catches_what_the_old_demo_announcements_said():
    # The texts that drifted from demo/salon.json before these tests existed.
    maya = "Maya has joined the team! She takes bookings from Tuesday to Saturday."
    holiday = "We close early (3 pm) on 24 and 31 December and stay closed on 25 and 26 December."
    known = {s["name"] for s in salon()["stylists"]} | vocabulary() | NOT_NAMES | set(WEEKDAYS)

    assert "Maya" in [w for w in _CAPITALISED.findall(maya) if w not in known]
    assert _TIME_OF_DAY.findall(holiday) == ["3 pm"]
    assert as_hhmm("3 pm") == "15:00"
    assert mentioned_dates(holiday) == [(12, 24, None), (12, 31, None), (12, 25, None), (12, 26, None)]
    assert not any((c.month, c.day) == (12, 26) for c in closures() | set(special_days()))
    # Closing at 2 pm on Christmas Eve would be a lie: the demo salon closes at 3 pm.
    assert as_hhmm("2 pm") not in {bound for hours in special_days().values() for i in hours for bound in i}
