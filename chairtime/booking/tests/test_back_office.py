"""The back office (Django admin) refuses what the booking pages could not serve."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, time

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.urls import reverse

from chairtime.booking.models import Closure, Stylist, TimeOff, WorkingHours
from chairtime.booking.tests.factories import SalonFactory, StylistFactory


def stylist_form(stylist: Stylist, hours: list[tuple[int, str, str]]) -> dict[str, str | list[str]]:
    """The stylist's change form as the browser posts it, with new hours rows."""
    data: dict[str, str | list[str]] = {
        "key": stylist.key,
        "name": stylist.name,
        "is_active": "on",
        "position": str(stylist.position),
        # The services offered are an inline now (price and length per stylist): none here.
        "stylist_services-TOTAL_FORMS": "0",
        "stylist_services-INITIAL_FORMS": "0",
        "hours-TOTAL_FORMS": str(len(hours)),
        "hours-INITIAL_FORMS": "0",
        "time_off-TOTAL_FORMS": "0",
        "time_off-INITIAL_FORMS": "0",
        "special_hours-TOTAL_FORMS": "0",
        "special_hours-INITIAL_FORMS": "0",
    }
    for index, (weekday, start, end) in enumerate(hours):
        data[f"hours-{index}-weekday"] = str(weekday)
        data[f"hours-{index}-start"] = start
        data[f"hours-{index}-end"] = end
    return data


@pytest.mark.parametrize(("start", "end"), [("10:00:30", "18:00"), ("10:00", "18:00:00.5")])
def test_it_refuses_working_hours_with_seconds_in_the_stylist_form(admin_client, start, end):
    stylist = StylistFactory(hours={})
    url = reverse("admin:booking_stylist_change", args=[stylist.pk])

    response = admin_client.post(url, stylist_form(stylist, [(1, start, end)]))

    assert response.status_code == 200  # the form again, with the error
    assert "in whole minutes (HH:MM), without seconds" in response.content.decode()
    assert not WorkingHours.objects.filter(stylist=stylist).exists()


def test_it_saves_working_hours_in_whole_minutes_from_the_stylist_form(admin_client):
    stylist = StylistFactory(hours={})
    url = reverse("admin:booking_stylist_change", args=[stylist.pk])

    response = admin_client.post(url, stylist_form(stylist, [(1, "10:00", "18:00")]))

    assert response.status_code == 302
    assert list(stylist.hours.values_list("weekday", "start", "end")) == [(1, time(10), time(18))]


def test_it_names_the_field_with_seconds_when_working_hours_are_cleaned(db):
    hours = WorkingHours(stylist=StylistFactory(hours={}), weekday=1, start=time(10, 0, 30), end=time(18))

    with pytest.raises(ValidationError) as error:
        hours.full_clean()

    assert error.value.message_dict == {
        "start": ["Give the start in whole minutes (HH:MM), without seconds, not 10:00:30."]
    }


@pytest.mark.parametrize(
    ("time_zone", "field", "day", "hour"),
    [
        ("America/Los_Angeles", "end", "9999-12-31", "20:00"),  # past datetime's range once in UTC
        ("Asia/Tokyo", "start", "0001-01-01", "01:00"),  # before it
        ("Asia/Tokyo", "end", "3000-01-01", "00:00"),
    ],
)
def test_it_refuses_time_off_outside_the_years_the_pages_serve(admin_client, time_zone, field, day, hour):
    SalonFactory(time_zone=time_zone)
    bounds = {"start": ("2027-01-04", "09:00"), "end": ("2027-01-04", "17:00"), field: (day, hour)}
    form = {f"{name}_{i}": part for name, parts in bounds.items() for i, part in enumerate(parts)}

    response = admin_client.post(
        reverse("admin:booking_timeoff_add"), {"stylist": StylistFactory().pk, **form, "reason": ""}
    )

    assert response.status_code == 200  # the form again, with the error
    assert f"The {field} must be between 2000-01-01 and 2999-12-31" in response.content.decode()
    assert not TimeOff.objects.exists()


@pytest.mark.parametrize("day", ["9999-12-31", "1999-12-31", "0001-01-01"])
def test_it_refuses_closures_outside_the_years_the_pages_serve(admin_client, day):
    SalonFactory()

    response = admin_client.post(reverse("admin:booking_closure_add"), {"date": day, "reason": ""})

    assert response.status_code == 200
    assert "The date must be between 2000-01-01 and 2999-12-31" in response.content.decode()
    assert not Closure.objects.exists()


def test_it_judges_time_off_by_the_salons_calendar_so_that_the_dump_loads(db):
    SalonFactory(time_zone="Asia/Tokyo")
    late = TimeOff(
        stylist=StylistFactory(),
        start=datetime(2999, 12, 31, tzinfo=UTC),
        end=datetime(2999, 12, 31, 20, tzinfo=UTC),
    )

    with pytest.raises(ValidationError) as error:
        late.full_clean()  # 2999-12-31T20:00Z is already 3000 in Tokyo

    assert list(error.value.message_dict) == ["end"]
    late.end = datetime(2999, 12, 31, 14, 59, tzinfo=UTC)  # 23:59 in Tokyo
    late.full_clean()
    late.save()
    Closure(date=date(2999, 12, 31)).full_clean()
    err = io.StringIO()
    call_command("dump_salon", stdout=io.StringIO(), stderr=err)
    assert err.getvalue() == ""  # no "load_salon would refuse this dump"
