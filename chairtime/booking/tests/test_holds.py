"""Resources, their units and holds: the rows and constraints behind "no stylist,
no resource unit, busy twice at once"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models.deletion import ProtectedError

from chairtime.booking.models import Resource, Service
from chairtime.booking.tests.factories import (
    AppointmentFactory,
    HoldFactory,
    ResourceFactory,
    ServiceFactory,
    ServicePhaseFactory,
    StylistFactory,
)

START = datetime(2027, 3, 15, 17, 0, tzinfo=UTC)
only_postgresql = pytest.mark.skipif(connection.vendor != "postgresql", reason="an exclusion constraint")


def insert_hold(appointment_id: int, *, stylist_id=None, unit_id=None, starts_at, ends_at) -> None:
    """A raw INSERT: past every check in Python, straight at the database's constraints."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO booking_hold (appointment_id, stylist_id, unit_id, starts_at, ends_at) "
            "VALUES (%s, %s, %s, %s, %s)",
            [appointment_id, stylist_id, unit_id, starts_at, ends_at],
        )


@pytest.fixture
def appointment(db):
    return AppointmentFactory(starts_at=START, holds=False)


@pytest.fixture
def basin(db):
    return ResourceFactory(key="basin", name="Basin", quantity=2)


def test_it_numbers_a_resource_s_units_one_to_its_quantity(basin):
    assert [str(u) for u in basin.units.all()] == ["Basin 1", "Basin 2"]

    basin.quantity = 4
    basin.save()
    assert list(basin.units.values_list("number", flat=True)) == [1, 2, 3, 4]

    basin.quantity = 1
    basin.save()
    assert list(basin.units.values_list("number", flat=True)) == [1]


def test_it_refuses_fewer_units_than_an_upcoming_booking_uses(appointment, basin):
    second = basin.units.get(number=2)
    HoldFactory(appointment=appointment, stylist=None, unit=second)
    basin.quantity = 1

    with pytest.raises(ValidationError) as refused:
        basin.full_clean()

    assert "Basin number 2 is booked for an upcoming appointment" in str(refused.value)
    with pytest.raises(ProtectedError), transaction.atomic():
        basin.save()  # the database's PROTECT, should anyone skip clean()
    assert basin.units.count() == 2


def test_it_drops_a_surplus_unit_whose_bookings_are_all_over(basin):
    past = AppointmentFactory(starts_at=datetime(2020, 1, 6, 17, tzinfo=UTC))
    HoldFactory(appointment=past, stylist=None, unit=basin.units.get(number=2))
    basin.quantity = 1

    basin.full_clean()
    basin.save()

    assert list(basin.units.values_list("number", flat=True)) == [1]
    assert not past.holds.filter(unit__isnull=False).exists()


def test_it_makes_a_service_s_length_the_sum_of_its_standard_phases(db):
    colour = ServiceFactory(duration_minutes=60)
    stylist = StylistFactory()
    for position, (minutes, processing) in enumerate([(45, False), (30, True), (15, False)]):
        ServicePhaseFactory(service=colour, position=position, minutes=minutes, processing=processing)
    ServicePhaseFactory(
        service=colour, stylist=stylist, position=0, minutes=200
    )  # a stylist's own: not counted

    assert colour.sync_duration() is True
    assert Service.objects.get(pk=colour.pk).duration_minutes == 90
    assert colour.sync_duration() is False
    assert ServiceFactory(duration_minutes=40).sync_duration() is False  # no phases: its own length


def test_it_refuses_a_hold_of_both_or_neither_a_stylist_and_a_unit(appointment, basin):
    unit = basin.units.first()
    for who in ({"stylist_id": appointment.stylist_id, "unit_id": unit.pk}, {}):
        with pytest.raises(IntegrityError):
            insert_hold(appointment.pk, **who, starts_at=START, ends_at=START + timedelta(hours=1))


def test_it_refuses_a_hold_that_ends_before_it_starts(appointment):
    with pytest.raises(IntegrityError):
        insert_hold(appointment.pk, stylist_id=appointment.stylist_id, starts_at=START, ends_at=START)


def test_it_refuses_two_holds_of_one_stylist_starting_together_on_every_database(appointment):
    insert_hold(
        appointment.pk, stylist_id=appointment.stylist_id, starts_at=START, ends_at=START + timedelta(hours=1)
    )
    with pytest.raises(IntegrityError):
        insert_hold(
            appointment.pk,
            stylist_id=appointment.stylist_id,
            starts_at=START,
            ends_at=START + timedelta(minutes=30),
        )


def test_it_refuses_two_holds_of_one_unit_starting_together_on_every_database(appointment, basin):
    unit = basin.units.first()
    insert_hold(appointment.pk, unit_id=unit.pk, starts_at=START, ends_at=START + timedelta(hours=1))
    with pytest.raises(IntegrityError):
        insert_hold(appointment.pk, unit_id=unit.pk, starts_at=START, ends_at=START + timedelta(minutes=15))
    # The other basin is free at that time.
    insert_hold(
        appointment.pk, unit_id=basin.units.last().pk, starts_at=START, ends_at=START + timedelta(hours=1)
    )


@only_postgresql
def test_it_refuses_overlapping_holds_of_one_stylist_on_postgresql(appointment):
    insert_hold(
        appointment.pk, stylist_id=appointment.stylist_id, starts_at=START, ends_at=START + timedelta(hours=1)
    )
    with pytest.raises(IntegrityError):
        insert_hold(
            appointment.pk,
            stylist_id=appointment.stylist_id,
            starts_at=START + timedelta(minutes=30),
            ends_at=START + timedelta(hours=2),
        )
    # Back to back is not an overlap ('[)' ranges).
    insert_hold(
        appointment.pk,
        stylist_id=appointment.stylist_id,
        starts_at=START + timedelta(hours=1),
        ends_at=START + timedelta(hours=2),
    )


@only_postgresql
def test_it_refuses_overlapping_holds_of_one_unit_on_postgresql(appointment, basin):
    unit = basin.units.first()
    insert_hold(appointment.pk, unit_id=unit.pk, starts_at=START, ends_at=START + timedelta(hours=1))
    with pytest.raises(IntegrityError):
        insert_hold(
            appointment.pk,
            unit_id=unit.pk,
            starts_at=START + timedelta(minutes=59),
            ends_at=START + timedelta(hours=2),
        )


@only_postgresql
def test_it_lets_one_stylist_s_appointments_overlap_as_wholes_on_postgresql(appointment):
    """0002's exclusion constraint on appointments is gone: a cut inside a colour's
    processing gap overlaps the colour as a whole; holds keep the stylist single."""
    AppointmentFactory(
        stylist=appointment.stylist,
        starts_at=START + timedelta(minutes=30),
        customer_email="other@example.com",
        holds=False,
    )


def test_it_keeps_resource_keys_unique_per_salon(basin):
    with pytest.raises(IntegrityError), transaction.atomic():
        Resource.objects.create(key="basin", name="Another basin", quantity=1)
