"""Each role's day at the desk in a real browser (Debian's Chromium via Playwright),
in English and in French: a manager, the front desk and a stylist each do their job
end to end, and axe-core checks every page they see (WCAG 2.2 A and AA: no critical
and no serious violation; the counts are printed, `pytest -s` shows them).

One test serves both languages. The French runs open a browser that asks for French
(``locale="fr-FR"``: its Accept-Language header) and every label is looked up through
Django's gettext, as the page's own template does. A label with a time or a name in it
is not looked up: those steps use what does not change with the language (a form's
action, a field's name, a button's value, a link's address).

The clock: the desk cannot book in the past, and an appointment can be marked completed
only once it has started. So the server's clock (time-machine, which moves the live
server's thread as well: one process) starts at 8:00 on a working day a few days ahead
and is moved past the walk-in's start before it is marked completed. It stays within
days of the real date, since the browser keeps its cookies by its own clock.

Runs in a pytest process of its own (the Makefile's BROWSER_TESTS), as
chairtime/booking/tests/test_browser.py explains.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime

import pytest
import time_machine
from axe_playwright_python.sync_playwright import Axe
from django.utils import translation
from django.utils.translation import gettext
from playwright.sync_api import Browser, Locator, Page, Response, expect

from chairtime.booking import services
from chairtime.booking.models import Appointment, Stylist, TimeOff
from chairtime.booking.tests.fixtures import DemoSalon
from chairtime.clients.models import Client, ColourFormula
from chairtime.frontdesk.models import AppointmentEvent, Attendance, Role, StaffMember
from chairtime.frontdesk.tests.test_browser import drag, point_in
from chairtime.messages.models import Message

pytestmark = pytest.mark.browser

os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"  # see booking's test_browser.py

AXE = Axe()
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
LANGUAGES = ["en", "fr"]
BROWSER_LOCALES = {"en": "en-US", "fr": "fr-FR"}
PASSWORD = "a long pass phrase"
WALK_IN, WALK_IN_PHONE = "Walk In", "+1 415 555 0142"


def translated(lang: str, msgid: str) -> str:
    """What a page in ``lang`` shows for ``msgid`` (English until it is translated)."""
    with translation.override(lang):
        return gettext(msgid)


@dataclass
class Journey:
    """One staff member's browser, in one language, on the salon's working day."""

    page: Page
    lang: str
    base_url: str
    demo: DemoSalon
    day: date
    clock: time_machine.Traveller

    def _(self, msgid: str) -> str:
        return translated(self.lang, msgid)

    def go(self, path: str) -> Response | None:
        return self.page.goto(f"{self.base_url}{path}")

    def at(self, hh: int, mm: int = 0) -> datetime:
        return self.demo.local(self.day, hh, mm)

    def set_clock(self, hh: int, mm: int = 0) -> None:
        """Move the server's clock to hh:mm on the day (it keeps ticking from there)."""
        self.clock.move_to(self.at(hh, mm))

    def check_accessible(self, what: str) -> None:
        """axe-core over the page as shown: no critical and no serious violation."""
        results = AXE.run(
            self.page, options={"runOnly": {"type": "tag", "values": WCAG}, "resultTypes": ["violations"]}
        )
        violations = results.response["violations"]
        impacts = Counter(v["impact"] for v in violations)
        print(
            f"axe [{self.lang}] {what}: {impacts['critical']} critical, {impacts['serious']} serious, "
            f"{impacts['moderate']} moderate, {impacts['minor']} minor",
            *(f"{v['id']} ({v['impact']}: {v['nodes'][0]['target']})" for v in violations),
        )
        assert impacts["critical"] == impacts["serious"] == 0, f"{self.page.url}\n{results.generate_report()}"

    def wait_for_path(self, pattern: str) -> None:
        """Until the page is at ``pattern`` (a regular expression), any #fragment aside."""
        self.page.wait_for_url(re.compile(f"^{re.escape(self.base_url)}{pattern}(#.*)?$"))


@pytest.fixture
def journey(browser: Browser, live_server, demo_tx, lang: str) -> Iterator[Journey]:
    day = demo_tx.next_working_day()
    with time_machine.travel(demo_tx.local(day, 8), tick=True) as clock:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=BROWSER_LOCALES[lang])
        context.set_default_timeout(10_000)
        yield Journey(context.new_page(), lang, live_server.url, demo_tx, day, clock)
        context.close()


