"""load_salon / dump_salon: the salon file format, its checks, and the round trip."""

from __future__ import annotations

import copy
import io
import json
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import base as management_base
from django.core.management import call_command, load_command_class
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from chairtime.booking import salonfile
from chairtime.booking.models import (
    Closure,
    Resource,
    Salon,
    Service,
    ServicePhase,
    SpecialHours,
    Stylist,
    StylistService,
    TimeOff,
    WorkingHours,
)
from chairtime.booking.salonfile import SalonFileError, salon_file_dump, salon_file_load, salon_file_parse
from chairtime.booking.tests.factories import (
    AppointmentFactory,
    ClosureFactory,
    HoldFactory,
    SalonFactory,
    ServiceFactory,
    StylistFactory,
    TimeOffFactory,
)

DEMO = Path(settings.BASE_DIR) / "demo" / "salon.json"

# A small valid file; the bad files below are this with one thing wrong.
MINIMAL: dict[str, Any] = {
    "salon": {
        "name": "Small Salon",
        "time_zone": "America/Los_Angeles",
        "slot_minutes": 15,
        "min_notice_minutes": 120,
        "horizon_days": 14,
    },
    "services": [
        {"key": "haircut", "name": "Haircut", "duration_minutes": 45, "price": "55.00"},
        {"key": "shave", "name": "Shave", "duration_minutes": 30, "price": "20.00"},
    ],
    "stylists": [
        {"key": "ana", "name": "Ana", "services": ["haircut"], "hours": {"mon": [["09:00", "17:00"]]}},
        {
            "key": "zoe",
            "name": "Zoe",
            "services": ["haircut", "shave"],
            "hours": {"tue": [["09:00", "12:00"], ["13:00", "17:00"]]},
            "time_off": [{"start": "2027-02-01T09:00", "end": "2027-02-01T12:00"}],
        },
    ],
    "closures": ["2027-02-14"],
}


def minimal() -> dict[str, Any]:
    return copy.deepcopy(MINIMAL)


