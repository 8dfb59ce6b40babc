"""The customer's "Change time" pages through Django's test client: the visit's
free times with its own time counted free, the confirmation, the move, its
refusals, and the salon's change notice on the manage page.

The clock is frozen at Monday 2027-03-01 10:10 in Los Angeles (the demo salon's zone).
"""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from chairtime.booking import services, tokens
from chairtime.booking.models import Appointment
from chairtime.booking.services import ItemRequest
from chairtime.booking.tests.test_pages import NOW, TOMORROW, clock, text
from chairtime.booking.views import DASH
from chairtime.messages.models import Message

__all__ = ["clock"]  # a fixture, used by name


def book(demo, day: date, hh: int, mm: int = 0, *, stylist=None, email="zoe@example.com") -> Appointment:
    return services.appointment_book(
        service_id=demo.haircut.pk,
        stylist_id=(stylist or demo.ana).pk,
        start=demo.local(day, hh, mm),
        customer_name="Zoe Park",
        customer_email=email,
        now=NOW,
    )


def urls(appointment: Appointment) -> tuple[str, str]:
    token = tokens.make_manage_token(appointment.pk)
    return reverse("booking:manage", args=[token]), reverse("booking:change", args=[token])


def confirm_url(appointment: Appointment, day: date, start: str) -> str:
    token = tokens.make_manage_token(appointment.pk)
    return reverse("booking:change_confirm", args=[token, day.isoformat(), start])


def test_the_manage_page_offers_to_change_the_time(client, demo, clock):
    appointment = book(demo, TOMORROW, 10)
    manage, change = urls(appointment)

    page = client.get(manage)

    assert f'href="{change}"' in page.content.decode()
    assert "Change time" in text(page)


def test_it_lists_the_day_s_free_times_with_its_own_time_free(client, demo, clock):
    appointment = book(demo, TOMORROW, 10)
    book(demo, TOMORROW, 14, email="other@example.com")  # Ana busy 14:00-15:00
    _, change = urls(appointment)

    page = text(client.get(change))  # the visit's own day first
    assert page == text(client.get(f"{change}?date={TOMORROW.isoformat()}"))

    # 9:30 and 10:30 overlap its own 10:00-11:00: free for it, and offered.
    assert "9:00 AM 9:30 AM 10:00 AM (your time now) 10:30 AM 11:00 AM 11:30 AM 3:00 PM" in page
    assert "1:30 PM" not in page and "2:00 PM" not in page


def test_it_moves_the_visit_after_the_confirmation(client, demo, clock):
    appointment = book(demo, TOMORROW, 10)
    manage, _ = urls(appointment)
    url = confirm_url(appointment, TOMORROW, "10:30")

    confirm = client.get(url)
    assert confirm.status_code == 200
    assert "Move your appointment?" in text(confirm)
    assert f"10:30 AM {DASH} 11:30 AM PST" in text(confirm)
    assert Appointment.objects.get().starts_at == demo.local(TOMORROW, 10)  # a GET changes nothing

    response = client.post(url)

    assert response.status_code == 302
    assert response["Location"] == manage
    page = text(client.get(manage))
    assert "Your appointment has a new time." in page
    assert f"10:30 AM {DASH} 11:30 AM" in page
    assert Appointment.objects.get().starts_at == demo.local(TOMORROW, 10, 30)
    assert Message.objects.filter(kind=Message.Kind.VISIT_CHANGED).count() == 1


def test_a_visit_moves_as_a_whole(client, demo, clock):
    first, second = services.visit_book(
        items=[ItemRequest(demo.haircut.pk, demo.ana.pk), ItemRequest(demo.haircut.pk, demo.ben.pk)],
        start=demo.local(TOMORROW, 9),
        customer_name="Zoe Park",
        customer_email="zoe@example.com",
        now=NOW,
    )

    response = client.post(confirm_url(second, TOMORROW, "14:00"))

    assert response.status_code == 302
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.starts_at, second.starts_at) == (demo.local(TOMORROW, 14), demo.local(TOMORROW, 15))


def test_a_time_taken_meanwhile_is_refused_with_the_day_s_other_times(client, demo, clock):
    appointment = book(demo, TOMORROW, 10)
    url = confirm_url(appointment, TOMORROW, "15:00")
    book(demo, TOMORROW, 15, email="quicker@example.com")

    response = client.post(url)

    assert response.status_code == 409
    page = text(response)
    assert "That time has just been taken." in page
    assert "Free times on Tuesday, March 2" in page
    assert Appointment.objects.get(pk=appointment.pk).starts_at == demo.local(TOMORROW, 10)


