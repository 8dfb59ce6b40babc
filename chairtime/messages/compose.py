"""The e-mails: plain text and HTML from templates, in the salon's local time and
zone, with the salon's address and phone, the manage link and, for a
confirmation, a change or a cancellation, the visit's .ics file.

Each is written in the customer's language (``message_language``: the one they
booked or joined the waitlist in), whatever language the worker runs in: the
subject, both bodies, the dates and prices and the .ics file.

A message is written when its turn comes, from the appointments as they are
then, and only if it is still true (``still_true``): a confirmation or reminder
of a visit cancelled or moved since is not sent (its cancellation or change is).
"""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext, gettext_lazy

from chairtime.booking import selectors
from chairtime.booking.models import Appointment, Salon, WaitlistEntry, WaitlistOffer
from chairtime.booking.tokens import make_manage_token, make_offer_token, make_waitlist_token
from chairtime.formats import format_duration, format_long_day, format_price, format_time, format_time_range
from chairtime.messages import ics
from chairtime.messages.models import Message

# Lazy: each is translated when its e-mail is written, in the customer's language.
SUBJECTS = {
    Message.Kind.VISIT_BOOKED: gettext_lazy("Your appointment at %(salon)s on %(day)s is booked"),
    Message.Kind.VISIT_CHANGED: gettext_lazy("Your appointment at %(salon)s is moved to %(day)s"),
    Message.Kind.VISIT_CANCELLED: gettext_lazy("Your appointment at %(salon)s on %(day)s is cancelled"),
    Message.Kind.REMINDER: gettext_lazy("Reminder: your appointment at %(salon)s on %(day)s at %(time)s"),
    Message.Kind.WAITLIST_JOINED: gettext_lazy("You are on the waitlist of %(salon)s for %(day)s"),
    Message.Kind.WAITLIST_OFFER: gettext_lazy("A time at %(salon)s on %(day)s at %(time)s is held for you"),
}
# The calendar file's iTIP method per kind (RFC 5546); a reminder carries none.
CALENDAR_METHODS = {
    Message.Kind.VISIT_BOOKED: "REQUEST",
    Message.Kind.VISIT_CHANGED: "REQUEST",
    Message.Kind.VISIT_CANCELLED: "CANCEL",
}


def manage_url(lead: Appointment) -> str:
    """The absolute address of the customer's page for the visit (SITE_URL)."""
    return settings.SITE_URL + reverse("booking:manage", args=[make_manage_token(lead.pk)])


def email_for(message: Message, *, now: datetime) -> EmailMultiAlternatives | None:
    """The e-mail of ``message`` in its customer's language, or None when it is
    no longer true."""
    with translation.override(message_language(message)):
        if message.waitlist_entry_id is not None:
            return _waitlist_email(message, now=now)
        return _visit_email(message, now=now)


def message_language(message: Message) -> str:
    """The language ``message`` is written in: the one its customer booked the
    visit or joined the waitlist in (stored with the visit, the waitlist place).
    The worker has no request: whatever language it runs in does not count. A
    visit from before visits existed has none stored: the site's default."""
    if message.waitlist_entry_id is not None:
        return message.waitlist_entry.language
    if message.visit_id is not None:
        return message.visit.language
    if message.appointment.visit_id is not None:
        return message.appointment.visit.language
    return settings.LANGUAGE_CODE


def _visit_email(message: Message, *, now: datetime) -> EmailMultiAlternatives | None:
    appointments = selectors.visit_appointment_list(message.appointment)
    if not still_true(message, appointments, now=now):
        return None
    salon = Salon.load()
    tz = salon.tz
    first = appointments[0].starts_at.astimezone(tz)
    link = manage_url(appointments[0])
    context = {
        "salon": salon,
        "customer_name": appointments[0].customer_name,
        "day": format_long_day(first.date()),
        "start_time": f"{format_time(first)} {first.tzname()}",
        "zone": salon.time_zone,
        "items": [
            {
                "service": a.service.name,
                "stylist": a.stylist.name,
                "time": format_time_range(a.starts_at.astimezone(tz), a.ends_at.astimezone(tz), zone=True),
                "duration": format_duration(round((a.ends_at - a.starts_at).total_seconds() / 60)),
                "price": format_price(a.price, salon.currency),
            }
            for a in appointments
        ],
        "total": format_price(sum(a.price for a in appointments), salon.currency),
        "manage_url": link,
    }
    email = _email(message, salon, context)
    method = CALENDAR_METHODS.get(message.kind)
    if method is not None:
        calendar = ics.visit_calendar(
            appointments, salon=salon, manage_url=link, now=now, method=method, sequence=message.sequence
        )
        email.attach("appointment.ics", calendar, f"text/calendar; charset=utf-8; method={method}")
    return email


