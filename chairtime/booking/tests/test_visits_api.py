"""Processing time, buffers, stylists' own prices and lengths, resources and
multi-service visits, through the JSON API (each answer checked against the
OpenAPI document), on whichever database the suite runs."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from chairtime.booking.availability import Refusal
from chairtime.booking.models import Appointment, Hold, Resource, StylistService
from chairtime.booking.tests.factories import ServiceFactory, ServicePhaseFactory, StylistFactory
from chairtime.booking.tests.test_api import get, post

_emails = (f"visitor{n}@example.com" for n in itertools.count())


@pytest.fixture
def salon(demo):
    """The demo salon with one colour station and one basin. Colour (Ana and
    Cleo): 30 min application at the station, 30 min processing, 30 min rinse at
    the basin, 10 min clean-up. A 30 min fringe (Ana). Ben's haircut is his own:
    45 minutes, $45."""
    station = Resource.objects.create(key="colour-station", name="Colour station", quantity=1)
    basin = Resource.objects.create(key="basin", name="Basin", quantity=1)
    colour = demo.colour
    colour.buffer_after_minutes = 10
    colour.save()
    ServicePhaseFactory(service=colour, position=0, minutes=30, resources=[station])
    ServicePhaseFactory(service=colour, position=1, minutes=30, processing=True)
    ServicePhaseFactory(service=colour, position=2, minutes=30, resources=[basin])
    colour.sync_duration()
    demo.fringe = ServiceFactory(key="fringe", name="Fringe", duration_minutes=30, price=Decimal("15.00"))
    demo.ana.services.add(demo.fringe)
    demo.cleo = StylistFactory(key="cleo", name="Cleo", services=[colour])
    StylistService.objects.filter(stylist=demo.ben, service=demo.haircut).update(
        price=Decimal("45.00"), duration_minutes=30
    )
    demo.day = demo.next_working_day()
    return demo


def book(client, start, items=None, **one) -> tuple[int, dict]:
    body = {"start": start.isoformat(), "customer": {"name": "Alex Doe", "email": next(_emails)}}
    if items is not None:
        body["items"] = [{"service": s.pk, "stylist": st.pk if st else None} for s, st in items]
    else:
        body |= {"service": one["service"].pk, "stylist": one["stylist"].pk if one.get("stylist") else None}
    response = post(client, "/appointments", body)
    return response.status_code, response.json()


def starts(client, day, *services, stylists=()) -> list[str]:
    params = [("date", day.isoformat())] + [("service", s.pk) for s in services]
    params += [("stylist", st.pk if st else "any") for st in stylists]
    response = client.get("/api/v1/availability", params)
    assert response.status_code == 200, response.content
    return [slot[11:16] for slot in response.json()["slots"]]


def test_a_cut_is_booked_in_a_colours_processing_gap(client, salon):
    status, colour = book(client, salon.local(salon.day, 9), service=salon.colour, stylist=salon.ana)
    assert status == 201
    assert (colour["start"][11:16], colour["end"][11:16]) == ("09:00", "10:30")  # the client's times

    assert starts(client, salon.day, salon.fringe, stylists=[salon.ana])[:2] == ["09:30", "11:00"]
    status, _ = book(client, salon.local(salon.day, 9, 30), service=salon.fringe, stylist=salon.ana)
    assert status == 201
    status, again = book(client, salon.local(salon.day, 9, 30), service=salon.fringe, stylist=salon.ana)
    assert (status, again["code"]) == (409, "taken")


def test_the_clean_up_after_a_colour_moves_the_stylists_next_start(client, salon):
    book(client, salon.local(salon.day, 9), service=salon.colour, stylist=salon.ana)

    # The rinse ends at 10:30, the clean-up at 10:40: 10:30 is not free, 11:00 is.
    free = starts(client, salon.day, salon.fringe, stylists=[salon.ana])
    assert "10:30" not in free and "11:00" in free
    status, refused = book(client, salon.local(salon.day, 10, 30), service=salon.fringe, stylist=salon.ana)
    assert (status, refused["code"]) == (409, "taken")


def test_one_colour_station_refuses_a_second_colour_whoever_the_stylist(client, salon):
    status, _ = book(client, salon.local(salon.day, 9), service=salon.colour, stylist=salon.ana)
    assert status == 201

    status, refused = book(client, salon.local(salon.day, 9), service=salon.colour, stylist=salon.cleo)

    assert status == 409
    assert refused == {"detail": Refusal.RESOURCE_BUSY.message, "code": "resource_busy"}
    free = starts(client, salon.day, salon.colour, stylists=[salon.cleo])
    assert "09:00" not in free
    assert "09:30" in free  # the station is free from 09:30, the basin at 10:30-11:00
    assert not Appointment.objects.filter(stylist=salon.cleo).exists()


def test_each_stylist_offers_a_service_at_their_own_price_and_length(client, salon):
    stylists = get(client, "/stylists", service=salon.haircut.pk).json()
    assert stylists == [
        {"id": salon.ana.pk, "name": "Ana", "price": "50.00", "duration_minutes": 60},
        {"id": salon.ben.pk, "name": "Ben", "price": "45.00", "duration_minutes": 30},
    ]
    # 11:30 leaves 60 minutes before Ana's and Ben's break at 12:30; 12:00 only
    # Ben's 30: "any stylist" offers a start some stylist can do in their own time.
    assert {"11:30", "12:00"} <= set(starts(client, salon.day, salon.haircut))
    ana = starts(client, salon.day, salon.haircut, stylists=[salon.ana])
    assert "11:30" in ana and "12:00" not in ana

    status, booked = book(client, salon.local(salon.day, 12), service=salon.haircut)

    assert status == 201
    assert (booked["stylist"], booked["price"], booked["end"][11:16]) == (salon.ben.pk, "45.00", "12:30")


def test_a_visit_books_its_services_back_to_back_with_one_manage_link(client, salon):
    start = salon.local(salon.day, 9)
    book(client, salon.local(salon.day, 11), service=salon.fringe, stylist=salon.ana)
    assert "09:00" in starts(client, salon.day, salon.colour, salon.haircut, stylists=[salon.ana])

    status, visit = book(client, start, items=[(salon.colour, salon.ana), (salon.haircut, None)])

    assert status == 201
    colour, haircut = visit["items"]
    assert (colour["stylist"], colour["start"][11:16], colour["end"][11:16]) == (
        salon.ana.pk,
        "09:00",
        "10:30",
    )
    # Ana has a fringe at 11:00: Ben does the haircut, in his own 30 minutes, at his price.
    assert (haircut["stylist"], haircut["start"][11:16], haircut["end"][11:16]) == (
        salon.ben.pk,
        "10:30",
        "11:00",
    )
    assert (visit["start"][11:16], visit["end"][11:16], visit["price"]) == ("09:00", "11:00", "95.00")
    assert haircut["price"] == "45.00"

    read = get(client, f"/appointments/{visit['id']}", token=visit["manage_token"]).json()
    assert read["items"] == visit["items"]
    cancelled = post(client, f"/appointments/{visit['id']}/cancel?token={visit['manage_token']}")
    assert cancelled.status_code == 200
    visit_rows = Appointment.objects.filter(visit_id=Appointment.objects.get(pk=visit["id"]).visit_id)
    assert set(visit_rows.values_list("status", flat=True)) == {"cancelled"}
    assert not Hold.objects.filter(appointment__in=visit_rows).exists()
    assert "10:30" in starts(client, salon.day, salon.haircut, stylists=[salon.ben])


def test_one_stylist_doing_both_services_of_a_visit_needs_no_clean_up_between(client, salon):
    status, visit = book(
        client, salon.local(salon.day, 9), items=[(salon.colour, salon.ana), (salon.fringe, salon.ana)]
    )

    assert status == 201
    assert [(i["stylist"], i["start"][11:16], i["end"][11:16]) for i in visit["items"]] == [
        (salon.ana.pk, "09:00", "10:30"),
        (salon.ana.pk, "10:30", "11:00"),
    ]


def test_a_visit_is_refused_as_a_whole_when_its_second_service_is_taken(client, salon):
    book(client, salon.local(salon.day, 10, 30), service=salon.haircut, stylist=salon.ben)
    book(client, salon.local(salon.day, 11), service=salon.fringe, stylist=salon.ana)
    before = Appointment.objects.count(), Hold.objects.count()

    status, refused = book(
        client, salon.local(salon.day, 9), items=[(salon.colour, salon.ana), (salon.haircut, None)]
    )

    assert (status, refused["code"]) == (409, "taken")
    assert (Appointment.objects.count(), Hold.objects.count()) == before
    assert "09:00" not in starts(client, salon.day, salon.colour, salon.haircut, stylists=[salon.ana])


def test_first_available_finds_a_visits_next_starts(client, salon):
    response = client.get(
        "/api/v1/availability/next",
        [("service", salon.colour.pk), ("service", salon.fringe.pk), ("stylist", "any"), ("limit", 3)],
    )

    assert response.status_code == 200
    assert len(response.json()["slots"]) == 3


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ([("stylist", "any"), ("stylist", "any")], "Give at most one stylist (or any) for each service"),
        ([("service", 2)] * 5, "service: List should have at most 5 items"),
    ],
)
def test_it_refuses_a_visit_question_it_cannot_answer(client, salon, params, detail):
    base = [("date", salon.day.isoformat()), ("service", salon.haircut.pk)]
    response = client.get("/api/v1/availability", base + params)

    assert response.status_code == 422
    assert response.json()["detail"].startswith(detail), response.json()


def test_a_visit_of_more_than_five_services_is_refused(client, salon):
    status, refused = book(client, salon.local(salon.day, 9), items=[(salon.fringe, None)] * 6)

    assert status == 422
    assert "at most 5" in refused["detail"]


def test_an_appointment_the_previous_release_wrote_still_blocks_its_time(client, salon):
    # During a rollout the release before visits writes appointments without a
    # visit or holds; the booking service counts them (on its locked state).
    start = salon.local(salon.day, 9)
    Appointment.objects.create(
        service=salon.fringe,
        stylist=salon.ana,
        starts_at=start,
        ends_at=start + salon.fringe.duration,
        customer_name="Old release",
        customer_email="old@example.com",
        price=salon.fringe.price,
        created_at=start,
    )

    status, refused = book(client, start, service=salon.fringe, stylist=salon.ana)

    assert (status, refused["code"]) == (409, "taken")
