"""The manager's report: figures per stylist and in total, through the page and
the CSV, on whichever database the suite runs on."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from chairtime.booking import services
from chairtime.booking.models import Appointment
from chairtime.booking.tests.fixtures import make_colour_salon
from chairtime.frontdesk.models import AppointmentEvent, AppointmentState, Attendance, Role, StaffMember
from chairtime.reports.figures import MAX_DAYS, salon_report

DAY = date(2027, 3, 15)  # a Monday: Ana and Ben work 09:00-12:30 and 13:30-18:00
BOOKED_AT = datetime(2027, 3, 1, 18, 0, tzinfo=UTC)
AFTER = datetime(2027, 3, 20, 18, 0, tzinfo=UTC)


def book(salon, service, stylist, hh, mm=0, *, email, day=DAY, now=BOOKED_AT) -> Appointment:
    return services.appointment_book(
        service_id=service.pk,
        stylist_id=stylist.pk,
        start=salon.demo.local(day, hh, mm),
        customer_name=email.split("@")[0],
        customer_email=email,
        now=now,
    )


def mark(appointment: Appointment, attendance: str) -> None:
    AppointmentState.objects.create(appointment=appointment, attendance=attendance, changed_at=AFTER)


@pytest.fixture
def salon(demo):
    return make_colour_salon(demo)


@pytest.fixture
def week(salon):
    """Ana: a colour (completed), a cut in its processing gap (completed, rebooked),
    a no-show; Ben: a cut cancelled late by the customer, one cancelled early,
    one cancelled late by the salon; a cut booked afterwards by the rebooker."""
    colour = book(salon, salon.colour, salon.demo.ana, 10, email="cora@example.com")
    gap_cut = book(salon, salon.cut, salon.demo.ana, 10, 45, email="rob@example.com")
    missed = book(salon, salon.cut, salon.demo.ana, 15, email="nick@example.com")
    mark(colour, Attendance.COMPLETED)
    mark(gap_cut, Attendance.COMPLETED)
    mark(missed, Attendance.NO_SHOW)
    late = book(salon, salon.cut, salon.demo.ben, 9, email="lena@example.com")
    early = book(salon, salon.cut, salon.demo.ben, 11, email="earl@example.com")
    by_salon = book(salon, salon.cut, salon.demo.ben, 14, email="sal@example.com")
    services.appointment_cancel(appointment_id=late.pk, now=salon.demo.local(DAY, 8))
    services.appointment_cancel(appointment_id=early.pk, now=salon.demo.local(DAY - timedelta(days=5), 8))
    services.appointment_cancel(appointment_id=by_salon.pk, now=salon.demo.local(DAY, 8))
    AppointmentEvent.objects.create(
        appointment=by_salon, kind=AppointmentEvent.Kind.CANCELLED_BY_SALON, at=AFTER, by_name="maria"
    )
    # Rob books his next cut on his way out (created after his appointment began).
    book(
        salon,
        salon.cut,
        salon.demo.ana,
        10,
        email="rob@example.com",
        day=DAY + timedelta(days=4),
        now=salon.demo.local(DAY, 11),
    )
    salon.demo.salon.change_notice_minutes = 24 * 60
    salon.demo.salon.save()
    return salon


def rows(report):
    return {row.label: row for row in report.rows}


def test_it_counts_each_stylists_day(week):
    report = salon_report(DAY, DAY, now=AFTER)
    ana, ben = rows(report)["Ana"], rows(report)["Ben"]

    # Ana works 8 hours; busy 45 + 15 (the colour, its processing not) + 30 + 30 minutes.
    assert ana.working == timedelta(hours=8)
    assert ana.booked == timedelta(minutes=45 + 15 + 30 + 30)
    assert ana.utilisation == pytest.approx(2 / 8)
    assert (ana.appointments, ana.started, ana.completed, ana.no_shows) == (3, 3, 2, 1)
    assert ana.revenue == Decimal(week.colour.price) + Decimal(week.cut.price)
    assert ana.no_show_rate == pytest.approx(1 / 3)
    assert (ana.rebooked, ana.rebooking_rate) == (1, 0.5)
    # Ben: three cancellations, one of them late and by the customer.
    assert (ben.appointments, ben.cancelled, ben.late_cancels) == (0, 3, 1)
    assert ben.late_cancel_rate == pytest.approx(1 / 3)
    assert ben.booked == timedelta(0) and ben.utilisation == 0


def test_the_total_adds_the_stylists_up(week):
    report = salon_report(DAY, DAY, now=AFTER)
    total = report.total
    assert total.working == sum((r.working for r in report.rows), timedelta(0))
    assert (total.completed, total.no_shows, total.cancelled, total.late_cancels) == (2, 1, 3, 1)
    assert total.late_cancel_rate == pytest.approx(1 / 6)


def test_days_outside_the_range_count_nothing(week):
    report = salon_report(DAY + timedelta(days=1), DAY + timedelta(days=2), now=AFTER)
    assert rows(report)["Ana"].booked == timedelta(0)
    assert rows(report)["Ana"].working == timedelta(hours=16)


def test_what_has_not_started_is_not_a_no_show_candidate(week):
    report = salon_report(DAY, DAY, now=week.demo.local(DAY, 12))
    assert rows(report)["Ana"].started == 2


# --- The page -------------------------------------------------------------------


@pytest.fixture
def manager(django_user_model, week) -> Client:
    user = django_user_model.objects.create_user(username="maria", password="x")
    StaffMember.objects.create(user=user, role=Role.MANAGER)
    client = Client()
    client.force_login(user)
    return client


def test_the_manager_sees_the_report_and_downloads_it(manager):
    page = manager.get("/desk/reports/", {"from": DAY.isoformat(), "to": DAY.isoformat()})
    assert page.status_code == 200
    assert "Ana" in page.content.decode() and "All stylists" in page.content.decode()

    download = manager.get(
        "/desk/reports/", {"from": DAY.isoformat(), "to": DAY.isoformat(), "format": "csv"}
    )
    assert download["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(download.content.decode())))
    assert table[0][:4] == ["Stylist", "Working hours", "Booked hours", "Utilisation %"]
    by_name = {line[0]: line for line in table[1:]}
    assert by_name["Ana"][1:4] == ["8.00", "2.00", "25.0"]
    assert by_name["All stylists"][7] == "1"


@pytest.mark.parametrize("query", [{}, {"from": "2027-02-30"}])
def test_the_report_page_keeps_the_desks_navigation(manager, query):
    # The desk's pages share one navigation (and the way to sign out): a report, or
    # a bad range's 400, is no dead end.
    page = manager.get("/desk/reports/", query).content.decode()
    assert 'aria-label="Front desk"' in page and 'action="/desk/logout/"' in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"from": "2027-03-15", "to": "2027-03-14"}, "The last day is before the first day."),
        ({"from": "2027-02-30"}, "The first day must be a date written as YYYY-MM-DD"),
        ({"from": "2026-01-01", "to": "2027-03-14"}, f"A report covers at most {MAX_DAYS} days."),
    ],
)
def test_a_bad_range_is_a_400_with_a_sentence(manager, query, message):
    response = manager.get("/desk/reports/", query)
    assert response.status_code == 400
    assert message in response.content.decode()


@pytest.mark.parametrize("role", [Role.FRONT_DESK, Role.STYLIST])
def test_only_managers_see_reports(django_user_model, demo, role):
    user = django_user_model.objects.create_user(username="someone", password="x")
    StaffMember.objects.create(user=user, role=role, stylist=demo.ana if role == Role.STYLIST else None)
    client = Client()
    client.force_login(user)
    assert client.get("/desk/reports/").status_code == 403


def test_strangers_are_sent_to_sign_in(client, db):
    response = client.get("/desk/reports/")
    assert response.status_code == 302 and "/desk/login/" in response["Location"]


def test_a_stylist_named_like_a_formula_stays_text_in_the_csv(manager, week):
    week.demo.ben.name = "=HYPERLINK(1)"
    week.demo.ben.save()
    download = manager.get(
        "/desk/reports/", {"from": DAY.isoformat(), "to": DAY.isoformat(), "format": "csv"}
    )
    assert "'=HYPERLINK(1)" in download.content.decode()


def test_its_queries_do_not_grow_with_the_appointments(week):
    with CaptureQueriesContext(connection) as before:
        salon_report(DAY, DAY + timedelta(days=6), now=AFTER)
    for hh in (9, 10, 11, 14):
        book(week, week.cut, week.demo.ben, hh, email=f"more{hh}@example.com", day=DAY + timedelta(days=1))
    with CaptureQueriesContext(connection) as after:
        report = salon_report(DAY, DAY + timedelta(days=6), now=AFTER)

    assert rows(report)["Ben"].appointments == 4
    assert len(after.captured_queries) == len(before.captured_queries) <= 10
