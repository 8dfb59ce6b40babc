"""The booking pages for stylists' own prices and lengths and for visits of
several services: adding and removing services, the visit's starts, its summary,
booking it, and its private page.

The clock is frozen at Monday 2027-03-01 10:10 in Los Angeles, as in test_pages.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import icalendar
import pytest
import time_machine
from django.urls import reverse

from chairtime.booking import services, tokens
from chairtime.booking.availability import Refusal
from chairtime.booking.models import Appointment, StylistService
from chairtime.booking.tests.factories import (
    AppointmentFactory,
    ResourceFactory,
    ServiceFactory,
    ServicePhaseFactory,
)

LA = ZoneInfo("America/Los_Angeles")
NOW = datetime(2027, 3, 1, 10, 10, tzinfo=LA)  # a Monday
TOMORROW = date(2027, 3, 2)
CONTACT = {"name": "Zoe Park", "email": "zoe@example.com", "phone": "+1 415 555 0100"}


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def text(response) -> str:
    body = re.sub(r"<[^>]+>", " ", response.content.decode())
    return " ".join(html.unescape(body).split())


def own(stylist, service, *, price: str | None = None, minutes: int | None = None) -> None:
    """The stylist's own price and length for the service (saved, so the catalogue hears of it)."""
    row = StylistService.objects.get(stylist=stylist, service=service)
    row.price = Decimal(price) if price is not None else None
    row.duration_minutes = minutes
    row.save()


def slug(stylist) -> str:
    return str(getattr(stylist, "pk", stylist))


def then(*items) -> str:
    return "?" + urlencode([("then", f"{service.pk}-{slug(stylist)}") for service, stylist in items])


def page_url(name: str, service, stylist="any", *more, rest=()) -> str:
    url = reverse(f"booking:{name}", args=[service.pk, slug(stylist), *more])
    return url + (then(*rest) if rest else "")


@pytest.fixture
def senior(demo):
    """Ana is the senior: her haircut is 45 minutes at $65; Ben's is the service's 60 at $50."""
    own(demo.ana, demo.haircut, price="65.00", minutes=45)
    return demo


# --- stylists' own prices and lengths ---------------------------------------------------------


def test_it_shows_from_the_lowest_price_and_the_range_of_lengths_where_stylists_differ(client, senior):
    page = text(client.get("/"))

    assert "Haircut 45 min \u2013 1 h · from $50.00" in page
    assert "Colour 2 h · $50.00" in page  # only Ana: one price, one length


def test_it_shows_each_stylists_own_price_and_length(client, senior):
    page = text(client.get(reverse("booking:stylist", args=[senior.haircut.pk])))

    assert "Any stylist 45 min \u2013 1 h · from $50.00" in page
    assert "Ana 45 min · $65.00" in page
    assert "Ben 1 h · $50.00" in page


def test_it_shows_the_chosen_stylists_figures_in_the_summary(client, senior, clock):
    with_ana = text(
        client.get(page_url("details", senior.haircut, senior.ana, TOMORROW.isoformat(), "10:00"))
    )
    anyone = text(client.get(page_url("details", senior.haircut, "any", TOMORROW.isoformat(), "10:00")))

    assert "Service Haircut Length 45 min Price $65.00 Stylist Ana" in with_ana
    assert "Time 10:00 AM \u2013 10:45 AM PST" in with_ana
    assert "Service Haircut Length 45 min \u2013 1 h Price from $50.00 Stylist Any stylist" in anyone


def test_it_offers_the_senior_stylists_shorter_haircut_where_it_fits(client, senior, clock):
    # 11:30-12:15 fits Ana's morning (until 12:30) in her 45 minutes, not in Ben's hour.
    assert "11:30 AM 11:45 AM" not in text(client.get(page_url("time", senior.haircut, senior.ben, TOMORROW)))
    assert "11:30 AM" in text(client.get(page_url("time", senior.haircut, senior.ana, TOMORROW)))


