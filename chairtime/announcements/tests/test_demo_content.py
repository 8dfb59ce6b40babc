"""The demo announcements (demo/announcements.json) say only what the demo salon
(demo/salon.json) makes true: the stylists they name work there, the dates they
name are its closures, and they state no times of day, since the engine has no
special opening hours that could make one true."""

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
NOT_NAMES = {"Open", "Closed", "Book", "While", "The", "Rue", "Saint-Maur"}
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


def vocabulary() -> set[str]:
    """Capitalised words the salon file itself uses for things other than stylists."""
    data = salon()
    phrases = [data["salon"]["name"]]
    phrases += [s["name"] for s in data["services"]]
    phrases += [c["reason"] for c in data["closures"] if isinstance(c, dict)]
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
def test_it_names_only_dates_the_demo_salon_is_closed(entry):
    closed = closures()

    for month, day, year in mentioned_dates(entry["text"]):
        if year is None:
            assert any((c.month, c.day) == (month, day) for c in closed), (month, day)
        else:
            assert date(year, month, day) in closed, date(year, month, day)


@pytest.mark.parametrize("entry", announcements(), ids=lambda entry: entry["id"])
def test_it_announces_no_times_of_day(entry):
    assert _TIME_OF_DAY.findall(entry["text"]) == []


def test_it_catches_what_the_old_demo_announcements_said():
    # The texts that drifted from demo/salon.json before these tests existed.
    maya = "Maya has joined the team! She takes bookings from Tuesday to Saturday."
    holiday = "We close early (3 pm) on 24 and 31 December and stay closed on 25 and 26 December."
    known = {s["name"] for s in salon()["stylists"]} | vocabulary() | NOT_NAMES | set(WEEKDAYS)

    assert "Maya" in [w for w in _CAPITALISED.findall(maya) if w not in known]
    assert _TIME_OF_DAY.findall(holiday) == ["3 pm"]
    assert mentioned_dates(holiday) == [(12, 24, None), (12, 31, None), (12, 25, None), (12, 26, None)]
    assert not any((c.month, c.day) == (12, 26) for c in closures())
