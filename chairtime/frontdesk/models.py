"""Who works at the front desk, and what happened to each appointment there.

``StaffMember`` gives a user a role at the salon: the desk's views ask for it on
every request (``access.py``). ``Attendance`` is an appointment's state on the
day (arrived, in progress, completed, no-show); ``AppointmentEvent`` is the
history of every change, with who and when. Neither touches
``Appointment.status``: that column (confirmed/cancelled) drives the generated
columns and constraints that keep bookings apart, and cancelling goes through
``booking.services.appointment_cancel`` as everywhere else.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from chairtime.booking.models import Appointment, Salon, Stylist


class Role(models.TextChoices):
    MANAGER = "manager", _("Owner or manager")
    FRONT_DESK = "desk", _("Front desk")
    STYLIST = "stylist", _("Stylist")


class StaffMember(models.Model):
    """A user's place at the salon. A stylist's account names their Stylist row:
    that is whose calendar they see."""

    salon = models.ForeignKey(
        Salon, verbose_name=_("salon"), on_delete=models.CASCADE, related_name="staff", default=1
    )
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="staff_member",
        verbose_name=_("user"),
    )
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    stylist = models.OneToOneField(
        Stylist,
        verbose_name=_("stylist"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="staff_member",
        help_text=_("For a stylist's account: which stylist they are."),
    )

    class Meta:
        verbose_name = _("staff member")
        verbose_name_plural = _("staff members")
        ordering = ["role", "user__username"]
        constraints = [
            models.CheckConstraint(
                condition=Q(role="stylist", stylist__isnull=False)
                | (~Q(role="stylist") & Q(stylist__isnull=True)),
                name="staff_member_stylist_iff_role_stylist",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user.get_username()} ({self.get_role_display()})"

    def clean(self) -> None:
        if self.role == Role.STYLIST and self.stylist_id is None:
            raise ValidationError(
                {"stylist": gettext("A stylist's account must say which stylist they are.")}
            )
        if self.role != Role.STYLIST and self.stylist_id is not None:
            raise ValidationError({"stylist": gettext("Only a stylist's account names a stylist.")})

    @property
    def is_manager(self) -> bool:
        return self.role == Role.MANAGER

    @property
    def is_stylist(self) -> bool:
        return self.role == Role.STYLIST

    @property
    def can_book(self) -> bool:
        """Book for any stylist, and move visits: the manager and the front desk."""
        return self.role in (Role.MANAGER, Role.FRONT_DESK)

    def may_book_for(self, stylist_id: int | None) -> bool:
        """Whether this member may book a customer with that stylist: the desk for
        anyone, a stylist into their own column only (a walk-in in their chair)."""
        return self.can_book or (self.is_stylist and stylist_id == self.stylist_id)

    def may_see_stylist(self, stylist_id: int | None) -> bool:
        """Whether this member may see that stylist's calendar and appointments."""
        return not self.is_stylist or stylist_id == self.stylist_id


# The statuses' words carry a context (xgettext needs it written out each time):
# it keeps them apart from the same English words elsewhere ("Completed" as a
# column of counted visits is plural in French and Spanish).
class Attendance(models.TextChoices):
    BOOKED = "booked", pgettext_lazy("appointment status", "Booked")
    ARRIVED = "arrived", pgettext_lazy("appointment status", "Arrived")
    IN_PROGRESS = "in_progress", pgettext_lazy("appointment status", "In progress")
    COMPLETED = "completed", pgettext_lazy("appointment status", "Completed")
    NO_SHOW = "no_show", pgettext_lazy("appointment status", "No-show")


class AppointmentState(models.Model):
    """An appointment's attendance: one row once anything was recorded (none: booked)."""

    appointment = models.OneToOneField(
        Appointment,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="desk_state",
        verbose_name=_("appointment"),
    )
    attendance = models.CharField(
        _("attendance"), max_length=16, choices=Attendance.choices, default=Attendance.BOOKED
    )
    changed_at = models.DateTimeField(_("changed at"))
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("changed by"),
    )

    class Meta:
        verbose_name = _("appointment state")
        verbose_name_plural = _("appointment states")

    def __str__(self) -> str:
        return f"appointment {self.appointment_id}: {self.get_attendance_display()}"


class AppointmentEvent(models.Model):
    """One change to an appointment made at the desk, with who and when."""

    class Kind(models.TextChoices):
        BOOKED = "booked", _("Booked at the desk")
        MOVED = "moved", _("Moved at the desk")
        ARRIVED = "arrived", pgettext_lazy("appointment status", "Arrived")
        IN_PROGRESS = "in_progress", pgettext_lazy("appointment status", "In progress")
        COMPLETED = "completed", pgettext_lazy("appointment status", "Completed")
        NO_SHOW = "no_show", pgettext_lazy("appointment status", "No-show")
        CANCELLED_BY_CUSTOMER = "cancelled_customer", _("Cancelled by the customer")
        CANCELLED_BY_SALON = "cancelled_salon", _("Cancelled by the salon")

    appointment = models.ForeignKey(
        Appointment, verbose_name=_("appointment"), on_delete=models.CASCADE, related_name="desk_events"
    )
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    at = models.DateTimeField(_("at"))
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    # Kept when the account is deleted: the history still says who.
    by_name = models.CharField(_("by name"), max_length=150)

    class Meta:
        verbose_name = _("appointment event")
        verbose_name_plural = _("appointment events")
        ordering = ["at", "pk"]
        indexes = [models.Index(fields=["appointment", "at"], name="desk_event_appointment_at")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.by_name} at {self.at:%Y-%m-%d %H:%M} UTC"