def test_it_shows_the_booked_price_on_the_confirmation_for_any_stylist(client, senior, clock):
    AppointmentFactory(service=senior.haircut, stylist=senior.ben, starts_at=senior.local(TOMORROW, 10))

    response = client.post(page_url("details", senior.haircut, "any", TOMORROW.isoformat(), "10:00"), CONTACT)

    assert response.status_code == 302
    page = text(client.get(response["Location"]))
    assert "Stylist Ana" in page
    assert "Time 10:00 AM \u2013 10:45 AM PST Price $65.00" in page


# --- adding and removing services -------------------------------------------------------------


def test_it_offers_to_add_another_service_after_the_first(client, demo, clock):
    response = client.get(page_url("day", demo.colour, demo.ana))

    body = response.content.decode()
    assert "Your visit Colour Ana · 2 h · $50.00 Add another service" in text(response)
    assert f'href="{page_url("add", demo.colour, demo.ana)}"' in body
    assert "Remove" not in text(response)  # the only service: choose another one instead


def test_it_adds_a_second_service_with_its_own_stylist(client, senior, clock):
    add = client.get(page_url("add", senior.colour, senior.ana))
    assert add.status_code == 200
    assert "Add another service" in text(add)
    assert "Haircut 45 min \u2013 1 h · from $50.00" in text(add)
    stylists_url = page_url("add_stylist", senior.colour, senior.ana, senior.haircut.pk)
    assert f'href="{stylists_url}"' in add.content.decode()

    who = client.get(stylists_url)
    assert who.status_code == 200
    assert "Who would you like for your haircut? It follows colour in your visit." in text(who)
    assert "Ben 1 h · $50.00" in text(who)
    day = page_url("day", senior.colour, senior.ana, rest=[(senior.haircut, senior.ben)])
    assert f'href="{html.escape(day)}"' in who.content.decode()

    page = text(client.get(day))
    assert "Your visit: 2 services, one after the other" in page
    assert "1. Colour Ana · 2 h · $50.00 Remove colour 2. Haircut Ben · 1 h · $50.00 Remove haircut" in page
    assert "Total time 3 h Total price $100.00" in page


def test_it_removes_a_service_keeping_the_others_in_order(client, demo, clock):
    trim = ServiceFactory(name="Trim", duration_minutes=30)
    demo.ben.services.add(trim)
    day = page_url("day", demo.colour, demo.ana, rest=[(demo.haircut, "any"), (trim, demo.ben)])

    body = client.get(day).content.decode()

    without_first = page_url("day", demo.haircut, "any", rest=[(trim, demo.ben)])
    without_second = page_url("day", demo.colour, demo.ana, rest=[(trim, demo.ben)])
    assert f'href="{html.escape(without_first)}"' in body
    assert f'href="{html.escape(without_second)}"' in body


def test_it_stops_offering_to_add_at_five_services(client, demo, clock):
    four_more = [(demo.haircut, "any")] * 4
    day = client.get(page_url("day", demo.colour, demo.ana, rest=four_more))

    assert day.status_code == 200
    assert "Add another service" not in text(day)
    assert client.get(page_url("add", demo.colour, demo.ana, rest=four_more)).status_code == 400
    assert (
        client.get(
            page_url("day", demo.colour, demo.ana, rest=[*four_more, (demo.haircut, "any")])
        ).status_code
        == 400
    )


def test_it_keeps_the_rest_of_the_visit_when_the_first_stylist_is_chosen_again(client, demo, clock):
    url = reverse("booking:stylist", args=[demo.haircut.pk]) + then((demo.colour, demo.ana))

    body = client.get(url).content.decode()

    assert (
        f'href="{html.escape(page_url("day", demo.haircut, demo.ben, rest=[(demo.colour, demo.ana)]))}"'
        in body
    )


# --- the visit's times, summary and booking ---------------------------------------------------