def write(tmp_path: Path, data: dict[str, Any] | str, name: str = "salon.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data, indent=2), encoding="utf-8")
    return path


def load(path: Path | str, *args: str) -> str:
    out = io.StringIO()
    call_command("load_salon", str(path), *args, stdout=out)
    return out.getvalue()


def load_text(text: str) -> str:
    out = io.StringIO()
    call_command("load_salon", "-", stdin=io.StringIO(text), stdout=out)
    return out.getvalue()


def write_bytes(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "salon.json"
    path.write_bytes(content)
    return path


def dump() -> str:
    out = io.StringIO()
    call_command("dump_salon", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def snapshot() -> dict[str, list[dict[str, Any]]]:
    """Every row the loader may write, with primary keys: equal snapshots mean no
    row was created, deleted or changed."""
    models = [Salon, Service, Stylist, Stylist.services.through, WorkingHours, TimeOff, Closure, SpecialHours]
    return {m.__name__: list(m.objects.order_by("pk").values()) for m in models}


def hours_of(key: str) -> list[tuple[int, time, time]]:
    return list(
        WorkingHours.objects.filter(stylist__key=key)
        .order_by("weekday", "start")
        .values_list("weekday", "start", "end")
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture
def demo_loaded(db) -> None:
    load(DEMO)


# --- Loading ------------------------------------------------------------------------------


def test_it_loads_the_demo_salon(db):
    output = load(DEMO)

    assert "19 created, 0 updated, 0 unchanged" in output
    salon = Salon.objects.get()
    assert (
        salon.name,
        salon.time_zone,
        salon.slot_minutes,
        salon.min_notice_minutes,
        salon.horizon_days,
    ) == (
        "Demo Salon",
        "America/Los_Angeles",
        15,
        60,
        30,
    )
    assert list(Service.objects.values_list("key", flat=True)) == [
        "haircut",
        "beard-trim",
        "colour",
        "blow-dry",
        "kids-cut",
        "fringe-trim",
    ]
    haircut = Service.objects.get(key="haircut")
    assert (haircut.name, haircut.duration_minutes, haircut.price, haircut.is_active) == (
        "Haircut",
        60,
        Decimal("50.00"),
        True,
    )
    assert list(Stylist.objects.values_list("key", flat=True)) == ["ana", "ben", "chloe", "dev"]
    ana = Stylist.objects.get(key="ana")
    assert set(ana.services.values_list("key", flat=True)) == {"haircut", "colour", "blow-dry", "fringe-trim"}
    assert [(start, end) for weekday, start, end in hours_of("ana") if weekday == 1] == [
        (time(9, 0), time(12, 30)),
        (time(13, 30), time(18, 0)),
    ]
    assert not [h for h in hours_of("ana") if h[0] in (0, 6)]  # Monday and Sunday off
    # 2027-01-04T00:00 in Los Angeles (PST, UTC-8) is 08:00 UTC.
    assert list(ana.time_off.values_list("start", "end", "reason")) == [
        (utc(2027, 1, 4, 8), utc(2027, 1, 6, 8), "Holiday")
    ]
    # A colour with processing time, a basin the colour and the blow-dry share, and
    # Ana's own (senior) cut.
    assert {r.key: r.units.count() for r in Resource.objects.all()} == {"basin": 2, "colour-station": 1}
    assert phases_of("colour") == [(45, False, ["colour-station"]), (30, True, []), (15, False, ["basin"])]
    assert Service.objects.get(key="colour").duration_minutes == 90
    assert phases_of("blow-dry") == [(15, False, ["basin"]), (30, False, [])]
    cut = StylistService.objects.get(stylist__key="ana", service__key="haircut")
    assert (cut.price, cut.duration_minutes) == (Decimal("65.00"), 45)
    assert list(Closure.objects.values_list("date", flat=True)) == [
        date(2026, 12, 25),
        date(2027, 1, 1),
        date(2027, 7, 5),
        date(2027, 12, 25),
    ]


def test_it_ships_a_demo_salon_with_plenty_to_book_from_any_day():
    salon_file = salon_file_parse(DEMO.read_text())
    offered_on: dict[str, set[int]] = {s.key: set() for s in salon_file.services}
    for stylist in salon_file.stylists:
        for weekday, intervals in enumerate(stylist.hours.by_weekday()):
            for key in stylist.service_keys if intervals else []:
                offered_on[key].add(weekday)
        # Time off is short, so a 30-day horizon always holds weeks of free slots.
        for entry in stylist.time_off:
            assert entry.end - entry.start <= timedelta(days=3), stylist.key
    assert offered_on["haircut"] == set(range(7))
    assert all(len(weekdays) >= 5 for weekdays in offered_on.values()), offered_on


def test_it_changes_nothing_when_loaded_twice(demo_loaded):
    before = snapshot()

    with CaptureQueriesContext(connection) as queries:
        output = load(DEMO)

    assert "0 created, 0 updated, 19 unchanged" in output
    assert snapshot() == before
    writes = [
        q["sql"] for q in queries.captured_queries if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")
    ]
    assert writes == []


def test_it_locks_the_stylists_as_a_booking_does(demo_loaded):
    if not connection.features.has_select_for_update:
        pytest.skip(f"{connection.vendor} has no SELECT ... FOR UPDATE; writers are serialised instead")

    with CaptureQueriesContext(connection) as queries:
        load(DEMO)

    locks = [q["sql"].replace("`", '"') for q in queries.captured_queries if "FOR UPDATE" in q["sql"]]
    # The booking service's order: the stylists, then the resources, each by primary key.
    assert len(locks) == 2
    assert 'FROM "booking_stylist"' in locks[0]
    assert 'FROM "booking_resource"' in locks[1]
    assert all("ORDER BY" in lock for lock in locks)


def test_it_updates_a_service_found_by_key(demo_loaded, tmp_path):
    data = json.loads(DEMO.read_text())
    data["services"][0]["price"] = "55.00"
    data["services"][0]["name"] = "Cut & style"
    pk = Service.objects.get(key="haircut").pk

    output = load(write(tmp_path, data))

    assert "0 created, 1 updated, 18 unchanged" in output
    assert "services: 0 created, 1 updated, 5 unchanged" in output
    haircut = Service.objects.get(key="haircut")
    assert (haircut.pk, haircut.name, haircut.price) == (pk, "Cut & style", Decimal("55.00"))


def test_it_replaces_a_stylists_hours(db, tmp_path):
    SalonFactory()
    ana = StylistFactory(key="ana")  # Monday to Saturday, with a lunch break
    data = minimal()

    output = load(write(tmp_path, data))

    assert "stylists: 1 created, 1 updated, 0 unchanged" in output
    assert Stylist.objects.get(key="ana").pk == ana.pk
    assert hours_of("ana") == [(0, time(9, 0), time(17, 0))]


def test_it_replaces_the_services_a_stylist_offers(db, tmp_path):
    load(write(tmp_path, minimal()))
    data = minimal()
    data["stylists"][1]["services"] = ["shave"]

    output = load(write(tmp_path, data))

    assert "stylists: 0 created, 1 updated, 1 unchanged" in output
    assert list(Stylist.objects.get(key="zoe").services.values_list("key", flat=True)) == ["shave"]


def test_it_upserts_closures_by_date_and_keeps_the_others(db, tmp_path):
    SalonFactory()
    ClosureFactory(date=date(2027, 2, 14), reason="Valentine's Day")
    ClosureFactory(date=date(2027, 3, 1), reason="Staff training")
    data = minimal()
    data["closures"] = ["2027-02-14", {"date": "2027-04-01", "reason": "Inventory"}]

    output = load(write(tmp_path, data))

    assert "closures: 1 created, 1 updated, 0 unchanged" in output
    assert list(Closure.objects.values_list("date", "reason")) == [
        (date(2027, 2, 14), ""),  # a plain date has no reason
        (date(2027, 3, 1), "Staff training"),
        (date(2027, 4, 1), "Inventory"),
    ]


def test_it_reads_prices_written_as_json_numbers_exactly(db, tmp_path):
    text = json.dumps(minimal()).replace('"55.00"', "19.99").replace('"20.00"', "20")

    load(write(tmp_path, text))

    assert Service.objects.get(key="haircut").price == Decimal("19.99")
    assert Service.objects.get(key="shave").price == Decimal("20.00")


def test_it_orders_by_the_file_unless_a_position_is_given(db, tmp_path):
    data = minimal()
    data["services"][0]["position"] = 7

    load(write(tmp_path, data))

    assert dict(Service.objects.values_list("key", "position")) == {"haircut": 7, "shave": 1}
    assert dict(Stylist.objects.values_list("key", "position")) == {"ana": 0, "zoe": 1}


def test_it_reads_standard_input(db):
    out = io.StringIO()

    call_command("load_salon", "-", stdin=io.StringIO(json.dumps(minimal())), stdout=out)

    assert "6 created" in out.getvalue()
    assert Salon.objects.get().name == "Small Salon"


def test_it_writes_nothing_in_a_dry_run(demo_loaded, tmp_path):
    data = json.loads(DEMO.read_text())
    data["services"][0]["price"] = "55.00"
    data["stylists"][0]["hours"]["mon"] = [["09:00", "10:00"]]
    before = snapshot()

    output = load(write(tmp_path, data), "--dry-run")

    assert "Dry run, nothing written" in output
    assert "0 created, 2 updated, 17 unchanged" in output
    assert snapshot() == before


# --- Time off and time zones ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "utc_start", "length"),
    [
        # Spring forward: 01:00 PST to 05:00 PDT is three hours, not four.
        ("2027-03-14T01:00", "2027-03-14T05:00", utc(2027, 3, 14, 9), timedelta(hours=3)),
        # Fall back: 00:00 PDT to 03:00 PST is four hours, not three.
        ("2027-11-07T00:00", "2027-11-07T03:00", utc(2027, 11, 7, 7), timedelta(hours=4)),
        ("2027-01-04T00:00", "2027-01-06T00:00", utc(2027, 1, 4, 8), timedelta(days=2)),
        ("2027-07-01T09:00", "2027-07-01T17:00", utc(2027, 7, 1, 16), timedelta(hours=8)),
        # An explicit offset picks one of the two 01:30s of the fall-back night.
        (
            "2027-11-07T01:30-08:00",
            "2027-11-07T04:00",
            utc(2027, 11, 7, 9, 30),
            timedelta(hours=2, minutes=30),
        ),
        (
            "2027-11-07T01:30-07:00",
            "2027-11-07T04:00",
            utc(2027, 11, 7, 8, 30),
            timedelta(hours=3, minutes=30),
        ),
        ("2027-01-04T08:00Z", "2027-01-04T12:00:00Z", utc(2027, 1, 4, 8), timedelta(hours=4)),
    ],
)
def test_it_converts_local_time_off_to_utc(db, tmp_path, start, end, utc_start, length):
    data = minimal()
    data["stylists"][0]["time_off"] = [{"start": start, "end": end, "reason": "Away"}]

    load(write(tmp_path, data))

    time_off = TimeOff.objects.get(stylist__key="ana")
    assert time_off.start == utc_start
    assert time_off.end - time_off.start == length


def test_it_reads_times_in_the_files_own_time_zone(db, tmp_path):
    SalonFactory(time_zone="Europe/Paris")  # the database's zone must not matter
    data = minimal()
    data["salon"]["time_zone"] = "Asia/Kolkata"

    load(write(tmp_path, data))

    assert TimeOff.objects.get(stylist__key="zoe").start == datetime(2027, 2, 1, 3, 30, tzinfo=UTC)


def test_it_replaces_time_off_to_come_and_keeps_ended_time_off(db):
    load_now = utc(2027, 6, 1, 12)
    SalonFactory()
    ana = StylistFactory(key="ana")
    ended = TimeOffFactory(stylist=ana, start=utc(2027, 5, 1, 16), end=utc(2027, 5, 2, 1), reason="Flu")
    running = TimeOffFactory(stylist=ana, start=utc(2027, 6, 1, 8), end=utc(2027, 6, 2, 8))
    future = TimeOffFactory(stylist=ana, start=utc(2027, 7, 1, 16), end=utc(2027, 7, 2, 1))
    data = minimal()
    data["stylists"][0]["time_off"] = [
        {"start": "2027-07-01T09:00", "end": "2027-07-01T18:00"},  # = future, unchanged
        {"start": "2027-08-01T09:00", "end": "2027-08-01T18:00"},
    ]

    salon_file_load(salon_file=salon_file_parse(json.dumps(data)), now=load_now)

    remaining = set(TimeOff.objects.filter(stylist=ana).values_list("pk", flat=True))
    assert ended.pk in remaining
    assert future.pk in remaining
    assert running.pk not in remaining
    assert sorted(TimeOff.objects.filter(stylist=ana).values_list("start", flat=True)) == [
        utc(2027, 5, 1, 16),
        utc(2027, 7, 1, 16),
        utc(2027, 8, 1, 16),
    ]


def test_it_dumps_a_repeated_wall_time_with_its_offset(db):
    SalonFactory()
    ana = StylistFactory(key="ana")
    # 01:30 PDT and 01:30 PST on the night the clocks go back, and a time around it.
    TimeOffFactory(stylist=ana, start=utc(2027, 11, 7, 8, 30), end=utc(2027, 11, 7, 9, 30))
    TimeOffFactory(stylist=ana, start=utc(2027, 11, 7, 11), end=utc(2027, 11, 7, 12, 0, 30))

    text = dump()

    time_off = json.loads(text)["stylists"][0]["time_off"]
    assert time_off == [
        {"start": "2027-11-07T01:30-07:00", "end": "2027-11-07T01:30-08:00"},
        {"start": "2027-11-07T03:00", "end": "2027-11-07T04:00:30"},
    ]
    before = snapshot()
    assert "0 created, 0 updated" in load_text(text)
    assert snapshot() == before


# --- Refusing bad files ----------------------------------------------------------------------

DELETE = object()


def changed(path: tuple[str | int, ...], value: Any) -> dict[str, Any]:
    data = minimal()
    target = data
    for part in path[:-1]:
        target = target[part]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


BAD_FILES = [
    (
        ("salon", "special_hours"),
        [{"date": "2027-12-24", "hours": [["09:00", "12:00"], ["11:00", "15:00"]]}],
        "salon.special_hours[0].hours[1]: 11:00-15:00 overlaps 09:00-12:00 (hours[0])",
    ),
    (
        ("salon", "special_hours"),
        [{"date": "2027-02-14", "hours": [["09:00", "12:00"]]}],
        "salon.special_hours[0].date: 2027-02-14 is also a closure; give it in one place",
    ),
    (
        ("salon", "special_hours"),
        [{"date": "2027-12-24", "hours": []}, {"date": "2027-12-24", "hours": [["09:00", "12:00"]]}],
        'salon.special_hours[1].date: duplicate date "2027-12-24", first used at salon.special_hours[0]',
    ),
    (
        ("salon", "special_hours"),
        [{"date": "2027-12-24", "hours": [["09:00", "15:00:30"]]}],
        'salon.special_hours[0].hours[0]: end "15:00:30" has seconds',
    ),
    (
        ("stylists", 0, "special_hours"),
        [{"date": "2027-06-27", "hours": []}],
        "stylists[0].special_hours[0].hours: a stylist's special day needs hours; for a day off, give "
        "time_off",
    ),
    (
        ("stylists", 0, "special_hours"),
        [{"date": "3000-01-01", "hours": [["10:00", "14:00"]]}],
        "stylists[0].special_hours[0].date: must be between 2000-01-01 and 2999-12-31",
    ),
    (("salon",), DELETE, "salon: is required"),
    (("stylist",), [], "stylist: is not a field of this format"),
    (("salon", "time_zone"), "Mars/Olympus", 'salon.time_zone: "Mars/Olympus" is not a known time zone'),
    (("salon", "slot_minutes"), 4, "salon.slot_minutes: must be between 5 and 240, not 4"),
    (("salon", "min_notice_minutes"), "60", 'salon.min_notice_minutes: must be a whole number, not "60"'),
    (("salon", "horizon_days"), 367, "salon.horizon_days: must be between 0 and 366, not 367"),
    (("salon", "name"), " ", "salon.name: must not be empty"),
    (("services", 0, "duration_minutes"), 721, "services[0].duration_minutes: must be between 5 and 720"),
    (("services", 1, "duration_minutes"), 4, "services[1].duration_minutes: must be between 5 and 720"),
    (("services", 0, "price"), "50.001", 'services[0].price: must be an amount like "50.00"'),
    (("services", 0, "price"), "-1.00", 'services[0].price: must be an amount like "50.00"'),
    (("services", 0, "price"), "1000000", 'services[0].price: must be an amount like "50.00"'),
    (("services", 0, "price"), True, 'services[0].price: must be an amount like "50.00"'),
    (
        ("services", 1, "key"),
        "haircut",
        'services[1].key: duplicate key "haircut", first used at services[0]',
    ),
    (
        ("services", 1, "key"),
        "HairCut",
        'services[1].key: duplicate key "HairCut", first used at services[0]',
    ),
    (("services", 0, "key"), "hair cut", 'services[0].key: "hair cut" is not a key'),
    (("services", 0, "name"), "x" * 101, "services[0].name: must be at most 100 characters long, not 101"),
    (("services", 0, "description"), "Cut\x00", "services[0].description: must not contain NUL characters"),
    (("services", 0, "colour"), "red", "services[0].colour: is not a field of this format"),
    (("stylists", 1, "key"), "ana", 'stylists[1].key: duplicate key "ana", first used at stylists[0]'),
    (
        ("stylists", 1, "hours", "tue", 0),
        ["12:00", "09:00"],
        "stylists[1].hours.tue[0]: end 09:00 is not after start 12:00",
    ),
    (
        ("stylists", 1, "hours", "tue", 0),
        ["09:00", "09:00"],
        "stylists[1].hours.tue[0]: end 09:00 is not after",
    ),
    (
        ("stylists", 0, "hours", "monday"),
        [],
        'stylists[0].hours.monday: "monday" is not a weekday; use mon, tue',
    ),
    (
        ("stylists", 0, "hours", "mon", 0),
        ["9:00", "17:00"],
        'stylists[0].hours.mon[0]: must be a time "HH:MM"',
    ),
    (
        ("stylists", 0, "hours", "mon", 0),
        ["18:00", "24:00"],
        'must be a time "HH:MM" from "00:00" to "23:59"',
    ),
    (("stylists", 0, "hours", "mon", 0), ["09:00"], "stylists[0].hours.mon[0]: must be a pair of times"),
    (
        ("stylists", 0, "hours", "mon", 0),
        ["10:00:30", "17:00"],
        'stylists[0].hours.mon[0]: start "10:00:30" has seconds; working hours are in whole minutes',
    ),
    (
        ("stylists", 0, "hours", "mon", 0),
        ["10:00", "17:00:00.5"],
        'stylists[0].hours.mon[0]: end "17:00:00.5" has seconds; working hours are in whole minutes',
    ),
    (
        ("stylists", 0, "hours", "mon", 0),
        ["10:00:00", "17:00"],
        'stylists[0].hours.mon[0]: start "10:00:00" has seconds',
    ),
    (
        ("stylists", 1, "hours", "tue", 1),
        ["11:00", "17:00"],
        "stylists[1].hours.tue[1]: 11:00-17:00 overlaps 09:00-12:00 (hours.tue[0])",
    ),
    (
        ("stylists", 0, "hours", "mon"),
        [["09:00", "17:00"], ["10:00", "11:00"], ["12:00", "13:00"]],
        "stylists[0].hours.mon[2]: 12:00-13:00 overlaps 09:00-17:00 (hours.mon[0])",
    ),
    (("stylists", 1, "services", 1), "beard", 'stylists[1].services[1]: unknown service "beard"'),
    (("stylists", 1, "services", 1), "haircut", 'stylists[1].services[1]: duplicate service "haircut"'),
    (("stylists", 0, "services"), "haircut", 'stylists[0].services: must be a list, not "haircut"'),
    (
        ("stylists", 1, "time_off", 0, "end"),
        "2027-02-01T08:00",
        "stylists[1].time_off[0]: end 2027-02-01T08:00 is not after start 2027-02-01T09:00",
    ),
    (
        ("stylists", 1, "time_off", 0, "start"),
        "2027-02-01",
        'stylists[1].time_off[0].start: must be a local date and time "YYYY-MM-DDTHH:MM"',
    ),
    (
        ("stylists", 1, "time_off", 0, "start"),
        "2027-03-14T02:30",
        "stylists[1].time_off[0].start: 2027-03-14T02:30 does not exist in America/Los_Angeles",
    ),
    (
        ("stylists", 1, "time_off", 0),
        {"start": "2027-11-07T01:30", "end": "2027-11-08T00:00"},
        "stylists[1].time_off[0].start: 2027-11-07T01:30 happens twice in America/Los_Angeles",
    ),
    (
        ("stylists", 1, "time_off", 0, "start"),
        "9999-12-31T20:00",
        'stylists[1].time_off[0].start: must be between 2000-01-01 and 2999-12-31, not "9999-12-31T20:00"',
    ),
    (
        ("stylists", 1, "time_off", 0, "start"),
        "0001-01-01T00:00+05:00",
        "stylists[1].time_off[0].start: must be between 2000-01-01 and 2999-12-31, not "
        '"0001-01-01T00:00+05:00"',
    ),
    (
        ("stylists", 1, "time_off", 0, "end"),
        "3000-01-01T00:00",
        'stylists[1].time_off[0].end: must be between 2000-01-01 and 2999-12-31, not "3000-01-01T00:00"',
    ),
    (
        ("stylists", 1, "time_off", 0, "start"),
        "2000-01-01T00:00+05:00",
        "stylists[1].time_off[0].start: 2000-01-01T00:00+05:00 is 1999-12-31T11:00 in "
        "America/Los_Angeles; must be between 2000-01-01 and 2999-12-31 there",
    ),
    (("closures", 0), "2027-02-30", 'closures[0].date: must be a date "YYYY-MM-DD", not "2027-02-30"'),
    (
        ("closures", 0),
        "1999-12-31",
        'closures[0].date: must be between 2000-01-01 and 2999-12-31, not "1999-12-31"',
    ),
    (
        ("closures", 0),
        {"date": "9999-12-31", "reason": "End of time"},
        'closures[0].date: must be between 2000-01-01 and 2999-12-31, not "9999-12-31"',
    ),
    (("salon", "currency"), "usd", "salon.currency: must be a three-letter ISO 4217 code such as USD"),
    (
        ("salon", "reminder_minutes"),
        [120, 120],
        "salon.reminder_minutes: The same reminder time is given twice.",
    ),
    (
        ("salon", "reminder_minutes"),
        [10],
        "salon.reminder_minutes: Each reminder must be between 30 minutes and 14 days",
    ),
    (("salon", "reminder_minutes"), [1440, 720, 120, 60], "salon.reminder_minutes: At most 3 reminders."),
    (("salon", "change_notice_minutes"), 43201, "salon.change_notice_minutes: must be between 0 and 43200"),
    (("salon", "waitlist_hold_minutes"), 2, "salon.waitlist_hold_minutes: must be between 5 and 1440"),
    (("salon", "phone"), "9" * 41, "salon.phone: must be at most 40 characters long"),
    (("closures", 0), 20270214, 'closures[0]: must be a date "YYYY-MM-DD" or an object'),
    (("closures",), ["2027-02-14", {"date": "2027-02-14"}], 'closures[1].date: duplicate date "2027-02-14"'),
]


@pytest.mark.parametrize(
    ("path", "value", "message"), BAD_FILES, ids=[m.split(":")[0] for *_, m in BAD_FILES]
)
def test_it_refuses_a_bad_file_naming_the_field(demo_loaded, tmp_path, path, value, message):
    before = snapshot()

    with pytest.raises(CommandError) as error:
        load(write(tmp_path, changed(path, value)))

    assert message in str(error.value)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"salon": {\n  "name": "x",\n  "time_zone" "UTC"}}',
            "line 3, column 15: not valid JSON: Expecting ':'",
        ),
        ("", "line 1, column 1: not valid JSON"),
        ('{"salon": {}, "salon": {}}', 'duplicate key "salon"'),
        ('{"salon": NaN}', "NaN is not allowed"),
        ("[]", "(top level): must be an object"),
    ],
)
def test_it_refuses_text_that_is_not_a_json_object(demo_loaded, tmp_path, text, message):
    before = snapshot()

    with pytest.raises(CommandError, match="is not a valid salon file") as error:
        load(write(tmp_path, text))

    assert message in str(error.value)
    assert snapshot() == before


