"""clients.0002 over appointments the release before cards wrote."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from chairtime.clients import backfill

CARDS = [("clients", "0001_initial")]
BACKFILLED = [("clients", "0002_backfill_from_appointments")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.mark.django_db(transaction=True)
def test_it_starts_a_card_per_address_and_attaches_its_appointments_in_batches(monkeypatch):
    monkeypatch.setattr(backfill, "BATCH_SIZE", 1)  # each batch picks up where the last ended
    batches = []
    real_batch = backfill._attach_batch
    monkeypatch.setattr(backfill, "_attach_batch", lambda *a: batches.append(len(a[1])) or real_batch(*a))
    latest = MigrationExecutor(connection).loader.graph.leaf_nodes()
    apps = migrate(CARDS)
    try:
        Salon, Service, Stylist, Visit, Appointment = (
            apps.get_model("booking", m) for m in ("Salon", "Service", "Stylist", "Visit", "Appointment")
        )
        Salon.objects.create(id=1, name="Old", time_zone="UTC")
        cut = Service.objects.create(key="cut", name="Cut", duration_minutes=60, price=50)
        ben = Stylist.objects.create(key="ben", name="Ben")
        start = datetime(2026, 3, 2, 17, tzinfo=UTC)

        def appointment(n: int, name: str, email: str, *, visit: bool = True):
            return Appointment.objects.create(
                service=cut,
                stylist=ben,
                starts_at=start + timedelta(days=n),
                ends_at=start + timedelta(days=n, hours=1),
                customer_name=name,
                customer_email=email,
                customer_phone="+1 415 555 0100" if n == 0 else "",
                price=50,
                created_at=start - timedelta(days=30 - n),
                visit=Visit.objects.create(created_at=start) if visit else None,
            )

        zoe = [appointment(0, "Zoe", "zoe@example.com"), appointment(1, "Zoë P.", " ZOE@example.com")]
        old = appointment(2, "Kim", "kim@example.com", visit=False)  # before visits: the one salon
        appointment(3, "Walk-in", "")

        apps = migrate(BACKFILLED)

        Client, ClientAppointment = (apps.get_model("clients", m) for m in ("Client", "ClientAppointment"))
        assert sorted(Client.objects.values_list("email", "name", "phone", "phone_digits", "salon_id")) == [
            ("kim@example.com", "Kim", "", "", 1),
            ("zoe@example.com", "Zoe", "+1 415 555 0100", "14155550100", 1),
        ]
        assert Client.objects.get(email="zoe@example.com").created_at == zoe[0].created_at
        links = dict(ClientAppointment.objects.values_list("appointment_id", "client__email"))
        assert links == {
            zoe[0].pk: "zoe@example.com",
            zoe[1].pk: "zoe@example.com",
            old.pk: "kim@example.com",
        }
        assert set(ClientAppointment.objects.values_list("how", flat=True)) == {"backfill"}
        assert batches == [1, 1, 1]  # one appointment each; the walk-in without an address is not read
    finally:
        migrate(latest)
