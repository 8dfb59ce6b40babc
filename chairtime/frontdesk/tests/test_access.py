"""Roles: who may open which desk page, enforced on the server."""

from __future__ import annotations

import html
import re

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from chairtime.booking import services
from chairtime.booking.models import Appointment, Salon
from chairtime.clients import services as client_cards
from chairtime.clients.models import Client
from chairtime.frontdesk import calendar
from chairtime.frontdesk.models import AppointmentEvent, Role, StaffMember
from chairtime.frontdesk.tests.conftest import DAY, NOW


def text(response) -> str:
    body = re.sub(r"<[^>]+>", " ", response.content.decode())
    return " ".join(html.unescape(body).split())


def test_it_sends_anonymous_visitors_to_the_desk_login(client, demo):
    for name in ("home", "day", "week", "book"):
        response = client.get(reverse(f"frontdesk:{name}"))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("frontdesk:login") + "?next=")


def test_it_refuses_a_signed_in_user_without_a_role(client, demo, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="someone", password="x"))
    response = client.get(reverse("frontdesk:home"))
    assert response.status_code == 403
    assert "Your account has no role at the front desk" in text(response)


def test_it_shows_each_role_the_links_it_may_use(desk):
    manager = text(desk.manager.get(reverse("frontdesk:home")))
    front = text(desk.front.get(reverse("frontdesk:home")))
    stylist = text(desk.ana.get(reverse("frontdesk:home")))
    assert "Django admin" in manager
    assert "Book a walk-in" in manager
    assert "Django admin" not in front
    assert "Book a walk-in" in front
    assert "Django admin" not in stylist
    assert "Book a walk-in" not in stylist
    assert "Today's calendar" in stylist


def test_it_lists_todays_appointments_on_the_home_page(desk, demo, clock):
    from chairtime.booking.tests.factories import AppointmentFactory

    AppointmentFactory(
        service=demo.haircut, stylist=demo.ana, starts_at=NOW.replace(hour=17), customer_name="Zoe"
    )
    AppointmentFactory(
        service=demo.haircut,
        stylist=demo.ben,
        starts_at=NOW.replace(hour=17),
        customer_name="Yan",
        customer_email="yan@example.com",
    )
    assert "Zoe" in text(desk.front.get(reverse("frontdesk:home")))
    assert "Yan" in text(desk.front.get(reverse("frontdesk:home")))
    ana = text(desk.ana.get(reverse("frontdesk:home")))
    assert "Zoe" in ana
    assert "Yan" not in ana


def test_it_refuses_a_stylist_another_stylists_calendar_by_url(desk, demo):
    url = f"{reverse('frontdesk:week')}?date={DAY}&stylist={demo.ben.pk}"
    response = desk.ana.get(url)
    assert response.status_code == 403
    assert "not another stylist's" in text(response)
    assert desk.ben.get(url).status_code == 200
    assert desk.front.get(url).status_code == 200


def test_it_refuses_a_stylist_everyones_week(desk):
    response = desk.ana.get(f"{reverse('frontdesk:week')}?stylist=all")
    assert response.status_code == 403
    assert "only their own calendar" in text(response)


def test_it_shows_a_stylist_only_their_own_column_of_the_day(desk, demo):
    page = desk.ana.get(f"{reverse('frontdesk:day')}?date={DAY}")
    assert page.status_code == 200
    names = re.findall(r'<h3 id="col-\d+" class="cal__name[^"]*">([^<]+)', page.content.decode())
    assert names == ["Ana"]
    names = re.findall(
        r'<h3 id="col-\d+" class="cal__name[^"]*">([^<]+)',
        desk.front.get(f"{reverse('frontdesk:day')}?date={DAY}").content.decode(),
    )
    assert names == ["Ana", "Ben"]


def stylist_booking(demo, stylist, **changes) -> dict:
    return {
        "services": [demo.haircut.pk],
        "stylist": stylist.pk,
        "date": DAY.isoformat(),
        "time": "10:00",
        "customer_name": "Walk In",
        "customer_phone": "+1 415 555 0100",
        "nonce": "n-1",
    } | changes


def test_a_stylist_books_a_walk_in_into_their_own_column(desk, demo):
    form = desk.ana.get(f"{reverse('frontdesk:book')}?stylist={demo.ana.pk}&start={DAY}T10:00")
    assert form.status_code == 200
    select = re.search(r'<select name="stylist".*?</select>', form.content.decode(), re.S).group()
    stylists = re.findall(r'<option value="(\d+)"', select)
    assert stylists == [str(demo.ana.pk)]  # only themself to choose

    response = desk.ana.post(reverse("frontdesk:book"), stylist_booking(demo, demo.ana))

    assert response.status_code == 302
    appointment = Appointment.objects.get()
    assert (appointment.stylist_id, appointment.starts_at) == (demo.ana.pk, demo.local(DAY, 10))
    assert AppointmentEvent.objects.get().by_name == "ana"


