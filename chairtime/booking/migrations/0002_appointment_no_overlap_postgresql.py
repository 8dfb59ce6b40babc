"""PostgreSQL only: no two confirmed appointments of one stylist may overlap.

The booking service already prevents this with row locks; this exclusion
constraint is the database's own last line of defence, covering overlaps with
different start times that the unique (stylist, start) constraint cannot see.
Other databases have no exclusion constraints, so this migration does nothing
there. It is not part of the model state on purpose: Django would otherwise try
to validate it with range operators on every database.
"""

from django.db import migrations

CONSTRAINT = "appointment_no_overlap"


def add_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    # btree_gist lets a GiST index combine "=" on the stylist with "&&" on ranges.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    schema_editor.execute(
        f"ALTER TABLE booking_appointment ADD CONSTRAINT {CONSTRAINT} "
        "EXCLUDE USING gist (stylist_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) "
        "WHERE (status = 'confirmed')"
    )


def remove_constraint(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE booking_appointment DROP CONSTRAINT IF EXISTS {CONSTRAINT}")


class Migration(migrations.Migration):
    dependencies = [("booking", "0001_initial")]

    operations = [migrations.RunPython(add_constraint, remove_constraint, elidable=False)]
