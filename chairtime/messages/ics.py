"""The calendar file (RFC 5545, iTIP methods of RFC 5546) of a visit, made with
the ``icalendar`` library: one event from the first service's start to the last
one's end, its UID stable per visit, so that the cancellation (METHOD:CANCEL, a
higher SEQUENCE) removes the event the confirmation (METHOD:REQUEST) added.

Times are written in the salon's zone (DTSTART;TZID=Europe/Paris:...) with the
zone's VTIMEZONE, so a calendar shows the visit at the salon's wall-clock time
whatever the customer's own zone, and computes the same instant as we store.

LOCATION is the salon's address when it has one; the event's alarm goes off as
long before the start as the salon's last e-mail reminder (2 hours without any).

The summary and description are in the active language: the customer's, which
the e-mail's composer activates (or the manage page's request, for a download).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.html import strip_tags
from django.utils.translation import gettext
from icalendar import Alarm, Calendar, Event, vCalAddress, vText

from chairtime.booking.models import Appointment, Salon
from chairtime.formats import format_time

PRODID = "-//Chairtime//Booking//EN"
# The calendar's alarm when the salon sends no reminders.
ALARM_BEFORE = timedelta(hours=2)


def alarm_before(salon: Salon) -> timedelta:
    """How long before the start the calendar's alarm goes off: the salon's
    smallest reminder offset (the e-mail and the alarm then agree), else 2 hours."""
    try:
        offsets = salon.reminder_offsets
    except ValidationError:
        offsets = []
    return timedelta(minutes=min(offsets)) if offsets else ALARM_BEFORE


def visit_uid(lead: Appointment) -> str:
    # A visit written before visits existed has one appointment: its own UID, the
    # one the manage page's download has always used.
    if lead.visit_id is None:
        return f"appointment-{lead.pk}@chairtime"
    return f"visit-{lead.visit_id}@chairtime"


def calendar_time(instant: datetime, tz: ZoneInfo) -> datetime:
    """``instant`` as the salon's wall time when that names it, else in UTC.

    RFC 5545 (3.3.5) reads a local time that happens twice (01:30 on the night the
    clocks go back) as its first occurrence: written with a TZID, the second 01:30
    would land in calendars an hour early. That one is written in UTC instead."""
    local = instant.astimezone(tz)
    if local.replace(fold=0).astimezone(UTC) == instant.astimezone(UTC):
        return local.replace(fold=0)
    return instant.astimezone(UTC)


def visit_calendar(
    appointments: Sequence[Appointment],
    *,
    salon: Salon,
    manage_url: str,
    now: datetime,
    method: str = "REQUEST",
    sequence: int = 0,
) -> bytes:
    """The .ics file of the visit of ``appointments`` (in their order), for
    ``method`` REQUEST (booked), CANCEL (cancelled) or PUBLISH (a download)."""
    lead = appointments[0]
    tz = salon.tz
    cancelled = method == "CANCEL" or not any(a.is_confirmed for a in appointments)

    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)

    event = Event()
    event.add("uid", visit_uid(lead))
    event.add("sequence", sequence)
    event.add("dtstamp", now)
    event.add("dtstart", calendar_time(min(a.starts_at for a in appointments), tz))
    event.add("dtend", calendar_time(max(a.ends_at for a in appointments), tz))
    services = ", ".join(a.service.name for a in appointments)
    summary = gettext("%(services)s at %(salon)s") % {"services": services, "salon": salon.name}
    event.add("summary", summary)
    lines = [
        gettext("%(service)s with %(stylist)s at %(time)s")
        % {
            "service": a.service.name,
            "stylist": a.stylist.name,
            "time": format_time(a.starts_at.astimezone(tz)),
        }
        for a in appointments
    ]
    phone = salon.phone and gettext("Phone: %(phone)s") % {"phone": salon.phone}
    contact = [line for line in (salon.name, salon.address, phone) if line]
    manage = gettext("See, change or cancel your appointment: %(url)s") % {"url": manage_url}
    event.add("description", "\n".join([*lines, "", *contact, "", manage]))
    event.add("url", manage_url)
    if salon.address:
        event.add("location", salon.address)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if method in ("REQUEST", "CANCEL"):
        # iTIP (RFC 5546) asks for an organizer and the attendee in these methods;
        # calendar programs use them to match the update to the event.
        organizer = vCalAddress(f"mailto:{_address(settings.DEFAULT_FROM_EMAIL)}")
        organizer.params["cn"] = vText(salon.name)
        event.add("organizer", organizer)
        attendee = vCalAddress(f"mailto:{lead.customer_email}")
        attendee.params["cn"] = vText(lead.customer_name)
        attendee.params["role"] = vText("REQ-PARTICIPANT")
        attendee.params["partstat"] = vText("ACCEPTED")
        event.add("attendee", attendee)
    if not cancelled:
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", strip_tags(summary))
        alarm.add("trigger", -alarm_before(salon))
        event.add_component(alarm)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical()


def _address(from_email: str) -> str:
    """The address in "Name <address>" (or the address alone)."""
    if "<" in from_email and from_email.endswith(">"):
        return from_email.rsplit("<", 1)[1][:-1]
    return from_email