def test_it_offers_the_visits_starts_only(client, demo, clock):
    # Colour (2 h, Ana) then a haircut (1 h, Ben): Ben is away after 15:00.
    AppointmentFactory(
        service=demo.haircut, stylist=demo.ben, starts_at=demo.local(TOMORROW, 15), customer_email="a@x.org"
    )
    AppointmentFactory(
        service=demo.haircut, stylist=demo.ben, starts_at=demo.local(TOMORROW, 16), customer_email="b@x.org"
    )
    AppointmentFactory(
        service=demo.haircut, stylist=demo.ben, starts_at=demo.local(TOMORROW, 17), customer_email="c@x.org"
    )

    page = text(
        client.get(page_url("time", demo.colour, demo.ana, TOMORROW, rest=[(demo.haircut, demo.ben)]))
    )

    # 09:00: colour to 11:00, haircut 11:00-12:00. 13:30: colour to 15:30, Ben busy.
    assert "2 free times to start your visit. Times are the salon's local time (PST)." in page
    assert "Morning 9:00 AM 9:30 AM Choose another day" in page
    assert "1:30 PM" not in page


def test_it_offers_the_visits_first_available_starts_as_links_that_keep_the_visit(client, demo, clock):
    rest = [(demo.haircut, demo.ben)]

    response = client.get(page_url("day", demo.colour, demo.ana, rest=rest))

    # Monday: 11:30 is the first start with the notice, and the colour would cross
    # Ana's break; the afternoon's 13:30 and 14:00 put Ben's haircut at 15:30 and 16:00.
    assert "First available Mon, Mar 1, 1:30 PM Mon, Mar 1, 2:00 PM Mon, Mar 1, 2:30 PM" in text(response)
    first = page_url("details", demo.colour, demo.ana, "2027-03-01", "13:30", rest=rest)
    assert f'href="{html.escape(first)}"' in response.content.decode()
    assert client.get(first).status_code == 200


def test_it_shows_each_service_with_its_times_and_the_visits_totals(client, senior, clock):
    url = page_url(
        "details",
        senior.colour,
        senior.ana,
        TOMORROW.isoformat(),
        "09:00",
        rest=[(senior.haircut, senior.ben)],
    )

    response = client.get(url)

    assert response.status_code == 200
    page = text(response)
    assert "1. Colour Ana · 9:00 AM \u2013 11:00 AM · 2 h · $50.00" in page
    assert "2. Haircut Ben · 11:00 AM \u2013 12:00 PM · 1 h · $50.00" in page
    assert "Day Tuesday, March 2 Time 9:00 AM \u2013 12:00 PM PST Total time 3 h Total price $100.00" in page
    assert "Book visit (2 services)" in page


def test_it_says_when_the_times_depend_on_which_stylist_any_turns_out_to_be(client, senior, clock):
    url = page_url(
        "details", senior.haircut, "any", TOMORROW.isoformat(), "09:00", rest=[(senior.colour, senior.ana)]
    )

    page = text(client.get(url))

    assert "1. Haircut Any stylist · 45 min \u2013 1 h · from $50.00" in page
    assert "2. Colour Ana · 2 h · $50.00" in page
    assert "Starts 9:00 AM PST" in page
    assert "Total time 2 h 45 min \u2013 3 h Total price from $100.00" in page


def test_it_books_the_visit_and_shows_every_service_on_its_private_page(client, senior, clock):
    url = page_url(
        "details", senior.colour, senior.ana, TOMORROW.isoformat(), "09:00", rest=[(senior.haircut, "any")]
    )

    response = client.post(url, {**CONTACT, "nonce": "visit-1"})

    assert response.status_code == 302
    colour, haircut = Appointment.objects.order_by("position")
    assert (colour.service, colour.stylist, colour.position) == (senior.colour, senior.ana, 0)
    assert haircut.service == senior.haircut
    assert colour.visit_id == haircut.visit_id
    assert haircut.starts_at == colour.ends_at == datetime(2027, 3, 2, 19, 0, tzinfo=UTC)
    assert response["Location"] == reverse("booking:manage", args=[tokens.make_manage_token(colour.pk)])
    page = text(client.get(response["Location"]))
    assert "You're booked!" in page
    assert "Your visit" in page
    assert "Colour with Ana 9:00 AM \u2013 11:00 AM (2 h) $50.00" in page
    assert f"Haircut with {haircut.stylist.name} 11:00 AM \u2013" in page
    assert f"Total {'3 h' if haircut.stylist == senior.ben else '2 h 45 min'}" in page
    assert "Cancel this visit (2 services)" in page

    again = client.post(url, {**CONTACT, "nonce": "visit-1"})
    assert again["Location"] == response["Location"]
    assert Appointment.objects.count() == 2