def make_account(django_user_model, username: str, role: Role, stylist: Stylist | None = None):
    user = django_user_model.objects.create_user(username=username, password=PASSWORD)
    # As `manage.py desk_staff` sets them: only a manager may open the Django admin.
    user.is_staff = user.is_superuser = role == Role.MANAGER
    user.save(update_fields=["is_staff", "is_superuser"])
    StaffMember.objects.create(user=user, role=role, stylist=stylist)
    return user


def sign_in(j: Journey, username: str) -> None:
    j.go("/desk/login/")
    expect(j.page.locator("html")).to_have_attribute("lang", j.lang)
    expect(j.page.get_by_role("heading", level=1)).to_have_text(j._("Sign in to the front desk"))
    j.check_accessible("sign-in page")
    j.page.get_by_label(j._("User name")).fill(username)
    # By its name: Django's own catalog says "Password" in French already, the page
    # not until the desk's templates are translated.
    j.page.locator("input[name=password]").fill(PASSWORD)
    j.page.get_by_role("button", name=j._("Sign in")).click()
    j.wait_for_path("/desk/")
    j.check_accessible("desk home")


def open_day(j: Journey) -> None:
    j.go(f"/desk/day/?date={j.day:%Y-%m-%d}")
    j.check_accessible("day calendar")


def slot_link(j: Journey, stylist: Stylist, hh: int, mm: int = 0) -> Locator:
    """A free start's link on the calendar ("Book Ana at 11:00 AM", in words that vary)."""
    start = j.at(hh, mm)
    return j.page.locator(f'a[href="/desk/book/?stylist={stylist.pk}&start={start:%Y-%m-%dT%H:%M}"]')


def appointment_link(j: Journey, appointment: Appointment) -> Locator:
    return j.page.locator(f'a[href="/desk/appointment/{appointment.pk}/"]')


def book_walk_in(j: Journey, stylist: Stylist, hh: int, *, start_card: bool = True) -> Appointment:
    """From the day's calendar: a phone customer with no e-mail address (and a card)."""
    slot_link(j, stylist, hh).click()
    j.wait_for_path(r"/desk/book/\?.*")
    expect(j.page.get_by_role("heading", level=1)).to_have_text(j._("Book a walk-in or phone customer"))
    j.check_accessible("booking form")
    form = j.page.locator("form[method=post]:has([name=nonce])")
    form.get_by_label(j._("Customer's name")).fill(WALK_IN)
    form.get_by_label(j._("Phone number (optional)")).fill(WALK_IN_PHONE)
    expect(form.locator("[name=customer_email]")).to_have_value("")
    form.get_by_label(j.demo.haircut.name, exact=True).check()  # services' names stay as named
    if start_card:
        form.locator("[name=start_card]").check()
    form.locator("button[type=submit]").click()
    j.wait_for_path(r"/desk/appointment/\d+/")
    expect(j.page.get_by_role("status")).to_contain_text(WALK_IN)
    j.check_accessible("appointment page, booked")
    walk_in = Appointment.objects.get(pk=int(j.page.url.rstrip("/").rsplit("/", 1)[1]))
    assert (walk_in.customer_name, walk_in.customer_email) == (WALK_IN, "")
    assert walk_in.stylist == stylist and walk_in.starts_at == j.at(hh)
    return walk_in


def move_by_form(j: Journey, appointment: Appointment, hh: int, stylist: Stylist | None) -> None:
    """The appointment page's move link, then the form: another start, and another
    stylist or (``None``) each service's own."""
    j.page.locator(f'a[href="/desk/appointment/{appointment.pk}/move/"]').click()
    j.wait_for_path(rf"/desk/appointment/{appointment.pk}/move/")
    j.check_accessible("move form")
    form = j.page.locator("form[method=post]:has([name=nonce])")
    form.get_by_label(j._("New start time")).fill(f"{hh:02d}:00")
    if stylist is not None:
        form.get_by_label(j._("Stylist")).select_option(label=stylist.name)
    form.locator("button[type=submit]").click()
    j.wait_for_path(rf"/desk/appointment/{appointment.pk}/")
    expect(j.page.get_by_role("status")).to_be_visible()
    j.check_accessible("appointment page, moved")
    appointment.refresh_from_db()
    assert appointment.starts_at == j.at(hh)
    if stylist is not None:
        assert appointment.stylist == stylist


def mark(j: Journey, appointment: Appointment, *attendances: Attendance) -> None:
    """Press the appointment page's status buttons in turn (found by their values)."""
    for attendance in attendances:
        j.page.locator(f'button[name=action][value="{attendance.value}"]').click()
        j.wait_for_path(rf"/desk/appointment/{appointment.pk}/")
        expect(j.page.locator(f".desk-facts .badge--{attendance.value}")).to_be_visible()
        j.check_accessible(f"appointment page, {attendance.value}")
    assert appointment.desk_events.filter(kind__in=[a.value for a in attendances]).count() == len(attendances)