def test_it_lists_every_problem_of_a_file_at_once(db, tmp_path):
    data = minimal()
    data["services"][0]["duration_minutes"] = 0
    data["stylists"][1]["hours"]["sun"] = [["10:00", "09:00"]]

    with pytest.raises(CommandError) as error:
        load(write(tmp_path, data))

    lines = str(error.value).splitlines()
    assert lines[1:] == [
        "  services[0].duration_minutes: must be between 5 and 720, not 0",
        "  stylists[1].hours.sun[0]: end 09:00 is not after start 10:00",
    ]


def test_it_writes_nothing_when_the_last_stylist_is_wrong(demo_loaded, tmp_path):
    data = json.loads(DEMO.read_text())
    data["salon"]["name"] = "Renamed"
    data["services"].append({"key": "perm", "name": "Perm", "duration_minutes": 90, "price": "80.00"})
    data["stylists"][0]["hours"]["mon"] = [["09:00", "17:00"]]
    data["stylists"][-1]["services"].append("manicure")
    before = snapshot()

    with pytest.raises(CommandError, match=r'stylists\[3\]\.services\[3\]: unknown service "manicure"'):
        load(write(tmp_path, data))

    assert snapshot() == before


def test_it_writes_nothing_when_the_database_refuses_a_late_row(demo_loaded, tmp_path, monkeypatch):
    data = json.loads(DEMO.read_text())
    data["salon"]["name"] = "Renamed"
    data["services"][0]["price"] = "99.00"
    data["stylists"][3]["hours"]["sun"] = [["10:00", "14:00"]]

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise IntegrityError("UNIQUE constraint failed: booking_closure.date")

    # Closures are written last: everything before them must be rolled back too.
    monkeypatch.setattr(salonfile, "_load_closures", refuse)
    before = snapshot()

    with pytest.raises(CommandError, match="the database refused the file: UNIQUE constraint failed"):
        load(write(tmp_path, data))

    assert snapshot() == before


