"""Staff use the client pages in a real browser (Debian's Chromium via Playwright):
search, open a card, write notes, record a formula, reach the erase confirmation;
axe-core checks every page against WCAG 2.2 A and AA, and the client pages and the
report again in English, French and Spanish.

Runs in a pytest process of its own, as chairtime/booking/tests/test_browser.py
explains (the Makefile's BROWSER_TESTS)."""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, datetime

import pytest
from axe_playwright_python.base import AxeResults
from django.conf import settings
from django.test import Client as DjangoClient
from playwright.sync_api import Browser, Page, expect

from chairtime.booking.tests.test_browser import AXE, WCAG, assert_accessible
from chairtime.clients.models import Client, ColourFormula
from chairtime.clients.tests.conftest import staff_user, visit_of
from chairtime.frontdesk.models import Role

pytestmark = pytest.mark.browser

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # see booking's test_browser.py


def test_staff_find_a_client_record_a_formula_and_reach_erasure(browser: Browser, live_server, demo_tx):
    card = Client.objects.create(
        salon=demo_tx.salon,
        name="علی‌رضا Ahmadi",
        email="alireza@example.com",
        phone="+1 415 555 0142",
        created_at=datetime(2026, 1, 5, tzinfo=UTC),
    )
    Client.objects.create(
        salon=demo_tx.salon, name="Ana 💇‍♀️", email="ana@example.com", created_at=card.created_at
    )
    visit_of(card, demo_tx, datetime(2026, 2, 2, 18, tzinfo=UTC))
    manager = staff_user("manager", Role.MANAGER)
    session = DjangoClient()
    session.force_login(manager)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies(
        [{"name": "sessionid", "value": session.cookies["sessionid"].value, "url": live_server.url}]
    )
    page = context.new_page()

    page.goto(f"{live_server.url}/staff/clients/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Clients")
    assert_accessible(page)
    page.get_by_label("Name, e-mail or phone").fill("555 0142")
    page.get_by_role("button", name="Search").click()
    expect(page.get_by_role("table")).to_contain_text("1 client matching")
    assert_accessible(page)
    page.get_by_role("link", name="علی‌رضا Ahmadi").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("علی‌رضا Ahmadi")
    expect(page.get_by_role("table", name="Past and cancelled")).to_contain_text("Monday, February 2, 2026")
    assert_accessible(page)
    page.get_by_role("textbox", name="Notes").fill("Prefers mornings.")
    page.get_by_role("button", name="Save notes").click()
    expect(page.get_by_role("status")).to_have_text("Notes saved.")
    page.get_by_label("Date", exact=True).fill("2026-02-02")
    page.get_by_label("Visit (optional)").select_option(index=1)
    page.get_by_role("textbox", name="Formula", exact=True).fill("6.1 + 7.1 (1:1), 20 vol, 35 min")
    page.get_by_role("button", name="Add formula").click()
    expect(page.get_by_role("region", name="Colour formulas")).to_contain_text(
        "6.1 + 7.1 (1:1), 20 vol, 35 min"
    )
    assert_accessible(page)

    page.get_by_role("link", name="Erase this client…").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Erase علی‌رضا Ahmadi?")
    assert_accessible(page)
    page.get_by_role("link", name="Keep the client").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("علی‌رضا Ahmadi")
    context.close()

    card.refresh_from_db()
    assert card.notes == "Prefers mornings."
    assert ColourFormula.objects.get().staff == manager
    assert card.erased_at is None


def axe_impacts(page: Page) -> tuple[Counter, AxeResults]:
    """How many of axe's WCAG A/AA violations on the page as shown are of each impact,
    and axe's results (their report says which and where)."""
    results = AXE.run(
        page, options={"runOnly": {"type": "tag", "values": WCAG}, "resultTypes": ["violations"]}
    )
    return Counter(violation["impact"] for violation in results.response["violations"]), results


@pytest.mark.parametrize(
    ("language", "clients", "erase", "reports"),
    [
        ("en", "Clients", "Erase Ana Lima?", "Reports"),
        ("fr", "Clients", "Effacer Ana Lima\u00a0?", "Rapports"),
        ("es", "Clientes", "¿Suprimir a Ana Lima?", "Informes"),
    ],
)
def test_the_client_pages_and_the_report_pass_axe_in_each_language(
    browser: Browser, live_server, demo_tx, language, clients, erase, reports
):
    card = Client.objects.create(
        salon=demo_tx.salon,
        name="Ana Lima",
        email="ana.lima@example.com",
        created_at=datetime(2026, 1, 5, tzinfo=UTC),
    )
    visit_of(card, demo_tx, datetime(2026, 2, 2, 18, tzinfo=UTC))
    visit_of(card, demo_tx, datetime(2027, 2, 2, 18, tzinfo=UTC))  # to come: the erase page warns
    manager = staff_user("manager", Role.MANAGER)
    ColourFormula.objects.create(
        client=card, date=datetime(2026, 2, 2).date(), text="6.1", staff=manager, created_at=card.created_at
    )
    session = DjangoClient()
    session.force_login(manager)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.add_cookies(
        [
            {"name": "sessionid", "value": session.cookies["sessionid"].value, "url": live_server.url},
            # The language switch's choice, as the footer's form keeps it.
            {"name": settings.LANGUAGE_COOKIE_NAME, "value": language, "url": live_server.url},
        ]
    )
    page = context.new_page()
    pages = {
        "search": ("/staff/clients/", clients),
        "search results": ("/staff/clients/?q=Lima", clients),
        "card": (f"/staff/clients/{card.pk}/", "Ana Lima"),
        "erase": (f"/staff/clients/{card.pk}/erase/", erase),
        "report": ("/desk/reports/?from=2026-01-26&to=2026-02-08", reports),
    }
    found = Counter()
    for name, (path, heading) in pages.items():
        page.goto(f"{live_server.url}{path}")
        expect(page.locator("html")).to_have_attribute("lang", language)
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        impacts, results = axe_impacts(page)
        found += impacts
        assert impacts["critical"] == impacts["serious"] == 0, (
            f"{language} {name}\n{results.generate_report()}"
        )
    context.close()
    # The counts per language, for the report (pytest -rP shows them).
    print(f"axe in {language}: {dict(found) or 'no violations'} over {len(pages)} pages")
