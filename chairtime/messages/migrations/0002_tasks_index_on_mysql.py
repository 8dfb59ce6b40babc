"""Lets django-tasks-db's migrations run on MySQL/MariaDB.

Its 0016 adds a partial index (``condition=status READY``), which MySQL cannot
have, so Django skips it there; its 0019 then renames that index, which fails
with "Key 'django_task_new_ordering_idx' doesn't exist" (upstream issue #48 of
django-tasks-db). Before 0019 runs, this creates an index of that name on MySQL
only, on the same columns without the condition: the rename then succeeds, and
the worker's "next ready task" query has an index to read on MySQL too.
Elsewhere it does nothing. Remove it once django-tasks-db's migrations are fixed.
"""

from django.db import migrations


INDEX = "django_task_new_ordering_idx"
TABLE = "django_tasks_database_dbtaskresult"


def _has_index(schema_editor) -> bool:
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        return INDEX in connection.introspection.get_constraints(cursor, TABLE)


def create_plain_index(apps, schema_editor):
    # Only where missing: migrating back through 0019 renames the index back to
    # this name, and migrating forward again must not create it twice.
    if schema_editor.connection.vendor != "mysql" or _has_index(schema_editor):
        return
    schema_editor.execute(f"CREATE INDEX {INDEX} ON {TABLE} (status, priority, run_after)")


def drop_plain_index(apps, schema_editor):
    # Back past this migration the index is django-tasks-db's partial one again,
    # which MySQL never had.
    if schema_editor.connection.vendor != "mysql" or not _has_index(schema_editor):
        return
    schema_editor.execute(f"DROP INDEX {INDEX} ON {TABLE}")


class Migration(migrations.Migration):
    # MySQL cannot roll DDL back, and Django refuses DDL inside a transaction there.
    atomic = False

    dependencies = [
        ("customer_messages", "0001_initial"),
        ("django_tasks_database", "0018_rename_succeeded_status"),
    ]
    run_before = [("django_tasks_database", "0019_rename_django_task_new_ordering_idx_tasks_db_new_ordering_idx_and_more")]

    operations = [migrations.RunPython(create_plain_index, drop_plain_index, elidable=False)]