def open_card(j: Journey, search: str, card: Client) -> None:
    """The desk's navigation to the client list, a search, then the card."""
    j.page.locator('nav a[href="/staff/clients/"]').click()
    j.wait_for_path("/staff/clients/")
    j.check_accessible("client list")
    j.page.get_by_label(j._("Name, e-mail or phone")).fill(search)
    j.page.get_by_role("search").locator("button[type=submit]").click()  # "Search": in Django's catalog too
    j.wait_for_path(r"/staff/clients/\?q=.*")
    j.check_accessible("client search")
    j.page.get_by_role("link", name=card.name, exact=True).click()
    j.wait_for_path(f"/staff/clients/{card.pk}/")
    expect(j.page.get_by_role("heading", level=1)).to_have_text(card.name)
    j.check_accessible("client card")


def record_formula(j: Journey, card: Client, text: str) -> None:
    form = j.page.locator(f'form[action="/staff/clients/{card.pk}/formulas/"]')
    form.get_by_label(j._("Date"), exact=True).fill(f"{j.day:%Y-%m-%d}")
    form.get_by_label(j._("Visit (optional)")).select_option(index=1)
    form.get_by_role("textbox", name=j._("Formula"), exact=True).fill(text)
    form.locator("button[type=submit]").click()
    j.wait_for_path(f"/staff/clients/{card.pk}/")
    expect(j.page.locator("section[aria-labelledby=formulas]")).to_contain_text(text)
    j.check_accessible("client card, formula added")
    formula = ColourFormula.objects.get(client=card)
    assert (formula.text, formula.date, formula.appointment_id is not None) == (text, j.day, True)


def report_totals(j: Journey) -> tuple[int, str]:
    """The report's total row (its default range ends today): completed, revenue."""
    response = j.go("/desk/reports/")
    assert response is not None and response.status == 200
    j.check_accessible("report")
    total = j.page.locator("table tfoot tr").locator("td")
    return int(total.nth(4).inner_text()), total.nth(5).inner_text()


def expect_forbidden(j: Journey, path: str, what: str) -> None:
    """The desk's 403 page: it says in a sentence why."""
    response = j.go(path)
    assert response is not None and response.status == 403, (path, response and response.status)
    expect(j.page.get_by_role("heading", level=1)).to_have_text(j._("You can't open this page"))
    j.check_accessible(what)


def card_of(appointment: Appointment) -> Client:
    return appointment.client_link.client


# --- the manager ------------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_manager_runs_the_day_from_a_walk_in_to_the_report_and_time_off(
    journey: Journey, django_user_model
):
    j, demo = journey, journey.demo
    priya = services.appointment_book(
        service_id=demo.haircut.pk,
        stylist_id=demo.ana.pk,
        start=j.at(15),
        customer_name="Priya Shah",
        customer_email="priya@example.com",
    )
    make_account(django_user_model, "maria", Role.MANAGER)

    sign_in(j, "maria")
    completed_before, revenue_before = report_totals(j)

    open_day(j)
    expect(j.page.get_by_role("heading", name=demo.ana.name, exact=True)).to_be_visible()
    expect(j.page.get_by_role("heading", name=demo.ben.name, exact=True)).to_be_visible()
    walk_in = book_walk_in(j, demo.ben, 10)
    move_by_form(j, walk_in, 11, demo.ana)  # another time and another stylist
    j.set_clock(11, 5)  # the walk-in has started: completing it is allowed
    mark(j, walk_in, Attendance.ARRIVED, Attendance.COMPLETED)
    assert walk_in.desk_state.attendance == Attendance.COMPLETED

    card = card_of(walk_in)
    open_card(j, "555 0142", card)
    record_formula(j, card, "6.1 + 7.1 (1:1), 20 vol, 35 min")

    completed_after, revenue_after = report_totals(j)
    assert completed_after == completed_before + 1
    assert revenue_after != revenue_before, revenue_after

    # Ana away this afternoon, over Priya's haircut: the back office's time off.
    j.page.locator('nav a[href="/admin/"]').click()
    j.wait_for_path("/admin/")
    j.check_accessible("Django admin home")
    j.page.locator('a[href="/admin/booking/timeoff/add/"]').first.click()
    j.wait_for_path("/admin/booking/timeoff/add/")
    j.check_accessible("time off form")
    j.page.locator("#id_stylist").select_option(label=demo.ana.name)
    j.page.locator("#id_start_0").fill(f"{j.day:%Y-%m-%d}")
    j.page.locator("#id_start_1").fill("14:00")
    j.page.locator("#id_end_0").fill(f"{j.day:%Y-%m-%d}")
    j.page.locator("#id_end_1").fill("17:00")
    j.page.locator("#id_reason").fill("Dentist")
    j.page.locator("input[name=_save]").click()

    # Nothing saved yet: the page lists Priya's haircut and asks what to do with it.
    decisions = j.page.locator("form:has(input[name=_schedule_decisions])")
    expect(decisions.locator("tbody tr")).to_have_count(1)
    expect(decisions.locator("tbody tr")).to_contain_text("Priya Shah")
    assert not TimeOff.objects.exists()
    j.check_accessible("appointments the change affects")
    decisions.locator(f'input[name="decision-{priya.pk}"][value=cancel]').check()
    decisions.locator("input[type=submit]").click()
    j.wait_for_path("/admin/booking/timeoff/")
    j.check_accessible("time off list")

    time_off = TimeOff.objects.get()
    assert (time_off.stylist, time_off.start, time_off.end) == (demo.ana, j.at(14), j.at(17))
    priya.refresh_from_db()
    assert priya.status == Appointment.Status.CANCELLED
    assert Message.objects.filter(
        appointment=priya, kind=Message.Kind.VISIT_CANCELLED, recipient="priya@example.com"
    ).exists()
    walk_in.refresh_from_db()
    assert walk_in.status == Appointment.Status.CONFIRMED  # 11:00 is before the time off

    # The desk shows it: Priya's haircut among the cancelled, with no buttons left.
    open_day(j)
    expect(j.page.locator(f'.cancelled-list a[href="/desk/appointment/{priya.pk}/"]')).to_be_visible()
    j.go(f"/desk/appointment/{priya.pk}/")
    expect(j.page.locator("button[name=action]")).to_have_count(0)
    j.check_accessible("cancelled appointment")


