"""Attach the appointments booked before cards existed, by the attach rule.

Used by migration 0002 (with its historical models) and by the command
``clients_backfill`` (with today's), which covers what the previous release
booked while the new one was rolling out. Safe to run again and beside live
bookings: it only adds links to appointments without one and cards for
addresses without one, each batch in its own short transaction, and a card or
link written meanwhile by a booking wins (``ignore_conflicts``) and is read back.
"""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from chairtime.clients.models import normalise_email, phone_digits

BATCH_SIZE = 500


def backfill(*, models, now: datetime, batch_size: int | None = None) -> int:
    """Returns how many appointments were attached. ``models``: an object with
    the attributes Appointment, Client, ClientAppointment and Salon."""
    batch_size = batch_size or BATCH_SIZE
    default_salon = models.Salon.objects.order_by("pk").values_list("pk", flat=True).first()
    after, attached = 0, 0
    while True:
        with transaction.atomic():
            rows = list(
                models.Appointment.objects.filter(pk__gt=after)
                .exclude(customer_email="")
                .order_by("pk")
                .values(
                    "pk", "customer_name", "customer_email", "customer_phone", "created_at", "visit__salon_id"
                )[:batch_size]
            )
            if not rows:
                return attached
            after = rows[-1]["pk"]
            attached += _attach_batch(models, rows, default_salon, now)


def _attach_batch(models, rows: list[dict], default_salon: int | None, now: datetime) -> int:
    linked = set(
        models.ClientAppointment.objects.filter(appointment_id__in=[r["pk"] for r in rows]).values_list(
            "appointment_id", flat=True
        )
    )
    wanted: dict[int, tuple[int, str]] = {}  # appointment -> (salon, e-mail)
    first: dict[tuple[int, str], dict] = {}  # the earliest appointment of each address
    for row in rows:
        salon = row["visit__salon_id"] or default_salon
        email = normalise_email(row["customer_email"])
        if row["pk"] in linked or salon is None or email is None:
            continue
        wanted[row["pk"]] = (salon, email)
        first.setdefault((salon, email), row)
    if not wanted:
        return 0
    emails = {email for _, email in first}
    models.Client.objects.bulk_create(
        [
            models.Client(
                salon_id=salon,
                name=row["customer_name"],
                email=email,
                phone=row["customer_phone"],
                phone_digits=phone_digits(row["customer_phone"]),
                created_at=row["created_at"],
            )
            for (salon, email), row in first.items()
        ],
        ignore_conflicts=True,  # a card a booking or an earlier run made for the address
    )
    cards = {
        (salon, email): pk
        for pk, salon, email in models.Client.objects.filter(email__in=emails).values_list(
            "pk", "salon_id", "email"
        )
    }
    links = [
        models.ClientAppointment(appointment_id=pk, client_id=cards[key], how="backfill", attached_at=now)
        for pk, key in wanted.items()
        if key in cards
    ]
    models.ClientAppointment.objects.bulk_create(links, ignore_conflicts=True)
    return len(links)