def test_it_lets_stylists_offer_services_that_only_the_database_has(db, tmp_path):
    ServiceFactory(key="beard")
    data = minimal()
    data["stylists"][0]["services"] = ["haircut", "beard"]

    load(write(tmp_path, data))

    assert set(Stylist.objects.get(key="ana").services.values_list("key", flat=True)) == {"haircut", "beard"}


def test_it_refuses_services_missing_from_the_file_when_pruning(db, tmp_path):
    ServiceFactory(key="beard")
    data = minimal()
    data["stylists"][0]["services"] = ["haircut", "beard"]
    before = snapshot()

    with pytest.raises(
        CommandError, match=r'stylists\[0\]\.services\[1\]: unknown service "beard": with --prune'
    ):
        load(write(tmp_path, data), "--prune")

    assert snapshot() == before


def test_it_refuses_a_key_that_differs_from_a_stored_one_only_in_case(db, tmp_path):
    ServiceFactory(key="Haircut")
    StylistFactory(key="ANA")
    before = snapshot()

    with pytest.raises(CommandError) as error:
        load(write(tmp_path, minimal()))

    assert 'services[0].key: "haircut" differs only in case from the existing service "Haircut"' in str(
        error.value
    )
    assert 'stylists[0].key: "ana" differs only in case from the existing stylist "ANA"' in str(error.value)
    assert snapshot() == before


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda tmp: tmp / "missing.json", "missing.json: no such file"),
        (lambda tmp: tmp, ": cannot be read: Is a directory"),
        (
            lambda tmp: write_bytes(tmp, b'{"salon": "\xff"}'),
            "salon.json: not UTF-8 text (invalid start byte at byte 11)",
        ),
    ],
)
def test_it_refuses_a_file_it_cannot_read(db, tmp_path, make, message):
    with pytest.raises(CommandError) as error:
        load(make(tmp_path))

    assert message in str(error.value)


