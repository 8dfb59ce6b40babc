"""The waitlist's services: joining, the offer of a freed time and its hold,
taking it, its expiry, leaving (chairtime/booking/waitlist.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from django_tasks_db.models import DBTaskResult

from chairtime.booking import selectors, services, waitlist
from chairtime.booking.errors import BookingError
from chairtime.booking.models import Appointment, Hold, SpecialHours, WaitlistEntry, WaitlistOffer
from chairtime.booking.tests.fixtures import DemoSalon
from chairtime.messages.models import Message
from chairtime.testing import invariants

DAY = date(2027, 3, 15)  # a Monday
NOW = datetime(2027, 3, 12, 18, 0, tzinfo=UTC)
HOLD = timedelta(minutes=30)  # the salon's default waitlist_hold_minutes


def only_ten_o_clock(demo: DemoSalon, day: date = DAY) -> None:
    """Ana works 10:00-11:00 that day, and Ben not at all: one haircut fits."""
    SpecialHours.objects.create(stylist=demo.ana, date=day, start=time(10), end=time(11))
    SpecialHours.objects.create(stylist=demo.ben, date=day, start=time(7), end=time(7, 30))


def book_ten(demo: DemoSalon, email: str = "first@example.com", *, now: datetime = NOW, day: date = DAY):
    return services.appointment_book(
        service_id=demo.haircut.pk,
        stylist_id=demo.ana.pk,
        start=demo.local(day, 10),
        customer_name="First",
        customer_email=email,
        now=now,
    )


def join(demo: DemoSalon, email: str, *, stylist=None, now: datetime = NOW, day: date = DAY) -> WaitlistEntry:
    return waitlist.waitlist_join(
        service_id=demo.haircut.pk,
        stylist_id=stylist,
        day=day,
        customer_name=email.split("@")[0].title(),
        customer_email=email,
        now=now,
    )


def free_starts(demo: DemoSalon, now: datetime) -> list[datetime]:
    return list(
        selectors.slot_list(
            salon=demo.salon, service=demo.haircut, stylists=[demo.ana], day=DAY, now=now
        ).starts
    )


def tasks_named(name: str) -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path__endswith=name).order_by("enqueued_at"))


@pytest.fixture
def full(demo) -> tuple[DemoSalon, Appointment]:
    only_ten_o_clock(demo)
    return demo, book_ten(demo)


@pytest.fixture
def offered(full) -> tuple[DemoSalon, WaitlistEntry, WaitlistOffer]:
    """Two customers wait; the 10:00 is cancelled and offered to the first."""
    demo, booked = full
    first = join(demo, "wanda@example.com")
    join(demo, "xavier@example.com", now=NOW + timedelta(minutes=1))
    services.appointment_cancel(appointment_id=booked.pk, now=NOW + timedelta(minutes=2))
    (offer,) = waitlist.waitlist_offer_freed_time(day=DAY, now=NOW + timedelta(minutes=3))
    return demo, first, offer


# --- joining ---------------------------------------------------------------------------


def test_it_puts_a_customer_on_the_waitlist_of_a_full_day_and_owes_the_confirmation(full):
    demo, _ = full

    entry = join(demo, "wanda@example.com", stylist=demo.ana.pk)

    assert entry.state == WaitlistEntry.State.WAITING
    assert (entry.service, entry.stylist, entry.date) == (demo.haircut, demo.ana, DAY)
    message = Message.objects.get(waitlist_entry=entry)
    assert (message.kind, message.recipient, message.appointment) == (
        "waitlist_joined",
        "wanda@example.com",
        None,
    )
    # And the offer task for the day: a time freed while joining is offered then.
    assert [t.args_kwargs["args"] for t in tasks_named("waitlist_offer")] == [[DAY.isoformat()]]


def test_it_refuses_to_put_a_customer_on_the_waitlist_of_a_day_with_free_times(demo):
    only_ten_o_clock(demo)

    with pytest.raises(BookingError) as refused:
        join(demo, "wanda@example.com")

    assert refused.value.code == "times_available"
    assert refused.value.conflict
    assert not WaitlistEntry.objects.exists()


@pytest.mark.parametrize("day", [date(2027, 3, 11), date(2027, 4, 13)])
def test_it_refuses_a_day_in_the_past_or_beyond_the_horizon(demo, day):
    with pytest.raises(BookingError) as refused:
        join(demo, "wanda@example.com", day=day)
    assert refused.value.code == "waitlist_day"


def test_it_refuses_a_stylist_who_does_not_offer_the_service(demo):
    with pytest.raises(BookingError) as refused:
        waitlist.waitlist_join(
            service_id=demo.colour.pk,
            stylist_id=demo.ben.pk,
            day=DAY,
            customer_name="Wanda",
            customer_email="wanda@example.com",
            now=NOW,
        )
    assert refused.value.code == "stylist_does_not_offer"


def test_the_same_customer_joining_twice_gets_one_place(full):
    demo, _ = full
    first = join(demo, "wanda@example.com")
    again = join(demo, "WANDA@example.com ", now=NOW + timedelta(minutes=1))
    assert again.pk == first.pk
    assert WaitlistEntry.objects.count() == 1
    assert Message.objects.filter(kind="waitlist_joined").count() == 1


# --- freed time is offered and held ------------------------------------------------------


def test_a_cancellation_enqueues_the_offer_task_for_its_day_only_when_someone_waits(full):
    demo, booked = full
    services.appointment_cancel(appointment_id=booked.pk, now=NOW)
    assert tasks_named("waitlist_offer") == []  # nobody waits: no task

    again = book_ten(demo, "again@example.com")
    join_task_count = 1
    join(demo, "wanda@example.com", now=NOW + timedelta(minutes=1))
    services.appointment_cancel(appointment_id=again.pk, now=NOW + timedelta(minutes=2))
    assert len(tasks_named("waitlist_offer")) == join_task_count + 1


def test_a_move_away_from_the_day_enqueues_the_offer_task(full):
    demo, booked = full
    join(demo, "wanda@example.com")
    before = len(tasks_named("waitlist_offer"))

    services.visit_reschedule(
        appointment_id=booked.pk, start=demo.local(DAY + timedelta(days=1), 10), now=NOW
    )

    assert len(tasks_named("waitlist_offer")) == before + 1
    assert tasks_named("waitlist_offer")[-1].args_kwargs["args"] == [DAY.isoformat()]


def test_the_freed_time_is_offered_to_the_first_in_line_and_held(offered):
    demo, first, offer = offered

    first.refresh_from_db()
    assert first.state == WaitlistEntry.State.OFFERED
    assert offer.entry == first
    assert (offer.stylist, offer.starts_at, offer.ends_at) == (
        demo.ana,
        demo.local(DAY, 10),
        demo.local(DAY, 11),
    )
    assert offer.expires_at == NOW + timedelta(minutes=3) + HOLD
    hold = Hold.objects.get(offer=offer)
    assert (hold.stylist, hold.appointment, hold.held_until) == (demo.ana, None, offer.expires_at)
    assert WaitlistEntry.objects.get(customer_email="xavier@example.com").state == WaitlistEntry.State.WAITING
    message = Message.objects.get(kind="waitlist_offer")
    assert (message.waitlist_entry, message.about_starts_at) == (first, offer.starts_at)
    (expiry,) = tasks_named("waitlist_expire")
    assert expiry.args_kwargs["args"] == [offer.pk]
    assert expiry.run_after == offer.expires_at
    assert invariants.offer_hold_violations() == []


def test_during_the_hold_nobody_else_sees_or_books_the_time(offered):
    demo, _, offer = offered
    during = offer.expires_at - timedelta(seconds=1)

    assert free_starts(demo, during) == []
    with pytest.raises(BookingError) as refused:
        book_ten(demo, "other@example.com", now=during)

    assert refused.value.code == "taken"
    # Nor is it offered again to the next in line.
    assert waitlist.waitlist_offer_freed_time(day=DAY, now=during) == []


def test_the_holder_books_the_held_time_in_one_step(offered):
    demo, first, offer = offered

    (appointment,) = waitlist.waitlist_offer_take(
        offer_id=offer.pk, now=offer.expires_at - timedelta(seconds=1)
    )

    assert (appointment.stylist, appointment.starts_at, appointment.customer_email) == (
        demo.ana,
        demo.local(DAY, 10),
        "wanda@example.com",
    )
    assert appointment.is_confirmed
    offer.refresh_from_db()
    first.refresh_from_db()
    assert (offer.state, offer.appointment, first.state) == ("taken", appointment, "booked")
    assert not Hold.objects.filter(offer__isnull=False).exists()
    assert Hold.objects.filter(appointment=appointment).count() == 1
    assert Message.objects.filter(appointment=appointment, kind="visit_booked").exists()
    assert invariants.schedule_violations() == []
    # Taking it again (a second click) books nothing more.
    assert waitlist.waitlist_offer_take(offer_id=offer.pk, now=offer.expires_at) == [appointment]
    assert Appointment.objects.filter(status="confirmed").count() == 1


def test_once_the_hold_ends_the_time_is_free_even_before_the_expiry_task_ran(offered):
    demo, _, offer = offered
    after = offer.expires_at

    assert free_starts(demo, after) == [demo.local(DAY, 10)]
    other = book_ten(demo, "other@example.com", now=after)

    assert other.is_confirmed
    # The booking deleted the lapsed hold under its lock: the constraints saw it.
    assert not Hold.objects.filter(offer=offer).exists()
    assert invariants.overlapping_holds() == []
    with pytest.raises(BookingError) as refused:
        waitlist.waitlist_offer_take(offer_id=offer.pk, now=after)
    assert refused.value.code == "offer_expired"


def test_the_expiry_lapses_the_offer_and_offers_the_time_to_the_next_in_line(offered):
    demo, first, offer = offered

    assert waitlist.waitlist_offer_expire(offer_id=offer.pk, now=offer.expires_at - timedelta(seconds=1)) == (
        "not yet"
    )
    assert waitlist.waitlist_offer_expire(offer_id=offer.pk, now=offer.expires_at) == "lapsed"

    offer.refresh_from_db()
    first.refresh_from_db()
    assert (offer.state, first.state) == ("lapsed", "expired")
    assert not Hold.objects.filter(offer=offer).exists()
    assert tasks_named("waitlist_offer")[-1].args_kwargs["args"] == [DAY.isoformat()]
    (second,) = waitlist.waitlist_offer_freed_time(day=DAY, now=offer.expires_at + timedelta(seconds=1))
    assert second.entry.customer_email == "xavier@example.com"
    assert second.starts_at == demo.local(DAY, 10)
    assert invariants.offer_hold_violations() == []


def test_leaving_withdraws_the_held_time_and_offers_it_again(offered):
    _, first, offer = offered

    waitlist.waitlist_leave(entry_id=first.pk, now=NOW + timedelta(minutes=4))

    first.refresh_from_db()
    offer.refresh_from_db()
    assert (first.state, offer.state) == ("left", "lapsed")
    assert not Hold.objects.filter(offer=offer).exists()
    with pytest.raises(BookingError) as refused:
        waitlist.waitlist_offer_take(offer_id=offer.pk, now=NOW + timedelta(minutes=5))
    assert refused.value.code == "offer_withdrawn"
    (second,) = waitlist.waitlist_offer_freed_time(day=DAY, now=NOW + timedelta(minutes=5))
    assert second.entry.customer_email == "xavier@example.com"


def test_a_stylist_s_waitlist_is_not_offered_another_stylist_s_time(demo):
    only_ten_o_clock(demo)
    # Ben works 10:00-11:00 too; his time is taken by a booking.
    SpecialHours.objects.filter(stylist=demo.ben).update(start=time(10), end=time(11))
    book_ten(demo)
    bens = services.appointment_book(
        service_id=demo.haircut.pk,
        stylist_id=demo.ben.pk,
        start=demo.local(DAY, 10),
        customer_name="Bens",
        customer_email="bens@example.com",
        now=NOW,
    )
    entry = join(demo, "wanda@example.com", stylist=demo.ana.pk)

    services.appointment_cancel(appointment_id=bens.pk, now=NOW)

    assert waitlist.waitlist_offer_freed_time(day=DAY, now=NOW) == []
    entry.refresh_from_db()
    assert entry.state == "waiting"


def test_an_offer_is_held_no_later_than_online_booking_of_it_closes(full):
    demo, booked = full
    join(demo, "wanda@example.com")
    services.appointment_cancel(appointment_id=booked.pk, by_staff=True, now=NOW)
    # 70 minutes before the start: the hour's minimum notice leaves 10 minutes.
    late = demo.local(DAY, 10) - timedelta(minutes=70)

    (offer,) = waitlist.waitlist_offer_freed_time(day=DAY, now=late)

    assert offer.expires_at == late + timedelta(minutes=10)


def test_the_waitlist_of_a_day_that_is_over_expires(full):
    demo, _ = full
    entry = join(demo, "wanda@example.com")

    assert waitlist.waitlist_offer_freed_time(day=DAY, now=demo.local(DAY + timedelta(days=1), 9)) == []

    entry.refresh_from_db()
    assert entry.state == "expired"


def test_a_visit_cannot_be_moved_over_a_held_time_and_can_once_the_hold_ended(offered):
    demo, _, offer = offered
    SpecialHours.objects.filter(stylist=demo.ana).update(end=time(12))
    mover = services.appointment_book(
        service_id=demo.haircut.pk,
        stylist_id=demo.ana.pk,
        start=demo.local(DAY, 11),
        customer_name="Mover",
        customer_email="mover@example.com",
        now=NOW + timedelta(minutes=4),
    )
    during = offer.expires_at - timedelta(seconds=1)

    # 10:30-11:30 overlaps the held 10:00-11:00 (a move ignores only its own holds).
    with pytest.raises(BookingError) as refused:
        services.visit_reschedule(appointment_id=mover.pk, start=demo.local(DAY, 10, 30), now=during)
    assert refused.value.code == "taken"

    (moved,) = services.visit_reschedule(
        appointment_id=mover.pk, start=demo.local(DAY, 10, 30), now=offer.expires_at
    )
    assert moved.starts_at == demo.local(DAY, 10, 30)
    assert not Hold.objects.filter(offer=offer).exists()
    assert invariants.overlapping_holds() == []
