"""The e-mails: plain text and HTML from templates, in the salon's local time and
zone, with the manage link and the visit's .ics file (a confirmation and a
change update the calendar event, a cancellation removes it).

A message is written when its turn comes, from the appointments as they are
then, and only if it is still true: a confirmation of a visit cancelled since
is not sent (its cancellation is).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse

from chairtime.booking import selectors
from chairtime.booking.models import Appointment, Salon
from chairtime.booking.tokens import make_manage_token
from chairtime.messages import ics
from chairtime.messages.models import Message

SUBJECTS = {
    Message.Kind.VISIT_BOOKED: "Your appointment at {salon} on {day} is booked",
    Message.Kind.VISIT_CANCELLED: "Your appointment at {salon} on {day} is cancelled",
    Message.Kind.VISIT_CHANGED: "Your appointment at {salon} is moved to {day}",
}


def manage_url(lead: Appointment) -> str:
    """The absolute address of the customer's page for the visit (SITE_URL)."""
    return settings.SITE_URL + reverse("booking:manage", args=[make_manage_token(lead.pk)])


def email_for(message: Message, *, now: datetime) -> EmailMultiAlternatives | None:
    """The e-mail of ``message``, or None when it is no longer true."""
    from chairtime.booking.views import format_duration, format_long_day, format_price, format_time_range

    appointments = selectors.visit_appointment_list(message.appointment)
    booked = message.kind in (Message.Kind.VISIT_BOOKED, Message.Kind.VISIT_CHANGED)
    if booked and not all(a.is_confirmed for a in appointments):
        return None
    salon = Salon.load()
    tz = salon.tz
    first = appointments[0].starts_at.astimezone(tz)
    link = manage_url(appointments[0])
    context = {
        "salon": salon,
        "customer_name": appointments[0].customer_name,
        "day": format_long_day(first.date()),
        "zone": salon.time_zone,
        "items": [
            {
                "service": a.service.name,
                "stylist": a.stylist.name,
                "time": format_time_range(a.starts_at.astimezone(tz), a.ends_at.astimezone(tz), zone=True),
                "duration": format_duration(round((a.ends_at - a.starts_at).total_seconds() / 60)),
                "price": format_price(a.price),
            }
            for a in appointments
        ],
        "total": format_price(sum(a.price for a in appointments)),
        "manage_url": link,
    }
    template = f"messages/{message.kind}"
    email = EmailMultiAlternatives(
        subject=SUBJECTS[message.kind].format(salon=salon.name, day=context["day"]),
        body=render_to_string(f"{template}.txt", context),
        to=[message.recipient],
        headers={"X-Chairtime-Message": str(message.pk)},
    )
    email.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    method = "REQUEST" if booked else "CANCEL"
    calendar = ics.visit_calendar(
        appointments, salon=salon, manage_url=link, now=now, method=method, sequence=message.sequence
    )
    email.attach("appointment.ics", calendar, f"text/calendar; charset=utf-8; method={method}")
    return email