def test_it_exits_non_zero_with_the_problem_on_stderr(db, tmp_path, capsys, monkeypatch):
    path = write(tmp_path, changed(("services", 0, "duration_minutes"), 721))
    # run_from_argv closes the connections when it ends, which would take the
    # test's own transaction with it.
    monkeypatch.setattr(management_base.connections, "close_all", lambda: None)

    with pytest.raises(SystemExit) as exit_:
        load_command_class("chairtime.booking", "load_salon").run_from_argv(
            ["manage.py", "load_salon", str(path)]
        )

    assert exit_.value.code == 1
    captured = capsys.readouterr()
    assert "services[0].duration_minutes: must be between 5 and 720, not 721" in captured.err
    assert captured.out == ""


def test_it_takes_its_ranges_from_the_models_validators(db):
    assert salonfile._int_limits(Service, "duration_minutes") == (5, 720)
    assert salonfile._int_limits(Salon, "min_notice_minutes") == (0, 60 * 24 * 30)
    assert salonfile._int_limits(Service, "position") == (0, 32767)  # the column, on every database


# --- Pruning --------------------------------------------------------------------------------


def test_it_deactivates_what_the_file_leaves_out_with_prune(demo_loaded, tmp_path):
    data = json.loads(DEMO.read_text())
    data["services"] = [s for s in data["services"] if s["key"] != "kids-cut"]
    data["stylists"] = [s for s in data["stylists"] if s["key"] != "dev"]
    for stylist in data["stylists"]:
        stylist["services"] = [k for k in stylist["services"] if k != "kids-cut"]

    output = load(write(tmp_path, data), "--prune")

    assert "2 deactivated" in output
    assert dict(Service.objects.values_list("key", "is_active"))["kids-cut"] is False
    assert dict(Stylist.objects.values_list("key", "is_active"))["dev"] is False
    assert Service.objects.filter(is_active=True).count() == 5
    assert Stylist.objects.filter(is_active=True).count() == 3
    assert Stylist.objects.get(key="dev").hours.exists()  # deactivated, not deleted


def test_it_leaves_what_the_file_leaves_out_without_prune(demo_loaded, tmp_path):
    data = json.loads(DEMO.read_text())
    data["services"] = data["services"][:1]
    data["stylists"] = []
    before = snapshot()

    output = load(write(tmp_path, data))

    assert "0 created, 0 updated, 6 unchanged" in output
    assert snapshot() == before


def test_it_reactivates_a_service_listed_again(demo_loaded):
    Service.objects.filter(key="colour").update(is_active=False)

    output = load(DEMO)

    assert "services: 0 created, 1 updated, 5 unchanged" in output
    assert Service.objects.get(key="colour").is_active


# --- Dumping and the round trip -------------------------------------------------------------


def test_it_dumps_the_demo_file_byte_for_byte(demo_loaded):
    assert dump() == DEMO.read_text(encoding="utf-8")


def test_it_round_trips_what_the_back_office_may_store(demo_loaded):
    # Things a file loaded by load_salon would not have produced by itself.
    Service.objects.update(position=0)
    Service.objects.filter(key="kids-cut").update(is_active=False, description="")
    Stylist.objects.filter(key="ben").update(position=9)
    ServiceFactory(key="nails", name="Nails — gel", price=Decimal("35.5"))
    TimeOffFactory(
        stylist=Stylist.objects.get(key="dev"), start=utc(2027, 11, 7, 9, 30), end=utc(2027, 11, 7, 10)
    )
    ClosureFactory(date=date(2027, 2, 1), reason="")
    first = dump()

    before = snapshot()
    assert "0 created, 0 updated" in load_text(first)
    assert snapshot() == before
    assert dump() == first

    # The dump is the whole salon: loaded into an empty database it gives the same dump.
    for model in (Closure, TimeOff, WorkingHours, Stylist, Service, Salon):
        model.objects.all().delete()
    load_text(first)
    assert dump() == first


def test_it_dumps_services_and_stylists_in_display_order(demo_loaded):
    Service.objects.filter(key="kids-cut").update(position=0)

    data = json.loads(dump())

    keys = [s["key"] for s in data["services"]]
    assert keys == ["haircut", "kids-cut", "beard-trim", "colour", "blow-dry", "fringe-trim"]
    assert data["services"][1]["position"] == 0  # 0 is not its index: written out
    assert "position" not in data["services"][0]


