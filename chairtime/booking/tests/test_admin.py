"""The back office's booking pages (booking/admin.py), through the real admin site."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import psycopg.errors
import pytest
import time_machine
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db import OperationalError, connection, connections
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, reverse
from django.utils import timezone

from chairtime.announcements.store import Announcement
from chairtime.booking import services
from chairtime.booking.admin import AppointmentAdmin
from chairtime.booking.models import (
    Appointment,
    Resource,
    ScheduleException,
    Service,
    ServicePhase,
    StylistService,
    WaitlistEntry,
)
from chairtime.booking.tests.factories import (
    AccessAttemptFactory,
    AccessFailureLogFactory,
    AccessLogFactory,
    AppointmentFactory,
    ClosureFactory,
    GroupFactory,
    HoldFactory,
    ResourceFactory,
    ServicePhaseFactory,
    SpecialHoursFactory,
    TimeOffFactory,
)
from chairtime.messages import outbox as messages

DAY = date(2027, 3, 15)  # a Monday
NOW = datetime(2027, 3, 12, 18, 0, tzinfo=UTC)

needs_row_locks = pytest.mark.skipif(
    connection.vendor == "sqlite", reason="SQLite serialises writers with BEGIN IMMEDIATE"
)


def manager_client(django_user_model) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("manager", "manager@example.com", "x"))
    return client


def contact_details(appointment: Appointment, **changes: str) -> dict[str, str]:
    return {
        "customer_name": appointment.customer_name,
        "customer_email": appointment.customer_email,
        "customer_phone": appointment.customer_phone,
        "_save": "Save",
        **changes,
    }


@pytest.mark.concurrency
@needs_row_locks
def test_it_keeps_a_customer_cancel_that_lands_while_staff_save_contact_details(
    demo_tx, django_user_model, monkeypatch
):
    appointment = AppointmentFactory(
        service=demo_tx.haircut, stylist=demo_tx.ana, starts_at=demo_tx.local(DAY, 10)
    )
    client = manager_client(django_user_model)
    staff_has_read, cancel_done = threading.Event(), threading.Event()
    real_get_object = AppointmentAdmin.get_object

    def read_then_linger(self, request, object_id, from_field=None):
        # The window of the race: the back office has read the row and not yet
        # written it. Without a lock the customer's cancel commits in it; with the
        # lock it cannot, so this gives up waiting for it after a second.
        obj = real_get_object(self, request, object_id, from_field)
        if request.method == "POST":
            staff_has_read.set()
            cancel_done.wait(timeout=1)
        return obj

    monkeypatch.setattr(AppointmentAdmin, "get_object", read_then_linger)

    def customer_cancels() -> Appointment:
        try:
            assert staff_has_read.wait(timeout=10)
            return services.appointment_cancel(appointment_id=appointment.pk, now=NOW)
        finally:
            cancel_done.set()
            connections.close_all()  # the thread opened its own connection

    with ThreadPoolExecutor(1) as pool:
        cancel = pool.submit(customer_cancels)
        response = client.post(
            f"/admin/booking/appointment/{appointment.pk}/change/",
            contact_details(appointment, customer_phone="+1 555 0100"),
        )
        assert cancel.result().status == Appointment.Status.CANCELLED

    assert response.status_code == 302, response.content
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED
    assert appointment.cancelled_at == NOW
    assert appointment.customer_phone == "+1 555 0100"


def test_it_writes_only_the_contact_details_staff_changed(demo, django_user_model):
    appointment = AppointmentFactory(service=demo.haircut, stylist=demo.ana, starts_at=demo.local(DAY, 10))
    client = manager_client(django_user_model)

    with CaptureQueriesContext(connection) as queries:
        response = client.post(
            f"/admin/booking/appointment/{appointment.pk}/change/",
            contact_details(appointment, customer_phone="+1 555 0100"),
        )

    assert response.status_code == 302, response.content
    updates = [q["sql"] for q in queries if q["sql"].startswith("UPDATE") and "appointment" in q["sql"]]
    assert len(updates) == 1
    assert "customer_phone" in updates[0]
    assert "status" not in updates[0]
    assert "customer_name" not in updates[0]


# --- every back-office page, as a manager ------------------------------------------------

MODEL_ADMINS = sorted(admin.site._registry.items(), key=lambda item: item[0]._meta.label)


@pytest.fixture
def one_of_each(demo, announcement_store) -> dict[str, str]:
    """At least one row of every model the back office lists, and one announcement;
    returns the values the site's own URLs take."""
    today = timezone.now().astimezone(demo.salon.tz).date()
    TimeOffFactory(stylist=demo.ana, start=demo.local(today, 9), end=demo.local(today, 17))
    TimeOffFactory(stylist=demo.ben, start=demo.local(today + timedelta(days=40), 9))
    ClosureFactory(date=today + timedelta(days=3))
    SpecialHoursFactory(date=today + timedelta(days=4))
    SpecialHoursFactory(stylist=demo.ana, date=today + timedelta(days=5))
    appointment = AppointmentFactory(service=demo.haircut, stylist=demo.ana, starts_at=demo.local(today, 10))
    messages.visit_booked([appointment])  # a customer message and its task
    entry = WaitlistEntry.objects.create(
        service=demo.haircut,
        date=today + timedelta(days=2),
        customer_name="Wanda",
        customer_email="wanda@example.com",
        created_at=timezone.now(),
    )
    messages.waitlist_joined(entry)  # a message about no appointment
    ScheduleException.objects.create(
        appointment=appointment,
        starts_at=appointment.starts_at,
        stylist=demo.ana,
        reason="the stylist is away",
        kept_at=timezone.now(),
    )
    AppointmentFactory(
        service=demo.haircut,
        stylist=demo.ben,
        starts_at=demo.local(today - timedelta(days=35), 10),
        status=Appointment.Status.CANCELLED,
        cancelled_at=demo.local(today - timedelta(days=36), 10),
    )
    basin = ResourceFactory(key="basin", name="Basin", quantity=2)
    ServicePhaseFactory(service=demo.colour, position=0, minutes=60, resources=[basin])
    ServicePhaseFactory(service=demo.colour, position=1, minutes=60)
    GroupFactory()
    # The front desk's (chairtime.frontdesk): an account with a role, an event.
    from chairtime.frontdesk.models import AppointmentEvent, Role, StaffMember

    member = StaffMember.objects.create(
        user=get_user_model().objects.create_user(username="desk-one", password="x"), role=Role.FRONT_DESK
    )
    AppointmentEvent.objects.create(
        appointment=appointment,
        kind=AppointmentEvent.Kind.ARRIVED,
        at=timezone.now(),
        by=member.user,
        by_name="desk-one",
    )
    AccessAttemptFactory()
    AccessLogFactory()
    AccessFailureLogFactory()
    announcement = Announcement.new(text="Closed on Monday", now=timezone.now())
    announcement_store.put(announcement)
    return {
        "announcement_id": announcement.id,
        "content_type_id": str(ContentType.objects.get_for_model(Appointment).pk),
        "object_id": str(appointment.pk),
    }


