"""The desk in a real browser (Debian's Chromium via Playwright): a front-desk
user signs in, reads the day's calendar, books a walk-in by clicking a free slot
and marks them arrived; axe-core checks the calendar (WCAG 2.2 A and AA).

Screenshots land in test-results/ (one folder per test) for a human to look at."""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import pytest
from axe_playwright_python.base import AxeResults
from axe_playwright_python.sync_playwright import Axe
from django.conf import settings
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from chairtime.booking import services
from chairtime.booking.models import Appointment
from chairtime.booking.tests.fixtures import make_colour_salon
from chairtime.clients.models import Client
from chairtime.frontdesk import services as desk_services
from chairtime.frontdesk.models import AppointmentEvent, Role, StaffMember

pytestmark = pytest.mark.browser

# See chairtime/booking/tests/test_browser.py: Playwright's loop and Django's ORM.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

AXE = Axe()
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
TABLET = {"viewport": {"width": 1024, "height": 768}, "has_touch": True}


def test_the_front_desk_books_a_walk_in_from_the_calendar(
    browser: Browser, live_server, demo_tx, django_user_model, output_path
):
    colour = make_colour_salon(demo_tx)
    day = demo_tx.next_working_day()
    services.appointment_book(
        service_id=colour.colour.pk,
        stylist_id=demo_tx.ana.pk,
        start=demo_tx.local(day, 10),
        customer_name="Priya Shah",
        customer_email="priya@example.com",
    )
    user = django_user_model.objects.create_user(username="fred", password="a long pass phrase")
    StaffMember.objects.create(user=user, role=Role.FRONT_DESK)
    shots = Path(output_path)
    shots.mkdir(parents=True, exist_ok=True)

    for name, options in (("desktop", {"viewport": {"width": 1440, "height": 900}}), ("tablet", TABLET)):
        context = browser.new_context(**options)
        page = context.new_page()
        page.goto(f"{live_server.url}/desk/day/?date={day}")
        expect(page.get_by_role("heading", name="Sign in to the front desk")).to_be_visible()
        page.get_by_label("User name").fill("fred")
        page.get_by_label("Password").fill("a long pass phrase")
        page.get_by_role("button", name="Sign in").click()

        expect(page.get_by_role("heading", name="Ana", exact=True)).to_be_visible()
        expect(page.get_by_role("link", name=re.compile("Colour · Priya Shah"))).to_be_visible()
        expect(page.get_by_text("Processing \u2013 free to book")).to_be_visible()
        results = AXE.run(
            page, options={"runOnly": {"type": "tag", "values": WCAG}, "resultTypes": ["violations"]}
        )
        # None at all (the issue asks for no critical or serious one).
        assert results.violations_count == 0, results.generate_report()
        page.screenshot(path=shots / f"calendar-{name}.png", full_page=False)
        context.close()

    card = Client.objects.create(
        salon=demo_tx.salon, name="Walk In", phone="+1 415 555 0142", created_at=timezone.now()
    )
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/desk/login/")
    page.get_by_label("User name").fill("fred")
    page.get_by_label("Password").fill("a long pass phrase")
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/desk/day/?date={day}")
    # A cut in Ana's processing gap: she is free while the colour develops.
    page.get_by_role("link", name="Book Ana at 11:00 AM").click()
    expect(page.get_by_role("heading", name="Book a walk-in or phone customer")).to_be_visible()
    # A phone customer with a card and no e-mail: found by part of their number.
    page.get_by_label("Find a client (name, e-mail or phone)").fill("555 0142")
    page.get_by_role("button", name="Find").click()
    found = AXE.run(page, options={"runOnly": {"type": "tag", "values": WCAG}, "resultTypes": ["violations"]})
    assert found.violations_count == 0, found.generate_report()
    page.get_by_role("link", name="Book for Walk In").click()
    expect(page.get_by_label("Customer's name")).to_have_value("Walk In")
    page.get_by_label("Cut", exact=True).check()
    page.get_by_role("button", name="Book", exact=True).click()

    expect(page.get_by_role("status")).to_contain_text("Booked Walk In with Ana.")
    page.get_by_role("button", name="Arrived").click()
    expect(page.get_by_role("status")).to_contain_text("Marked arrived.")
    walk_in = Appointment.objects.get(customer_name="Walk In")
    assert walk_in.starts_at == demo_tx.local(day, 11)
    assert walk_in.client_link.client == card  # it joined the card picked at the desk
    assert list(AppointmentEvent.objects.filter(appointment=walk_in).values_list("kind", flat=True)) == [
        "booked",
        "arrived",
    ]
    page.get_by_role("link", name=re.compile("Back to")).click()
    expect(page.get_by_role("link", name=re.compile("Cut · Walk In"))).to_contain_text("Arrived")
    context.close()