def test_it_writes_the_dump_to_a_file(demo_loaded, tmp_path):
    out = io.StringIO()

    call_command("dump_salon", "-o", str(tmp_path / "out.json"), stdout=out)

    assert (tmp_path / "out.json").read_text(encoding="utf-8") == DEMO.read_text(encoding="utf-8")
    assert "Wrote" in out.getvalue()


def test_it_warns_when_the_dump_would_not_load(demo_loaded):
    WorkingHours.objects.create(
        stylist=Stylist.objects.get(key="ana"), weekday=1, start=time(12), end=time(14)
    )
    err = io.StringIO()

    call_command("dump_salon", stdout=io.StringIO(), stderr=err)

    assert "load_salon would refuse this dump" in err.getvalue()
    assert "stylists[0].hours.tue[1]: 12:00-14:00 overlaps 09:00-12:30" in err.getvalue()


def test_it_refuses_time_off_whose_local_time_the_dump_could_not_write(db, tmp_path):
    # Loaded as it was, 9999-12-31T23:00Z is 10000-01-01T08:00 in Tokyo: dump_salon crashed.
    data = minimal()
    data["salon"]["time_zone"] = "Asia/Tokyo"
    data["stylists"][1]["time_off"] = [
        {"start": "2027-02-01T09:00", "end": "9999-12-31T23:00Z"},
        {"start": "2027-03-01T09:00", "end": "2999-12-31T23:00Z"},
    ]

    with pytest.raises(CommandError) as error:
        load(write(tmp_path, data))

    assert str(error.value).splitlines()[1:] == [
        '  stylists[1].time_off[0].end: must be between 2000-01-01 and 2999-12-31, not "9999-12-31T23:00Z"'
    ]
    del data["stylists"][1]["time_off"][0]
    with pytest.raises(CommandError) as error:
        load(write(tmp_path, data))

    assert str(error.value).splitlines()[1:] == [
        "  stylists[1].time_off[0].end: 2999-12-31T23:00+00:00 is 3000-01-01T08:00 in Asia/Tokyo; "
        "must be between 2000-01-01 and 2999-12-31 there"
    ]
    assert not TimeOff.objects.exists()


def test_it_loads_and_dumps_the_first_and_last_minutes_it_accepts(db, tmp_path):
    data = minimal()
    data["salon"]["time_zone"] = "Asia/Tokyo"
    data["stylists"][1]["time_off"] = [
        {"start": "2000-01-01T00:00", "end": "2000-01-01T01:00"},
        {"start": "2999-12-31T23:00", "end": "2999-12-31T14:59:59.999999Z"},
    ]
    data["closures"] = ["2000-01-01", "2999-12-31"]
    load(write(tmp_path, data))

    first = dump()

    assert json.loads(first)["stylists"][1]["time_off"][1]["end"] == "2999-12-31T23:59:59.999999"
    assert "0 created, 0 updated" in load_text(first)
    assert dump() == first


def _near(low: datetime, high: datetime) -> st.SearchStrategy[datetime]:
    return st.datetimes(min_value=low, max_value=high)


# Date-times as a salon file may write them: anywhere Python can, but mostly near
# the ends of the accepted years and of datetime's own range, where zone and UTC
# conversions overflow or cross a year.
_WALL_TIMES = st.one_of(
    _near(datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59)),
    _near(datetime(1, 1, 1), datetime(1, 1, 2)),
    _near(datetime(9999, 12, 30), datetime(9999, 12, 31, 23, 59)),
    _near(datetime(1999, 12, 30), datetime(2000, 1, 2)),
    _near(datetime(2999, 12, 30), datetime(3000, 1, 2)),
    _near(datetime(2027, 1, 1), datetime(2028, 1, 1)),
)
_INSTANTS = st.builds(
    lambda wall, timespec, offset: wall.isoformat(timespec=timespec) + offset,
    _WALL_TIMES,
    st.sampled_from(["minutes", "seconds", "microseconds"]),
    st.sampled_from(["", "", "Z", "+05:00", "-08:00", "+14:00", "-12:00"]),
)
_DATES = st.one_of(
    st.dates(),
    st.dates(min_value=date(1999, 12, 30), max_value=date(2000, 1, 2)),
    st.dates(min_value=date(2999, 12, 30), max_value=date(3000, 1, 2)),
).map(date.isoformat)
_TIMES = st.builds(
    lambda hour, minute, second: f"{hour:02}:{minute:02}" + (f":{second:02}" if second is not None else ""),
    st.integers(0, 23),
    st.integers(0, 59),
    st.none() | st.integers(0, 59),
)
_SPECIAL_HOURS = st.lists(
    st.fixed_dictionaries(
        {"date": _DATES, "hours": st.lists(st.lists(_TIMES, min_size=2, max_size=2), max_size=2)}
    ),
    max_size=2,
)
_SALON_FILES = st.fixed_dictionaries(
    {
        "salon": st.fixed_dictionaries(
            {
                "name": st.just("Property Salon"),
                "time_zone": st.sampled_from(
                    [
                        "UTC",
                        "America/Los_Angeles",
                        "Asia/Tokyo",
                        "Pacific/Kiritimati",
                        "Pacific/Pago_Pago",
                        "Australia/Lord_Howe",
                    ]
                ),
                "slot_minutes": st.just(30),
                "min_notice_minutes": st.just(60),
                "horizon_days": st.just(30),
            },
            optional={"special_hours": _SPECIAL_HOURS},
        ),
        "stylists": st.lists(
            st.fixed_dictionaries(
                {
                    "key": st.just("ana"),
                    "name": st.just("Ana"),
                    "hours": st.fixed_dictionaries(
                        {}, optional={"mon": st.lists(st.lists(_TIMES, min_size=2, max_size=2), max_size=2)}
                    ),
                    "time_off": st.lists(
                        st.fixed_dictionaries({"start": _INSTANTS, "end": _INSTANTS}), max_size=3
                    ),
                },
                optional={"special_hours": _SPECIAL_HOURS},
            ),
            max_size=1,
        ),
        "closures": st.lists(_DATES, max_size=3),
    }
)


@hypothesis_settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=_SALON_FILES)
def test_it_dumps_every_file_it_loads_and_loads_the_dump_unchanged(db, data):
    try:
        salon_file = salon_file_parse(json.dumps(data))
    except SalonFileError as e:  # refusing is fine, with every problem naming its field
        assert all(": " in problem for problem in e.problems)
        event("refused")
        return
    event("loaded")
    now = utc(2027, 6, 1)
    with transaction.atomic():
        salon_file_load(salon_file=salon_file, now=now)
        first = salon_file_dump()

        again = salon_file_load(salon_file=salon_file_parse(first), now=now)

        assert not again.changed
        assert salon_file_dump() == first
        transaction.set_rollback(True)