@pytest.mark.parametrize(
    ("day", "start", "status"),
    [("2027-02-30", "10:00", 400), ("2027-03-02", "25:00", 400), ("2027-03-14", "02:30", 404)],
)
def test_it_explains_a_malformed_or_impossible_time(client, demo, clock, day, start, status):
    appointment = book(demo, TOMORROW, 10)
    token = tokens.make_manage_token(appointment.pk)

    response = client.get(f"/booking/{token}/change/{day}/{start}/")

    assert response.status_code == status
    assert "Please choose one of the times listed." in text(response)


def test_it_explains_a_malformed_day(client, demo, clock):
    appointment = book(demo, TOMORROW, 10)
    _, change = urls(appointment)

    response = client.get(f"{change}?date=tomorrow")

    assert response.status_code == 400
    assert "Please choose one of the days listed." in text(response)


def test_a_cancelled_appointment_offers_no_change(client, demo, clock):
    appointment = book(demo, TOMORROW, 10)
    services.appointment_cancel(appointment_id=appointment.pk, now=NOW)
    manage, change = urls(appointment)

    assert "Change time" not in text(client.get(manage))
    assert client.get(change)["Location"] == manage
    response = client.post(confirm_url(appointment, TOMORROW, "11:00"))
    assert response.status_code == 409
    assert "cannot be moved" in text(response)


def test_it_refuses_to_move_without_the_csrf_token(demo, clock):
    appointment = book(demo, TOMORROW, 10)
    strict = Client(enforce_csrf_checks=True)
    url = confirm_url(appointment, TOMORROW, "11:00")

    refused = strict.post(url)
    form = strict.get(url).content.decode()
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    moved = strict.post(url, {"csrfmiddlewaretoken": csrf})

    assert refused.status_code == 403
    assert moved.status_code == 302
    assert Appointment.objects.get().starts_at == demo.local(TOMORROW, 11)


# --- The change notice ----------------------------------------------------------------


@pytest.fixture
def notice(demo):
    demo.salon.change_notice_minutes = 24 * 60
    demo.salon.phone = "+1 555 0199"
    demo.salon.save()
    return demo


def test_the_manage_page_says_until_when_changes_are_possible(client, notice, clock):
    appointment = book(notice, TOMORROW, 14)
    manage, _ = urls(appointment)

    page = text(client.get(manage))

    assert "Changes online are possible until Monday, March 1, 2027, 2:00 PM." in page
    assert "Cancel online until Monday, March 1, 2027, 2:00 PM" in page


def test_inside_the_notice_the_buttons_give_way_to_the_phone(client, notice, clock):
    appointment = book(notice, TOMORROW, 10)  # 23 h 50 min from now
    manage, change = urls(appointment)
    token = tokens.make_manage_token(appointment.pk)

    page = text(client.get(manage))
    moved = client.post(confirm_url(appointment, TOMORROW, "11:00"))
    cancelled = client.post(reverse("booking:cancel", args=[token]))

    assert "Change time" not in page
    assert "Cancel appointment" not in page
    assert "changes close 1 day before the start. Please call the salon at +1 555 0199." in page
    assert client.get(change)["Location"] == manage
    assert client.get(reverse("booking:cancel", args=[token]))["Location"] == manage
    for response in (moved, cancelled):
        assert response.status_code == 409
        assert "Please call the salon at +1 555 0199." in text(response)
    assert Appointment.objects.get().is_confirmed
    assert Appointment.objects.get().starts_at == notice.local(TOMORROW, 10)


def test_before_the_notice_begins_it_still_moves(client, notice, clock):
    appointment = book(notice, TOMORROW, 14)
    clock.move_to(notice.local(TOMORROW, 14) - timedelta(hours=24))

    response = client.post(confirm_url(appointment, TOMORROW, "15:00"))

    assert response.status_code == 302


def test_another_day_lists_its_times(client, demo, clock):
    appointment = book(demo, TOMORROW, 10)
    _, change = urls(appointment)
    later = TOMORROW + timedelta(days=1)

    page = text(client.get(f"{change}?date={later.isoformat()}"))

    assert "Free times on Wednesday, March 3" in page
    assert "your time now" not in page
    assert confirm_url(appointment, later, "09:00") in client.get(f"{change}?date={later}").content.decode()