# --- moving an appointment on the calendar (calendar.js) ------------------------


def signed_in_desk(browser: Browser, live_server, django_user_model, **options) -> Page:
    user = django_user_model.objects.create_user(username="fred", password="a long pass phrase")
    StaffMember.objects.create(user=user, role=Role.FRONT_DESK)
    page = browser.new_context(**(options or {"viewport": {"width": 1440, "height": 1200}})).new_page()
    page.goto(f"{live_server.url}/desk/login/")
    page.get_by_label("User name").fill("fred")
    page.get_by_label("Password").fill("a long pass phrase")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Today's appointments")).to_be_visible()
    return page


def book_kim(demo, day, hh: int, *, stylist=None, name: str = "Kim") -> Appointment:
    return services.appointment_book(
        service_id=demo.haircut.pk,
        stylist_id=(stylist or demo.ana).pk,
        start=demo.local(day, hh),
        customer_name=name,
        customer_email=f"{name.lower()}@example.com",
    )


def point_in(page: Page, stylist: str, hh: int, mm: int = 0) -> tuple[float, float]:
    """Where on the screen a stylist's column shows that wall time."""
    section = page.locator(f'section.cal__col[data-name="{stylist}"]').first
    box = section.locator(".cal__off").bounding_box()
    grid = page.locator(".cal[data-first]")
    first, last = int(grid.get_attribute("data-first")), int(grid.get_attribute("data-last"))
    minute = hh * 60 + mm
    return box["x"] + box["width"] / 2, box["y"] + (minute - first) / (last - first) * box["height"]


def drag(page: Page, block, to: tuple[float, float]) -> None:
    """Pick the block up near its top edge (a few minutes into it) and drop it at ``to``."""
    box = block.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + 40, steps=4)
    page.mouse.move(*to, steps=12)
    page.mouse.up()


def test_the_front_desk_drags_an_appointment_to_another_stylist_and_time(
    browser: Browser, live_server, demo_tx, django_user_model, output_path
):
    day = demo_tx.next_working_day()
    kim = book_kim(demo_tx, day, 10)
    book_kim(demo_tx, day, 11, stylist=demo_tx.ben, name="Lee")
    page = signed_in_desk(browser, live_server, django_user_model)
    page.goto(f"{live_server.url}/desk/day/?date={day}")
    expect(page.get_by_text("To move an appointment, drag it")).to_be_visible()
    block = page.locator("a[data-move]", has_text="Haircut · Kim")

    # Onto Lee's time in Ben's column: the server refuses, in its own words.
    drag(page, block, point_in(page, "Ben", 11, 10))
    expect(page.get_by_role("alert")).to_contain_text("That time has just been taken")
    kim.refresh_from_db()
    assert (kim.stylist_id, kim.starts_at) == (demo_tx.ana.pk, demo_tx.local(day, 10))

    # Then to 2:00 PM with Ben: moved, and the reloaded calendar says so.
    drag(page, block, point_in(page, "Ben", 14, 10))
    expect(page.get_by_role("status")).to_contain_text("Moved to")
    kim.refresh_from_db()
    assert (kim.stylist_id, kim.starts_at) == (demo_tx.ben.pk, demo_tx.local(day, 14))
    ben = page.locator('section.cal__col[data-name="Ben"]')
    expect(ben.get_by_role("link", name=re.compile("Haircut · Kim"))).to_contain_text("2:00 PM")
    assert AppointmentEvent.objects.filter(appointment=kim, kind="moved").count() == 1
    page.screenshot(path=Path(output_path) / "calendar-after-drag.png")
    page.context.close()


