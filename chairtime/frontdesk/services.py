"""Writes of the desk: attendance changes and cancellations, each recorded.

Booking goes through ``booking.services.visit_book`` and cancelling through
``booking.services.appointment_cancel``, like every other write; this module adds
who did it and when (``AppointmentEvent``) and the attendance state.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext

from chairtime.booking import services as booking
from chairtime.booking.models import Appointment
from chairtime.frontdesk.models import AppointmentEvent, AppointmentState, Attendance

Kind = AppointmentEvent.Kind

# Which attendance each change may start from, and whether the appointment must
# have started (a no-show, a completion) first.
TRANSITIONS: dict[str, tuple[set[str], bool]] = {
    Attendance.ARRIVED: ({Attendance.BOOKED}, False),
    Attendance.IN_PROGRESS: ({Attendance.BOOKED, Attendance.ARRIVED}, False),
    Attendance.COMPLETED: ({Attendance.BOOKED, Attendance.ARRIVED, Attendance.IN_PROGRESS}, True),
    Attendance.NO_SHOW: ({Attendance.BOOKED}, True),
}
CANCELLATIONS = {Kind.CANCELLED_BY_CUSTOMER, Kind.CANCELLED_BY_SALON}


class DeskError(Exception):
    """A change the desk must refuse; ``message`` is shown as is."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _marked(attendance: str) -> str:
    """An attendance's label inside a sentence ("already marked arrived"): lower
    case in English, French and Spanish alike."""
    return str(Attendance(attendance).label).lower()


def _record(appointments: Sequence[Appointment], kind: str, user: AbstractBaseUser, now: datetime) -> None:
    AppointmentEvent.objects.bulk_create(
        AppointmentEvent(appointment=a, kind=kind, at=now, by=user, by_name=user.get_username())
        for a in appointments
    )


def record_booked(appointments: Sequence[Appointment], *, user: AbstractBaseUser, now: datetime) -> None:
    _record(appointments, Kind.BOOKED, user, now)


def record_moved(appointments: Sequence[Appointment], *, user: AbstractBaseUser, now: datetime) -> None:
    _record(appointments, Kind.MOVED, user, now)


def lock_appointment(appointment_id: int) -> Appointment | None:
    """The appointment, its row locked until the transaction ends: two changes of
    one appointment (two people at the desk, a double click) queue here, and the
    second reads the state the first wrote. Without it both would read "booked"
    and both would record "arrived" (test_concurrency.py shows it)."""
    return Appointment.objects.select_for_update().filter(pk=appointment_id).first()


def current_attendance(appointment: Appointment) -> str:
    state = AppointmentState.objects.filter(appointment=appointment).first()
    return state.attendance if state is not None else Attendance.BOOKED


def appointment_mark(
    *, appointment_id: int, attendance: str, user: AbstractBaseUser, now: datetime
) -> Appointment:
    """Set the appointment's attendance (arrived, in progress, completed,
    no-show), recorded with who and when. The appointment's row is locked, so two
    people at the desk pressing buttons at once change it one after the other,
    each seeing the other's change."""
    if attendance not in TRANSITIONS:
        raise DeskError(gettext("That is not a change the desk can make."))
    with transaction.atomic():
        appointment = lock_appointment(appointment_id)
        if appointment is None:
            raise DeskError(gettext("That appointment does not exist."))
        if appointment.status != Appointment.Status.CONFIRMED:
            raise DeskError(gettext("This appointment is cancelled, so its attendance cannot change."))
        current = current_attendance(appointment)
        allowed, after_start = TRANSITIONS[attendance]
        if current not in allowed:
            raise DeskError(
                gettext("This appointment is already marked %(current)s, so it cannot be marked %(new)s.")
                % {"current": _marked(current), "new": _marked(attendance)}
            )
        if after_start and now < appointment.starts_at:
            raise DeskError(
                gettext("This appointment has not started yet, so it cannot be marked %(new)s.")
                % {"new": _marked(attendance)}
            )
        AppointmentState.objects.update_or_create(
            appointment=appointment,
            defaults={"attendance": attendance, "changed_at": now, "changed_by": user},
        )
        _record([appointment], attendance, user, now)
    return appointment


def appointment_cancel(
    *, appointment_id: int, by_salon: bool, user: AbstractBaseUser, now: datetime
) -> Appointment:
    """Cancel the appointment's visit through the booking service (every service of
    it; the customer gets the cancellation message), recorded with who, when and
    on whose behalf."""
    state = AppointmentState.objects.filter(appointment_id=appointment_id).first()
    if state is not None and state.attendance != Attendance.BOOKED:
        raise DeskError(
            gettext("The customer is marked %(current)s: it is too late to cancel.")
            % {"current": _marked(state.attendance)}
        )
    appointment = booking.appointment_cancel(appointment_id=appointment_id, now=now)
    visit = (
        Appointment.objects.filter(visit_id=appointment.visit_id) if appointment.visit_id else [appointment]
    )
    _record(list(visit), Kind.CANCELLED_BY_SALON if by_salon else Kind.CANCELLED_BY_CUSTOMER, user, now)
    return appointment
