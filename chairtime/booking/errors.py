"""The one error type of the booking domain, with every user-facing message in one place.

The messages are English in the code and shown in the reader's language: a
``Problem``'s value is marked for the catalogs (``gettext_noop``) and translated
when it is read (``BookingError.message``). ``Refusal`` lives in the pure
availability package, which imports nothing from Django, so its translatable
words are in ``REFUSAL_MESSAGES`` below, the same English once more (a test
keeps the two equal).
"""

from __future__ import annotations

import enum
from collections.abc import Mapping

from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy, gettext_noop, ngettext

from chairtime.booking.availability import Refusal

# What the customer reads for each refusal, in their language. The same English as
# Refusal's values (xgettext cannot see through the enum), so the catalogs hold it.
REFUSAL_MESSAGES: Mapping[Refusal, Promise] = {
    Refusal.IN_THE_PAST: gettext_lazy("That time has already passed. Please choose a later time."),
    Refusal.TOO_SOON: gettext_lazy("That time is too soon to book online. Please choose a later time."),
    Refusal.BEYOND_HORIZON: gettext_lazy(
        "That date is too far ahead to book yet. Please choose an earlier date."
    ),
    Refusal.CLOSED: gettext_lazy("The salon is closed on that day. Please choose another day."),
    Refusal.OUTSIDE_HOURS: gettext_lazy(
        "Your stylist isn't working for the whole of this service at that time. Please choose another time."
    ),
    Refusal.OFF_GRID: gettext_lazy(
        "Appointments can't start at that time. Please choose one of the times offered."
    ),
    Refusal.TIME_OFF: gettext_lazy("Your stylist is away at that time. Please choose another time."),
    Refusal.TAKEN: gettext_lazy("That time has just been taken. Please choose another time."),
    Refusal.RESOURCE_BUSY: gettext_lazy(
        "The equipment this service needs (a basin, a colour station, ...) is all in use at that time. "
        "Please choose another time."
    ),
}


def refusal_message(refusal: Refusal) -> str:
    """The refusal as the active language says it."""
    return str(REFUSAL_MESSAGES[refusal])


class Problem(enum.Enum):
    SERVICE_NOT_FOUND = gettext_noop("That service does not exist or can no longer be booked.")
    STYLIST_NOT_FOUND = gettext_noop("That stylist does not exist or takes no bookings.")
    STYLIST_DOES_NOT_OFFER = gettext_noop(
        "That stylist does not offer this service. Please choose another stylist."
    )
    NO_STYLIST = gettext_noop("Nobody offers this service at the moment.")
    APPOINTMENT_NOT_FOUND = gettext_noop(
        "We could not find that appointment. The link may be incomplete or expired."
    )
    ALREADY_CANCELLED = gettext_noop("This appointment was already cancelled.")
    ALREADY_STARTED = gettext_noop(
        "This appointment has already started, so it can no longer be cancelled online."
    )
    ALREADY_BOOKED = gettext_noop(
        "You already have this appointment: this service at this time is booked under the same "
        "e-mail address. Use the link you were given when you booked to see or cancel it."
    )
    VISIT_SIZE = gettext_noop("A visit books between one and five services. Please book the rest separately.")
    REQUEST_KEY_REUSED = gettext_noop(
        "This request key was already used for a different booking request. "
        "Use a new key for every new booking."
    )
    APPOINTMENT_CANCELLED = gettext_noop(
        "This appointment was cancelled, so it cannot be moved. Please book a new time."
    )
    STARTED_CANNOT_MOVE = gettext_noop("This appointment has already started, so it can no longer be moved.")
    # The sentence shown is too_late_to_change(): it names the notice and the phone.
    TOO_LATE_TO_CHANGE = gettext_noop(
        "It is too late to change this appointment online. Please call the salon."
    )
    TIMES_AVAILABLE = gettext_noop(
        "There are still free times for this service on that day: please choose one of them. "
        "The waitlist is for days with no free time left."
    )
    WAITLIST_DAY = gettext_noop("The waitlist takes days from today to the end of the booking horizon.")
    WAITLIST_ENTRY_NOT_FOUND = gettext_noop(
        "We could not find that waitlist place. The link may be incomplete or expired."
    )
    OFFER_NOT_FOUND = gettext_noop("We could not find that offer. The link may be incomplete or expired.")
    OFFER_EXPIRED = gettext_noop(
        "This offer has ended: the time was held for you until the time given in the e-mail, "
        "and has been offered to the next person waiting. Please book another time."
    )
    OFFER_WITHDRAWN = gettext_noop("You left the waitlist, so this time is no longer held for you.")
    VISIT_SHAPE = gettext_noop(
        "Give one stylist (or null for any) per service of the visit, in order, "
        "as many as the visit has services."
    )


class BookingError(Exception):
    """A booking request the salon must refuse; ``message`` can be shown as is.

    ``conflict`` is true when the request was well formed but the time is not
    available (HTTP 409). Otherwise an id names nothing bookable (404), a stylist
    does not offer the service (422), or nobody offers it at the moment (the API
    answers that one with 409 too: it is the salon's state, not a bad request).
    """

    def __init__(self, reason: Refusal | Problem, message: str = "") -> None:
        self.reason = reason
        self.code = reason.name.lower()
        self._message = message
        # The exception's own text (logs, tracebacks) stays English.
        super().__init__(message or reason.value)

    @property
    def message(self) -> str:
        """The sentence for the customer, in the language active when it is read
        (a service may raise before the page knows which page will show it)."""
        if self._message:
            return self._message
        if isinstance(self.reason, Refusal):
            return refusal_message(self.reason)
        return gettext(self.reason.value)

    @property
    def conflict(self) -> bool:
        return isinstance(self.reason, Refusal) or self.reason in (
            Problem.ALREADY_CANCELLED,
            Problem.ALREADY_STARTED,
            Problem.ALREADY_BOOKED,
            Problem.APPOINTMENT_CANCELLED,
            Problem.STARTED_CANNOT_MOVE,
            Problem.TOO_LATE_TO_CHANGE,
            Problem.TIMES_AVAILABLE,
            Problem.OFFER_EXPIRED,
            Problem.OFFER_WITHDRAWN,
        )


def _minutes_in_words(minutes: int) -> str:
    if minutes % (60 * 24) == 0:
        days = minutes // (60 * 24)
        return ngettext("%(count)s day", "%(count)s days", days) % {"count": days}
    if minutes % 60 == 0:
        hours = minutes // 60
        return ngettext("%(count)s hour", "%(count)s hours", hours) % {"count": hours}
    return ngettext("%(count)s minute", "%(count)s minutes", minutes) % {"count": minutes}


def too_late_to_change(notice_minutes: int, phone: str) -> BookingError:
    """The refusal of an online change or cancellation inside the salon's notice
    (Salon.change_notice_minutes), telling the customer whom to call, in the
    active language."""
    if phone:
        call = gettext("Please call the salon at %(phone)s.") % {"phone": phone}
    else:
        call = gettext("Please call the salon.")
    if notice_minutes:
        sentence = gettext(
            "It is too late to change or cancel this appointment online: changes close "
            "%(notice)s before the start."
        ) % {"notice": _minutes_in_words(notice_minutes)}
    else:
        sentence = gettext("It is too late to change or cancel this appointment online.")
    return BookingError(Problem.TOO_LATE_TO_CHANGE, f"{sentence} {call}")
