"""The booking invariants, read back from the database after a race or a storm.

Independent of the application's availability package on purpose: the busy time
and the resource needs of every confirmed appointment are worked out again here,
from its service's phase rows and buffers, the way issue 10 states the rules, and
compared with the holds the booking service wrote and with each other. A bug
that both plans and checks wrongly in the availability code cannot hide here.

Rules, as stated:
- a stylist is busy in the working (not processing) phases and the buffers; the
  buffers between two consecutive items of one visit done by the same stylist
  are not busy time (the stylist stays with the client);
- a phase needing resources holds one unit of each for its own minutes;
- no stylist is in two overlapping busy spans, no unit in two overlapping holds,
  no resource is needed by more phases than its quantity at any instant.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from chairtime.booking.models import Appointment, Hold, Resource, ServicePhase

Span = tuple[datetime, datetime]


@dataclass(frozen=True)
class Overlap:
    """Two holds of one stylist or one unit whose times overlap."""

    kind: str  # "stylist" or "unit"
    owner: int  # the stylist's or the unit's id
    first: tuple[int, datetime, datetime]  # (hold id, start, end)
    second: tuple[int, datetime, datetime]

    def __str__(self) -> str:
        (a, a_start, a_end), (b, b_start, b_end) = self.first, self.second
        return (
            f"{self.kind} {self.owner}: hold {a} {a_start:%H:%M}-{a_end:%H:%M} UTC overlaps "
            f"hold {b} {b_start:%H:%M}-{b_end:%H:%M} UTC"
        )


def _overlaps(rows: Iterable[tuple[int, int, datetime, datetime]], kind: str) -> list[Overlap]:
    """Sweep each owner's spans in start order, remembering the one that reaches
    furthest: every span that starts before it ends overlaps it."""
    by_owner: dict[int, list[tuple[datetime, datetime, int]]] = defaultdict(list)
    for pk, owner, start, end in rows:
        by_owner[owner].append((start, end, pk))
    found = []
    for owner, spans in sorted(by_owner.items()):
        spans.sort()
        reach: tuple[datetime, datetime, int] | None = None
        for start, end, pk in spans:
            if reach is not None and start < reach[1]:
                found.append(Overlap(kind, owner, (reach[2], reach[0], reach[1]), (pk, start, end)))
            if reach is None or end > reach[1]:
                reach = (start, end, pk)
    return found


def overlapping_holds() -> list[Overlap]:
    """Every pair of overlapping holds of one stylist, or of one resource unit."""
    stylists = Hold.objects.filter(stylist__isnull=False).values_list(
        "pk", "stylist_id", "starts_at", "ends_at"
    )
    units = Hold.objects.filter(unit__isnull=False).values_list("pk", "unit_id", "starts_at", "ends_at")
    return _overlaps(stylists, "stylist") + _overlaps(units, "unit")


def _merge(spans: Iterable[Span]) -> list[Span]:
    merged: list[Span] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


@dataclass
class _Expected:
    stylist_busy: list[Span]
    resource_needs: dict[int, list[Span]]  # resource id -> its phases' spans


def _phases(appointment: Appointment, phase_rows) -> list[tuple[int, bool, tuple[int, ...]]]:
    """(minutes, processing, resource ids) of the appointment's treatment: the
    stylist's own phases, else the service's, else one working phase."""
    own = phase_rows.get((appointment.service_id, appointment.stylist_id))
    standard = phase_rows.get((appointment.service_id, None))
    if own or standard:
        return own or standard
    minutes = int((appointment.ends_at - appointment.starts_at) / timedelta(minutes=1))
    return [(minutes, False, ())]


def _expected(visit: list[Appointment], phase_rows, problems: list[str]) -> dict[int, _Expected]:
    """What each appointment of a visit (in order) should hold."""
    expected = {}
    for n, appointment in enumerate(visit):
        service = appointment.service
        same_before = n > 0 and visit[n - 1].stylist_id == appointment.stylist_id
        same_after = n + 1 < len(visit) and visit[n + 1].stylist_id == appointment.stylist_id
        before = timedelta(0) if same_before else timedelta(minutes=service.buffer_before_minutes)
        after = timedelta(0) if same_after else timedelta(minutes=service.buffer_after_minutes)
        busy: list[Span] = [(appointment.starts_at - before, appointment.starts_at)] if before else []
        needs: dict[int, list[Span]] = defaultdict(list)
        at = appointment.starts_at
        for minutes, processing, resources in _phases(appointment, phase_rows):
            end = at + timedelta(minutes=minutes)
            if not processing:
                busy.append((at, end))
            for resource in resources:
                needs[resource].append((at, end))
            at = end
        if at != appointment.ends_at:
            problems.append(f"appointment {appointment.pk} ends at {appointment.ends_at}, its phases at {at}")
        if after:
            busy.append((at, at + after))
        expected[appointment.pk] = _Expected(_merge(busy), dict(needs))
    return expected


def schedule_violations() -> list[str]:
    """Everything wrong with the salon's confirmed appointments and their holds,
    in words; an empty list when every invariant holds."""
    phase_rows: dict[tuple[int, int | None], list[tuple[int, bool, tuple[int, ...]]]] = defaultdict(list)
    needs_by_phase: dict[int, list[int]] = defaultdict(list)
    for phase_id, resource_id in ServicePhase.resources.through.objects.values_list(
        "servicephase_id", "resource_id"
    ):
        needs_by_phase[phase_id].append(resource_id)
    for pk, service_id, stylist_id, minutes, processing in ServicePhase.objects.order_by(
        "service_id", "stylist_id", "position"
    ).values_list("pk", "service_id", "stylist_id", "minutes", "processing"):
        phase_rows[(service_id, stylist_id)].append((minutes, processing, tuple(sorted(needs_by_phase[pk]))))

    unit_resource = {}
    quantity = {}
    for resource in Resource.objects.prefetch_related("units"):
        quantity[resource.pk] = resource.quantity
        unit_resource.update({unit.pk: resource.pk for unit in resource.units.all()})

    confirmed = list(
        Appointment.objects.filter(status=Appointment.Status.CONFIRMED)
        .select_related("service")
        .order_by("visit_id", "position", "pk")
    )
    visits: dict[int | None, list[Appointment]] = defaultdict(list)
    for appointment in confirmed:
        visits[appointment.visit_id or -appointment.pk].append(appointment)
    problems: list[str] = []
    expected: dict[int, _Expected] = {}
    for visit in visits.values():
        expected.update(_expected(visit, phase_rows, problems))

    # A waitlist offer's holds belong to no appointment: offer_hold_violations().
    holds = list(
        Hold.objects.filter(offer__isnull=True).values_list(
            "appointment_id", "stylist_id", "unit_id", "starts_at", "ends_at"
        )
    )
    stylist_holds: dict[int, list[Span]] = defaultdict(list)
    unit_holds: dict[int, dict[int, list[Span]]] = defaultdict(lambda: defaultdict(list))
    for appointment_id, stylist_id, unit_id, start, end in holds:
        if appointment_id not in expected:
            problems.append(f"a hold of appointment {appointment_id}, which is not confirmed")
        elif stylist_id is not None:
            stylist_holds[appointment_id].append((start, end))
        else:
            unit_holds[appointment_id][unit_resource[unit_id]].append((start, end))
    for appointment in confirmed:
        wanted = expected[appointment.pk]
        if _merge(stylist_holds[appointment.pk]) != wanted.stylist_busy:
            problems.append(
                f"appointment {appointment.pk}: stylist holds {_merge(stylist_holds[appointment.pk])}, "
                f"its phases make {wanted.stylist_busy}"
            )
        got_units = {r: sorted(spans) for r, spans in unit_holds[appointment.pk].items()}
        if got_units != {r: sorted(spans) for r, spans in wanted.resource_needs.items()}:
            problems.append(
                f"appointment {appointment.pk}: unit holds by resource {got_units}, "
                f"its phases need {wanted.resource_needs}"
            )

    # From the phases alone, whatever the holds say.
    busy_rows = [
        (appointment.pk, appointment.stylist_id, start, end)
        for appointment in confirmed
        for start, end in expected[appointment.pk].stylist_busy
    ]
    problems.extend(f"by the phases, {overlap}" for overlap in _overlaps(busy_rows, "stylist"))
    events: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for wanted in expected.values():
        for resource, spans in wanted.resource_needs.items():
            for start, end in spans:
                events[resource] += [(start, 1), (end, -1)]
    for resource, changes in events.items():
        in_use = 0
        for at, change in sorted(changes):  # an end (-1) sorts before a start (+1) at one instant
            in_use += change
            if in_use > quantity[resource]:
                problems.append(
                    f"resource {resource}: {in_use} phases need it at {at}, of {quantity[resource]}"
                )
    # And the holds among themselves.
    problems.extend(str(overlap) for overlap in overlapping_holds())
    return problems


def offer_hold_violations() -> list[str]:
    """Holds of waitlist offers that should not exist: of an offer no longer open
    (taken, lapsed), or held until another time than its offer's expiry."""
    problems = []
    for pk, offer_id, state, held_until, expires_at in Hold.objects.filter(offer__isnull=False).values_list(
        "pk", "offer_id", "offer__state", "held_until", "offer__expires_at"
    ):
        if state != "open":
            problems.append(f"hold {pk} of offer {offer_id}, which is {state}")
        if held_until != expires_at:
            problems.append(
                f"hold {pk} of offer {offer_id} held until {held_until}, the offer until {expires_at}"
            )
    return problems
