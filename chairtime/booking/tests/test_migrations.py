"""Migrations over data a previous release could have written."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from chairtime.booking.models import Appointment, Service
from chairtime.booking.tests.factories import AppointmentFactory

BEFORE = [("booking", "0002_appointment_no_overlap_postgresql")]
ONE_PER_CUSTOMER = [("booking", "0003_booking_requests_and_one_per_customer")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_it_names_the_double_bookings_it_will_not_migrate_then_migrates_once_they_are_gone():
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    apps = migrate(BEFORE)
    try:
        Salon, Service, Stylist = (apps.get_model("booking", m) for m in ("Salon", "Service", "Stylist"))
        Appointment = apps.get_model("booking", "Appointment")
        Salon.objects.create(id=1, name="Old", time_zone="UTC")
        cut = Service.objects.create(key="cut", name="Cut", duration_minutes=60, price=50)
        ben, dev = (Stylist.objects.create(key=k, name=k) for k in ("ben", "dev"))
        start = datetime(2027, 3, 15, 17, tzinfo=UTC)
        # What the Back button could make before this release: one customer, one
        # service, one start, two stylists.
        twice = [
            Appointment.objects.create(
                service=cut,
                stylist=stylist,
                starts_at=start,
                ends_at=start + timedelta(hours=1),
                customer_name="Zoe",
                customer_email=email,
                price=50,
                created_at=start - timedelta(days=1),
            )
            for stylist, email in ((ben, "zoe@example.com"), (dev, "ZOE@example.com"))
        ]

        with pytest.raises(RuntimeError) as refused:
            migrate(ONE_PER_CUSTOMER)

        message = str(refused.value)
        assert f"appointments {twice[0].pk}, {twice[1].pk} (2027-03-15 17:00 UTC)" in message
        assert "Cancel all but one" in message
        # Nothing of the migration was applied: it refused before changing the schema.
        assert ("booking", "0003_booking_requests_and_one_per_customer") not in (
            MigrationExecutor(connection).loader.applied_migrations
        )
        Appointment.objects.filter(pk=twice[1].pk).update(status="cancelled", cancelled_at=start)
        migrate(ONE_PER_CUSTOMER)
    finally:
        migrate(latest)


SPECIAL_HOURS = [("booking", "0004_special_hours")]
HOLDS = [("booking", "0006_backfill_visits_and_holds")]


@pytest.mark.django_db(transaction=True)
def test_it_gives_each_existing_appointment_a_visit_and_each_confirmed_one_a_hold(monkeypatch):
    # One appointment a batch: the batches must pick up where the last one ended.
    backfill = importlib.import_module("chairtime.booking.migrations.0006_backfill_visits_and_holds")
    monkeypatch.setattr(backfill, "BATCH", 1)
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    apps = migrate(SPECIAL_HOURS)
    try:
        Salon, Service, Stylist = (apps.get_model("booking", m) for m in ("Salon", "Service", "Stylist"))
        Appointment = apps.get_model("booking", "Appointment")
        Salon.objects.create(id=1, name="Old", time_zone="UTC")
        cut = Service.objects.create(key="cut", name="Cut", duration_minutes=60, price=50)
        ben = Stylist.objects.create(key="ben", name="Ben")
        ben.services.add(cut)  # the plain many-to-many table the through model takes over
        start = datetime(2027, 3, 15, 17, tzinfo=UTC)

        def old_appointment(hour: int, **fields):
            return Appointment.objects.create(
                service=cut,
                stylist=ben,
                starts_at=start + timedelta(hours=hour),
                ends_at=start + timedelta(hours=hour + 1),
                customer_name="Zoe",
                customer_email=f"zoe{hour}@example.com",
                price=50,
                created_at=start - timedelta(days=hour + 1),
                **fields,
            )

        confirmed = old_appointment(0)
        cancelled = old_appointment(1, status="cancelled", cancelled_at=start - timedelta(hours=2))
        later = old_appointment(2)

        apps = migrate(HOLDS)

        Appointment, Hold = apps.get_model("booking", "Appointment"), apps.get_model("booking", "Hold")
        StylistService = apps.get_model("booking", "StylistService")
        migrated = Appointment.objects.select_related("visit").get(pk=confirmed.pk)
        assert migrated.visit.created_at == confirmed.created_at
        assert migrated.position == 0
        holds = list(
            Hold.objects.filter(appointment=migrated).values_list(
                "stylist_id", "unit_id", "starts_at", "ends_at"
            )
        )
        assert holds == [(ben.pk, None, confirmed.starts_at, confirmed.ends_at)]
        gone = Appointment.objects.get(pk=cancelled.pk)
        assert gone.visit_id is not None and gone.visit_id != migrated.visit_id
        assert not Hold.objects.filter(appointment=gone).exists()
        assert Hold.objects.get(appointment_id=later.pk).starts_at == later.starts_at
        assert Appointment.objects.filter(visit__isnull=True).count() == 0
        offer = StylistService.objects.get()
        assert (offer.stylist_id, offer.service_id, offer.price, offer.duration_minutes) == (
            ben.pk,
            cut.pk,
            None,
            None,
        )
        assert apps.get_model("booking", "Service").objects.get().buffer_after_minutes == 0

        # Going back forgets them again, without taking the appointments along.
        apps = migrate(SPECIAL_HOURS)
        assert apps.get_model("booking", "Appointment").objects.count() == 3
    finally:
        migrate(latest)


def test_it_lets_the_previous_release_insert_appointments_and_services_without_the_new_columns(db):
    """Expand: the release before this one inserts without visit, position or buffers."""
    appointment = AppointmentFactory()
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO booking_service ({quote('key')}, name, description, duration_minutes, price, "  # noqa: S608
            "is_active, position) VALUES ('old', 'Old', '', 30, 20, %s, 0)",
            [True],
        )
        cursor.execute(
            "INSERT INTO booking_appointment (service_id, stylist_id, starts_at, ends_at, status, "
            "customer_name, customer_email, customer_phone, price, created_at) "
            "SELECT service_id, stylist_id, %s, %s, status, customer_name, 'other@example.com', "
            "customer_phone, price, created_at FROM booking_appointment WHERE id = %s",
            [
                appointment.starts_at + timedelta(hours=2),
                appointment.ends_at + timedelta(hours=2),
                appointment.pk,
            ],
        )

    assert Service.objects.get(key="old").buffer_before_minutes == 0
    newer = Appointment.objects.exclude(pk=appointment.pk).get()
    assert (newer.visit_id, newer.position) == (None, 0)
