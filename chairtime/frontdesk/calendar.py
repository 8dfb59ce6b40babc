"""The desk calendar: a time grid of the salon's day (or week), laid out here.

One column per stylist and day. Everything is read in a fixed number of queries
whatever the number of stylists, days or appointments (:func:`read`), then laid
out in Python (:func:`layout`) as blocks on a CSS grid whose rows are
``ROW_MINUTES`` long: the page places each block with classes (``gr-12 rs-6``,
see ``gridcss.py``) because the Content-Security-Policy forbids inline styles.

Wall-clock rows: a block sits at the local wall time it starts at. On the night
the clocks go back, the repeated hour's blocks share rows (their text still says
which is which); on the night they go forward, the skipped hour has no blocks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from django.db.models import Q
from django.utils.formats import date_format, time_format
from django.utils.translation import gettext, pgettext_lazy

from chairtime.booking.availability import Policy, StylistSchedule, day_bounds
from chairtime.booking.availability.rules import working_spans
from chairtime.booking.models import (
    MAX_SERVICE_DURATION,
    Appointment,
    Closure,
    Hold,
    Salon,
    SpecialHours,
    Stylist,
    TimeOff,
    WorkingHours,
)
from chairtime.booking.views import format_time, format_time_range
from chairtime.frontdesk.models import Attendance

ROW_MINUTES = 5
HEADER_ROWS = 2  # the group's heading (the day), then the column's (the stylist)
DEFAULT_SPAN = (9 * 60, 18 * 60)
ONE_DAY = timedelta(days=1)


@dataclass
class Block:
    kind: str  # work, away, gap, buffer, appointment, free, now, hour
    row: int
    span: int
    label: str = ""
    url: str = ""
    status: str = ""
    detail: str = ""
    # The classes that style and place it, written once here: a busy day has
    # hundreds of blocks, and the template engine is slow at assembling them.
    css: str = ""

    def place_in(self, column: int) -> Block:
        modifier = f" blk--{self.status}" if self.status else ""
        self.css = f"blk blk--{self.kind}{modifier} gc-{column} gr-{self.row} rs-{self.span}"
        return self


@dataclass
class Column:
    day: date
    stylist: Stylist
    index: int  # the grid column, 2.. (1 is the time axis)
    note: str = ""
    closed: str = ""
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Group:
    day: date
    label: str
    is_today: bool
    columns: list[Column]

    @property
    def first_column(self) -> int:
        return self.columns[0].index

    @property
    def width(self) -> int:
        return len(self.columns)


@dataclass
class Calendar:
    groups: list[Group]
    hours: list[Block]  # the time axis
    first_minute: int
    last_minute: int
    cancelled: list[Appointment]
    appointment_count: int

    @property
    def last_row(self) -> int:
        return HEADER_ROWS + (self.last_minute - self.first_minute) // ROW_MINUTES

    # For calendar.js, which places its drop target with the same classes.
    row_minutes = ROW_MINUTES
    header_rows = HEADER_ROWS


@dataclass
class Schedule:
    """What the calendar reads: see :func:`read`."""

    policy: Policy
    schedules: dict[int, StylistSchedule]
    closures: dict[date, str]
    special_notes: dict[tuple[int | None, date], str]
    time_off: dict[int, list[TimeOff]]
    appointments: list[Appointment]
    holds: dict[int, list[Hold]]


def stylists_for(first_day: date, last_day: date, tz: ZoneInfo, only: int | None = None) -> list[Stylist]:
    """The active stylists, and any inactive one with appointments in those days:
    one query."""
    window_start, _ = day_bounds(first_day, tz)
    _, window_end = day_bounds(last_day, tz)
    if only is not None:
        return list(Stylist.objects.filter(pk=only))
    booked = Appointment.objects.filter(starts_at__gte=window_start, starts_at__lt=window_end).values(
        "stylist_id"
    )
    return list(Stylist.objects.filter(Q(is_active=True) | Q(pk__in=booked)))


def read(salon: Salon, stylists: Sequence[Stylist], first_day: date, last_day: date) -> Schedule:
    """Hours, special hours, closures, time off, appointments with their state and
    holds, of these stylists over these local days: six queries, whatever the
    number of stylists, days and appointments."""
    tz = salon.tz
    ids = [s.pk for s in stylists]
    window_start, _ = day_bounds(first_day, tz)
    _, window_end = day_bounds(last_day, tz)

    hours: dict[int, dict[int, list]] = defaultdict(lambda: defaultdict(list))
    for stylist_id, weekday, start, end in WorkingHours.objects.filter(stylist_id__in=ids).values_list(
        "stylist_id", "weekday", "start", "end"
    ):
        hours[stylist_id][weekday].append((start, end))
    special: dict[int | None, dict[date, list]] = defaultdict(lambda: defaultdict(list))
    special_notes: dict[tuple[int | None, date], str] = {}
    for row in SpecialHours.objects.filter(
        Q(stylist_id__in=ids) | Q(stylist__isnull=True), date__gte=first_day, date__lte=last_day
    ).order_by("date", "start"):
        special[row.stylist_id][row.date].append((row.start, row.end))
        note = f"{row.start:%H:%M}\u2013{row.end:%H:%M}"
        key = (row.stylist_id, row.date)
        special_notes[key] = f"{special_notes[key]}, {note}" if key in special_notes else note
        if row.reason:
            special_notes[key] += f" ({row.reason})"
    closures = dict(
        Closure.objects.filter(date__gte=first_day, date__lte=last_day).values_list("date", "reason")
    )
    time_off: dict[int, list[TimeOff]] = defaultdict(list)
    for t in TimeOff.objects.filter(stylist_id__in=ids, start__lt=window_end, end__gt=window_start).order_by(
        "start"
    ):
        time_off[t.stylist_id].append(t)
    appointments = list(
        Appointment.objects.filter(
            stylist_id__in=ids,
            starts_at__gte=window_start - MAX_SERVICE_DURATION,
            starts_at__lt=window_end,
            ends_at__gt=window_start,
        )
        .select_related("service", "desk_state")
        # What the grid shows: building whole rows cost more than reading them.
        .only(
            "stylist_id",
            "starts_at",
            "ends_at",
            "status",
            "customer_name",
            "service__name",
            "desk_state__attendance",
        )
        .order_by("starts_at", "pk")
    )
    holds: dict[int, list[Hold]] = defaultdict(list)
    confirmed = [a.pk for a in appointments if a.status == Appointment.Status.CONFIRMED]
    if confirmed:
        for hold in (
            Hold.objects.filter(appointment_id__in=confirmed, stylist__isnull=False)
            .order_by("starts_at")
            .only("appointment_id", "stylist_id", "starts_at", "ends_at")
        ):
            holds[hold.appointment_id].append(hold)
    policy = Policy(
        time_zone=tz,
        slot_minutes=salon.slot_minutes,
        min_notice=timedelta(0),
        horizon_days=0,
        closures=frozenset(closures),
        special_hours=dict(special.get(None, {})),
    )
    schedules = {
        s.pk: StylistSchedule(
            stylist_id=s.pk, weekly_hours=dict(hours[s.pk]), special_hours=dict(special.get(s.pk, {}))
        )
        for s in stylists
    }
    return Schedule(policy, schedules, closures, special_notes, time_off, appointments, holds)


def attendance_of(appointment: Appointment) -> str:
    state = getattr(appointment, "desk_state", None)
    return state.attendance if state is not None else Attendance.BOOKED


def status_of(appointment: Appointment) -> str:
    """The word the calendar shows and colours by."""
    if appointment.status == Appointment.Status.CANCELLED:
        return "cancelled"
    return attendance_of(appointment)


# Lazy labels: each page shows them in its reader's language. "Cancelled" is the
# desk's own word for Appointment.Status.CANCELLED (booking's label is not the desk's).
STATUS_LABELS = {**dict(Attendance.choices), "cancelled": pgettext_lazy("appointment status", "Cancelled")}


def layout(
    salon: Salon,
    schedule: Schedule,
    stylists: Sequence[Stylist],
    days: Sequence[date],
    *,
    now: datetime,
    appointment_url,
    book_url,
    may_book_for: Callable[[int], bool],
) -> Calendar:
    """The grid: one group per day, one column per stylist in it. Free slots are
    booking links only in the columns ``may_book_for`` allows (a stylist: their own)."""
    tz = salon.tz
    today = now.astimezone(tz).date()
    step = timedelta(minutes=salon.slot_minutes)
    # Translated once per page, not once per block: a busy day has hundreds.
    words = _Words()

    def wall_minute(instant: datetime, day: date) -> int:
        local = instant.astimezone(tz)
        return (local.date() - day).days * 1440 + local.hour * 60 + local.minute

    # The rows: from the earliest working hour or appointment to the latest, in whole hours.
    working: dict[tuple[int, date], list[tuple[datetime, datetime]]] = {}
    edges: list[int] = []
    for day in days:
        for s in stylists:
            spans = (
                []
                if day in schedule.closures
                else working_spans(schedule.schedules[s.pk], schedule.policy, day)
            )
            working[(s.pk, day)] = spans
            edges.extend(m for a, b in spans for m in (wall_minute(a, day), wall_minute(b, day)))
    by_day: dict[tuple[int, date], list[Appointment]] = defaultdict(list)
    cancelled = []
    for appointment in schedule.appointments:
        day = appointment.starts_at.astimezone(tz).date()
        if appointment.status == Appointment.Status.CANCELLED:
            if day in days:
                cancelled.append(appointment)
            continue
        for d in days:
            start, end = day_bounds(d, tz)
            if appointment.starts_at < end and appointment.ends_at > start:
                by_day[(appointment.stylist_id, d)].append(appointment)
                for hold in schedule.holds.get(appointment.pk, ()):
                    edges.extend((wall_minute(hold.starts_at, d), wall_minute(hold.ends_at, d)))
                edges.extend((wall_minute(appointment.starts_at, d), wall_minute(appointment.ends_at, d)))
    first, last = (min(edges), max(edges)) if edges else DEFAULT_SPAN
    first = max(0, first // 60 * 60)
    last = min(1440, -(-last // 60) * 60)
    if last <= first:
        first, last = DEFAULT_SPAN

    def row(minute: int) -> int:
        minute = min(max(minute, first), last)
        return HEADER_ROWS + 1 + (minute - first) // ROW_MINUTES

    def place(kind: str, a: datetime, b: datetime, day: date, **kwargs) -> Block | None:
        start, end = wall_minute(a, day), wall_minute(b, day)
        if max(start, end) <= first or start >= last:
            return None
        top, bottom = row(start), row(end)
        if end < start:
            # The clocks went back inside it (1:30 PDT to 1:00 PST): as long as it lasts.
            bottom = top + int((b - a).total_seconds()) // 60 // ROW_MINUTES
        return Block(kind, top, max(1, min(bottom, row(last)) - top), **kwargs)

    groups = []
    index = 2
    count = 0
    for day in days:
        columns = []
        day_start, day_end = day_bounds(day, tz)
        for s in stylists:
            column = Column(day, s, index)
            index += 1
            blocks = column.blocks
            if day in schedule.closures:
                column.closed = schedule.closures[day] or words.closed
            note = schedule.special_notes.get((s.pk, day)) or schedule.special_notes.get((None, day))
            if note and not column.closed:
                column.note = words.special_hours % {"hours": note}
            spans = working[(s.pk, day)]
            for a, b in spans:
                if block := place("work", a, b, day, status="special" if note else ""):
                    blocks.append(block)
            away = [
                (max(t.start, day_start), min(t.end, day_end), t.reason)
                for t in schedule.time_off.get(s.pk, ())
                if t.start < day_end and t.end > day_start
            ]
            for a, b, reason in away:
                span = format_time_range(a.astimezone(tz), b.astimezone(tz))
                label = (
                    (words.away_because % {"time": span, "reason": reason})
                    if reason
                    else (words.away % {"time": span})
                )
                if block := place("away", a, b, day, label=label):
                    blocks.append(block)
            busy: list[tuple[datetime, datetime]] = []
            for appointment in by_day[(s.pk, day)]:
                count += appointment.starts_at >= day_start
                status = status_of(appointment)
                start_local = appointment.starts_at.astimezone(tz)
                end_local = appointment.ends_at.astimezone(tz)
                holds = [(h.starts_at, h.ends_at) for h in schedule.holds.get(appointment.pk, ())]
                if not holds:  # booked by the release before visits: busy throughout
                    holds = [(appointment.starts_at, appointment.ends_at)]
                busy.extend(holds)
                time_text = format_time_range(start_local, end_local)
                label = f"{appointment.service.name} \u00b7 {appointment.customer_name}"
                if block := place(
                    "appointment",
                    appointment.starts_at,
                    appointment.ends_at,
                    day,
                    label=label,
                    url=appointment_url(appointment),
                    status=status,
                    detail=f"{time_text} \u00b7 {STATUS_LABELS[status]}",
                ):
                    blocks.append(block)
                for kind, a, b in _phases(appointment, holds):
                    text = (
                        words.processing
                        if kind == "gap"
                        else (words.setup if b <= appointment.starts_at else words.cleanup)
                    )
                    if block := place(kind, a, b, day, label=text):
                        blocks.append(block)
            if may_book_for(s.pk) and not column.closed:
                blocks.extend(_free_slots(spans, busy, away, step, now, day, place, s, book_url, tz, words))
            now_label = words.now % {"time": format_time(now.astimezone(tz))}
            is_now = day == today and day_start <= now < day_end
            if is_now and (block := place("now", now, now, day, label=now_label)):
                blocks.append(block)
            for block in blocks:
                block.place_in(column.index)
            columns.append(column)
        groups.append(Group(day, date_format(day, "DAY_FORMAT"), day == today, columns))
    hours = [Block("hour", row(m), 60 // ROW_MINUTES, label=_hour_label(m)) for m in range(first, last, 60)]
    return Calendar(groups, hours, first, last, cancelled, count)


def _hour_label(minute: int) -> str:
    """The time axis: "9:00 AM" in English, "09:00" in French and Spanish."""
    return time_format(time(minute // 60 % 24), "TIME_FORMAT")


class _Words:
    """The grid's words in the active language, each translated once per page."""

    def __init__(self) -> None:
        self.closed = gettext("Closed")
        self.special_hours = gettext("Special hours %(hours)s")
        self.away = gettext("Away %(time)s")
        self.away_because = gettext("Away %(time)s: %(reason)s")
        self.processing = gettext("Processing – free to book")  # noqa: RUF001 (xgettext reads no \u escape)
        self.setup = gettext("Set-up")
        self.cleanup = gettext("Clean-up")
        self.now = gettext("Now, %(time)s")
        self.book = gettext("Book %(stylist)s at %(time)s")


