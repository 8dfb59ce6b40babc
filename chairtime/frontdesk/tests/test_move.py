"""Moving a visit from the desk: services.visit_reschedule as staff, through the
desk's no-JS form, with its refusals in words and its history."""

from __future__ import annotations

import html
import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from django.test import Client
from django.urls import reverse

from chairtime.booking import services
from chairtime.booking.errors import BookingError
from chairtime.booking.models import Appointment
from chairtime.booking.tests.factories import TimeOffFactory
from chairtime.frontdesk.models import AppointmentEvent
from chairtime.frontdesk.tests.conftest import DAY, NOW, make_desk
from chairtime.messages.models import Message


def text(response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", response.content.decode())).split())


def book(demo, hh: int, mm: int = 0, *, stylist=None, email="kim@example.com", now=NOW) -> Appointment:
    return services.visit_book(
        items=[services.ItemRequest(demo.haircut.pk, (stylist or demo.ana).pk)],
        start=demo.local(DAY, hh, mm),
        customer_name="Kim",
        customer_email=email,
        now=now,
    )[0]


def move_form(appointment, hhmm: str, *, stylist=None, day=DAY, nonce="n1") -> dict:
    return {"date": day.isoformat(), "time": hhmm, "stylist": stylist.pk if stylist else "", "nonce": nonce}


def url(appointment) -> str:
    return reverse("frontdesk:move", args=[appointment.pk])


def test_the_front_desk_moves_a_visit_and_the_customer_is_told(desk, demo):
    appointment = book(demo, 10)

    page = desk.front.get(url(appointment))
    assert page.status_code == 200
    assert 'value="10:00"' in page.content.decode()

    response = desk.front.post(url(appointment), move_form(appointment, "14:00", stylist=demo.ben))

    assert response.status_code == 302
    appointment.refresh_from_db()
    assert (appointment.starts_at, appointment.stylist_id) == (demo.local(DAY, 14), demo.ben.pk)
    assert AppointmentEvent.objects.filter(appointment=appointment, kind="moved").get().by_name == "fred"
    assert Message.objects.filter(appointment=appointment, kind=Message.Kind.VISIT_CHANGED).count() == 1
    after = desk.front.get(response["Location"])
    assert "Moved to" in text(after) and "Moved at the desk by fred" in text(after)


def test_the_desk_moves_inside_the_notices_that_bind_customers(desk, demo):
    demo.salon.change_notice_minutes = 24 * 60
    demo.salon.save()
    appointment = book(demo, 10)
    with pytest.raises(BookingError) as refused:  # the customer, online: too late
        services.visit_reschedule(appointment_id=appointment.pk, start=demo.local(DAY, 11), now=NOW)
    assert refused.value.code == "too_late_to_change"

    # 16:30 today: inside the salon's minimum notice of an hour, and its change notice.
    response = desk.front.post(url(appointment), move_form(appointment, "16:30", day=NOW.date()))

    assert response.status_code == 302, text(response)
    appointment.refresh_from_db()
    assert appointment.starts_at == demo.local(NOW.date(), 16, 30)


def test_a_refusal_is_a_sentence_and_nothing_moves(desk, demo):
    appointment = book(demo, 10)
    book(demo, 14, email="other@example.com")
    TimeOffFactory(stylist=demo.ana, start=demo.local(DAY, 16), end=demo.local(DAY, 18))

    taken = desk.front.post(url(appointment), move_form(appointment, "14:30"))
    away = desk.front.post(url(appointment), move_form(appointment, "16:00", nonce="n2"))
    bad = desk.front.post(url(appointment), {"date": "tomorrow", "time": "", "nonce": "n3"})

    assert taken.status_code == 409 and "That time has just been taken" in text(taken)
    assert away.status_code == 409 and "away at that time" in text(away)
    assert bad.status_code == 400 and "Give a date." in text(bad)
    appointment.refresh_from_db()
    assert appointment.starts_at == demo.local(DAY, 10)
    assert not AppointmentEvent.objects.filter(kind="moved").exists()


def test_sending_the_form_twice_moves_once(desk, demo):
    appointment = book(demo, 10)
    form = move_form(appointment, "15:00")

    first = desk.front.post(url(appointment), form)
    second = desk.front.post(url(appointment), form)

    assert first.status_code == second.status_code == 302
    assert Message.objects.filter(kind=Message.Kind.VISIT_CHANGED).count() == 1


def test_stylists_cannot_move_and_cancelled_visits_do_not_move(desk, demo):
    appointment = book(demo, 10)
    assert desk.ana.get(url(appointment)).status_code == 403
    assert desk.ana.post(url(appointment), move_form(appointment, "15:00")).status_code == 403

    services.appointment_cancel(appointment_id=appointment.pk, now=NOW)
    gone = desk.front.get(url(appointment))
    assert gone.status_code == 409 and "A cancelled appointment cannot be moved." in text(gone)


@pytest.mark.concurrency
@pytest.mark.skipif(connection.vendor == "sqlite", reason="SQLite serialises writers with BEGIN IMMEDIATE")
def test_two_desks_moving_two_visits_into_one_time_move_one(demo_tx, django_user_model, time_machine):
    time_machine.move_to(NOW, tick=False)
    desk = make_desk(demo_tx, django_user_model)
    first = book(demo_tx, 9, email="a@example.com")
    second = book(demo_tx, 11, email="b@example.com")
    barrier = threading.Barrier(2)

    def move(appointment, client: Client, nonce: str) -> int:
        try:
            barrier.wait(timeout=10)
            return client.post(url(appointment), move_form(appointment, "15:00", nonce=nonce)).status_code
        finally:
            connections.close_all()

    with ThreadPoolExecutor(2) as pool:
        codes = sorted(
            pool.map(lambda args: move(*args), [(first, desk.front, "x1"), (second, desk.manager, "x2")])
        )

    assert codes == [302, 409]
    at_three = Appointment.objects.filter(starts_at=demo_tx.local(DAY, 15), status="confirmed")
    assert at_three.count() == 1


# --- the calendar's drag and keyboard moves: the same endpoint, answered in JSON ---

JSON = {"HTTP_ACCEPT": "application/json"}


def test_the_calendars_move_is_answered_in_json_and_the_calendar_then_says_so(desk, demo):
    appointment = book(demo, 10)
    form = move_form(appointment, "15:00", stylist=demo.ben) | {"time_of": "appointment"}

    response = desk.front.post(url(appointment), form, **JSON)

    assert response.status_code == 200
    assert response.json() == {"message": "Moved to Tuesday, March 2, 2027, 3:00 PM \u2013 4:00 PM PST."}
    appointment.refresh_from_db()
    assert (appointment.starts_at, appointment.stylist_id) == (demo.local(DAY, 15), demo.ben.pk)
    assert AppointmentEvent.objects.filter(appointment=appointment, kind="moved").count() == 1
    # The script reloads the calendar: the move's sentence is shown there.
    calendar = desk.front.get(f"{reverse('frontdesk:day')}?date={DAY}")
    assert "Moved to Tuesday, March 2, 2027" in text(calendar)


def test_a_dragged_second_service_moves_its_visit_by_its_own_new_start(desk, demo):
    colour, haircut = services.visit_book(
        items=[
            services.ItemRequest(demo.colour.pk, demo.ana.pk),
            services.ItemRequest(demo.haircut.pk, demo.ben.pk),
        ],
        start=demo.local(DAY, 9),
        customer_name="Kim",
        customer_email="kim@example.com",
        now=NOW,
    )
    assert haircut.starts_at == demo.local(DAY, 11)

    # The haircut's block dropped at 16:00 in Ben's own column: each keeps its stylist.
    response = desk.front.post(url(haircut), move_form(haircut, "16:00") | {"time_of": "appointment"}, **JSON)

    assert response.status_code == 200, response.content
    colour.refresh_from_db()
    haircut.refresh_from_db()
    assert (colour.starts_at, colour.stylist_id) == (demo.local(DAY, 14), demo.ana.pk)
    assert (haircut.starts_at, haircut.stylist_id) == (demo.local(DAY, 16), demo.ben.pk)


def test_the_no_js_form_still_names_the_visits_start(desk, demo):
    colour, haircut = services.visit_book(
        items=[
            services.ItemRequest(demo.colour.pk, demo.ana.pk),
            services.ItemRequest(demo.haircut.pk, demo.ben.pk),
        ],
        start=demo.local(DAY, 9),
        customer_name="Kim",
        customer_email="kim@example.com",
        now=NOW,
    )

    response = desk.front.post(url(haircut), move_form(haircut, "14:00"))

    assert response.status_code == 302
    colour.refresh_from_db()
    assert colour.starts_at == demo.local(DAY, 14)


def test_the_calendars_move_hears_a_refusal_as_a_sentence_in_json(desk, demo):
    appointment = book(demo, 10)
    book(demo, 14, email="other@example.com")

    taken = desk.front.post(
        url(appointment), move_form(appointment, "14:30") | {"time_of": "appointment"}, **JSON
    )
    bad = desk.front.post(url(appointment), {"date": "", "time": "10:00", "nonce": "n2"}, **JSON)

    assert taken.status_code == 409
    assert taken.json()["error"].startswith("That time has just been taken")
    assert bad.status_code == 400 and bad.json() == {"error": "Give a date."}
    appointment.refresh_from_db()
    assert appointment.starts_at == demo.local(DAY, 10)
    # A refusal sets no flash message for the next page.
    assert "Moved to" not in text(desk.front.get(reverse("frontdesk:day")))

    services.appointment_cancel(appointment_id=appointment.pk, now=NOW)
    gone = desk.front.post(url(appointment), move_form(appointment, "15:00", nonce="n3"), **JSON)
    assert gone.status_code == 409 and gone.json() == {"error": "A cancelled appointment cannot be moved."}


def test_a_browsers_own_form_post_is_not_answered_in_json(desk, demo):
    appointment = book(demo, 10)
    browser = {"HTTP_ACCEPT": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}

    response = desk.front.post(url(appointment), move_form(appointment, "15:00"), **browser)

    assert response.status_code == 302


def test_the_calendar_marks_movable_blocks_for_the_desk_only(desk, demo):
    appointment = book(demo, 10)
    day = f"{reverse('frontdesk:day')}?date={DAY}"

    front = desk.front.get(day).content.decode()
    ana = desk.ana.get(day).content.decode()

    assert f'data-move="/desk/appointment/{appointment.pk}/move/"' in front
    assert 'id="cal-move"' in front and "csrfmiddlewaretoken" in front
    assert "data-move=" not in ana and 'id="cal-move"' not in ana
    assert 'src="/static/frontdesk/calendar.js" defer' in front