def test_it_cancels_the_whole_visit(client, demo, clock):
    url = page_url(
        "details", demo.colour, demo.ana, TOMORROW.isoformat(), "09:00", rest=[(demo.haircut, "any")]
    )
    booked = client.post(url, CONTACT)
    token = booked["Location"].rstrip("/").rsplit("/", 1)[1]
    cancel_url = reverse("booking:cancel", args=[token])

    confirm = text(client.get(cancel_url))
    response = client.post(cancel_url)

    assert "Cancel your visit?" in confirm
    assert "Yes, cancel the visit (2 services)" in confirm
    assert response.status_code == 302
    assert set(Appointment.objects.values_list("status", flat=True)) == {"cancelled"}
    page = text(client.get(response["Location"]))
    assert "Your visit is cancelled." in page
    assert "Cancelled visit" in page


def test_it_puts_the_whole_visit_in_the_calendar_file(client, demo, clock):
    url = page_url(
        "details", demo.colour, demo.ana, TOMORROW.isoformat(), "09:00", rest=[(demo.haircut, demo.ben)]
    )
    token = client.post(url, CONTACT)["Location"].rstrip("/").rsplit("/", 1)[1]

    body = client.get(reverse("booking:calendar", args=[token])).content.decode()

    (event,) = icalendar.Calendar.from_ical(body).walk("VEVENT")
    assert event.decoded("dtstart") == demo.local(TOMORROW, 9)
    assert event.decoded("dtend") == demo.local(TOMORROW, 12)
    assert str(event["summary"]) == "Colour, Haircut at Demo Salon"
    assert "Colour with Ana at 9:00 AM" in str(event["description"])  # the reader's language's time
    assert "Haircut with Ben at 11:00 AM" in str(event["description"])


# --- resources ----------------------------------------------------------------------------------


def test_it_says_so_when_the_equipment_is_in_use_and_offers_the_other_times(client, demo, clock):
    # One colour station, used for the colour's first 30 minutes, whoever colours.
    station = ResourceFactory(key="station", name="Colour station", quantity=1)
    ServicePhaseFactory(service=demo.colour, position=0, minutes=30, resources=[station])
    ServicePhaseFactory(service=demo.colour, position=1, minutes=30, processing=True)
    ServicePhaseFactory(service=demo.colour, position=2, minutes=30)
    demo.ben.services.add(demo.colour)
    services.visit_book(
        items=[services.ItemRequest(demo.colour.pk, demo.ana.pk)],
        start=demo.local(TOMORROW, 9),
        customer_name="Priya Shah",
        customer_email="priya@example.com",
    )
    with_ben = page_url("time", demo.colour, demo.ben, TOMORROW)
    assert "Morning 9:30 AM" in text(client.get(with_ben))  # not 9:00: the station is in use

    response = client.post(page_url("details", demo.colour, demo.ben, TOMORROW.isoformat(), "09:00"), CONTACT)

    assert response.status_code == 409
    page = text(response)
    assert Refusal.RESOURCE_BUSY.message in page
    assert "Choose a time Tuesday, March 2" in page
    assert "Morning 9:30 AM" in page
    assert re.search(r'<div class="notice notice--error" role="alert">', response.content.decode())
    assert Appointment.objects.count() == 1
