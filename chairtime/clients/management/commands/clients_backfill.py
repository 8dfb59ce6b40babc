"""Attach appointments without a card to their client's card by e-mail (the
attach rule), after a deploy: what the previous release booked during the rollout."""

from types import SimpleNamespace

from django.core.management.base import BaseCommand
from django.utils import timezone

from chairtime.booking.models import Appointment, Salon
from chairtime.clients.backfill import BATCH_SIZE, backfill
from chairtime.clients.models import Client, ClientAppointment


class Command(BaseCommand):
    help = "Attach appointments booked before client cards (or by the previous release) to cards by e-mail."

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=BATCH_SIZE)

    def handle(self, *args, batch_size: int, **options):
        models = SimpleNamespace(
            Appointment=Appointment, Client=Client, ClientAppointment=ClientAppointment, Salon=Salon
        )
        attached = backfill(models=models, now=timezone.now(), batch_size=max(1, batch_size))
        self.stdout.write(f"Attached {attached} appointment(s) to client cards.")