def assert_answers(client: Client, url: str, expected: int | None = None) -> HttpResponse:
    response = client.get(url)
    assert response.status_code < 500, f"{url} answered {response.status_code}"
    if expected is not None:
        assert response.status_code == expected, f"{url} answered {response.status_code}"
    return response


@pytest.mark.parametrize(("model", "model_admin"), MODEL_ADMINS, ids=[m._meta.label for m, _ in MODEL_ADMINS])
def test_it_answers_every_page_of_every_model_in_the_back_office(
    model, model_admin, one_of_each, django_user_model
):
    client = manager_client(django_user_model)
    obj = model_admin.get_queryset(RequestFactory().get("/")).first()
    assert obj is not None, f"no {model._meta.label} to show: add a factory for it to one_of_each"
    opts = model._meta

    changelist_url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    changelist = assert_answers(client, changelist_url, 200)
    # Every filter choice, with facet counts, and a search: each is its own query.
    cl = changelist.context["cl"]
    for spec in cl.filter_specs:
        for choice in spec.choices(cl):
            assert_answers(client, changelist_url + choice["query_string"], 200)
    assert_answers(client, changelist_url + "?_facets=True", 200)
    if model_admin.search_fields:
        assert_answers(client, changelist_url + "?q=a", 200)

    # Add, change, history, delete, and any page the ModelAdmin adds (e.g. a user's
    # password form): every named URL it serves, for the object when it takes one.
    for pattern in model_admin.get_urls():
        if pattern.name is None or pattern.name.endswith("_changelist"):
            continue
        params = list(pattern.pattern.regex.groupindex)
        assert set(params) <= {"object_id", "id"}, f"tell this test how to fill {params} of {pattern.name}"
        assert_answers(client, reverse(f"admin:{pattern.name}", kwargs=dict.fromkeys(params, obj.pk)))
    assert_answers(client, reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]), 200)
    if model_admin.has_add_permission(changelist.wsgi_request):
        assert_answers(client, reverse(f"admin:{opts.app_label}_{opts.model_name}_add"), 200)


