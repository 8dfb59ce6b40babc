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


def create_plain_index(apps, schema_editor):
    if schema_editor.connection.vendor != "mysql":
        return
    schema_editor.execute(
        "CREATE INDEX django_task_new_ordering_idx "
        "ON django_tasks_database_dbtaskresult (status, priority, run_after)"
    )


class Migration(migrations.Migration):
    # MySQL cannot roll DDL back, and Django refuses DDL inside a transaction there.
    atomic = False

    dependencies = [
        ("customer_messages", "0001_initial"),
        ("django_tasks_database", "0018_rename_succeeded_status"),
    ]
    run_before = [("django_tasks_database", "0019_rename_django_task_new_ordering_idx_tasks_db_new_ordering_idx_and_more")]

    operations = [migrations.RunPython(create_plain_index, migrations.RunPython.noop, elidable=False)]