def _phases(appointment: Appointment, holds: list[tuple[datetime, datetime]]):
    """(kind, start, end): buffers before and after the client's time, and the
    processing gaps between busy spans inside it (the stylist is free then)."""
    for a, b in holds:
        if b <= appointment.starts_at or a >= appointment.ends_at:
            yield "buffer", a, b
    inside = sorted((max(a, appointment.starts_at), min(b, appointment.ends_at)) for a, b in holds)
    inside = [(a, b) for a, b in inside if a < b]
    edges = [
        (appointment.starts_at, appointment.starts_at),
        *inside,
        (appointment.ends_at, appointment.ends_at),
    ]
    for (_, b), (a, _) in pairwise(edges):
        if b < a:
            yield "gap", b, a


def _free_slots(spans, busy, away, step, now, day, place, stylist, book_url, tz, words) -> list[Block]:
    """A link on every start of the stylist's grid (each working interval steps
    from its own start, as the booking rules do) whose slot is free."""
    taken = sorted([*busy, *((a, b) for a, b, _ in away)])
    found = []
    for a, b in spans:
        t = a
        while t + step <= b:
            end = t + step
            if t >= now and not any(x < end and t < y for x, y in taken):
                local = t.astimezone(tz)
                if block := place(
                    "free",
                    t,
                    end,
                    day,
                    label=words.book % {"stylist": stylist.name, "time": format_time(local)},
                    url=book_url(stylist, local),
                ):
                    found.append(block)
            t = end
    return found