def test_it_loads_and_dumps_special_hours(db, tmp_path):
    data = minimal()
    data["salon"]["special_hours"] = [
        {"date": "2027-12-24", "hours": [["09:00", "15:00"]], "reason": "Christmas Eve"},
        {"date": "2027-12-26", "hours": [], "reason": "Boxing Day"},
    ]
    data["stylists"][0]["special_hours"] = [{"date": "2027-06-27", "hours": [["10:00", "14:00"]]}]

    load(write(tmp_path, data))

    assert list(
        SpecialHours.objects.order_by("date").values_list("stylist__key", "date", "start", "end", "reason")
    ) == [
        ("ana", date(2027, 6, 27), time(10), time(14), ""),
        (None, date(2027, 12, 24), time(9), time(15), "Christmas Eve"),
    ]
    # A salon day with no hours is a closure.
    assert Closure.objects.get(date=date(2027, 12, 26)).reason == "Boxing Day"
    dumped = json.loads(dump())
    assert dumped["salon"]["special_hours"] == [
        {"date": "2027-12-24", "hours": [["09:00", "15:00"]], "reason": "Christmas Eve"}
    ]
    assert dumped["stylists"][0]["special_hours"] == [{"date": "2027-06-27", "hours": [["10:00", "14:00"]]}]
    assert {"date": "2027-12-26", "reason": "Boxing Day"} in dumped["closures"]
    # Loading the dump changes nothing.
    before = snapshot()
    load(write(tmp_path, dump(), "again.json"))
    assert snapshot() == before


def test_it_replaces_a_stylists_coming_special_hours_and_keeps_past_ones(db, tmp_path):
    data = minimal()
    data["stylists"][0]["special_hours"] = [
        {"date": "2026-06-28", "hours": [["10:00", "14:00"]]},
        {"date": "2027-06-27", "hours": [["10:00", "14:00"]]},
    ]
    load(write(tmp_path, data))
    data["stylists"][0]["special_hours"] = [{"date": "2027-07-04", "hours": [["12:00", "16:00"]]}]

    load(write(tmp_path, data))

    assert list(SpecialHours.objects.order_by("date").values_list("date", flat=True)) == [
        date(2026, 6, 28),  # before today: history, kept
        date(2027, 7, 4),
    ]


def test_it_refuses_to_dump_before_there_is_a_salon(db):
    with pytest.raises(CommandError, match="There is no salon to dump yet"):
        dump()
    assert not Salon.objects.exists()


def test_it_parses_without_a_database_and_lists_problems_one_per_line():
    with pytest.raises(SalonFileError) as error:
        salon_file_parse(json.dumps(changed(("salon", "slot_minutes"), 241)))

    assert error.value.problems == ["salon.slot_minutes: must be between 5 and 240, not 241"]


# --- Resources, phases, buffers and a stylist's own figures (issue 10) ------------------------


def phased() -> dict[str, Any]:
    """MINIMAL with a basin, a colour in three phases and Ana's own figures."""
    data = minimal()
    data["resources"] = [
        {"key": "basin", "name": "Basin", "quantity": 2},
        {"key": "colour-station", "name": "Colour station", "quantity": 1},
    ]
    data["services"].append(
        {
            "key": "colour",
            "name": "Colour",
            "price": "90.00",
            "phases": [
                {"minutes": 45, "resources": ["colour-station"]},
                {"minutes": 30, "processing": True},
                {"minutes": 15, "resources": ["basin"]},
            ],
            "buffer_after_minutes": 10,
        }
    )
    data["stylists"][0]["services"] = [
        {"service": "haircut", "price": "65.00", "duration_minutes": 30},
        {"service": "colour", "price": "110.00"},
    ]
    return data


def phases_of(service_key: str, stylist_key: str | None = None) -> list[tuple[int, bool, list[str]]]:
    rows = ServicePhase.objects.filter(service__key=service_key, stylist__key=stylist_key)
    if stylist_key is None:
        rows = ServicePhase.objects.filter(service__key=service_key, stylist__isnull=True)
    return [
        (p.minutes, p.processing, sorted(r.key for r in p.resources.all()))
        for p in rows.order_by("position").prefetch_related("resources")
    ]


def test_it_loads_resources_phases_buffers_and_a_stylists_own_figures(db, tmp_path):
    output = load(write(tmp_path, phased()))

    assert "resources: 2 created, 0 updated, 0 unchanged" in output
    basin = Resource.objects.get(key="basin")
    assert [str(u) for u in basin.units.all()] == ["Basin 1", "Basin 2"]
    colour = Service.objects.get(key="colour")
    assert (colour.duration_minutes, colour.buffer_before_minutes, colour.buffer_after_minutes) == (90, 0, 10)
    assert phases_of("colour") == [(45, False, ["colour-station"]), (30, True, []), (15, False, ["basin"])]
    offers = {
        o.service.key: (o.price, o.duration_minutes)
        for o in StylistService.objects.filter(stylist__key="ana").select_related("service")
    }
    assert offers == {"haircut": (Decimal("65.00"), 30), "colour": (Decimal("110.00"), None)}
    assert set(Stylist.objects.get(key="zoe").services.values_list("key", flat=True)) == {"haircut", "shave"}


def test_it_changes_nothing_when_a_file_with_phases_is_loaded_twice(db, tmp_path):
    path = write(tmp_path, phased())
    load(path)
    before = snapshot()
    phase_rows = list(ServicePhase.objects.order_by("pk").values())

    with CaptureQueriesContext(connection) as queries:
        output = load(path)

    assert "0 created, 0 updated" in output
    assert snapshot() == before
    assert list(ServicePhase.objects.order_by("pk").values()) == phase_rows
    writes = [
        q["sql"] for q in queries.captured_queries if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")
    ]
    assert writes == []


def test_it_round_trips_resources_phases_and_overrides(db, tmp_path):
    data = phased()
    data["stylists"][1]["services"] = [
        "haircut",
        {"service": "colour", "phases": [{"minutes": 60, "resources": ["colour-station"]}]},
    ]
    load(write(tmp_path, data))
    first = dump()

    parsed = json.loads(first)
    assert parsed["resources"][0] == {"key": "basin", "name": "Basin", "quantity": 2}
    colour = next(s for s in parsed["services"] if s["key"] == "colour")
    assert "duration_minutes" not in colour  # the phases' sum
    assert colour["phases"][1] == {"minutes": 30, "processing": True}
    assert colour["buffer_after_minutes"] == 10 and "buffer_before_minutes" not in colour
    assert parsed["stylists"][0]["services"] == [
        {"service": "haircut", "price": "65.00", "duration_minutes": 30},
        {"service": "colour", "price": "110.00"},
    ]
    assert parsed["stylists"][1]["services"][1] == {
        "service": "colour",
        "phases": [{"minutes": 60, "resources": ["colour-station"]}],
    }
    assert "0 created, 0 updated" in load_text(first)
    assert dump() == first