# --- the front desk ---------------------------------------------------------------


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_front_desk_books_moves_and_completes_a_phone_customer_and_is_kept_out_of_reports(
    journey: Journey, django_user_model
):
    j, demo = journey, journey.demo
    make_account(django_user_model, "fred", Role.FRONT_DESK)

    sign_in(j, "fred")
    open_day(j)
    walk_in = book_walk_in(j, demo.ana, 10)
    move_by_form(j, walk_in, 11, None)  # another time, the same stylist
    assert walk_in.stylist == demo.ana
    j.set_clock(11, 5)
    mark(j, walk_in, Attendance.ARRIVED, Attendance.COMPLETED)
    assert list(AppointmentEvent.objects.filter(appointment=walk_in).values_list("kind", flat=True)) == [
        "booked",
        "moved",
        "arrived",
        "completed",
    ]

    card = card_of(walk_in)
    assert (card.name, card.email, card.phone) == (WALK_IN, None, WALK_IN_PHONE)
    open_card(j, "555 0142", card)
    record_formula(j, card, "7N + 20 vol, 30 min")

    expect(j.page.locator('nav a[href="/desk/reports/"]')).to_have_count(0)
    expect_forbidden(j, "/desk/reports/", "report, refused")
    # The Django admin is for managers only: it turns the account away, with Django's
    # own page (its sign-in form, saying this account may not open the admin), not the
    # desk's 403 page.
    j.go("/admin/")
    j.wait_for_path(r"/admin/login/\?next=/admin/")
    expect(j.page.locator("#login-form")).to_be_visible()
    expect(j.page.locator(".errornote")).to_contain_text("fred")
    j.check_accessible("Django admin, refused")


# --- a stylist --------------------------------------------------------------------