def still_true(message: Message, appointments: list[Appointment], *, now: datetime) -> bool:
    """Whether ``message`` still says something true of the visit of ``appointments``.

    A cancellation always is. The others need the visit confirmed and starting
    when it did when the message was owed (``about_starts_at``; a later change
    message tells the new time). A reminder also needs the visit not yet begun,
    and no later reminder of it due already: a worker back from a long outage
    sends the 2-hour reminder, not the 24-hour one as well (``plan_reminders``
    writes them largest offset first, so a later one has a higher id).

    None is true without a recipient: an erased client's messages lose theirs
    (chairtime/clients), and one in flight then must not be retried until it
    gives up."""
    if not message.recipient:
        return False
    if message.kind == Message.Kind.VISIT_CANCELLED:
        return True
    if not all(a.is_confirmed for a in appointments):
        return False
    start = appointments[0].starts_at
    if message.about_starts_at is not None and start != message.about_starts_at:
        return False
    if message.kind != Message.Kind.REMINDER:
        return True
    if start <= now:
        return False
    later_due = Message.objects.filter(
        appointment_id=message.appointment_id,
        kind=Message.Kind.REMINDER,
        about_starts_at=message.about_starts_at,
        pk__gt=message.pk,
        next_attempt_at__lte=now,
    ).exclude(state__in=[Message.State.SKIPPED, Message.State.FAILED])
    return not later_due.exists()


def waitlist_leave_url(entry: WaitlistEntry) -> str:
    """The absolute address of the page that takes the customer off the waitlist."""
    return settings.SITE_URL + reverse("booking:waitlist_leave", args=[make_waitlist_token(entry.pk)])


def waitlist_offer_url(offer: WaitlistOffer) -> str:
    """The absolute address of the page that books the held time."""
    return settings.SITE_URL + reverse("booking:waitlist_offer", args=[make_offer_token(offer.pk)])


def waitlist_offer_of(message: Message) -> WaitlistOffer | None:
    """The offer a WAITLIST_OFFER message is about: the entry's offer of the time
    it was owed for (an entry gets one offer)."""
    return (
        WaitlistOffer.objects.select_related("stylist")
        .filter(entry_id=message.waitlist_entry_id, starts_at=message.about_starts_at)
        .order_by("-pk")
        .first()
    )


def _waitlist_email(message: Message, *, now: datetime) -> EmailMultiAlternatives | None:
    """A waitlist e-mail, or None when it is no longer true: a confirmation of a
    place the customer has already left, an offer no longer open or whose hold
    has ended (a worker back from an outage must not send a dead link)."""
    if not message.recipient:
        return None
    entry = WaitlistEntry.objects.select_related("service", "stylist").get(pk=message.waitlist_entry_id)
    salon = Salon.load()
    tz = salon.tz
    context = {
        "salon": salon,
        "customer_name": entry.customer_name,
        "service": entry.service.name,
        "stylist": entry.stylist.name if entry.stylist_id else "",
        "day": format_long_day(entry.date),
        "zone": salon.time_zone,
        "leave_url": waitlist_leave_url(entry),
        "start_time": "",
    }
    if message.kind == Message.Kind.WAITLIST_JOINED:
        if entry.state == WaitlistEntry.State.LEFT:
            return None
    else:
        offer = waitlist_offer_of(message)
        if offer is None or offer.state != WaitlistOffer.State.OPEN or offer.expires_at <= now:
            return None
        start = offer.starts_at.astimezone(tz)
        until = offer.expires_at.astimezone(tz)
        context.update(
            {
                "day": format_long_day(start.date()),
                "start_time": f"{format_time(start)} {start.tzname()}",
                "time": format_time_range(start, offer.ends_at.astimezone(tz), zone=True),
                "offered_stylist": offer.stylist.name,
                "held_until": gettext("%(day)s at %(time)s")
                % {"day": format_long_day(until.date()), "time": f"{format_time(until)} {until.tzname()}"},
                "offer_url": waitlist_offer_url(offer),
            }
        )
    return _email(message, salon, context)


def _email(message: Message, salon, context: dict) -> EmailMultiAlternatives:
    """The message's e-mail: its kind's subject, text and HTML templates over
    ``context``, in the active language (``email_for`` activates the customer's)."""
    template = f"messages/{message.kind}"
    subject = str(SUBJECTS[message.kind]) % {
        "salon": salon.name,
        "day": context["day"],
        "time": context["start_time"],
    }
    email = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"{template}.txt", context),
        to=[message.recipient],
        headers={"X-Chairtime-Message": str(message.pk), "Content-Language": translation.get_language()},
    )
    email.attach_alternative(render_to_string(f"{template}.html", context), "text/html")
    return email
