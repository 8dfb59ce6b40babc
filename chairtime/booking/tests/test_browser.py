"""A person books and cancels in a real browser (Debian's Chromium via Playwright),
on a desktop, on a phone and with JavaScript switched off; axe-core checks every
page of the way against WCAG 2.2 A and AA.

Assertions are about what the person sees: headings, messages, labels. Screenshots
of the phone run land in test-results/ (one folder per test) for a human to look at.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.test import Client
from django.utils import translation
from playwright.sync_api import Browser, Page, expect

from chairtime.booking.models import Appointment
from chairtime.booking.tests.factories import AppointmentFactory
from chairtime.booking.views import format_day, format_time

pytestmark = pytest.mark.browser

# Playwright's sync API keeps an event loop running in the test thread for the whole
# session, and Django refuses ORM calls from such a thread. These tests only touch the
# database between browser steps, never concurrently with them. The switch is
# process-wide, so `make test` runs this module in a pytest process of its own and
# every other test keeps Django's async-safety check.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
TAP_TARGET_PX = 44
AXE = Axe()  # axe-core, bundled by axe-playwright-python
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def choose_day(page: Page, day) -> None:
    page.get_by_role("link", name=re.compile(rf"^{format_day(day)}(?: \(today\))?:")).click()


FIELD_LABELS = {
    "en": ("Your name", "E-mail address", "Phone number (optional)"),
    "fr": ("Votre nom", "Adresse e-mail", "Numéro de téléphone (facultatif)"),
    "es": ("Su nombre", "Correo electrónico", "Teléfono (opcional)"),
}


def fill_details(page: Page, language: str = "en") -> None:
    name, email, phone = FIELD_LABELS[language]
    page.get_by_label(name).fill("Zoe Park")
    page.get_by_label(email).fill("zoe@example.com")
    page.get_by_label(phone).fill("+1 415 555 0100")


def fits_the_screen(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_it_books_and_cancels_an_appointment(page: Page, live_server, demo_tx):
    day = demo_tx.next_working_day()

    page.goto(live_server.url)
    expect(page).to_have_title("Book an appointment · Demo Salon")
    page.get_by_role("link", name="Haircut").click()

    expect(page.get_by_role("heading", name="Choose a stylist")).to_be_visible()
    page.get_by_role("link", name="Ben").click()

    expect(page.get_by_role("heading", name="Choose a day")).to_be_visible()
    expect(page.get_by_role("navigation", name="Booking steps").locator("[aria-current=step]")).to_have_text(
        "Day"
    )
    choose_day(page, day)

    expect(page.get_by_role("heading", name=re.compile("Choose a time"))).to_contain_text(format_day(day))
    page.get_by_role("link", name="10:00 AM", exact=True).click()

    expect(page.get_by_role("heading", name="Your details")).to_be_visible()
    summary = page.get_by_role("complementary", name="Your booking")
    expect(summary).to_contain_text("Haircut")
    expect(summary).to_contain_text("Ben")
    expect(summary).to_contain_text("10:00 AM \u2013 11:00 AM")
    fill_details(page)
    page.get_by_role("button", name="Book appointment").click()

    expect(page.get_by_role("heading", name="Your appointment")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("You're booked!")
    expect(page.locator(".facts")).to_contain_text("Confirmed")
    expect(page.locator(".facts")).to_contain_text(f"{format_day(day)}, {day.year}")
    expect(page.locator(".facts")).to_contain_text("10:00 AM \u2013 11:00 AM")
    expect(page.get_by_role("button", name="Copy link")).to_be_visible()  # the script ran
    appointment = Appointment.objects.get()
    assert (appointment.stylist, appointment.customer_name) == (demo_tx.ben, "Zoe Park")

    page.get_by_role("link", name="Cancel appointment…").click()
    expect(page.get_by_role("heading", name="Cancel your appointment?")).to_be_visible()
    page.get_by_role("button", name="Yes, cancel appointment").click()

    expect(page.get_by_role("heading", name="Cancelled appointment")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Your appointment is cancelled.")
    expect(page.get_by_role("link", name="Cancel appointment…")).to_have_count(0)
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.CANCELLED


def test_it_books_a_visit_of_two_services_and_cancels_it(page: Page, live_server, demo_tx):
    day = demo_tx.next_working_day()

    page.goto(live_server.url)
    page.get_by_role("link", name="Colour").click()
    page.get_by_role("link", name="Ana").click()
    expect(page.get_by_role("heading", name="Choose a day")).to_be_visible()
    page.get_by_role("link", name="Add another service").click()

    expect(page.get_by_role("heading", name="Add another service")).to_be_visible()
    page.get_by_role("link", name="Haircut").click()
    expect(page.get_by_role("heading", name=re.compile("Choose a stylist"))).to_contain_text(
        "for your haircut"
    )
    page.get_by_role("link", name="Ben").click()

    visit = page.get_by_role("region", name=re.compile("Your visit"))
    expect(visit).to_contain_text("1. Colour")
    expect(visit).to_contain_text("2. Haircut")
    expect(visit.get_by_role("link", name="Remove haircut")).to_be_visible()
    choose_day(page, day)
    page.get_by_role("link", name="9:00 AM", exact=True).click()

    summary = page.get_by_role("complementary", name="Your booking")
    expect(summary).to_contain_text("Ana · 9:00 AM \u2013 11:00 AM")
    expect(summary).to_contain_text("Ben · 11:00 AM \u2013 12:00 PM")
    expect(summary).to_contain_text("Total price")
    fill_details(page)
    page.get_by_role("button", name="Book visit (2 services)").click()

    expect(page.get_by_role("heading", name="Your visit")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("You're booked!")
    expect(page.locator(".facts")).to_contain_text("Colour with Ana")
    expect(page.locator(".facts")).to_contain_text("Haircut with Ben")
    assert sorted(Appointment.objects.values_list("stylist__name", flat=True)) == ["Ana", "Ben"]

    page.get_by_role("link", name="Cancel this visit (2 services)…").click()
    expect(page.get_by_role("heading", name="Cancel your visit?")).to_be_visible()
    page.get_by_role("button", name="Yes, cancel the visit (2 services)").click()

    expect(page.get_by_role("heading", name="Cancelled visit")).to_be_visible()
    expect(page.get_by_role("status")).to_contain_text("Your visit is cancelled.")
    assert set(Appointment.objects.values_list("status", flat=True)) == {Appointment.Status.CANCELLED}


def test_it_books_on_a_phone(browser: Browser, live_server, demo_tx, output_path):
    shots = Path(output_path)
    shots.mkdir(parents=True, exist_ok=True)
    day = demo_tx.next_working_day()
    context = browser.new_context(**PHONE)
    page = context.new_page()

    def look(name: str) -> None:
        assert fits_the_screen(page), f"{name}: the page scrolls sideways"
        page.screenshot(path=shots / f"{name}.png", full_page=True)

    page.goto(live_server.url)
    look("1-services")
    page.get_by_role("link", name="Colour").tap()
    expect(page.get_by_role("heading", name="Choose a stylist")).to_be_visible()
    look("2-stylist")
    page.get_by_role("link", name="Any stylist").tap()
    expect(page.get_by_role("heading", name="Choose a day")).to_be_visible()
    look("3-day")
    choose_day(page, day)
    slot = page.get_by_role("link", name="1:30 PM", exact=True)
    expect(slot).to_be_visible()
    assert slot.bounding_box()["height"] >= TAP_TARGET_PX
    look("4-time")
    slot.tap()
    expect(page.get_by_role("heading", name="Your details")).to_be_visible()
    fill_details(page)
    submit = page.get_by_role("button", name="Book appointment")
    assert submit.bounding_box()["height"] >= TAP_TARGET_PX
    look("5-details")
    submit.tap()

    expect(page.get_by_role("heading", name="Your appointment")).to_be_visible()
    expect(page.locator(".facts")).to_contain_text("1:30 PM \u2013 3:30 PM")
    expect(page.locator(".facts")).to_contain_text("Ana")  # the only one who colours
    look("6-booked")
    page.get_by_role("link", name="Cancel appointment…").tap()
    expect(page.get_by_role("heading", name="Cancel your appointment?")).to_be_visible()
    look("7-cancel")
    page.get_by_role("button", name="Yes, cancel appointment").tap()
    expect(page.get_by_role("heading", name="Cancelled appointment")).to_be_visible()
    look("8-cancelled")
    context.close()


def test_it_books_with_javascript_switched_off(browser: Browser, live_server, demo_tx):
    day = demo_tx.next_working_day()
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()

    page.goto(live_server.url)
    page.get_by_role("link", name="Haircut").click()
    page.get_by_role("link", name="Any stylist").click()
    choose_day(page, day)
    page.get_by_role("link", name="9:00 AM", exact=True).click()
    fill_details(page)
    page.get_by_role("button", name="Book appointment").click()

    expect(page.get_by_role("heading", name="Your appointment")).to_be_visible()
    expect(page.get_by_role("button", name="Copy link")).to_have_count(0)
    page.get_by_role("link", name="Cancel appointment…").click()
    page.get_by_role("button", name="Yes, cancel appointment").click()
    expect(page.get_by_role("heading", name="Cancelled appointment")).to_be_visible()
    assert Appointment.objects.get().status == Appointment.Status.CANCELLED
    context.close()


def test_it_tells_the_customer_when_the_time_was_just_taken(page: Page, live_server, demo_tx, output_path):
    day = demo_tx.next_working_day()
    page.goto(f"{live_server.url}/book/{demo_tx.haircut.pk}/{demo_tx.ben.pk}/{day.isoformat()}/10:00/")
    fill_details(page)
    AppointmentFactory(service=demo_tx.haircut, stylist=demo_tx.ben, starts_at=demo_tx.local(day, 10))

    page.get_by_role("button", name="Book appointment").click()

    expect(page.get_by_role("alert")).to_have_text(
        "That time has just been taken. Please choose another time."
    )
    expect(page.get_by_role("heading", name=re.compile("Choose a time"))).to_be_visible()
    page.screenshot(path=Path(output_path) / "taken.png", full_page=True)
    page.get_by_role("link", name="11:00 AM", exact=True).click()
    expect(page.get_by_label("Your name")).to_have_value("Zoe Park")  # no need to type it again


def test_it_shows_staff_the_day_sheet(browser: Browser, live_server, demo_tx, django_user_model, output_path):
    day = demo_tx.next_working_day()
    AppointmentFactory(
        service=demo_tx.colour,
        stylist=demo_tx.ana,
        starts_at=demo_tx.local(day, 9),
        customer_name="Priya Shah",
    )
    AppointmentFactory(
        service=demo_tx.haircut,
        stylist=demo_tx.ben,
        starts_at=demo_tx.local(day, 14),
        customer_name="Ivo Ruiz",
        customer_phone="+1 415 555 0199",
    )
    staff = Client()
    staff.force_login(django_user_model.objects.create_user(username="desk", password="x", is_staff=True))
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies(
        [{"name": "sessionid", "value": staff.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()

    page.goto(f"{live_server.url}/staff/day/?date={day.isoformat()}")

    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{format_day(day)}, {day.year}")
    expect(page.get_by_role("region", name="Ana")).to_contain_text("9:00 AM \u2013 11:00 AM")
    expect(page.get_by_role("region", name="Ana")).to_contain_text("Priya Shah")
    expect(page.get_by_role("region", name="Ben")).to_contain_text("2:00 PM \u2013 3:00 PM")
    page.screenshot(path=Path(output_path) / "day-sheet.png", full_page=True)
    page.get_by_role("link", name="Next day").click()
    expect(page.get_by_text("Priya Shah")).to_have_count(0)
    context.close()


def assert_accessible(page: Page) -> Counter[str]:
    """axe-core (WCAG 2.x A and AA rules) finds nothing on the page as shown;
    returns the violations by impact (all zero when it passes)."""
    results = AXE.run(
        page, options={"runOnly": {"type": "tag", "values": WCAG}, "resultTypes": ["violations"]}
    )
    impacts = Counter(violation["impact"] for violation in results.response["violations"])
    assert results.violations_count == 0, f"{page.url}\n{results.generate_report()}"
    return impacts


# The visit's words in each language (the services' and people's names stay as they are).
VISIT_WORDS = {
    "en": {
        "locale": "en-US",
        "today": "(today)",
        "add": "Add another service",
        "book": "Book visit (2 services)",
        "booked": "You're booked!",
        "cancel": "Cancel this visit (2 services)…",
        "confirm": "Yes, cancel the visit (2 services)",
        "cancelled": "Your visit is cancelled.",
    },
    "fr": {
        "locale": "fr-FR",
        "today": "(aujourd'hui)",
        "add": "Ajouter une prestation",
        "book": "Réserver la visite (2 prestations)",
        "booked": "C'est réservé",
        "cancel": "Annuler cette visite (2 prestations)…",
        "confirm": "Oui, annuler la visite (2 prestations)",
        "cancelled": "Votre visite est annulée.",
    },
    "es": {
        "locale": "es-ES",
        "today": "(hoy)",
        "add": "Añadir otro servicio",
        "book": "Reservar la visita (2 servicios)",
        "booked": "¡Reserva hecha!",
        "cancel": "Cancelar esta visita (2 servicios)…",
        "confirm": "Sí, cancelar la visita (2 servicios)",
        "cancelled": "Su visita está cancelada.",
    },
}


@pytest.mark.parametrize("language", ["en", "fr", "es"])
@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_every_page_of_booking_and_managing_a_visit_passes_axe(
    browser: Browser, live_server, demo_tx, device, language
):
    """In each language (the browser's locale sends its Accept-Language)."""
    words = VISIT_WORDS[language]
    day = demo_tx.next_working_day()
    with translation.override(language):
        day_label, nine = format_day(day), format_time(demo_tx.local(day, 9))
    context = browser.new_context(
        locale=words["locale"],
        **(PHONE if device == "phone" else {"viewport": {"width": 1280, "height": 800}}),
    )
    page = context.new_page()
    impacts: Counter[str] = Counter()

    page.goto(live_server.url)
    expect(page.locator("html")).to_have_attribute("lang", language)
    impacts += assert_accessible(page)  # the services
    page.get_by_role("link", name="Colour").click()
    impacts += assert_accessible(page)  # the stylists, with their own prices
    page.get_by_role("link", name="Ana").click()
    impacts += assert_accessible(page)  # the days
    page.get_by_role("link", name=words["add"]).click()
    impacts += assert_accessible(page)
    page.get_by_role("link", name="Haircut").click()
    impacts += assert_accessible(page)
    page.get_by_role("link", name="Ben").click()
    impacts += assert_accessible(page)  # the days, with the visit
    today = re.escape(words["today"])
    page.get_by_role("link", name=re.compile(rf"^{re.escape(day_label)}(?: {today})?\s?:")).click()
    impacts += assert_accessible(page)  # the times
    page.get_by_role("link", name=nine, exact=True).click()
    impacts += assert_accessible(page)  # the details form and the summary
    fill_details(page, language)
    page.get_by_role("button", name=words["book"]).click()
    expect(page.get_by_role("status")).to_contain_text(words["booked"])
    impacts += assert_accessible(page)  # the manage page
    page.get_by_role("link", name=words["cancel"]).click()
    impacts += assert_accessible(page)
    page.get_by_role("button", name=words["confirm"]).click()
    expect(page.get_by_role("status")).to_contain_text(words["cancelled"])
    impacts += assert_accessible(page)
    page.goto(f"{live_server.url}/book/999999/")
    impacts += assert_accessible(page)  # an error page
    context.close()
    counts = ", ".join(
        f"{impact} {impacts[impact]}" for impact in ("critical", "serious", "moderate", "minor")
    )
    print(f"axe, {language} on a {device}: {counts}")  # the counts the run reports (pytest -s)


def test_it_moves_an_appointment_to_another_time_and_every_page_passes_axe(page: Page, live_server, demo_tx):
    from chairtime.booking import services, tokens

    day = demo_tx.next_working_day()
    appointment = services.appointment_book(
        service_id=demo_tx.haircut.pk,
        stylist_id=demo_tx.ben.pk,
        start=demo_tx.local(day, 10),
        customer_name="Zoe Park",
        customer_email="zoe@example.com",
    )

    page.goto(f"{live_server.url}/booking/{tokens.make_manage_token(appointment.pk)}/")
    page.get_by_role("link", name="Change time…").click()
    expect(page.get_by_role("heading", name="Change the time of your appointment")).to_be_visible()
    assert_accessible(page)  # the days
    choose_day(page, day)
    expect(page.get_by_role("heading", name=f"Free times on {format_day(day)}")).to_be_visible()
    expect(page.get_by_text("(your time now)")).to_be_visible()
    assert_accessible(page)  # the day's times
    page.get_by_role("link", name="3:00 PM", exact=True).click()
    expect(page.get_by_role("heading", name="Move your appointment?")).to_be_visible()
    assert_accessible(page)  # the confirmation
    page.get_by_role("button", name=re.compile("Yes, move it")).click()

    expect(page.get_by_role("status")).to_contain_text("Your appointment has a new time.")
    expect(page.locator(".facts")).to_contain_text("3:00 PM \u2013 4:00 PM")
    assert_accessible(page)
    appointment.refresh_from_db()
    assert appointment.starts_at == demo_tx.local(day, 15)


def assert_no_serious_problems(page: Page) -> None:
    """axe-core finds nothing critical or serious on the page as shown: the
    admin's own markup (Django's) carries a few minor and moderate findings that
    are not ours to change."""
    results = AXE.run(
        page, options={"runOnly": {"type": "tag", "values": WCAG}, "resultTypes": ["violations"]}
    )
    serious = [v for v in results.response["violations"] if v["impact"] in ("critical", "serious")]
    assert not serious, f"{page.url}\n{results.generate_report()}"


@pytest.mark.parametrize("language", ["en", "fr", "es"])
def test_the_back_office_forms_and_the_schedule_change_page_pass_axe_in_every_language(
    browser: Browser, live_server, demo_tx, django_user_model, language
):
    from django.conf import settings

    from chairtime.booking import services

    day = demo_tx.next_working_day(min_days_ahead=3)
    services.appointment_book(
        service_id=demo_tx.haircut.pk,
        stylist_id=demo_tx.ana.pk,
        start=demo_tx.local(day, 10),
        customer_name="Zoe Park",
        customer_email="zoe@example.com",
    )
    manager = Client()
    manager.force_login(django_user_model.objects.create_superuser("manager", "manager@example.com", "x"))
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies(
        [
            {"name": "sessionid", "value": manager.cookies["sessionid"].value, "url": live_server.url},
            {"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url},
        ]
    )
    page = context.new_page()

    for form in ("stylist", "service", "timeoff"):
        page.goto(f"{live_server.url}/admin/booking/{form}/add/")
        expect(page.locator("html")).to_have_attribute("lang", language)
        assert_no_serious_problems(page)

    # Time off over the booking: the page that asks what to do with it.
    page.select_option("#id_stylist", label="Ana")
    page.fill("#id_start_0", day.isoformat())
    page.fill("#id_start_1", "09:00")
    page.fill("#id_end_0", day.isoformat())
    page.fill("#id_end_1", "12:00")
    page.locator("input[name=_save]").click()
    expect(page.get_by_role("radio")).to_have_count(2)
    expect(page.locator("#content table")).to_contain_text("Zoe Park")
    assert_no_serious_problems(page)
    context.close()
