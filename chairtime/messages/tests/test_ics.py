"""The visit's calendar file on the days the salon's clocks change: whatever the
wall time, a calendar program must compute the instant we store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from icalendar import Calendar

from chairtime.booking.tests.factories import AppointmentFactory
from chairtime.messages.ics import visit_calendar

NOW = datetime(2027, 3, 1, 12, 0, tzinfo=UTC)
LINK = "https://salon.example/b/t/"


def event_of(body: bytes):
    calendar = Calendar.from_ical(body)
    (event,) = calendar.walk("VEVENT")
    return calendar, event


@pytest.mark.parametrize(
    "start",
    [
        # The first hour after the clocks sprang forward (02:00 PST became 03:00 PDT).
        datetime(2027, 3, 14, 10, 0, tzinfo=UTC),
        # 01:30 twice on the night the clocks go back: the first (PDT), then the second (PST).
        datetime(2027, 11, 7, 8, 30, tzinfo=UTC),
        datetime(2027, 11, 7, 9, 30, tzinfo=UTC),
    ],
    ids=["spring-forward", "fall-back-first-0130", "fall-back-second-0130"],
)
def test_it_writes_the_instant_we_store_on_the_days_the_clocks_change(demo, start):
    appointment = AppointmentFactory(service=demo.haircut, stylist=demo.ana, starts_at=start)

    calendar, event = event_of(visit_calendar([appointment], salon=demo.salon, manage_url=LINK, now=NOW))

    dtstart = event.decoded("DTSTART")
    # Compared in UTC: Python never calls a time in a repeated hour equal to one in
    # another zone (PEP 495).
    assert dtstart.astimezone(UTC) == start
    assert event.decoded("DTEND").astimezone(UTC) - start == timedelta(hours=1)
    assert [str(tz["TZID"]) for tz in calendar.walk("VTIMEZONE")] == ["America/Los_Angeles"]
    # In the salon's zone where its wall time names the instant; the second 01:30 of
    # the night the clocks go back does not (RFC 5545 reads it as the first one).
    second_0130 = start == datetime(2027, 11, 7, 9, 30, tzinfo=UTC)
    assert str(dtstart.tzinfo) == ("UTC" if second_0130 else "America/Los_Angeles")


def test_a_download_is_published_without_organizer_or_attendee(demo):
    appointment = AppointmentFactory(service=demo.haircut, stylist=demo.ana)

    calendar, event = event_of(
        visit_calendar([appointment], salon=demo.salon, manage_url=LINK, now=NOW, method="PUBLISH")
    )

    assert str(calendar["METHOD"]) == "PUBLISH"
    assert "ORGANIZER" not in event and "ATTENDEE" not in event
    assert event["UID"] == f"visit-{appointment.visit_id}@chairtime"
    assert str(event["URL"]) == LINK
    assert event.walk("VALARM")


def test_an_appointment_from_before_visits_keeps_its_own_uid(demo):
    appointment = AppointmentFactory(service=demo.haircut, stylist=demo.ana, visit=None)

    _, event = event_of(visit_calendar([appointment], salon=demo.salon, manage_url=LINK, now=NOW))

    assert event["UID"] == f"appointment-{appointment.pk}@chairtime"


def test_it_places_the_event_at_the_salons_address_with_its_phone(demo):
    demo.salon.address = "500 Market St, San Francisco, CA 94105"
    demo.salon.phone = "+1 415 555 0100"
    appointment = AppointmentFactory(service=demo.haircut, stylist=demo.ana)

    _, event = event_of(visit_calendar([appointment], salon=demo.salon, manage_url=LINK, now=NOW))

    assert str(event["LOCATION"]) == "500 Market St, San Francisco, CA 94105"
    description = str(event["DESCRIPTION"])
    assert "Phone: +1 415 555 0100" in description and LINK in description


def test_a_salon_without_an_address_writes_no_location(demo):
    appointment = AppointmentFactory(service=demo.haircut, stylist=demo.ana)

    _, event = event_of(visit_calendar([appointment], salon=demo.salon, manage_url=LINK, now=NOW))

    assert "LOCATION" not in event


@pytest.mark.parametrize(
    ("reminder_minutes", "before"),
    [("1440,120", timedelta(hours=2)), ("1440,45", timedelta(minutes=45)), ("", timedelta(hours=2))],
)
def test_the_alarm_goes_off_with_the_salons_last_reminder(demo, reminder_minutes, before):
    demo.salon.reminder_minutes = reminder_minutes
    appointment = AppointmentFactory(service=demo.haircut, stylist=demo.ana)

    _, event = event_of(visit_calendar([appointment], salon=demo.salon, manage_url=LINK, now=NOW))

    (alarm,) = event.walk("VALARM")
    assert alarm.decoded("TRIGGER") == -before
    assert str(alarm["ACTION"]) == "DISPLAY"


def test_a_cancelled_visit_has_no_alarm(demo):
    appointment = AppointmentFactory(service=demo.haircut, stylist=demo.ana)

    calendar, event = event_of(
        visit_calendar([appointment], salon=demo.salon, manage_url=LINK, now=NOW, method="CANCEL", sequence=3)
    )

    assert str(calendar["METHOD"]) == "CANCEL"
    assert (str(event["STATUS"]), event["SEQUENCE"]) == ("CANCELLED", 3)
    assert not event.walk("VALARM")