def test_the_front_desk_moves_an_appointment_with_the_keyboard_only(
    browser: Browser, live_server, demo_tx, django_user_model, output_path
):
    day = demo_tx.next_working_day()
    kim = book_kim(demo_tx, day, 10)
    page = signed_in_desk(browser, live_server, django_user_model)
    page.goto(f"{live_server.url}/desk/day/?date={day}")
    live = page.locator("#cal-move-live")

    for _ in range(80):  # Tab to the appointment, as a keyboard user does
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.dataset.move !== undefined"):
            break
    block = page.locator("a[data-move]", has_text="Haircut · Kim")
    expect(block).to_be_focused()

    page.keyboard.press("m")
    expect(live).to_contain_text("Moving Haircut · Kim, now at Ana, 10:00 AM")
    page.keyboard.press("ArrowRight")
    expect(live).to_have_text("Ben, 10:00 AM")
    page.keyboard.press("Escape")  # changed my mind
    expect(live).to_contain_text("Not moved")
    expect(page.locator(".blk--target")).to_have_count(0)

    page.keyboard.press("m")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("ArrowDown")
    expect(live).to_have_text("Ben, 11:00 AM")
    expect(page.locator(".blk--target")).to_have_text("11:00 AM")
    # In move mode: the calendar still passes axe (the issue: no critical or serious).
    results = AXE.run(
        page, options={"runOnly": {"type": "tag", "values": WCAG}, "resultTypes": ["violations"]}
    )
    serious = [v for v in results.response["violations"] if v["impact"] in ("critical", "serious")]
    assert serious == [], results.generate_report()
    assert results.violations_count == 0, results.generate_report()
    shots = Path(output_path)
    shots.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=shots / "calendar-move-mode.png")

    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Moved to")
    kim.refresh_from_db()
    assert (kim.stylist_id, kim.starts_at) == (demo_tx.ben.pk, demo_tx.local(day, 11))
    expect(page.locator("a[data-move]", has_text="Haircut · Kim")).to_be_focused()  # where it went
    page.context.close()


@pytest.mark.parametrize(
    ("language", "moving", "target", "kept"),
    [
        ("fr", "Déplacement de Haircut · Kim, actuellement à Ana, 10:00", "Ben, 14:00", "Non déplacé"),
        ("es", "Moviendo Haircut · Kim, ahora a las Ana, 10:00", "Ben, 14:00", "Sin mover"),
    ],
)
def test_the_keyboard_move_speaks_the_pages_language_and_clock(
    browser: Browser, live_server, demo_tx, django_user_model, language, moving, target, kept
):
    """calendar.js takes its sentences from /desk/jsi18n/ and writes times with the
    language's TIME_FORMAT (14:00, not 2:00 PM)."""
    day = demo_tx.next_working_day()
    book_kim(demo_tx, day, 10)
    user = django_user_model.objects.create_user(username="fred", password="a long pass phrase")
    StaffMember.objects.create(user=user, role=Role.FRONT_DESK)
    context = browser.new_context(viewport={"width": 1440, "height": 1200})
    context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/desk/login/")
    page.locator("#id_username").fill("fred")
    page.locator("#id_password").fill("a long pass phrase")
    page.locator(".desk-login form button[type=submit]").click()
    expect(page.locator("nav.desk-nav")).to_be_visible()
    page.goto(f"{live_server.url}/desk/day/?date={day}")
    live = page.locator("#cal-move-live")

    page.locator("a[data-move]", has_text="Haircut · Kim").focus()
    page.keyboard.press("m")
    expect(live).to_contain_text(moving)
    page.keyboard.press("ArrowRight")
    for _ in range(8):  # four hours of the demo salon's 30-minute slots
        page.keyboard.press("ArrowDown")
    expect(live).to_have_text(target)
    expect(page.locator(".blk--target")).to_have_text("14:00")
    page.keyboard.press("Escape")
    expect(live).to_contain_text(kept)
    context.close()


def test_a_touch_on_a_tablet_drags_an_appointment_too(
    browser: Browser, live_server, demo_tx, django_user_model
):
    day = demo_tx.next_working_day()
    kim = book_kim(demo_tx, day, 10)
    page = signed_in_desk(browser, live_server, django_user_model, **TABLET)
    page.goto(f"{live_server.url}/desk/day/?date={day}")
    box = page.locator("a[data-move]", has_text="Haircut · Kim").bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + 3
    to_x, to_y = point_in(page, "Ben", 11, 10)
    # Playwright's touchscreen only taps: a finger's drag goes through the DevTools protocol.
    cdp = page.context.new_cdp_session(page)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for step in range(1, 13):
        point = {"x": x + (to_x - x) * step / 12, "y": y + (to_y - y) * step / 12}
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [point]})
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})

    expect(page.get_by_role("status")).to_contain_text("Moved to")
    kim.refresh_from_db()
    assert (kim.stylist_id, kim.starts_at) == (demo_tx.ben.pk, demo_tx.local(day, 11))
    page.context.close()