def test_a_stylist_cannot_book_into_another_stylists_column(desk, demo):
    by_link = desk.ana.get(f"{reverse('frontdesk:book')}?stylist={demo.ben.pk}&start={DAY}T10:00")
    by_form = desk.ana.post(reverse("frontdesk:book"), stylist_booking(demo, demo.ben))

    for response in (by_link, by_form):
        assert response.status_code == 403
        assert "books only into their own column, not another stylist's" in text(response)
    assert not Appointment.objects.exists()
    assert desk.front.post(reverse("frontdesk:book"), stylist_booking(demo, demo.ben)).status_code == 302


def test_a_stylists_calendar_links_free_slots_only_in_their_own_column(desk, demo, clock):
    salon = Salon.cached()
    ana = StaffMember.objects.get(user__username="ana")
    grid = calendar.layout(
        salon,
        calendar.read(salon, [demo.ana, demo.ben], DAY, DAY),
        [demo.ana, demo.ben],
        [DAY],
        now=NOW,
        appointment_url=str,
        book_url=lambda stylist, local: f"{stylist.name}@{local:%H:%M}",
        may_book_for=ana.may_book_for,
    )

    free = {c.stylist.name: [b.url for b in c.blocks if b.kind == "free"] for c in grid.groups[0].columns}
    assert "Ana@10:00" in free["Ana"]
    assert free["Ben"] == []
    page = desk.ana.get(f"{reverse('frontdesk:day')}?date={DAY}").content.decode()
    assert f"/desk/book/?stylist={demo.ana.pk}&amp;start={DAY}T10:00" in page
    assert f"stylist={demo.ben.pk}" not in page


def test_a_stylist_finds_and_picks_only_their_own_clients(desk, demo, clock):
    mine = Client.objects.create(salon=demo.salon, name="Mina Own", created_at=timezone.now())
    theirs = Client.objects.create(salon=demo.salon, name="Mina Other", created_at=timezone.now())
    [visit] = services.visit_book(
        items=[services.ItemRequest(demo.haircut.pk, demo.ana.pk)],
        start=demo.local(DAY, 15),
        customer_name="Mina Own",
        customer_email="",
        now=timezone.now(),
        by_staff=True,
    )
    client_cards.attach(client=mine, appointment_ids=[visit.pk], now=timezone.now())
    book = reverse("frontdesk:book")

    found = text(desk.ana.get(f"{book}?client_q=Mina"))
    picked_other = text(desk.ana.get(f"{book}?client={theirs.pk}"))
    sent_other = desk.ana.post(book, stylist_booking(demo, demo.ana, client=theirs.pk))

    assert "Book for Mina Own" in found and "Mina Other" not in found
    assert "Mina Other" not in picked_other
    assert sent_other.status_code == 400
    assert "That client card is no longer there" in text(sent_other)
    assert "Book for Mina Other" in text(desk.front.get(f"{book}?client_q=Mina"))


def test_it_refuses_a_stylist_another_stylists_appointment_by_url(desk, demo):
    from chairtime.booking.tests.factories import AppointmentFactory

    theirs = AppointmentFactory(service=demo.haircut, stylist=demo.ben)
    url = reverse("frontdesk:appointment", args=[theirs.pk])
    assert desk.ana.get(url).status_code == 403
    assert desk.ben.get(url).status_code == 200
    response = desk.ana.post(reverse("frontdesk:status", args=[theirs.pk]), {"action": "arrived"})
    assert response.status_code == 403


def test_it_answers_a_bad_date_with_a_sentence(desk):
    response = desk.front.get(f"{reverse('frontdesk:day')}?date=2027-02-30")
    assert response.status_code == 400
    assert "That is not a date" in text(response)


def test_it_signs_staff_in_with_the_desks_own_page(client, demo, django_user_model, clock):
    user = django_user_model.objects.create_user(username="fred", password="a long pass phrase")
    StaffMember.objects.create(user=user, role=Role.FRONT_DESK)
    page = client.get(reverse("frontdesk:login"))
    assert page.status_code == 200
    response = client.post(reverse("frontdesk:login"), {"username": "fred", "password": "a long pass phrase"})
    assert response.status_code == 302
    assert response["Location"] == reverse("frontdesk:home")
    assert client.get(reverse("frontdesk:home")).status_code == 200


def test_the_command_creates_each_role(demo, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("correct horse battery staple\n"))
    call_command("desk_staff", "maria", "--role", "manager")
    maria = StaffMember.objects.get(user__username="maria")
    assert maria.role == Role.MANAGER
    assert maria.user.is_staff and maria.user.check_password("correct horse battery staple")

    call_command("desk_staff", "ana", "--role", "stylist", "--stylist", "ana", "--no-password")
    ana = StaffMember.objects.get(user__username="ana")
    assert ana.stylist == demo.ana
    assert not ana.user.is_staff
    assert not ana.user.has_usable_password()

    with pytest.raises(CommandError, match="needs --stylist"):
        call_command("desk_staff", "ben", "--role", "stylist", "--no-password")
    with pytest.raises(CommandError, match="no stylist with the key"):
        call_command("desk_staff", "ben", "--role", "stylist", "--stylist", "nobody", "--no-password")


def test_a_stylists_account_must_name_a_stylist(demo, django_user_model):
    from django.db import IntegrityError, transaction

    user = django_user_model.objects.create_user(username="x", password="x")
    with pytest.raises(IntegrityError), transaction.atomic():
        StaffMember.objects.create(user=user, role=Role.STYLIST)
