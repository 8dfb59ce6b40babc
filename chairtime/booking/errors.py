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


class BookingError(Exception):
    """A booking request the salon must refuse; ``message`` can be shown as is.

    ``conflict`` is true when the request was well formed but the time is not
    available (HTTP 409). Otherwise an id names nothing bookable (404), a stylist
    does not offer the service (422), or nobody offers it at the moment (the API
    answers that one with 409 too: it is the salon's state, not a bad request).
    """

    def __init__(self, reason: Refusal | Problem) -> None:
        self.reason = reason
        self.code = reason.name.lower()
        self.message: str = reason.value
        super().__init__(self.message)

    @property
    def conflict(self) -> bool:
        return isinstance(self.reason, Refusal) or self.reason in (
            Problem.ALREADY_CANCELLED,
            Problem.ALREADY_STARTED,
            Problem.ALREADY_BOOKED,
        )