def test_the_week_view_drags_an_appointment_to_another_day(
    browser: Browser, live_server, demo_tx, django_user_model
):
    day = demo_tx.next_working_day()
    if day.weekday() == 5:  # Saturday: the next day is Sunday, when nobody works
        day += timedelta(days=2)
    kim = book_kim(demo_tx, day, 10)
    page = signed_in_desk(browser, live_server, django_user_model)
    page.goto(f"{live_server.url}/desk/week/?date={day}&stylist={demo_tx.ana.pk}")
    following = page.locator(f'section.cal__col[data-day="{day + timedelta(days=1)}"] .cal__off')
    box = following.bounding_box()
    _, y = point_in(page, "Ana", 15, 10)  # every column of the week is Ana's: the first one's rows

    drag(page, page.locator("a[data-move]", has_text="Haircut · Kim"), (box["x"] + box["width"] / 2, y))

    expect(page.get_by_role("status")).to_contain_text("Moved to")
    kim.refresh_from_db()
    assert (kim.stylist_id, kim.starts_at) == (demo_tx.ana.pk, demo_tx.local(day + timedelta(days=1), 15))
    page.context.close()


# --- axe in each language ---------------------------------------------------------


def axe_counts(page) -> tuple[dict[str, int], AxeResults]:
    """The page's WCAG violations, as elements by impact (axe-core's critical,
    serious, moderate, minor), and axe's results for the failure's report."""
    results = AXE.run(
        page, options={"runOnly": {"type": "tag", "values": WCAG}, "resultTypes": ["violations"]}
    )
    counts = {"critical": 0, "serious": 0, "moderate": 0, "minor": 0}
    for violation in results.response["violations"]:
        counts[violation["impact"]] += len(violation["nodes"])
    return counts, results


@pytest.mark.parametrize("language", ["en", "fr", "es"])
def test_the_desks_pages_pass_axe_in_each_language(
    browser: Browser, live_server, demo_tx, django_user_model, language, capsys
):
    """The calendar (day and week), the booking page, an appointment and its move
    page, each in English, French and Spanish: no critical or serious violation
    (WCAG 2.2 A and AA). A translation changes what axe reads: the lang attribute,
    the accessible names, the lengths of labels."""
    colour = make_colour_salon(demo_tx)
    day = demo_tx.next_working_day()
    [appointment] = services.visit_book(
        items=[services.ItemRequest(colour.colour.pk, demo_tx.ana.pk)],
        start=demo_tx.local(day, 10),
        customer_name="Priya Shah",
        customer_email="priya@example.com",
    )
    user = django_user_model.objects.create_user(username="fred", password="a long pass phrase")
    StaffMember.objects.create(user=user, role=Role.FRONT_DESK)
    desk_services.record_booked([appointment], user=user, now=timezone.now())

    context = browser.new_context(viewport={"width": 1440, "height": 900})
    context.add_cookies([{"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url}])
    page = context.new_page()
    page.goto(f"{live_server.url}/desk/login/")
    page.locator("#id_username").fill("fred")
    page.locator("#id_password").fill("a long pass phrase")
    page.locator(".desk-login form button[type=submit]").click()
    expect(page.locator("nav.desk-nav")).to_be_visible()

    found = {}
    for name, path in (
        ("day", f"/desk/day/?date={day}"),
        ("week", f"/desk/week/?date={day}&stylist=all"),
        ("book", f"/desk/book/?stylist={demo_tx.ana.pk}&start={day}T14:00"),
        ("appointment", f"/desk/appointment/{appointment.pk}/"),
        ("move", f"/desk/appointment/{appointment.pk}/move/"),
    ):
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("html")).to_have_attribute("lang", language)
        counts, results = axe_counts(page)
        found[name] = counts
        assert counts["critical"] == counts["serious"] == 0, results.generate_report()
    context.close()
    with capsys.disabled():
        print(f"\naxe, {language}: {found}")
