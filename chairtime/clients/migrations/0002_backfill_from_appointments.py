"""Cards for the customers of existing appointments, by e-mail (backfill.py).

Not atomic as a whole: each batch commits on its own, so a large table is not
held in one transaction, and an interrupted run is finished by running it again
(or by ``manage.py clients_backfill``)."""

from types import SimpleNamespace

from django.db import migrations
from django.utils import timezone


def forwards(apps, schema_editor):
    from chairtime.clients.backfill import backfill

    models = SimpleNamespace(
        Appointment=apps.get_model("booking", "Appointment"),
        Client=apps.get_model("clients", "Client"),
        ClientAppointment=apps.get_model("clients", "ClientAppointment"),
        Salon=apps.get_model("booking", "Salon"),
    )
    backfill(models=models, now=timezone.now())


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("clients", "0001_initial")]

    # Backwards: 0001's reversal drops the tables, links and cards with them.
    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=True)]
