"""Migrations over data a previous release could have written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

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