def stylist_may_book(j: Journey) -> bool:
    """Whether the stylist's calendar offers free starts to book (the desk's booking
    for stylists, in their own column, is being added on another branch)."""
    return j.page.locator('a[href^="/desk/book/"]').count() > 0


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_stylist_works_their_own_column_and_their_own_clients_only(journey: Journey, django_user_model):
    j, demo = journey, journey.demo
    chloe = services.appointment_book(
        service_id=demo.haircut.pk,
        stylist_id=demo.ana.pk,
        start=j.at(10),
        customer_name="Chloe Martin",
        customer_email="chloe@example.com",
    )
    dan = services.appointment_book(
        service_id=demo.haircut.pk,
        stylist_id=demo.ben.pk,
        start=j.at(10),
        customer_name="Dan Brown",
        customer_email="dan@example.com",
    )
    make_account(django_user_model, "ana", Role.STYLIST, demo.ana)

    sign_in(j, "ana")
    open_day(j)
    expect(j.page.get_by_role("heading", name=demo.ana.name, exact=True)).to_be_visible()
    expect(j.page.get_by_role("heading", name=demo.ben.name, exact=True)).to_have_count(0)
    expect(appointment_link(j, chloe)).to_be_visible()
    expect(appointment_link(j, dan)).to_have_count(0)
    j.page.locator(f'nav a[href="/desk/week/?stylist={demo.ana.pk}"]').click()
    j.wait_for_path(rf"/desk/week/\?stylist={demo.ana.pk}")
    expect(j.page.locator("section.cal__col")).to_have_count(7)  # her week: a column a day
    expect(appointment_link(j, chloe)).to_be_visible()
    j.check_accessible("week calendar")

    open_day(j)
    if stylist_may_book(j):
        walk_in = book_walk_in(j, demo.ana, 11, start_card=False)
        assert walk_in.stylist == demo.ana
        open_day(j)
    # else: a stylist cannot book yet on this branch (docs/frontdesk.md, "Not yet");
    # the step runs by itself once the calendar offers them free starts.

    appointment_link(j, chloe).click()
    j.wait_for_path(rf"/desk/appointment/{chloe.pk}/")
    expect(j.page.locator('a[href$="/move/"]')).to_have_count(0)  # moving is the desk's
    expect(j.page.locator('button[name=action][value^="cancel"]')).to_have_count(0)
    j.check_accessible("appointment page")
    j.set_clock(10, 5)
    mark(j, chloe, Attendance.ARRIVED, Attendance.COMPLETED)

    chloe_card, dan_card = card_of(chloe), card_of(dan)
    open_card(j, "Chloe", chloe_card)
    expect(j.page.get_by_role("link", name="Dan Brown")).to_have_count(0)
    record_formula(j, chloe_card, "8.3 + 9.3 (2:1), 10 vol, 25 min")

    j.page.locator('nav a[href="/staff/clients/"]').click()
    expect(j.page.get_by_role("link", name="Dan Brown", exact=True)).to_have_count(0)
    expect_forbidden(j, f"/staff/clients/{dan_card.pk}/", "another stylist's client, refused")
    assert not ColourFormula.objects.filter(client=dan_card).exists()


# --- moving by drag and drop ------------------------------------------------------
# calendar.js: the desk and managers drag a block (pointer events) onto another
# stylist's column and time; a stylist's calendar has nothing to drag.


def drag_appointment(j: Journey, appointment: Appointment, stylist: Stylist, hh: int) -> None:
    """Drag the appointment's block onto a free start; wait until the desk moved it."""
    block = j.page.locator(f'a[data-move][href="/desk/appointment/{appointment.pk}/"]')
    expect(block).to_have_count(1)
    drag(j.page, block, point_in(j.page, stylist.name, hh, 5))
    expect(j.page.get_by_role("status")).to_be_visible()
    appointment.refresh_from_db()
    assert (appointment.stylist, appointment.starts_at) == (stylist, j.at(hh))
    j.check_accessible("day calendar, after a drag")


def book_for(demo: DemoSalon, stylist: Stylist, start: datetime) -> Appointment:
    return services.appointment_book(
        service_id=demo.haircut.pk,
        stylist_id=stylist.pk,
        start=start,
        customer_name="Chloe Martin",
        customer_email="chloe@example.com",
    )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_manager_moves_an_appointment_by_dragging_it(journey: Journey, django_user_model):
    j, demo = journey, journey.demo
    booked = book_for(demo, demo.ben, j.at(10))
    make_account(django_user_model, "maria", Role.MANAGER)
    sign_in(j, "maria")
    open_day(j)
    drag_appointment(j, booked, demo.ana, 11)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_the_front_desk_moves_an_appointment_by_dragging_it(journey: Journey, django_user_model):
    j, demo = journey, journey.demo
    booked = book_for(demo, demo.ana, j.at(10))
    make_account(django_user_model, "fred", Role.FRONT_DESK)
    sign_in(j, "fred")
    open_day(j)
    drag_appointment(j, booked, demo.ben, 11)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_a_stylist_has_nothing_to_drag(journey: Journey, django_user_model):
    """Moving is the desk's (docs/frontdesk.md, roles): a stylist's blocks are links
    to the appointment, not handles."""
    j, demo = journey, journey.demo
    booked = book_for(demo, demo.ana, j.at(10))
    make_account(django_user_model, "ana", Role.STYLIST, demo.ana)
    sign_in(j, "ana")
    open_day(j)
    expect(j.page.locator(f'a[href="/desk/appointment/{booked.pk}/"]').first).to_be_visible()
    expect(j.page.locator("a[data-move]")).to_have_count(0)