def test_it_answers_every_page_of_the_back_office_site_itself(one_of_each, django_user_model):
    """The index, each app's page, the announcements pages and the other views the
    site serves besides its ModelAdmins, then the staff day view it links to."""
    client = manager_client(django_user_model)
    site_patterns = [p for p in admin.site.get_urls() if isinstance(p, URLPattern) and p.name]
    assert site_patterns
    for pattern in site_patterns:
        params = list(pattern.pattern.regex.groupindex)
        if params == ["app_label"]:
            for app_label in sorted({m._meta.app_label for m, _ in MODEL_ADMINS}):
                assert_answers(client, reverse(f"admin:{pattern.name}", args=[app_label]), 200)
            continue
        assert set(params) <= one_of_each.keys(), f"tell one_of_each a value for {params} of {pattern.name}"
        assert_answers(client, reverse(f"admin:{pattern.name}", kwargs={p: one_of_each[p] for p in params}))
    for name in ("announcements_list", "announcements_add", "index"):
        assert_answers(client, reverse(f"admin:{name}"), 200)
    assert_answers(client, reverse("admin:announcements_change", args=[one_of_each["announcement_id"]]), 200)

    day_view = reverse("booking:staff_day")
    assert_answers(client, day_view, 200)
    today = timezone.now().date()
    for day in (today, today - timedelta(days=35)):
        assert_answers(client, f"{day_view}?date={day.isoformat()}", 200)


def test_it_filters_by_the_salon_s_local_months_not_utc_ones(demo, django_user_model):
    # Los Angeles: 20:00 on 28 February is already 1 March in UTC; each counts in
    # its local month.
    february = demo.local(date(2027, 2, 28), 20)
    april = demo.local(date(2027, 4, 1), 0, 30)
    TimeOffFactory(stylist=demo.ana, start=february, end=february + timedelta(hours=3), reason="february")
    TimeOffFactory(stylist=demo.ana, start=april, end=april + timedelta(hours=3), reason="april")

    with time_machine.travel(datetime(2027, 3, 10, 18, tzinfo=UTC), tick=False):
        client = manager_client(django_user_model)
        changelist = client.get("/admin/booking/timeoff/")
        cl = changelist.context["cl"]
        links = {c["display"]: c["query_string"] for spec in cl.filter_specs for c in spec.choices(cl)}
        assert "March 2027" not in links  # nothing then locally ("This month" is there too)

        for month, reason in (("February 2027", "february"), ("April 2027", "april")):
            response = client.get("/admin/booking/timeoff/" + links[month])
            assert response.status_code == 200
            assert [t.reason for t in response.context["cl"].result_list] == [reason]


def test_it_cancels_from_the_change_page_through_the_booking_service(demo, django_user_model):
    upcoming = AppointmentFactory(
        service=demo.haircut, stylist=demo.ana, starts_at=timezone.now() + timedelta(days=2)
    )
    started = AppointmentFactory(
        service=demo.haircut, stylist=demo.ben, starts_at=timezone.now() - timedelta(minutes=10)
    )
    client = manager_client(django_user_model)
    change_url = f"/admin/booking/appointment/{upcoming.pk}/change/"
    cancel_url = f"/admin/booking/appointment/{upcoming.pk}/cancel/"
    assert f'formaction="{cancel_url}"' in client.get(change_url).content.decode()
    assert client.get(cancel_url).status_code == 405

    response = client.post(cancel_url, contact_details(upcoming), follow=True)
    assert response.redirect_chain == [(change_url, 302)]
    assert "Cancelled; its time is free again." in response.content.decode()
    assert f'formaction="{cancel_url}"' not in response.content.decode()
    upcoming.refresh_from_db()
    assert upcoming.status == Appointment.Status.CANCELLED
    assert upcoming.cancelled_at is not None

    # The service's rules hold here too: what has started cannot be cancelled.
    response = client.post(f"/admin/booking/appointment/{started.pk}/cancel/", follow=True)
    assert "already started" in response.content.decode()
    started.refresh_from_db()
    assert started.status == Appointment.Status.CONFIRMED
    assert client.post("/admin/booking/appointment/99999999999/cancel/").status_code == 404


