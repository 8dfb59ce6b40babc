"""The demo salon (demo/salon.json, what `make run` serves) shows the salon's real
day: a colour with processing time in which its stylist can do a fringe trim, one
colour station shared by the colourists, and December's special hours."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from chairtime.booking.models import Closure, Salon, Service, SpecialHours, Stylist

DEMO = Path(settings.BASE_DIR) / "demo" / "salon.json"


@pytest.fixture
def demo_salon(db):
    call_command("load_salon", str(DEMO), stdout=open("/dev/null", "w"))  # noqa: SIM115
    return Salon.load()


def book(client, start: datetime, service: Service, stylist: Stylist, n: int) -> tuple[int, dict]:
    response = client.post(
        "/api/v1/appointments",
        {
            "service": service.pk,
            "stylist": stylist.pk,
            "start": start.isoformat(),
            "customer": {"name": "Demo Customer", "email": f"demo{n}@example.com"},
        },
        content_type="application/json",
    )
    return response.status_code, response.json()


def a_weekday(salon: Salon) -> datetime:
    """10:00 local on a Wednesday at least three days ahead, when both colourists
    work, and not a day the salon closes or keeps special hours."""
    day = timezone.now().astimezone(salon.tz).date() + timedelta(days=3)
    unusual = set(Closure.objects.values_list("date", flat=True)) | set(
        SpecialHours.objects.values_list("date", flat=True)
    )
    while day.weekday() != 2 or day in unusual:
        day += timedelta(days=1)
    return datetime.combine(day, time(10), tzinfo=salon.tz)


def test_a_colourist_can_do_a_fringe_trim_while_a_colour_develops(client, demo_salon):
    colour, trim = Service.objects.get(key="colour"), Service.objects.get(key="fringe-trim")
    ana = Stylist.objects.get(key="ana")
    start = a_weekday(demo_salon)
    assert book(client, start, colour, ana, 1)[0] == 201

    # 45 minutes of application, then 30 of processing: Ana is free 10:45-11:15.
    gap = start + timedelta(minutes=45)
    free = client.get(
        "/api/v1/availability", {"service": trim.pk, "stylist": ana.pk, "date": start.date().isoformat()}
    ).json()["slots"]
    assert gap.isoformat() in free
    assert (start + timedelta(minutes=30)).isoformat() not in free
    assert book(client, gap, trim, ana, 2)[0] == 201


def test_the_one_colour_station_is_shared_by_the_colourists(client, demo_salon):
    colour = Service.objects.get(key="colour")
    ana, chloe = Stylist.objects.get(key="ana"), Stylist.objects.get(key="chloe")
    start = a_weekday(demo_salon)
    assert book(client, start, colour, ana, 1)[0] == 201

    status, refused = book(client, start, colour, chloe, 2)

    assert (status, refused["code"]) == (409, "resource_busy")
    assert book(client, start + timedelta(minutes=45), colour, chloe, 3)[0] == 201


def test_december_closes_early_for_everyone(demo_salon):
    special = {
        row.date.isoformat(): (row.start, row.end) for row in SpecialHours.objects.filter(stylist=None)
    }
    assert special["2026-12-24"] == (time(9), time(15))
    assert special["2026-12-31"] == (time(9), time(15))
