"""What the bench needs of the salon beyond demo/salon.json: a colour with phases and
resources, a blow-dry at the basin (issue 10's example).

    DJANGO_SETTINGS_MODULE=... DATABASE_URL=... python -m bench.salon_extras

The salon-file loader of this branch does not read ``resources`` or ``phases`` yet
(another branch gives them to demo/salon.json), so the bench writes them through
the models, as the back office would. Idempotent: a resource already there (the
demo salon of a later tree) is kept, and a service that already has phases keeps
them, so the bench measures the same thing on either tree.
"""

from __future__ import annotations

from django.db import transaction

# key: (quantity, name)
RESOURCES = {"basin": (2, "Basin"), "colour-station": (1, "Colour station")}
# service key: [(minutes, processing, resource keys)], buffer after (minutes)
PHASES = {
    "colour": ([(45, False, ["colour-station"]), (30, True, []), (15, False, ["basin"])], 10),
    "blow-dry": ([(15, False, ["basin"]), (30, False, [])], 0),
}


def apply() -> None:
    from chairtime.booking.models import Resource, Salon, Service, ServicePhase

    with transaction.atomic():
        salon = Salon.load()
        resources = {}
        for key, (quantity, name) in RESOURCES.items():
            resource = Resource.objects.filter(salon=salon, key=key).first()
            if resource is None:
                resource = Resource(salon=salon, key=key, name=name, quantity=quantity)
                resource.save()  # creates its units
            resources[key] = resource
        for key, (phases, buffer_after) in PHASES.items():
            service = Service.objects.get(key=key)
            if service.phases.exists():
                continue
            for position, (minutes, processing, needs) in enumerate(phases):
                phase = ServicePhase.objects.create(
                    service=service, position=position, minutes=minutes, processing=processing
                )
                phase.resources.set([resources[k] for k in needs])
            service.buffer_after_minutes = buffer_after
            service.save(update_fields=["buffer_after_minutes"])
            service.sync_duration()


if __name__ == "__main__":
    import django

    django.setup()
    apply()
