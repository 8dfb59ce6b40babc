"""The salon's real schedule: buffers, phases, resources, stylists' own prices and
lengths, visits, and holds (the busy spans the availability rules read and the
constraints guard).

Expand, then contract. This migration and 0006 only add: the previous release
keeps serving while they run and after, and keeps writing appointments without a
visit or holds (every new column is nullable or has a database default, so its
INSERTs still work). The new booking service treats a confirmed appointment whose
visit is NULL as busy for its whole span. 0006 backfills the rows that existed
when it ran. A later release's contract migration, once no pod of the previous
release is left, backfills what that release wrote meanwhile, deletes the holds of
appointments it cancelled (it knows nothing of holds), and makes
``Appointment.visit`` NOT NULL.

Stylist.services gets a through model on the table it already has: state only
(SeparateDatabaseAndState), then two ordinary nullable columns on that table.

PostgreSQL: the exclusion constraint of 0002 goes (with processing time one
stylist's appointments overlap as wholes: a cut inside a colour's processing gap);
its job moves to holds, per stylist and per resource unit, raw SQL outside the
model state as 0002's was. Other databases have the unique starts only, behind
the booking service's row locks.
"""

import django.core.validators
import django.db.models.deletion
from django.db import migrations, models

OLD_CONSTRAINT = "appointment_no_overlap"
HOLD_CONSTRAINTS = {"hold_stylist_no_overlap": "stylist_id", "hold_unit_no_overlap": "unit_id"}