# --- lock conflicts -----------------------------------------------------------------------


def lock_conflict() -> OperationalError:
    """The error this database raises when it aborts a transaction to break a deadlock."""
    if connection.vendor == "mysql":
        return OperationalError(1213, "Deadlock found when trying to get lock; try restarting transaction")
    if connection.vendor == "postgresql":
        error = OperationalError("deadlock detected")
        error.__cause__ = psycopg.errors.DeadlockDetected("deadlock detected")
        return error
    return OperationalError("database is locked")


def test_it_saves_a_staff_edit_again_when_the_database_breaks_a_lock_conflict(
    demo_tx, django_user_model, monkeypatch
):
    # The first save is aborted as a deadlock victim: the whole request's
    # transaction rolls back and runs again, and staff see a normal save.
    from chairtime.booking.admin import ServiceAdmin

    saves = []
    real_save_model = ServiceAdmin.save_model

    def save_model_losing_the_first_time(self, request, obj, form, change):
        saves.append(obj.name)
        if len(saves) == 1:
            raise lock_conflict()
        real_save_model(self, request, obj, form, change)

    monkeypatch.setattr(ServiceAdmin, "save_model", save_model_losing_the_first_time)
    service = demo_tx.haircut
    form = {
        "key": service.key,
        "name": "Haircut and finish",
        "description": service.description,
        "duration_minutes": service.duration_minutes,
        "price": service.price,
        "is_active": "on",
        "position": service.position,
        "buffer_before_minutes": 0,
        "buffer_after_minutes": 0,
        "phases-TOTAL_FORMS": "0",
        "phases-INITIAL_FORMS": "0",
        "_save": "Save",
    }

    response = manager_client(django_user_model).post(f"/admin/booking/service/{service.pk}/change/", form)

    assert response.status_code == 302, response.content.decode()[-500:]
    assert saves == ["Haircut and finish", "Haircut and finish"]
    service.refresh_from_db()
    assert service.name == "Haircut and finish"


def test_it_cancels_from_the_list_action_outside_any_request_transaction(demo_tx, django_user_model):
    # The action calls the booking service, whose transaction must be the
    # outermost one (durable): the retrying wrapper must not enclose it.
    upcoming = AppointmentFactory(
        service=demo_tx.haircut, stylist=demo_tx.ana, starts_at=timezone.now() + timedelta(days=2)
    )

    response = manager_client(django_user_model).post(
        "/admin/booking/appointment/",
        {"action": "cancel_appointments", "_selected_action": [upcoming.pk], "index": 0},
    )

    assert response.status_code == 302
    upcoming.refresh_from_db()
    assert upcoming.status == Appointment.Status.CANCELLED


# --- phases, resources and a stylist's own figures ----------------------------------------------


def service_form(
    service: Service, phases: list[dict[str, str]], **changes: str
) -> dict[str, str | list[str]]:
    """The service's change form as the browser posts it, with new phase rows."""
    data: dict[str, str | list[str]] = {
        "key": service.key,
        "name": service.name,
        "description": service.description,
        "duration_minutes": str(service.duration_minutes),
        "price": str(service.price),
        "is_active": "on",
        "position": str(service.position),
        "buffer_before_minutes": "0",
        "buffer_after_minutes": "10",
        "phases-TOTAL_FORMS": str(len(phases)),
        "phases-INITIAL_FORMS": "0",
        "_save": "Save",
        **changes,
    }
    for index, phase in enumerate(phases):
        data.update({f"phases-{index}-{name}": value for name, value in phase.items()})
    return data


