"""The waitlist through its stable interfaces: the API (POST /waitlist, DELETE
/waitlist/{id}) and the customer pages (join from a day with no free times,
leave, the offer page that books in one step); its e-mails are in
chairtime/messages/tests/test_waitlist_emails.py. Days are relative to the real
clock."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from chairtime.booking import services, waitlist
from chairtime.booking.models import Appointment, WaitlistEntry, WaitlistOffer
from chairtime.booking.tests.test_api import API, documented, post
from chairtime.booking.tests.test_waitlist import book_ten, only_ten_o_clock
from chairtime.booking.tokens import (
    make_offer_token,
    make_waitlist_token,
    read_offer_token,
    read_waitlist_token,
)


@pytest.fixture
def full_day(demo):
    day = demo.next_working_day(3)
    only_ten_o_clock(demo, day)
    booked = book_ten(demo, now=timezone.now(), day=day)
    return demo, day, booked


def linked(text: str) -> dict[str, set[int]]:
    """The places and offers that ``text`` links (their tokens read back: a token
    signs the second it was made, so two made for one id may differ)."""
    return {
        "places": {read_waitlist_token(t) for t in re.findall(r"/waitlist/([^/\"\s]+)/leave/", text)},
        "offers": {read_offer_token(t) for t in re.findall(r"/waitlist/offer/([^/\"\s]+)/", text)},
    }


def waitlist_body(demo, day, **changes) -> dict:
    body = {
        "service": demo.haircut.pk,
        "stylist": demo.ana.pk,
        "date": day.isoformat(),
        "customer": {"name": "Wanda Wait", "email": "wanda@example.com"},
    }
    return {**body, **changes}


def offered(demo, day, booked, *, now=None) -> WaitlistOffer:
    entry = waitlist.waitlist_join(
        service_id=demo.haircut.pk,
        stylist_id=None,
        day=day,
        customer_name="Wanda Wait",
        customer_email="wanda@example.com",
        now=now,
    )
    services.appointment_cancel(appointment_id=booked.pk, now=now)
    (offer,) = waitlist.waitlist_offer_freed_time(day=day, now=now)
    assert offer.entry == entry
    return offer


# --- API -------------------------------------------------------------------------------------


def test_the_api_puts_a_customer_on_the_waitlist_of_a_full_day(client: Client, full_day):
    demo, day, _ = full_day

    response = post(client, "/waitlist", waitlist_body(demo, day))

    assert response.status_code == 201
    body = response.json()
    entry = WaitlistEntry.objects.get()
    assert body["id"] == entry.pk
    assert (body["service"], body["stylist"], body["date"], body["state"]) == (
        demo.haircut.pk,
        demo.ana.pk,
        day.isoformat(),
        "waiting",
    )
    assert body["leave_url"].endswith(reverse("booking:waitlist_leave", args=[body["leave_token"]]))


def test_the_api_refuses_the_waitlist_of_a_day_with_free_times(client: Client, demo):
    day = demo.next_working_day(3)

    response = post(client, "/waitlist", waitlist_body(demo, day))

    assert response.status_code == 409
    assert response.json()["code"] == "times_available"
    assert "free times" in response.json()["detail"]


@pytest.mark.parametrize(
    ("changes", "status", "code"),
    [
        ({"date": "2027-02-30"}, 422, None),
        ({"date": "tomorrow"}, 422, None),
        ({"service": 0}, 422, None),
        ({"customer": {"name": "Wanda"}}, 422, None),
        ({"surprise": 1}, 422, None),
        ({"service": 10**9}, 404, "service_not_found"),
        ({"stylist": 10**9}, 404, "stylist_not_found"),
    ],
)
def test_the_api_refuses_bad_input_with_a_sentence(client: Client, demo, changes, status, code):
    response = post(client, "/waitlist", waitlist_body(demo, demo.next_working_day(3), **changes))

    assert response.status_code == status
    assert response.json()["detail"]
    if code is not None:
        assert response.json()["code"] == code
    assert not WaitlistEntry.objects.exists()


def test_the_api_refuses_a_day_beyond_the_horizon_naming_the_field(client: Client, demo):
    late = timezone.now().date() + timedelta(days=demo.salon.horizon_days + 2)

    response = post(client, "/waitlist", waitlist_body(demo, late))

    assert response.status_code == 422
    assert response.json()["code"] == "waitlist_day"
    assert response.json()["errors"][0]["loc"] == ["body", "date"]


def test_the_api_refuses_malformed_json(client: Client, demo):
    response = post(client, "/waitlist", "{")
    assert response.status_code == 400


def test_the_api_leaves_the_waitlist_with_the_token_only(client: Client, full_day):
    demo, day, _ = full_day
    body = post(client, "/waitlist", waitlist_body(demo, day)).json()
    url = f"{API}/waitlist/{body['id']}"

    forged = documented(client.delete(f"{url}?token={make_waitlist_token(body['id'] + 1)}"))
    assert forged.status_code == 404
    left = documented(client.delete(f"{url}?token={body['leave_token']}"))

    assert left.status_code == 200
    assert left.json()["state"] == "left"
    assert WaitlistEntry.objects.get().state == "left"
    # Leaving again changes nothing.
    assert documented(client.delete(f"{url}?token={body['leave_token']}")).json()["state"] == "left"


# --- pages ---------------------------------------------------------------------------------------


def test_the_no_free_times_page_has_the_join_button_and_the_form_joins(client: Client, full_day):
    demo, day, _ = full_day
    time_url = reverse("booking:time", args=[demo.haircut.pk, demo.ana.pk, day.isoformat()])
    join_url = reverse("booking:waitlist_join", args=[demo.haircut.pk, demo.ana.pk, day.isoformat()])

    page = client.get(time_url).content.decode()
    assert "There are no free times left on this day" in page
    assert f'href="{join_url}"' in page
    assert "Join the waitlist" in client.get(join_url).content.decode()

    refused = client.post(join_url, {"name": "Wanda Wait", "email": "not an address"})
    assert refused.status_code == 400
    assert "valid e-mail address" in refused.content.decode()

    joined = client.post(join_url, {"name": "Wanda Wait", "email": "wanda@example.com"}, follow=True)

    entry = WaitlistEntry.objects.get()
    assert (entry.service, entry.stylist, entry.date, entry.customer_name) == (
        demo.haircut,
        demo.ana,
        day,
        "Wanda Wait",
    )
    assert "You are on the waitlist" in joined.content.decode()
    assert linked(joined.redirect_chain[-1][0])["places"] == {entry.pk}


def test_a_day_with_free_times_has_no_join_button_and_joining_leads_back_to_its_times(client: Client, demo):
    day = demo.next_working_day(3)
    time_url = reverse("booking:time", args=[demo.haircut.pk, "any", day.isoformat()])
    join_url = reverse("booking:waitlist_join", args=[demo.haircut.pk, "any", day.isoformat()])

    assert join_url not in client.get(time_url).content.decode()
    response = client.post(join_url, {"name": "Wanda Wait", "email": "wanda@example.com"})

    assert response.status_code == 302
    assert response["Location"] == time_url
    assert not WaitlistEntry.objects.exists()


def test_the_leave_page_asks_then_leaves(client: Client, full_day):
    demo, day, _ = full_day
    entry = waitlist.waitlist_join(
        service_id=demo.haircut.pk,
        stylist_id=None,
        day=day,
        customer_name="Wanda",
        customer_email="wanda@example.com",
    )
    url = reverse("booking:waitlist_leave", args=[make_waitlist_token(entry.pk)])

    assert "Leave the waitlist" in client.get(url).content.decode()
    left = client.post(url, follow=True).content.decode()

    assert "You have left the waitlist" in left
    entry.refresh_from_db()
    assert entry.state == "left"
    assert client.get(reverse("booking:waitlist_leave", args=["forged"])).status_code == 404


def test_the_offer_page_shows_the_held_time_and_books_it_in_one_step(client: Client, full_day):
    demo, day, booked = full_day
    offer = offered(demo, day, booked)
    url = reverse("booking:waitlist_offer", args=[make_offer_token(offer.pk)])

    page = client.get(url).content.decode()
    assert "A time is held for you" in page
    assert "held for you until" in page
    assert "Book this time" in page
    # The place's page leads there too.
    place = reverse("booking:waitlist_leave", args=[make_waitlist_token(offer.entry_id)])
    assert linked(client.get(place).content.decode())["offers"] == {offer.pk}

    response = client.post(url)

    appointment = Appointment.objects.get(status="confirmed")
    assert response.status_code == 302
    assert response["Location"].startswith("/booking/")
    assert appointment.customer_email == "wanda@example.com"
    assert appointment.starts_at == demo.local(day, 10)
    assert "You booked this time" in client.get(url).content.decode()


def test_the_offer_page_says_clearly_when_the_hold_has_ended(client: Client, full_day):
    demo, day, booked = full_day
    offer = offered(demo, day, booked, now=timezone.now() - timedelta(minutes=31))
    url = reverse("booking:waitlist_offer", args=[make_offer_token(offer.pk)])

    page = client.get(url).content.decode()
    assert "This offer has ended" in page
    assert "Book another time" in page

    response = client.post(url)
    assert response.status_code == 409
    assert "This offer has ended" in response.content.decode()
    assert not Appointment.objects.filter(status="confirmed").exists()
    assert client.get(reverse("booking:waitlist_offer", args=["forged"])).status_code == 404


def test_the_day_page_links_a_fully_booked_day_to_its_times_page_and_waitlist(client: Client, full_day):
    demo, day, _ = full_day
    time_url = reverse("booking:time", args=[demo.haircut.pk, demo.ana.pk, day.isoformat()])

    page = client.get(reverse("booking:day", args=[demo.haircut.pk, demo.ana.pk])).content.decode()

    assert f'href="{time_url}"' in page
    assert "A fully booked day has a waitlist" in page
    # A visit of two services has no waitlist: its full days are not links.
    visit = client.get(
        reverse("booking:day", args=[demo.haircut.pk, demo.ana.pk]), {"then": f"{demo.colour.pk}-any"}
    ).content.decode()
    assert "A fully booked day has a waitlist" not in visit
    assert f'href="{time_url}?' not in visit


def test_new_hours_from_the_back_office_offer_the_time_they_make(client: Client, django_user_model, full_day):
    demo, day, _ = full_day
    entry = waitlist.waitlist_join(
        service_id=demo.haircut.pk,
        stylist_id=None,
        day=day,
        customer_name="Wanda",
        customer_email="wanda@example.com",
    )
    DBTaskResult.objects.all().delete()
    client.force_login(django_user_model.objects.create_superuser("manager", "manager@example.com", "x"))

    # Ben gets an extra shift that day (his special hours replace the 07:00 one).
    response = client.post(
        "/admin/booking/specialhours/add/",
        {
            "salon": demo.salon.pk,
            "stylist": demo.ben.pk,
            "date": day.isoformat(),
            "start": "14:00",
            "end": "15:00",
            "_save": "Save",
        },
    )

    assert response.status_code == 302
    (task,) = DBTaskResult.objects.filter(task_path__endswith="waitlist_offer")
    assert task.args_kwargs["args"] == [day.isoformat()]
    (offer,) = waitlist.waitlist_offer_freed_time(day=day)
    assert (offer.entry, offer.stylist, offer.starts_at) == (entry, demo.ben, demo.local(day, 14))