def hold_no_overlap(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(f"ALTER TABLE booking_appointment DROP CONSTRAINT IF EXISTS {OLD_CONSTRAINT}")
    # btree_gist was created by 0002.
    for name, column in HOLD_CONSTRAINTS.items():
        schema_editor.execute(
            f"ALTER TABLE booking_hold ADD CONSTRAINT {name} "
            f"EXCLUDE USING gist ({column} WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) "
            f"WHERE ({column} IS NOT NULL)"
        )


def appointment_no_overlap(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in HOLD_CONSTRAINTS:
        schema_editor.execute(f"ALTER TABLE booking_hold DROP CONSTRAINT IF EXISTS {name}")
    # Fails if appointments booked since overlap as wholes (a cut in a processing
    # gap): going back past this release needs those moved first.
    schema_editor.execute(
        f"ALTER TABLE booking_appointment ADD CONSTRAINT {OLD_CONSTRAINT} "
        "EXCLUDE USING gist (stylist_id WITH =, tstzrange(starts_at, ends_at, '[)') WITH &&) "
        "WHERE (status = 'confirmed')"
    )


class Migration(migrations.Migration):
    dependencies = [("booking", "0004_special_hours")]

    operations = [
        # --- a stylist's own price and length: a through model on the existing table
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="StylistService",
                    fields=[
                        (
                            "id",
                            models.BigAutoField(
                                auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                            ),
                        ),
                        (
                            "service",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="stylist_services",
                                to="booking.service",
                            ),
                        ),
                        (
                            "stylist",
                            models.ForeignKey(
                                on_delete=django.db.models.deletion.CASCADE,
                                related_name="stylist_services",
                                to="booking.stylist",
                            ),
                        ),
                    ],
                    options={
                        "db_table": "booking_stylist_services",
                        "unique_together": {("stylist", "service")},
                    },
                ),
                migrations.AlterField(
                    model_name="stylist",
                    name="services",
                    field=models.ManyToManyField(
                        blank=True,
                        related_name="stylists",
                        through="booking.StylistService",
                        to="booking.service",
                    ),
                ),
            ],
            database_operations=[],
        ),
        migrations.AddField(
            model_name="stylistservice",
            name="price",
            field=models.DecimalField(
                blank=True,
                decimal_places=2,
                help_text="This stylist's own price; empty: the service's.",
                max_digits=8,
                null=True,
                validators=[django.core.validators.MinValueValidator(0)],
            ),
        ),
        migrations.AddField(
            model_name="stylistservice",
            name="duration_minutes",
            field=models.PositiveSmallIntegerField(
                blank=True,
                help_text="This stylist's own length, for a service without phases; empty: the service's.",
                null=True,
                validators=[
                    django.core.validators.MinValueValidator(5),
                    django.core.validators.MaxValueValidator(720),
                ],
            ),
        ),
        migrations.AddConstraint(
            model_name="stylistservice",
            constraint=models.CheckConstraint(
                condition=models.Q(("price__isnull", True), ("price__gte", 0), _connector="OR"),
                name="stylist_service_price_not_negative",
            ),
        ),
        migrations.AddConstraint(
            model_name="stylistservice",
            constraint=models.CheckConstraint(
                condition=models.Q(
                    ("duration_minutes__isnull", True),
                    models.Q(("duration_minutes__gte", 5), ("duration_minutes__lte", 720)),
                    _connector="OR",
                ),
                name="stylist_service_duration_range",
            ),
        ),
        # --- buffers
        migrations.AddField(
            model_name="service",
            name="buffer_before_minutes",
            field=models.PositiveSmallIntegerField(
                db_default=0,
                default=0,
                help_text="Minutes the stylist is busy before the service (set-up) that the customer does not see.",
                validators=[
                    django.core.validators.MinValueValidator(0),
                    django.core.validators.MaxValueValidator(240),
                ],
            ),
        ),
        migrations.AddField(
            model_name="service",
            name="buffer_after_minutes",
            field=models.PositiveSmallIntegerField(
                db_default=0,
                default=0,
                help_text="Minutes the stylist is busy after the service (clean-up) that the customer does not see.",
                validators=[
                    django.core.validators.MinValueValidator(0),
                    django.core.validators.MaxValueValidator(240),
                ],
            ),
        ),
        # --- resources and their units
        migrations.CreateModel(
            name="Resource",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("key", models.SlugField(help_text="Stable identifier used by salon files.")),
                ("name", models.CharField(max_length=100)),
                (
                    "quantity",
                    models.PositiveSmallIntegerField(
                        help_text="How many the salon has: phases needing it can run at the same time up to this many.",
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(50),
                        ],
                    ),
                ),
                (
                    "salon",
                    models.ForeignKey(
                        default=1,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="resources",
                        to="booking.salon",
                    ),
                ),
            ],
            options={
                "ordering": ["name"],
                "constraints": [
                    models.UniqueConstraint(fields=("salon", "key"), name="resource_one_per_key"),
                    models.CheckConstraint(
                        condition=models.Q(("quantity__gte", 1), ("quantity__lte", 50)),
                        name="resource_quantity_range",
                    ),
                ],
            },
        ),
        migrations.CreateModel(
            name="ResourceUnit",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("number", models.PositiveSmallIntegerField()),
                (
                    "resource",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="units",
                        to="booking.resource",
                    ),
                ),
            ],
            options={
                "ordering": ["resource", "number"],
                "constraints": [
                    models.UniqueConstraint(
                        fields=("resource", "number"), name="resource_unit_one_per_number"
                    )
                ],
            },
        ),
        # --- phases
        migrations.CreateModel(
            name="ServicePhase",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("position", models.PositiveSmallIntegerField()),
                (
                    "minutes",
                    models.PositiveSmallIntegerField(
                        validators=[
                            django.core.validators.MinValueValidator(1),
                            django.core.validators.MaxValueValidator(720),
                        ]
                    ),
                ),
                (
                    "processing",
                    models.BooleanField(
                        default=False,
                        help_text="The client waits (e.g. colour developing); the stylist is free for someone else.",
                    ),
                ),
                (
                    "resources",
                    models.ManyToManyField(blank=True, related_name="phases", to="booking.resource"),
                ),
                (
                    "service",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="phases",
                        to="booking.service",
                    ),
                ),
                (
                    "stylist",
                    models.ForeignKey(
                        blank=True,
                        help_text="Empty: the service's standard phases. Set: this stylist's own version of the service.",
                        null=True,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="phase_overrides",
                        to="booking.stylist",
                    ),
                ),
            ],
            options={
                "ordering": ["service", "stylist", "position"],
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(("minutes__gte", 1), ("minutes__lte", 720)),
                        name="service_phase_minutes_range",
                    )
                ],
            },
        ),
        # --- visits
        migrations.CreateModel(
            name="Visit",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("created_at", models.DateTimeField()),
                (
                    "salon",
                    models.ForeignKey(
                        default=1,
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="visits",
                        to="booking.salon",
                    ),
                ),
            ],
        ),
        migrations.AddField(
            model_name="appointment",
            name="visit",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="appointments",
                to="booking.visit",
            ),
        ),
        migrations.AddField(
            model_name="appointment",
            name="position",
            field=models.PositiveSmallIntegerField(
                db_default=0, default=0, help_text="Its place in the visit."
            ),
        ),
        # --- holds
        migrations.CreateModel(
            name="Hold",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("starts_at", models.DateTimeField()),
                ("ends_at", models.DateTimeField()),
                (
                    "appointment",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="holds",
                        to="booking.appointment",
                    ),
                ),
                (
                    "stylist",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="holds",
                        to="booking.stylist",
                    ),
                ),
                (
                    "unit",
                    models.ForeignKey(
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="holds",
                        to="booking.resourceunit",
                    ),
                ),
            ],
            options={
                "constraints": [
                    models.CheckConstraint(
                        condition=models.Q(
                            models.Q(("stylist__isnull", False), ("unit__isnull", True)),
                            models.Q(("stylist__isnull", True), ("unit__isnull", False)),
                            _connector="OR",
                        ),
                        name="hold_stylist_or_unit",
                    ),
                    models.CheckConstraint(
                        condition=models.Q(("ends_at__gt", models.F("starts_at"))),
                        name="hold_ends_after_start",
                    ),
                    models.UniqueConstraint(
                        fields=("stylist", "starts_at"), name="hold_one_start_per_stylist"
                    ),
                    models.UniqueConstraint(fields=("unit", "starts_at"), name="hold_one_start_per_unit"),
                ],
            },
        ),
        migrations.RunPython(hold_no_overlap, appointment_no_overlap, elidable=False),
    ]
