"""Moving a visit (services.visit_reschedule) and the salon's change notice, on
the real database: the new time booked and the old freed at once, the same ids,
the booking's refusals, the customer's change message."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from chairtime.booking import selectors, services
from chairtime.booking.errors import BookingError
from chairtime.booking.models import Appointment, Hold, StylistService
from chairtime.booking.services import ItemRequest
from chairtime.booking.tests.fixtures import make_colour_salon
from chairtime.messages.models import Message
from chairtime.testing import invariants

DAY = date(2027, 3, 15)  # a Monday
NOW = datetime(2027, 3, 12, 18, 0, tzinfo=UTC)  # the Friday before, 10:00 local

_customers = itertools.count()


def book(demo, hh, mm=0, *, stylist="ana", service="haircut", day=DAY, email=None) -> Appointment:
    return services.appointment_book(
        service_id=getattr(demo, service).pk,
        stylist_id=getattr(demo, stylist).pk if stylist else None,
        start=demo.local(day, hh, mm),
        customer_name="Alex Doe",
        customer_email=email or f"customer{next(_customers)}@example.com",
        now=NOW,
    )


def book_visit(demo, hh, mm=0, *, items, day=DAY) -> list[Appointment]:
    return services.visit_book(
        items=[ItemRequest(service.pk, stylist.pk if stylist else None) for service, stylist in items],
        start=demo.local(day, hh, mm),
        customer_name="Alex Doe",
        customer_email=f"customer{next(_customers)}@example.com",
        now=NOW,
    )


def move(appointment, start, **kwargs) -> list[Appointment]:
    return services.visit_reschedule(
        appointment_id=appointment.pk, start=start, now=kwargs.pop("now", NOW), **kwargs
    )


def refusal_of(fn) -> BookingError:
    with pytest.raises(BookingError) as info:
        fn()
    return info.value


def holds_of(appointment) -> list[tuple[datetime, datetime]]:
    return sorted(Hold.objects.filter(appointment=appointment).values_list("starts_at", "ends_at"))


def test_it_moves_an_appointment_half_an_hour_later_over_its_own_time(demo):
    appointment = book(demo, 10)

    (moved,) = move(appointment, demo.local(DAY, 10, 30))

    assert moved.pk == appointment.pk
    appointment.refresh_from_db()
    assert (appointment.starts_at, appointment.ends_at) == (demo.local(DAY, 10, 30), demo.local(DAY, 11, 30))
    assert appointment.stylist == demo.ana
    assert holds_of(appointment) == [(demo.local(DAY, 10, 30), demo.local(DAY, 11, 30))]
    assert invariants.schedule_violations() == []


def test_the_old_time_is_free_for_others_at_once(demo):
    appointment = book(demo, 10)
    move(appointment, demo.local(DAY, 14))

    other = book(demo, 10)

    assert other.starts_at == demo.local(DAY, 10)
    assert invariants.schedule_violations() == []


def test_it_moves_a_visit_of_two_services_by_one_service_s_length(demo):
    # Haircut 13:30-14:30 then colour 14:30-16:30, both Ana's: an hour later the
    # haircut takes the colour's old start, Ana's (stylist, start) both before and
    # after; the appointments wait elsewhere while they swap.
    haircut, colour = book_visit(demo, 13, 30, items=[(demo.haircut, demo.ana), (demo.colour, demo.ana)])

    moved = move(colour, demo.local(DAY, 14, 30))

    assert [a.pk for a in moved] == [haircut.pk, colour.pk]
    haircut.refresh_from_db()
    colour.refresh_from_db()
    assert (haircut.starts_at, haircut.ends_at) == (demo.local(DAY, 14, 30), demo.local(DAY, 15, 30))
    assert (colour.starts_at, colour.ends_at) == (demo.local(DAY, 15, 30), demo.local(DAY, 17, 30))
    assert invariants.schedule_violations() == []


def test_it_moves_a_visit_an_hour_earlier_onto_itself(demo):
    haircut, colour = book_visit(demo, 14, 30, items=[(demo.haircut, demo.ana), (demo.colour, demo.ana)])

    move(haircut, demo.local(DAY, 13, 30))

    colour.refresh_from_db()
    assert colour.starts_at == demo.local(DAY, 14, 30)
    assert invariants.schedule_violations() == []


def test_it_keeps_the_stylist_unless_asked_and_gives_another_s_price(demo):
    StylistService.objects.filter(stylist=demo.ben, service=demo.haircut).update(price=Decimal("65.00"))
    appointment = book(demo, 10)
    assert appointment.price == Decimal("50.00")

    (same,) = move(appointment, demo.local(DAY, 11))
    assert (same.stylist_id, same.price) == (demo.ana.pk, Decimal("50.00"))

    (with_ben,) = move(appointment, demo.local(DAY, 11), stylists=[demo.ben.pk])
    assert (with_ben.stylist_id, with_ben.price) == (demo.ben.pk, Decimal("65.00"))
    appointment.refresh_from_db()
    assert (appointment.stylist_id, appointment.price) == (demo.ben.pk, Decimal("65.00"))


def test_any_stylist_prefers_the_visit_s_own_then_whoever_is_free(demo):
    appointment = book(demo, 10)
    book(demo, 14, stylist="ana")

    (kept,) = move(appointment, demo.local(DAY, 11), stylists=[None])
    assert kept.stylist_id == demo.ana.pk  # Ben is less busy, but Ana is the visit's

    (other,) = move(appointment, demo.local(DAY, 14), stylists=[None])
    assert other.stylist_id == demo.ben.pk


def test_it_owes_a_change_message_about_the_new_start(demo):
    appointment = book(demo, 10)

    move(appointment, demo.local(DAY, 15))

    changed = Message.objects.get(kind=Message.Kind.VISIT_CHANGED)
    assert changed.appointment_id == appointment.pk
    assert changed.about_starts_at == demo.local(DAY, 15)
    confirmed = Message.objects.get(kind=Message.Kind.VISIT_BOOKED)
    # Above the confirmation's (and its reminders'): the calendar event is updated.
    assert changed.sequence > confirmed.sequence
    # The reminders follow the visit: those for the old start are dropped, the new start has its own.
    reminders = Message.objects.filter(kind=Message.Kind.REMINDER)
    assert set(reminders.filter(state=Message.State.PENDING).values_list("about_starts_at", flat=True)) == {
        demo.local(DAY, 15)
    }
    assert not reminders.filter(state=Message.State.PENDING, about_starts_at=demo.local(DAY, 10)).exists()


def test_the_same_time_and_stylists_change_nothing_and_owe_nothing(demo):
    appointment = book(demo, 10)
    holds = list(Hold.objects.filter(appointment=appointment).values_list("pk", flat=True))

    (same,) = move(appointment, demo.local(DAY, 10))
    (any_stylist,) = move(appointment, demo.local(DAY, 10), stylists=[None])

    assert same.starts_at == any_stylist.starts_at == demo.local(DAY, 10)
    assert list(Hold.objects.filter(appointment=appointment).values_list("pk", flat=True)) == holds
    assert not Message.objects.filter(kind=Message.Kind.VISIT_CHANGED).exists()


@pytest.mark.parametrize(
    ("hh", "mm", "code"),
    [(12, 0, "outside_hours"), (10, 10, "off_grid"), (11, 0, "taken")],
)
def test_it_refuses_what_a_booking_would_refuse(demo, hh, mm, code):
    appointment = book(demo, 9)
    book(demo, 11, 30)

    error = refusal_of(lambda: move(appointment, demo.local(DAY, hh, mm)))

    assert error.code == code
    appointment.refresh_from_db()
    assert appointment.starts_at == demo.local(DAY, 9)  # nothing changed
    assert holds_of(appointment) == [(demo.local(DAY, 9), demo.local(DAY, 10))]


def test_it_refuses_too_soon_and_beyond_the_horizon(demo):
    appointment = book(demo, 10)
    soon = datetime(2027, 3, 15, 16, 45, tzinfo=UTC)  # 09:45 local on the day

    assert refusal_of(lambda: move(appointment, demo.local(DAY, 10, 30), now=soon)).code == "too_soon"
    far = demo.local(DAY + timedelta(days=60), 10)
    assert refusal_of(lambda: move(appointment, far)).code == "beyond_horizon"


def test_it_refuses_a_cancelled_or_started_visit(demo):
    cancelled = book(demo, 10)
    services.appointment_cancel(appointment_id=cancelled.pk, now=NOW)
    started = book(demo, 14)

    assert refusal_of(lambda: move(cancelled, demo.local(DAY, 11))).code == "appointment_cancelled"
    during = demo.local(DAY, 14, 15)
    error = refusal_of(lambda: move(started, demo.local(DAY, 16), now=during, by_staff=True))
    assert error.code == "started_cannot_move"
    assert error.conflict


def test_it_refuses_a_stylist_list_that_does_not_match_the_visit(demo):
    appointment = book(demo, 10)

    error = refusal_of(lambda: move(appointment, demo.local(DAY, 11), stylists=[None, None]))

    assert error.code == "visit_shape"
    assert not error.conflict


def test_it_refuses_a_stylist_who_does_not_offer_the_service(demo):
    (colour,) = book_visit(demo, 10, items=[(demo.colour, demo.ana)])

    assert refusal_of(lambda: move(colour, demo.local(DAY, 14), stylists=[demo.ben.pk])).code == (
        "stylist_does_not_offer"
    )


def test_it_refuses_a_time_the_customer_already_holds_in_another_visit(demo):
    first = book(demo, 10, stylist="ben", email="same@example.com")
    second = book(demo, 14, email="same@example.com")

    assert refusal_of(lambda: move(second, demo.local(DAY, 10))).code == "already_booked"
    assert first.starts_at == demo.local(DAY, 10)


def test_it_moves_a_colour_over_its_own_station_time_but_not_onto_another_s(demo):
    colour_salon = make_colour_salon(demo)
    (mine,) = book_visit(demo, 10, items=[(colour_salon.colour, demo.ana)])
    (bens,) = book_visit(demo, 14, items=[(colour_salon.colour, demo.ben)])

    move(mine, demo.local(DAY, 10, 15))  # its application overlaps its own old one
    error = refusal_of(lambda: move(mine, demo.local(DAY, 14, 15)))

    assert error.code == "resource_busy"
    assert bens.starts_at == demo.local(DAY, 14)
    assert invariants.schedule_violations() == []


def test_a_repeated_request_key_moves_once_and_another_body_is_refused(demo):
    appointment = book(demo, 10)
    key = services.request_key("api-reschedule", "k" * 20, appointment.pk, "11:00")

    move(appointment, demo.local(DAY, 11), request=key)
    move(appointment, demo.local(DAY, 11), request=key)

    assert Message.objects.filter(kind=Message.Kind.VISIT_CHANGED).count() == 1
    other = services.request_key("api-reschedule", "k" * 20, appointment.pk, "15:00")
    assert refusal_of(lambda: move(appointment, demo.local(DAY, 15), request=other)).code == (
        "request_key_reused"
    )


# --- The change notice (Salon.change_notice_minutes) -------------------------------


@pytest.fixture
def notice(demo):
    demo.salon.change_notice_minutes = 24 * 60
    demo.salon.phone = "+1 555 0199"
    demo.salon.save()
    return demo


def test_customers_may_change_until_the_notice_begins(notice):
    appointment = book(notice, 10)
    closes = notice.local(DAY, 10) - timedelta(hours=24)

    move(appointment, notice.local(DAY, 11), now=closes)  # the last moment


def test_after_the_notice_begins_customers_are_told_to_call(notice):
    appointment = book(notice, 10)
    late = notice.local(DAY, 10) - timedelta(hours=24) + timedelta(seconds=1)

    moving = refusal_of(lambda: move(appointment, notice.local(DAY, 14), now=late))
    cancelling = refusal_of(lambda: services.appointment_cancel(appointment_id=appointment.pk, now=late))

    for error in (moving, cancelling):
        assert error.code == "too_late_to_change"
        assert error.conflict
        assert "1 day before the start" in error.message
        assert "+1 555 0199" in error.message
    appointment.refresh_from_db()
    assert appointment.is_confirmed and appointment.starts_at == notice.local(DAY, 10)


def test_without_a_phone_the_refusal_still_says_to_call(notice):
    notice.salon.phone = ""
    notice.salon.change_notice_minutes = 90
    notice.salon.save()
    appointment = book(notice, 10)
    late = notice.local(DAY, 9)

    error = refusal_of(lambda: services.appointment_cancel(appointment_id=appointment.pk, now=late))

    assert error.message.endswith("90 minutes before the start. Please call the salon.")


def test_staff_are_never_bound_by_the_notice(notice):
    appointment = book(notice, 10)
    late = notice.local(DAY, 9)

    move(appointment, notice.local(DAY, 11), now=late, by_staff=True)
    services.appointment_cancel(appointment_id=appointment.pk, now=late, by_staff=True)

    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED


def test_the_free_starts_of_a_moved_visit_count_its_own_time_as_free(demo):
    appointment = book(demo, 10)
    wanted = [(demo.haircut, [demo.ana])]

    plain = selectors.slot_list(salon=demo.salon, items=wanted, day=DAY, now=NOW).starts
    own = selectors.slot_list(
        salon=demo.salon, items=wanted, day=DAY, now=NOW, ignoring=[appointment.pk]
    ).starts

    shown = {s.astimezone(UTC) for s in own} - {s.astimezone(UTC) for s in plain}
    assert shown == {demo.local(DAY, h, m).astimezone(UTC) for h, m in [(9, 30), (10, 0), (10, 30)]}
