"""The staff's client pages: who may open them, search, the card, notes, formulas."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from chairtime.clients import services as client_cards
from chairtime.clients.models import Client, ColourFormula
from chairtime.clients.tests.conftest import CREATED, make_card, staff_user, visit_of
from chairtime.frontdesk.models import Role

FUTURE = datetime(2027, 3, 15, 17, tzinfo=UTC)  # 10:00 in Los Angeles
PAST = datetime(2026, 2, 2, 18, tzinfo=UTC)


def test_it_sends_someone_not_signed_in_to_the_sign_in_page(client, demo):
    card = make_card(demo)
    response = client.get(f"/staff/clients/{card.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/desk/login/")


def test_it_refuses_an_account_without_a_role_at_the_desk(client, demo):
    card = make_card(demo)
    client.force_login(User.objects.create_user("staff", is_staff=True, is_superuser=True))
    for url in (f"/staff/clients/{card.pk}/", "/staff/clients/", f"/staff/clients/{card.pk}/export/"):
        response = client.get(url)
        assert response.status_code == 403
        assert "no role at the front desk" in response.content.decode()


def test_a_stylist_finds_and_opens_only_their_own_clients(client, demo):
    mine = make_card(demo, name="Alex Mine", email="mine@example.com")
    visit_of(mine, demo, PAST)  # with Ana
    theirs = make_card(demo, name="Alex Theirs", email="theirs@example.com")
    visit_of(theirs, demo, PAST + timedelta(days=1), stylist=demo.ben)
    client.force_login(staff_user("ana", Role.STYLIST, stylist=demo.ana))

    listed = client.get("/staff/clients/?q=alex").content.decode()
    assert "Alex Mine" in listed
    assert "Alex Theirs" not in listed

    assert client.get(f"/staff/clients/{mine.pk}/").status_code == 200
    refused = client.get(f"/staff/clients/{theirs.pk}/")
    assert refused.status_code == 403
    assert "sees only their own clients" in refused.content.decode()
    # By URL, writing is refused the same way, and nothing is written.
    assert client.post(f"/staff/clients/{theirs.pk}/notes/", {"notes": "x"}).status_code == 403
    theirs.refresh_from_db()
    assert theirs.notes == ""


def test_a_stylist_writes_formulas_on_their_clients_but_neither_exports_nor_erases(client, demo):
    card = make_card(demo)
    appointment = visit_of(card, demo, PAST)
    client.force_login(staff_user("ana", Role.STYLIST, stylist=demo.ana))

    page = client.get(f"/staff/clients/{card.pk}/").content.decode()
    assert "Add formula" in page
    assert "Download their data" not in page
    assert "Erase this client" not in page
    response = client.post(
        f"/staff/clients/{card.pk}/formulas/",
        {"date": "2026-02-02", "appointment": str(appointment.pk), "text": "7.1, 20 vol"},
    )
    assert response.status_code == 302
    assert card.formulas.get().text == "7.1, 20 vol"
    assert client.get(f"/staff/clients/{card.pk}/export/").status_code == 403
    assert client.get(f"/staff/clients/{card.pk}/erase/").status_code == 403


def test_it_answers_an_unknown_or_enormous_id_with_not_found(client, demo, desk):
    client.force_login(desk)
    assert client.get("/staff/clients/999/").status_code == 404
    assert client.get(f"/staff/clients/{2**70}/").status_code == 404


@pytest.fixture
def three(demo):
    return [
        make_card(demo, "Zoë Álvarez", "zoe@example.com", "+34 612 34 56 78"),
        make_card(demo, "Alex Doe", "alex@example.com", "(415) 555-0100"),
        make_card(demo, "علی‌رضا", "ali@example.org", ""),
    ]


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("ALEX", ["Alex Doe"]),
        ("lvar", ["Zoë Álvarez"]),
        ("EXAMPLE.ORG", ["علی‌رضا"]),
        ("علی", ["علی‌رضا"]),
        ("415 555", ["Alex Doe"]),
        ("4155550", ["Alex Doe"]),
        ("612-34", ["Zoë Álvarez"]),
        ("example", ["Alex Doe", "Zoë Álvarez", "علی‌رضا"]),
        ("", ["Alex Doe", "Zoë Álvarez", "علی‌رضا"]),
        ("nobody", []),
    ],
)
def test_it_finds_cards_by_part_of_a_name_email_or_phone_in_any_case(client, desk, three, query, found):
    client.force_login(desk)
    response = client.get("/staff/clients/", {"q": query})
    assert response.status_code == 200
    assert [c.name for c in response.context["page"].object_list] == found


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("Alex\x00", ["Alex Doe"]),  # the NUL is dropped: PostgreSQL would refuse it
        ("\x00", ["Alex Doe", "Zoë Álvarez", "علی‌رضا"]),  # nothing left: every card
        ("A" * 10_000, []),
        ("%", []),  # LIKE's wildcards are matched as themselves
        ("_", []),
        ("\\", []),
    ],
)
def test_it_answers_hostile_searches_without_an_error(client, desk, three, query, found):
    client.force_login(desk)
    response = client.get("/staff/clients/", {"q": query, "page": "99999999999999999999"})
    assert response.status_code == 200
    assert [c.name for c in response.context["page"].object_list] == found


def test_it_lists_no_erased_card_and_pages_through_many(client, demo, desk):
    Client.objects.bulk_create(
        Client(salon=demo.salon, name=f"Client {n:02d}", email=f"c{n}@example.com", created_at=CREATED)
        for n in range(30)
    )
    Client.objects.create(salon=demo.salon, name="", email=None, created_at=CREATED, erased_at=CREATED)
    client.force_login(desk)

    first = client.get("/staff/clients/")
    second = client.get("/staff/clients/", {"page": "2"})
    beyond = client.get("/staff/clients/", {"page": "abc"})

    assert len(first.context["page"].object_list) == 25
    assert [c.name for c in second.context["page"].object_list] == [f"Client {n}" for n in range(25, 30)]
    assert beyond.context["page"].number == 1
    assert b"Next page" in first.content and b"page 1 of 2" in first.content


def test_the_card_shows_contact_visits_and_late_cancellations(client, demo, desk):
    demo.salon.change_notice_minutes = 24 * 60
    demo.salon.save()
    card = make_card(demo)
    visit_of(card, demo, FUTURE)
    visit_of(card, demo, PAST)
    visit_of(card, demo, PAST + timedelta(days=7), cancelled_before=timedelta(hours=2))  # late
    visit_of(card, demo, PAST + timedelta(days=14), cancelled_before=timedelta(days=3))  # in good time
    client.force_login(desk)

    response = client.get(f"/staff/clients/{card.pk}/")

    assert response.status_code == 200
    page = response.content.decode()
    assert "alex@example.com" in page and "+1 415 555 0100" in page
    assert response.context["card"].late_cancels == 1
    assert len(response.context["upcoming"]) == 1
    assert len(response.context["past"]) == 3
    assert "Monday, March 15, 2027, 10:00 AM" in page  # the salon's time, not UTC
    assert "Not recorded yet" in page  # no-shows: the front desk will record them


def test_the_card_reads_a_long_history_in_as_many_queries_as_a_short_one(client, demo, desk):
    card = make_card(demo)
    visit_of(card, demo, PAST)
    client.force_login(desk)
    client.get(f"/staff/clients/{card.pk}/")  # the session and the salon, cached once

    with CaptureQueriesContext(connection) as short:
        client.get(f"/staff/clients/{card.pk}/")
    for n in range(1, 15):
        appointment = visit_of(card, demo, PAST + timedelta(days=n))
        ColourFormula.objects.create(
            client=card,
            appointment=appointment,
            date=date(2026, 2, 2),
            text="6.1",
            staff=desk,
            created_at=CREATED,
        )
    with CaptureQueriesContext(connection) as long:
        response = client.get(f"/staff/clients/{card.pk}/")

    assert len(response.context["past"]) == 15
    # The session, the user, their staff role, the card, its visits, its formulas.
    assert len(long) == len(short) <= 7


def test_staff_save_notes(client, demo, desk):
    card = make_card(demo)
    client.force_login(desk)

    response = client.post(f"/staff/clients/{card.pk}/notes/", {"notes": "  Prefers Ana. Sensitive scalp. "})

    assert response.status_code == 302
    card.refresh_from_db()
    assert card.notes == "Prefers Ana. Sensitive scalp."


def test_an_erased_card_offers_no_writing(client, demo, manager):
    card = make_card(demo)
    client_cards.client_erase(client_id=card.pk, by=manager, now=PAST)
    client.force_login(manager)

    assert b"Save notes" not in client.get(f"/staff/clients/{card.pk}/").content
    assert client.post(f"/staff/clients/{card.pk}/notes/", {"notes": "x"}).status_code == 409


def test_staff_add_a_dated_formula_for_a_visit(client, demo, desk):
    card = make_card(demo)
    appointment = visit_of(card, demo, PAST)
    client.force_login(desk)

    response = client.post(
        f"/staff/clients/{card.pk}/formulas/",
        {"date": "2026-02-02", "appointment": str(appointment.pk), "text": "6.1 + 7.1 (1:1), 20 vol, 35 min"},
    )

    assert response.status_code == 302
    formula = ColourFormula.objects.get()
    assert (formula.client, formula.appointment, formula.date, formula.staff) == (
        card,
        appointment,
        date(2026, 2, 2),
        desk,
    )
    assert "6.1 + 7.1 (1:1), 20 vol, 35 min" in client.get(f"/staff/clients/{card.pk}/").content.decode()


@pytest.mark.parametrize(
    ("data", "sentence"),
    [
        ({"date": "02/02/2026", "text": "6.1"}, "Give a date as YYYY-MM-DD."),
        ({"date": "1700-01-01", "text": "6.1"}, "The date must be between"),
        ({"date": "2026-02-02", "text": ""}, "Write the formula."),
        ({"date": "2026-02-02", "text": "6.1", "appointment": "999999"}, "Select a valid choice"),
    ],
)
def test_a_bad_formula_is_refused_with_a_sentence(client, demo, desk, data, sentence):
    card = make_card(demo)
    client.force_login(desk)

    response = client.post(f"/staff/clients/{card.pk}/formulas/", data)

    assert response.status_code == 400
    assert sentence in response.content.decode()
    assert not ColourFormula.objects.exists()


def test_another_clients_visit_cannot_take_a_formula(client, demo, desk):
    card = make_card(demo)
    stranger = make_card(demo, "Sam", "sam@example.com")
    theirs = visit_of(stranger, demo, PAST)
    client.force_login(desk)

    response = client.post(
        f"/staff/clients/{card.pk}/formulas/", {"date": "2026-02-02", "text": "6.1", "appointment": theirs.pk}
    )

    assert response.status_code == 400
    assert not ColourFormula.objects.exists()
