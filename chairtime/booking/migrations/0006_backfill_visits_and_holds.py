"""Every appointment from before visits becomes a one-item visit, and every
confirmed one gets one hold: its stylist, busy for its whole span.

Safe while the previous release serves (expand/contract, see 0005): not atomic as
a whole but in batches of BATCH appointments, each its own short transaction that
locks just its rows, so a customer's cancel waits for at most one batch. Rows
that release writes after a batch (or cancels after its hold was made) are the
contract migration's to finish, in a later release.
"""

from django.db import migrations, transaction

BATCH = 2000


def backfill(apps, schema_editor):
    Appointment = apps.get_model("booking", "Appointment")
    Hold = apps.get_model("booking", "Hold")
    Salon = apps.get_model("booking", "Salon")
    Visit = apps.get_model("booking", "Visit")
    db = schema_editor.connection.alias
    last_pk = 0
    while True:
        with transaction.atomic(using=db):
            # Locked: the status read here is the one the hold is made for, not a
            # cancel that commits meanwhile.
            batch = list(
                Appointment.objects.using(db)
                .select_for_update()
                .filter(visit__isnull=True, pk__gt=last_pk)
                .order_by("pk")
                .only("pk", "created_at", "status", "stylist_id", "starts_at", "ends_at")[:BATCH]
            )
            if not batch:
                return
            last_pk = batch[-1].pk
            Salon.objects.using(db).get_or_create(pk=1, defaults={"name": "Chairtime salon"})
            visits = [Visit(salon_id=1, created_at=a.created_at) for a in batch]
            if schema_editor.connection.features.can_return_rows_from_bulk_insert:
                Visit.objects.using(db).bulk_create(visits)
            else:  # no RETURNING: the primary keys are only known one by one
                for visit in visits:
                    visit.save(using=db)
            for appointment, visit in zip(batch, visits, strict=True):
                appointment.visit_id, appointment.position = visit.pk, 0
            Appointment.objects.using(db).bulk_update(batch, ["visit", "position"], batch_size=500)
            Hold.objects.using(db).bulk_create(
                Hold(appointment_id=a.pk, stylist_id=a.stylist_id, starts_at=a.starts_at, ends_at=a.ends_at)
                for a in batch
                if a.status == "confirmed"
            )


def forget(apps, schema_editor):
    Appointment = apps.get_model("booking", "Appointment")
    Hold = apps.get_model("booking", "Hold")
    Visit = apps.get_model("booking", "Visit")
    db = schema_editor.connection.alias
    with transaction.atomic(using=db):
        Hold.objects.using(db).all().delete()
        # First: deleting a visit would take its appointments with it (CASCADE).
        Appointment.objects.using(db).filter(visit__isnull=False).update(visit=None, position=0)
        Visit.objects.using(db).all().delete()


class Migration(migrations.Migration):
    atomic = False

    dependencies = [("booking", "0005_phases_resources_visits_holds")]

    operations = [migrations.RunPython(backfill, forget, elidable=True)]