def test_it_makes_a_service_s_length_the_sum_of_the_phases_saved_with_it(demo, django_user_model):
    basin = ResourceFactory(key="basin", name="Basin")
    phases = [
        {"position": "0", "minutes": "45"},
        {"position": "1", "minutes": "30", "processing": "on"},
        {"position": "2", "minutes": "15", "resources": [str(basin.pk)]},
        {"position": "0", "minutes": "100", "stylist": str(demo.ana.pk)},  # Ana's own version
    ]

    response = manager_client(django_user_model).post(
        f"/admin/booking/service/{demo.colour.pk}/change/", service_form(demo.colour, phases)
    )

    assert response.status_code == 302, response.content.decode()[-2000:]
    demo.colour.refresh_from_db()
    assert (demo.colour.duration_minutes, demo.colour.buffer_after_minutes) == (90, 10)
    standard = ServicePhase.objects.filter(service=demo.colour, stylist=None).order_by("position")
    assert [(p.minutes, p.processing) for p in standard] == [(45, False), (30, True), (15, False)]
    assert list(standard.last().resources.all()) == [basin]
    assert ServicePhase.objects.get(stylist=demo.ana).minutes == 100


@pytest.mark.parametrize(
    ("phases", "message"),
    [
        (
            [{"position": "0", "minutes": "30", "processing": "on"}, {"position": "1", "minutes": "30"}],
            "first",
        ),
        (
            [{"position": "0", "minutes": "30"}, {"position": "1", "minutes": "30", "processing": "on"}],
            "last",
        ),
        ([{"position": "0", "minutes": "700"}, {"position": "1", "minutes": "30"}], "add up to 730 minutes"),
    ],
)
def test_it_refuses_phases_that_do_not_start_and_end_with_the_stylist_at_work(
    demo, django_user_model, phases, message
):
    response = manager_client(django_user_model).post(
        f"/admin/booking/service/{demo.colour.pk}/change/", service_form(demo.colour, phases)
    )

    assert response.status_code == 200  # the form again, with the error
    assert message in response.content.decode()
    assert not ServicePhase.objects.exists()


def test_it_numbers_the_units_of_a_resource_saved_in_the_back_office(demo, django_user_model):
    client = manager_client(django_user_model)

    response = client.post(
        "/admin/booking/resource/add/", {"key": "basin", "name": "Basin", "quantity": "3", "_save": "Save"}
    )

    assert response.status_code == 302, response.content.decode()[-2000:]
    assert [str(u) for u in Resource.objects.get().units.all()] == ["Basin 1", "Basin 2", "Basin 3"]


def test_it_refuses_fewer_units_than_an_upcoming_booking_uses(demo, django_user_model):
    basin = ResourceFactory(key="basin", name="Basin", quantity=2)
    appointment = AppointmentFactory(
        service=demo.haircut, stylist=demo.ana, starts_at=timezone.now() + timedelta(days=2)
    )
    HoldFactory(appointment=appointment, stylist=None, unit=basin.units.get(number=2))

    response = manager_client(django_user_model).post(
        f"/admin/booking/resource/{basin.pk}/change/",
        {"key": "basin", "name": "Basin", "quantity": "1", "_save": "Save"},
    )

    assert response.status_code == 200
    assert "Basin number 2 is booked for an upcoming appointment" in response.content.decode()
    assert basin.units.count() == 2


def test_it_saves_a_stylist_s_own_price_and_length(demo, django_user_model):
    offer = StylistService.objects.get(stylist=demo.ana, service=demo.haircut)
    colour = StylistService.objects.get(stylist=demo.ana, service=demo.colour)
    form = {
        "key": demo.ana.key,
        "name": demo.ana.name,
        "is_active": "on",
        "position": str(demo.ana.position),
        "stylist_services-TOTAL_FORMS": "2",
        "stylist_services-INITIAL_FORMS": "2",
        "stylist_services-0-id": str(offer.pk),
        "stylist_services-0-stylist": str(demo.ana.pk),
        "stylist_services-0-service": str(demo.haircut.pk),
        "stylist_services-0-price": "65.00",
        "stylist_services-0-duration_minutes": "45",
        "stylist_services-1-id": str(colour.pk),
        "stylist_services-1-stylist": str(demo.ana.pk),
        "stylist_services-1-service": str(demo.colour.pk),
        **{
            f"{inline}-{count}": "0"
            for inline in ("hours", "time_off", "special_hours")
            for count in ("TOTAL_FORMS", "INITIAL_FORMS")
        },
        "_save": "Save",
    }

    response = manager_client(django_user_model).post(f"/admin/booking/stylist/{demo.ana.pk}/change/", form)

    assert response.status_code == 302, response.content.decode()[-2000:]
    offer.refresh_from_db()
    assert (offer.price, offer.duration_minutes) == (Decimal("65.00"), 45)
    assert list(demo.ana.services.order_by("key").values_list("key", flat=True)) == ["colour", "haircut"]
