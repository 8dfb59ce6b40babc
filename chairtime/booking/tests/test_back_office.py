"""The back office (Django admin) refuses what the booking pages could not serve."""

from __future__ import annotations

from datetime import time

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from chairtime.booking.models import Stylist, WorkingHours
from chairtime.booking.tests.factories import StylistFactory


def stylist_form(stylist: Stylist, hours: list[tuple[int, str, str]]) -> dict[str, str | list[str]]:
    """The stylist's change form as the browser posts it, with new hours rows."""
    data: dict[str, str | list[str]] = {
        "key": stylist.key,
        "name": stylist.name,
        "services": [str(s.pk) for s in stylist.services.all()],
        "is_active": "on",
        "position": str(stylist.position),
        "hours-TOTAL_FORMS": str(len(hours)),
        "hours-INITIAL_FORMS": "0",
        "time_off-TOTAL_FORMS": "0",
        "time_off-INITIAL_FORMS": "0",
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