def test_it_replaces_phases_overrides_and_quantities(db, tmp_path):
    load(write(tmp_path, phased()))
    data = phased()
    data["resources"][0]["quantity"] = 3
    data["services"][2]["phases"] = [{"minutes": 50, "resources": ["basin"]}]
    data["services"][2]["buffer_after_minutes"] = 0
    data["stylists"][0]["services"] = ["haircut"]

    output = load(write(tmp_path, data))

    assert "resources: 0 created, 1 updated, 1 unchanged" in output
    assert list(Resource.objects.get(key="basin").units.values_list("number", flat=True)) == [1, 2, 3]
    assert phases_of("colour") == [(50, False, ["basin"])]
    colour = Service.objects.get(key="colour")
    assert (colour.duration_minutes, colour.buffer_after_minutes) == (50, 0)
    offer = StylistService.objects.get(stylist__key="ana")
    assert (offer.service.key, offer.price, offer.duration_minutes) == ("haircut", None, None)


def test_it_drops_a_stylists_own_phases_with_the_service_they_no_longer_offer(db, tmp_path):
    data = phased()
    data["stylists"][0]["services"][1] = {"service": "colour", "phases": [{"minutes": 70}]}
    load(write(tmp_path, data))
    assert phases_of("colour", "ana") == [(70, False, [])]

    data["stylists"][0]["services"] = ["haircut"]
    load(write(tmp_path, data))

    assert not ServicePhase.objects.filter(stylist__key="ana").exists()


def test_it_refuses_fewer_units_than_an_upcoming_booking_holds(db, tmp_path):
    load(write(tmp_path, phased()))
    basin = Resource.objects.get(key="basin")
    appointment = AppointmentFactory(starts_at=utc(2099, 3, 15, 17))
    HoldFactory(appointment=appointment, stylist=None, unit=basin.units.get(number=2))
    data = phased()
    data["resources"][0]["quantity"] = 1

    with pytest.raises(CommandError) as refused:
        load(write(tmp_path, data))

    assert "resources[0].quantity: Basin number 2 is booked for an upcoming appointment" in str(refused.value)
    assert basin.units.count() == 2


def _at(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    """``data`` with the value at ``path`` replaced (None: left out)."""
    target = data
    for part in path[:-1]:
        target = target[part]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


BAD_PHASED_FILES = [
    (("resources", 0, "quantity"), 0, "resources[0].quantity: must be between 1 and 50, not 0"),
    (("resources", 0, "quantity"), 51, "resources[0].quantity: must be between 1 and 50, not 51"),
    (("resources", 1, "key"), "basin", 'resources[1].key: duplicate key "basin", first used at resources[0]'),
    (
        ("services", 2, "phases", 2, "resources"),
        ["sink"],
        'services[2].phases[2].resources[0]: unknown resource "sink": neither in this file',
    ),
    (
        ("services", 2, "phases", 0, "processing"),
        True,
        "services[2].phases[0].processing: the first phase cannot be a processing phase",
    ),
    (
        ("services", 2, "phases", 2, "processing"),
        True,
        "services[2].phases[2].processing: the last phase cannot be a processing phase",
    ),
    (
        ("services", 2, "duration_minutes"),
        120,
        "services[2].duration_minutes: 120 is not the sum of the phases' minutes (90)",
    ),
    (
        ("services", 2, "phases"),
        [{"minutes": 700}, {"minutes": 30}],
        "services[2].phases: the phases add up to 730 minutes; a service lasts 5 to 720",
    ),
    (("services", 2, "phases", 0, "minutes"), 0, "services[2].phases[0].minutes: must be between 1 and 720"),
    (
        ("services", 2, "buffer_after_minutes"),
        241,
        "services[2].buffer_after_minutes: must be between 0 and 240, not 241",
    ),
    (("services", 0, "duration_minutes"), None, "services[0].duration_minutes: is required for a service"),
    (
        ("stylists", 0, "services", 1),
        {"service": "colour", "duration_minutes": 60},
        'stylists[0].services[1].duration_minutes: "colour" has phases, so its length is theirs',
    ),
    (
        ("stylists", 0, "services", 1),
        {"service": "colour", "phases": [{"minutes": 30, "processing": True}]},
        "stylists[0].services[1].phases[0].processing: the first phase cannot be a processing phase",
    ),
    (
        ("stylists", 0, "services", 1),
        {"service": "colour", "phases": [{"minutes": 30}], "duration_minutes": 30},
        "stylists[0].services[1].duration_minutes: give either this stylist's own phases",
    ),
    (
        ("stylists", 0, "services", 1),
        {"service": "colour", "price": "-1"},
        "stylists[0].services[1].price: must be an amount like",
    ),
    (
        ("stylists", 0, "services", 1),
        {"service": "colour", "colour": "red"},
        "stylists[0].services[1].colour: is not a field of this format",
    ),
    (("stylists", 0, "services", 1), 7, "stylists[0].services[1]: must be a service key or an object"),
    (
        ("stylists", 0, "services", 1),
        {"service": "haircut"},
        'stylists[0].services[1]: duplicate service "haircut"',
    ),
]


@pytest.mark.parametrize(
    ("path", "value", "message"), BAD_PHASED_FILES, ids=[m.split(":")[0] for *_, m in BAD_PHASED_FILES]
)
def test_it_refuses_a_bad_phase_resource_or_override_naming_the_field(db, tmp_path, path, value, message):
    data = _at(phased(), path, value)

    with pytest.raises(CommandError) as refused:
        load(write(tmp_path, data))

    assert message in str(refused.value)
    assert not Service.objects.exists()


def test_it_lets_phases_name_resources_that_only_the_database_has(db, tmp_path):
    load(write(tmp_path, phased()))
    data = phased()
    del data["resources"]

    assert "0 created, 0 updated" in load(write(tmp_path, data))


def test_it_loads_the_salons_contact_notice_and_reminders(db, tmp_path):
    data = minimal()
    data["salon"] |= {
        "address": "Calle Mayor 1, 28013 Madrid",
        "phone": "+34 910 000 000",
        "currency": "EUR",
        "change_notice_minutes": 1440,
        "reminder_minutes": [120, 2880],
        "waitlist_hold_minutes": 45,
    }

    load(write(tmp_path, data))

    salon = Salon.objects.get()
    assert (salon.address, salon.phone, salon.currency) == (
        "Calle Mayor 1, 28013 Madrid",
        "+34 910 000 000",
        "EUR",
    )
    assert (salon.change_notice_minutes, salon.waitlist_hold_minutes) == (1440, 45)
    assert salon.reminder_minutes == "2880,120"
    assert salon.reminder_offsets == [2880, 120]
    assert json.loads(dump())["salon"]["reminder_minutes"] == [2880, 120]


def test_a_salon_file_without_the_new_settings_gets_their_defaults(db, tmp_path):
    load(write(tmp_path, minimal()))

    salon = Salon.objects.get()
    assert (salon.address, salon.phone, salon.currency, salon.change_notice_minutes) == ("", "", "USD", 0)
    assert salon.reminder_offsets == [1440, 120]


def test_an_empty_reminder_list_means_no_reminders(db, tmp_path):
    data = minimal()
    data["salon"]["reminder_minutes"] = []

    load(write(tmp_path, data))

    assert Salon.objects.get().reminder_offsets == []
