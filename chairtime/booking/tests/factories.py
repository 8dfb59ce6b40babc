"""factory_boy factories for the salon. Times are aware; hours are local."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

import factory
from axes.models import AccessAttempt, AccessFailureLog, AccessLog
from django.contrib.auth.models import Group

from chairtime.booking.models import (
    Appointment,
    Closure,
    Hold,
    Resource,
    Salon,
    Service,
    ServicePhase,
    SpecialHours,
    Stylist,
    TimeOff,
    Visit,
    WorkingHours,
)


class SalonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Salon
        django_get_or_create = ("id",)

    id = 1
    name = "Demo Salon"
    time_zone = "America/Los_Angeles"
    slot_minutes = 30
    min_notice_minutes = 60
    horizon_days = 30


class ServiceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Service

    key = factory.Sequence(lambda n: f"service-{n}")
    name = factory.Sequence(lambda n: f"Service {n}")
    description = "A service."
    duration_minutes = 60
    price = Decimal("50.00")


class StylistFactory(factory.django.DjangoModelFactory):
    """A stylist working Monday to Saturday 09:00-12:30 and 13:30-18:00 (local),
    offering the services passed as ``services=[...]``."""

    class Meta:
        model = Stylist
        skip_postgeneration_save = True

    key = factory.Sequence(lambda n: f"stylist-{n}")
    name = factory.Sequence(lambda n: f"Stylist {n}")

    @factory.post_generation
    def services(self, create, extracted, **kwargs):
        if create and extracted:
            self.services.set(extracted)

    @factory.post_generation
    def hours(self, create, extracted, **kwargs):
        if not create:
            return
        weekly = (
            extracted
            if extracted is not None
            else {day: [(time(9, 0), time(12, 30)), (time(13, 30), time(18, 0))] for day in range(6)}
        )
        WorkingHours.objects.bulk_create(
            WorkingHours(stylist=self, weekday=day, start=start, end=end)
            for day, intervals in weekly.items()
            for start, end in intervals
        )


class TimeOffFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TimeOff

    stylist = factory.SubFactory(StylistFactory)
    start = datetime(2027, 1, 4, 8, 0, tzinfo=UTC)
    end = factory.LazyAttribute(lambda o: o.start + timedelta(days=1))


class SpecialHoursFactory(factory.django.DjangoModelFactory):
    """The whole salon's hours on a date, unless a ``stylist`` is given."""

    class Meta:
        model = SpecialHours

    date = factory.Sequence(lambda n: date(2027, 12, 24) + timedelta(days=n))
    start = time(9, 0)
    end = time(15, 0)


class ClosureFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Closure

    reason = "Holiday"


class AppointmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Appointment
        skip_postgeneration_save = True

    service = factory.SubFactory(ServiceFactory)
    stylist = factory.SubFactory(StylistFactory)
    starts_at = datetime(2027, 3, 15, 17, 0, tzinfo=UTC)
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(minutes=o.service.duration_minutes))
    customer_name = "Alex Doe"
    customer_email = "alex@example.com"
    price = factory.LazyAttribute(lambda o: o.service.price)
    created_at = factory.LazyAttribute(lambda o: o.starts_at - timedelta(days=3))
    # As the booking service writes it: a visit of one, and while confirmed the
    # stylist busy for the whole of it (the hold availability reads).
    # ``visit=None``: a row as the release before visits wrote it, without holds.
    visit = factory.SubFactory("chairtime.booking.tests.factories.VisitFactory")

    @factory.post_generation
    def holds(self, create, extracted, **kwargs):
        if create and extracted is None and self.visit_id is not None and self.is_confirmed:
            Hold.objects.create(
                appointment=self, stylist=self.stylist, starts_at=self.starts_at, ends_at=self.ends_at
            )


class ResourceFactory(factory.django.DjangoModelFactory):
    """A resource with its units (``save()`` numbers them 1..quantity)."""

    class Meta:
        model = Resource

    salon = factory.SubFactory(SalonFactory)
    key = factory.Sequence(lambda n: f"resource-{n}")
    name = factory.Sequence(lambda n: f"Basin {n}")
    quantity = 2


class ServicePhaseFactory(factory.django.DjangoModelFactory):
    """A standard phase of ``service`` (``stylist=...`` for a stylist's own version);
    ``resources=[...]`` after creation."""

    class Meta:
        model = ServicePhase
        skip_postgeneration_save = True

    service = factory.SubFactory(ServiceFactory)
    position = factory.Sequence(lambda n: n)
    minutes = 30

    @factory.post_generation
    def resources(self, create, extracted, **kwargs):
        if create and extracted:
            self.resources.set(extracted)


class VisitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Visit

    salon = factory.SubFactory(SalonFactory)
    created_at = datetime(2027, 3, 12, 17, 0, tzinfo=UTC)


class HoldFactory(factory.django.DjangoModelFactory):
    """The appointment's stylist busy for its whole span, unless ``unit=...`` is given
    (then pass ``stylist=None``)."""

    class Meta:
        model = Hold

    appointment = factory.SubFactory(AppointmentFactory)
    stylist = factory.LazyAttribute(lambda o: o.appointment.stylist)
    unit = None
    starts_at = factory.LazyAttribute(lambda o: o.appointment.starts_at)
    ends_at = factory.LazyAttribute(lambda o: o.appointment.ends_at)


# The back office also lists these (the pages test opens every admin page).


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group

    name = factory.Sequence(lambda n: f"Front desk {n}")


class _AxesRecordFactory(factory.django.DjangoModelFactory):
    user_agent = "Mozilla/5.0"
    ip_address = "192.0.2.10"
    username = "someone"
    http_accept = "text/html"
    path_info = "/admin/login/"


class AccessAttemptFactory(_AxesRecordFactory):
    class Meta:
        model = AccessAttempt

    get_data = ""
    post_data = "username=someone"
    failures_since_start = 2


class AccessLogFactory(_AxesRecordFactory):
    class Meta:
        model = AccessLog


class AccessFailureLogFactory(_AxesRecordFactory):
    class Meta:
        model = AccessFailureLog
