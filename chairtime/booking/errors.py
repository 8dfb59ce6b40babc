"""The one error type of the booking domain, with every user-facing message in one place."""

from __future__ import annotations

import enum

from chairtime.booking.availability import Refusal


class Problem(enum.Enum):
    SERVICE_NOT_FOUND = "That service does not exist or can no longer be booked."
    STYLIST_NOT_FOUND = "That stylist does not exist or takes no bookings."
    STYLIST_DOES_NOT_OFFER = "That stylist does not offer this service. Please choose another stylist."
    NO_STYLIST = "Nobody offers this service at the moment."
    APPOINTMENT_NOT_FOUND = "We could not find that appointment. The link may be incomplete or expired."
    ALREADY_CANCELLED = "This appointment was already cancelled."
    ALREADY_STARTED = "This appointment has already started, so it can no longer be cancelled online."
    ALREADY_BOOKED = (
        "You already have this appointment: this service at this time is booked under the same "
        "e-mail address. Use the link you were given when you booked to see or cancel it."
    )
    VISIT_SIZE = "A visit books between one and five services. Please book the rest separately."
    REQUEST_KEY_REUSED = (
        "This request key was already used for a different booking request. "
        "Use a new key for every new booking."
    )
    APPOINTMENT_CANCELLED = "This appointment was cancelled, so it cannot be moved. Please book a new time."
    STARTED_CANNOT_MOVE = "This appointment has already started, so it can no longer be moved."
    # The sentence shown is too_late_to_change(): it names the notice and the phone.
    TOO_LATE_TO_CHANGE = "It is too late to change this appointment online. Please call the salon."
    TIMES_AVAILABLE = (
        "There are still free times for this service on that day: please choose one of them. "
        "The waitlist is for days with no free time left."
    )
    WAITLIST_DAY = "The waitlist takes days from today to the end of the booking horizon."
    WAITLIST_ENTRY_NOT_FOUND = "We could not find that waitlist place. The link may be incomplete or expired."
    OFFER_NOT_FOUND = "We could not find that offer. The link may be incomplete or expired."
    OFFER_EXPIRED = (
        "This offer has ended: the time was held for you until the time given in the e-mail, "
        "and has been offered to the next person waiting. Please book another time."
    )
    OFFER_WITHDRAWN = "You left the waitlist, so this time is no longer held for you."
    VISIT_SHAPE = (
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
        self.message: str = message or reason.value
        super().__init__(self.message)

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
        return f"{days} day{'s' if days != 1 else ''}"
    if minutes % 60 == 0:
        hours = minutes // 60
        return f"{hours} hour{'s' if hours != 1 else ''}"
    return f"{minutes} minute{'s' if minutes != 1 else ''}"


def too_late_to_change(notice_minutes: int, phone: str) -> BookingError:
    """The refusal of an online change or cancellation inside the salon's notice
    (Salon.change_notice_minutes), telling the customer whom to call."""
    call = f"Please call the salon at {phone}." if phone else "Please call the salon."
    if notice_minutes:
        sentence = (
            f"It is too late to change or cancel this appointment online: changes close "
            f"{_minutes_in_words(notice_minutes)} before the start. {call}"
        )
    else:
        sentence = f"It is too late to change or cancel this appointment online. {call}"
    return BookingError(Problem.TOO_LATE_TO_CHANGE, sentence)
