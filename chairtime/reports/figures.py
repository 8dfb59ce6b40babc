"""The salon's figures for a range of days, per stylist and in total.

Counted by the database (one aggregate query over the range's appointments, one
over their holds), plus the stylists' working time from their schedules
(:mod:`hours`): the cost grows with the appointments *in the range*, never with
the whole history, and the range is at most MAX_DAYS.

Definitions (docs/reports.md):

* **booked time**: the stylists' busy holds of appointments that start in the
  range and were not cancelled: working phases and set-up/clean-up buffers, not
  processing time (the stylist is free while a colour develops, and may book
  someone else then: counting it would count that time twice);
* **utilisation**: booked time / working time (time off and closures excluded;
  above 100 % when staff kept appointments outside hours);
* **revenue**: the booked price of appointments marked completed at the desk;
* **no-show rate**: no-shows / appointments that have started (not cancelled);
* **late-cancel rate**: cancellations made within the salon's change notice
  before the start, not by the salon / every appointment of the range;
* **rebooking rate**: completed appointments whose customer (same e-mail) booked
  another appointment, to start later, within REBOOK_WITHIN of this one's start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from django.db.models import Count, DurationField, Exists, ExpressionWrapper, F, OuterRef, Q, Sum
from django.db.models.functions import Lower
from django.utils.translation import gettext, ngettext

from chairtime.booking import availability, selectors
from chairtime.booking.models import Appointment, Hold, Salon, Stylist
from chairtime.frontdesk.models import AppointmentEvent, Attendance
from chairtime.reports.hours import working_time

MAX_DAYS = 366
REBOOK_WITHIN = timedelta(days=7)
ZERO = timedelta(0)


@dataclass(frozen=True)
class Row:
    label: str
    working: timedelta = ZERO
    booked: timedelta = ZERO
    appointments: int = 0  # not cancelled
    started: int = 0  # not cancelled, started by now
    completed: int = 0
    no_shows: int = 0
    cancelled: int = 0
    late_cancels: int = 0
    revenue: Decimal = Decimal("0.00")
    rebooked: int = 0

    @property
    def utilisation(self) -> float | None:
        return self.booked / self.working if self.working else None

    @property
    def no_show_rate(self) -> float | None:
        return self.no_shows / self.started if self.started else None

    @property
    def late_cancel_rate(self) -> float | None:
        everything = self.appointments + self.cancelled
        return self.late_cancels / everything if everything else None

    @property
    def rebooking_rate(self) -> float | None:
        return self.rebooked / self.completed if self.completed else None

    def __add__(self, other: Row) -> Row:
        """The two rows' figures added up, under the first's label: ``sum(rows,
        Row(total_label))`` gives the total its own."""
        return Row(
            self.label,
            *(
                getattr(self, name) + getattr(other, name)
                for name in (
                    "working",
                    "booked",
                    "appointments",
                    "started",
                    "completed",
                    "no_shows",
                    "cancelled",
                    "late_cancels",
                    "revenue",
                    "rebooked",
                )
            ),
        )


@dataclass(frozen=True)
class Report:
    first_day: date
    last_day: date
    rows: list[Row]
    total: Row
    currency: str
    time_zone: str


class RangeError(ValueError):
    """A range the report cannot cover; the message says why."""


def salon_report(first_day: date, last_day: date, *, now: datetime) -> Report:
    if last_day < first_day:
        raise RangeError(gettext("The last day is before the first day."))
    if (last_day - first_day).days + 1 > MAX_DAYS:
        raise RangeError(
            ngettext(
                "A report covers at most %(days)s day.", "A report covers at most %(days)s days.", MAX_DAYS
            )
            % {"days": MAX_DAYS}
        )
    salon = Salon.load()
    window_start, _ = availability.day_bounds(first_day, salon.tz)
    _, window_end = availability.day_bounds(last_day, salon.tz)
    in_range = Q(starts_at__gte=window_start, starts_at__lt=window_end)

    counts = {row.pop("stylist_id"): row for row in _appointment_counts(in_range, salon, now)}
    booked = dict(
        Hold.objects.filter(stylist__isnull=False, appointment__starts_at__gte=window_start)
        .filter(appointment__starts_at__lt=window_end)
        .values("stylist_id")
        .annotate(t=Sum(ExpressionWrapper(F("ends_at") - F("starts_at"), output_field=DurationField())))
        .order_by()
        .values_list("stylist_id", "t")
    )
    stylists = list(
        Stylist.objects.filter(Q(is_active=True) | Q(pk__in=list(counts))).order_by("position", "name")
    )
    schedules = selectors.stylist_schedules(stylists, salon, first_day, last_day)
    policy = selectors.salon_policy(salon, first_day, last_day)
    days = [first_day + timedelta(days=n) for n in range((last_day - first_day).days + 1)]

    rows = []
    for stylist, schedule in zip(stylists, schedules, strict=True):
        found = counts.get(stylist.pk, {})
        rows.append(
            Row(
                stylist.name,
                working=working_time(schedule, policy, days),
                booked=booked.get(stylist.pk) or ZERO,
                **{k: v for k, v in found.items() if k != "revenue"},
                revenue=found.get("revenue") or Decimal("0.00"),
            )
        )
    # The total's label is a row title in the page and the CSV, in the reader's language.
    total = sum(rows, Row(gettext("All stylists")))
    return Report(first_day, last_day, rows, total, salon.currency, salon.time_zone)


def _appointment_counts(in_range: Q, salon: Salon, now: datetime) -> list[dict]:
    confirmed = Q(status=Appointment.Status.CONFIRMED)
    completed = confirmed & Q(desk_state__attendance=Attendance.COMPLETED)
    notice = timedelta(minutes=salon.change_notice_minutes)
    by_salon = AppointmentEvent.objects.filter(
        appointment=OuterRef("pk"), kind=AppointmentEvent.Kind.CANCELLED_BY_SALON
    )
    rebooked = Appointment.objects.filter(
        confirmed_customer=Lower(OuterRef("customer_email")),
        starts_at__gt=OuterRef("starts_at"),
        created_at__gte=OuterRef("starts_at"),
        created_at__lt=OuterRef("starts_at") + REBOOK_WITHIN,
    )
    return list(
        Appointment.objects.filter(in_range)
        .annotate(by_salon=Exists(by_salon), rebooked=Exists(rebooked))
        .values("stylist_id")
        .annotate(
            appointments=Count("pk", filter=confirmed),
            started=Count("pk", filter=confirmed & Q(starts_at__lte=now)),
            completed=Count("pk", filter=completed),
            no_shows=Count("pk", filter=confirmed & Q(desk_state__attendance=Attendance.NO_SHOW)),
            cancelled=Count("pk", filter=Q(status=Appointment.Status.CANCELLED)),
            late_cancels=Count(
                "pk",
                filter=Q(status=Appointment.Status.CANCELLED, by_salon=False)
                & Q(cancelled_at__gt=F("starts_at") - notice),
            ),
            revenue=Sum("price", filter=completed),
            rebooked=Count("pk", filter=completed & Q(rebooked=True) & ~Q(customer_email="")),
        )
        .order_by()
    )
