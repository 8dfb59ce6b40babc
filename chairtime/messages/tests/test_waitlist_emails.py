"""The waitlist's e-mails: the confirmation with the leave link and the offer
with the held time (the salon's local time, with its zone), its expiry and the
link that books it; sent by the real worker through a real SMTP server on
loopback, after the worker ran the offer task the cancellation enqueued."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chairtime.booking import services, waitlist
from chairtime.booking.models import WaitlistOffer
from chairtime.booking.tests.test_waitlist import book_ten, only_ten_o_clock
from chairtime.booking.tests.test_waitlist_pages import linked, offered
from chairtime.messages.models import Message
from chairtime.messages.tests.conftest import run_worker


@pytest.mark.django_db(transaction=True)
def test_joining_and_the_offer_send_their_e_mails_with_their_links(demo_tx, smtp):
    demo = demo_tx
    demo.salon.address = "500 Market St, San Francisco"
    demo.salon.save()
    day = demo.next_working_day(3)
    only_ten_o_clock(demo, day)
    booked = book_ten(demo, now=timezone.now(), day=day)
    entry = waitlist.waitlist_join(
        service_id=demo.haircut.pk,
        stylist_id=demo.ana.pk,
        day=day,
        customer_name="Wanda Wait",
        customer_email="wanda@example.com",
    )

    # The cancellation enqueues the offer task; the worker runs it, then the e-mails.
    services.appointment_cancel(appointment_id=booked.pk)
    run_worker()
    run_worker()

    offer = WaitlistOffer.objects.get(entry=entry)
    by_kind = {
        m.kind: next(e for e in smtp.received if e["X-Chairtime-Message"] == str(m.pk))
        for m in Message.objects.filter(waitlist_entry=entry, state="sent")
    }
    assert set(by_kind) == {"waitlist_joined", "waitlist_offer"}
    joined, offer_mail = by_kind["waitlist_joined"], by_kind["waitlist_offer"]
    assert joined["Subject"].startswith("You are on the waitlist of Demo Salon")
    for email in (joined, offer_mail):
        text = email.get_body(("plain",)).get_content()
        html = email.get_body(("html",)).get_content()
        assert "https://salon.example/waitlist/" in text
        assert linked(text)["places"] == linked(html)["places"] == {entry.pk}
        assert "500 Market St, San Francisco" in text
    text = offer_mail.get_body(("plain",)).get_content()
    assert (
        linked(text)["offers"] == linked(offer_mail.get_body(("html",)).get_content())["offers"] == {offer.pk}
    )
    assert linked(joined.get_body(("plain",)).get_content())["offers"] == set()
    assert "10:00" in text
    assert "held for you until" in text
    assert "America/Los_Angeles" in text
    assert offer_mail["Subject"].endswith("is held for you")


@pytest.mark.django_db(transaction=True)
def test_an_offer_e_mail_whose_hold_ended_before_its_turn_is_not_sent(demo_tx, smtp):
    demo = demo_tx
    day = demo.next_working_day(3)
    only_ten_o_clock(demo, day)
    booked = book_ten(demo, now=timezone.now(), day=day)
    offered(demo, day, booked, now=timezone.now() - timedelta(minutes=31))

    run_worker()

    assert Message.objects.get(kind="waitlist_offer").state == "skipped"
    assert Message.objects.get(kind="waitlist_joined").state == "sent"
