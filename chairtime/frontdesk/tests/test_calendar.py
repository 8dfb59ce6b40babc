"""The desk calendar: day and week grids, what they show, and what they cost."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from chairtime.booking import services
from chairtime.booking.tests.factories import (
    AppointmentFactory,
    ClosureFactory,
    SpecialHoursFactory,
    StylistFactory,
    TimeOffFactory,
)
from chairtime.booking.tests.fixtures import make_colour_salon
from chairtime.frontdesk import gridcss
from chairtime.frontdesk.models import AppointmentState, Attendance
from chairtime.frontdesk.tests.conftest import DAY, NOW

DAY_URL = reverse("frontdesk:day")
WEEK_URL = reverse("frontdesk:week")


def text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def column(response, name: str) -> str:
    """The HTML of the column headed ``name``."""
    body = response.content.decode()
    for section in re.findall(r'<section class="cal__col".*?</section>', body, re.S):
        if re.search(rf'class="cal__name[^"]*">{re.escape(name)}\b', section):
            return section
    raise AssertionError(f"no column {name!r}")


def test_it_draws_working_hours_with_the_lunch_break_off(desk, demo):
    response = desk.front.get(f"{DAY_URL}?date={DAY}")
    assert response.status_code == 200
    ana = column(response, "Ana")
    # 09:00-12:30 and 13:30-18:00: two working blocks on a grid that starts at 9:00.
    works = re.findall(r'class="blk blk--work gc-\d+ gr-(\d+) rs-(\d+)"', ana)
    assert works == [("3", "42"), ("57", "54")]


def test_it_links_every_free_slot_and_none_that_is_taken(desk, demo):
    AppointmentFactory(service=demo.haircut, stylist=demo.ana, starts_at=demo.local(DAY, 10))
    ana = column(desk.front.get(f"{DAY_URL}?date={DAY}"), "Ana")
    links = re.findall(r'href="/desk/book/\?stylist=\d+&amp;start=2027-03-02T(\d\d:\d\d)"', ana)
    assert "09:30" in links
    assert "10:00" not in links and "10:30" not in links
    assert "11:00" in links
    assert "12:30" not in links  # lunch
    assert len(links) == 7 + 9 - 2


def test_it_shows_the_appointment_coloured_by_its_status(desk, demo):
    appointment = AppointmentFactory(
        service=demo.haircut, stylist=demo.ana, starts_at=demo.local(DAY, 10), customer_name="Zoe Park"
    )
    ana = column(desk.front.get(f"{DAY_URL}?date={DAY}"), "Ana")
    assert "blk--booked" in ana
    assert "Haircut · Zoe Park 10:00 AM \u2013 11:00 AM · Booked" in text(ana)
    AppointmentState.objects.create(appointment=appointment, attendance=Attendance.ARRIVED, changed_at=NOW)
    ana = column(desk.front.get(f"{DAY_URL}?date={DAY}"), "Ana")
    assert "blk--arrived" in ana
    assert "· Arrived" in text(ana)


def test_it_shows_the_processing_gap_as_free_and_bookable(desk, demo):
    colour = make_colour_salon(demo)
    services.appointment_book(
        service_id=colour.colour.pk,
        stylist_id=demo.ana.pk,
        start=demo.local(DAY, 10),
        customer_name="Colour client",
        customer_email="c@example.com",
        now=NOW,
    )
    ana = column(desk.front.get(f"{DAY_URL}?date={DAY}"), "Ana")
    assert "Processing \u2013 free to book" in text(ana)
    assert re.search(r'class="blk blk--gap gc-\d+ gr-\d+ rs-9"', ana)  # 45 minutes
    links = re.findall(r"start=2027-03-02T(\d\d:\d\d)", ana)
    # 10:00-10:45 application (busy), 10:45-11:30 processing (free), 11:30-11:45 rinse.
    assert "10:15" not in links
    assert {"10:45", "11:00", "11:15"} <= set(links)
    assert "11:30" not in links


def test_it_shows_time_off_closures_and_special_hours(desk, demo):
    TimeOffFactory(stylist=demo.ben, start=demo.local(DAY, 14), end=demo.local(DAY, 16), reason="Dentist")
    SpecialHoursFactory(date=DAY, start=time(10), end=time(15))
    ClosureFactory(date=DAY + timedelta(days=1), reason="Staff training")
    response = desk.front.get(f"{DAY_URL}?date={DAY}")
    ben = column(response, "Ben")
    assert "Away 2:00 PM \u2013 4:00 PM: Dentist" in text(ben)
    assert "Special hours 10:00\u201315:00" in text(ben)
    assert not re.search(r"start=2027-03-02T(09:|15:|16:)", ben)  # the salon opens 10:00-15:00
    closed = column(desk.front.get(f"{DAY_URL}?date={DAY + timedelta(days=1)}"), "Ana")
    assert "Closed: Staff training" in text(closed)
    assert "/desk/book/" not in closed


def test_it_marks_today_and_now(desk, demo, clock):
    clock.move_to(demo.local(DAY, 11, 7))
    response = desk.front.get(DAY_URL)
    body = response.content.decode()
    assert "Today" in text(body)
    assert body.count('id="now"') == 2  # one per stylist
    assert "Now, 11:07 AM" in text(body)
    ana = column(response, "Ana")
    assert "start=2027-03-02T11:00" not in ana  # the past is not bookable
    assert "start=2027-03-02T11:30" in ana
    assert 'id="now"' not in desk.front.get(f"{DAY_URL}?date={DAY + timedelta(days=1)}").content.decode()


def test_the_week_shows_one_column_per_day(desk, demo):
    AppointmentFactory(
        service=demo.haircut, stylist=demo.ana, starts_at=demo.local(DAY, 10), customer_name="Zoe"
    )
    response = desk.front.get(f"{WEEK_URL}?date={DAY}&stylist={demo.ana.pk}")
    assert response.status_code == 200
    body = response.content.decode()
    days = [d.strip() for d in re.findall(r'<h2 class="cal__day[^"]*">([^<]+)', body)]
    # The language's DAY_FORMAT (docs/languages.md): English puts the month first.
    assert days == [
        "Monday, March 1",
        "Tuesday, March 2",
        "Wednesday, March 3",
        "Thursday, March 4",
        "Friday, March 5",
        "Saturday, March 6",
        "Sunday, March 7",
    ]
    assert "Zoe" in text(body)
    everyone = desk.front.get(f"{WEEK_URL}?date={DAY}&stylist=all").content.decode()
    assert len(re.findall(r'<section class="cal__col"', everyone)) == 14


def test_it_lists_cancelled_appointments_apart(desk, demo):
    AppointmentFactory(
        service=demo.haircut,
        stylist=demo.ana,
        starts_at=demo.local(DAY, 10),
        customer_name="Gone",
        status="cancelled",
        cancelled_at=NOW,
    )
    response = desk.front.get(f"{DAY_URL}?date={DAY}")
    assert "Gone" not in text(column(response, "Ana"))
    assert "Cancelled Haircut · Gone" in text(response.content.decode())


def busy_salon(demo, stylists: int, appointments_each: int):
    team = [demo.ana, demo.ben] + [
        StylistFactory(key=f"extra-{n}", name=f"Extra {n}", services=[demo.haircut])
        for n in range(stylists - 2)
    ]
    # 9:00, 10:00, 11:00, then after lunch 13:30, 14:30, 15:30, 16:30: a full day.
    starts = [
        demo.local(DAY, h, m) for h, m in ((9, 0), (10, 0), (11, 0), (13, 30), (14, 30), (15, 30), (16, 30))
    ]
    for stylist in team:
        for start in starts[:appointments_each]:
            n = starts.index(start)
            services.appointment_book(
                service_id=demo.haircut.pk,
                stylist_id=stylist.pk,
                start=start,
                customer_name=f"Client {stylist.pk}-{n}",
                customer_email=f"c{stylist.pk}-{n}@example.com",
                now=NOW,
            )
    return team


def busy_salon_more(demo, team, days: int = 3):
    """Six more appointments each on DAY and some on the days after."""
    for offset in range(days):
        day = DAY + timedelta(days=offset)
        for stylist in team:
            for h, m in ((10, 0), (11, 0), (13, 30), (14, 30), (15, 30), (16, 30)):
                services.appointment_book(
                    service_id=demo.haircut.pk,
                    stylist_id=stylist.pk,
                    start=demo.local(day, h, m),
                    customer_name="More",
                    customer_email=f"m{stylist.pk}-{offset}-{h}@example.com",
                    now=NOW,
                )


class Count(int):
    """A number of queries that shows them when an assertion on it fails."""

    sql: list[str]

    def __repr__(self) -> str:
        return f"{int(self)} queries:\n" + "\n".join(q[:120] for q in self.sql)


def count_queries(client, url: str) -> Count:
    """The queries of a request for ``url``, without the session's: the session
    engine (cached_db) reads its row or its cache entry depending on what the
    test did before, which is not the page's cost."""
    client.get(url)  # warm: the salon's cached row
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    sql = [q["sql"] for q in queries if "django_session" not in q["sql"]]
    count = Count(len(sql))
    count.sql = sql
    return count


def test_the_day_costs_the_same_queries_whatever_the_appointments(desk, demo):
    url = f"{DAY_URL}?date={DAY}"
    busy_salon(demo, 2, 1)
    one_each = count_queries(desk.front, url)
    busy_salon_more(demo, [demo.ana, demo.ben])
    assert count_queries(desk.front, url) == one_each
    # the user (the session is cached), staff member, stylists, hours, special
    # hours, closures, time off, appointments (with their state), holds
    assert one_each == 9


def test_it_renders_a_full_day_of_ten_stylists_in_the_same_queries(desk, demo):
    """Its time is measured, not asserted (docs/frontdesk.md): a wall-clock bound in a
    test fails on a busy machine and proves nothing on a quiet one."""
    busy_salon(demo, 10, 7)
    url = f"{DAY_URL}?date={DAY}"
    assert count_queries(desk.front, url) == 9
    response = desk.front.get(url)
    assert response.status_code == 200
    assert len(re.findall(r'<section class="cal__col"', response.content.decode())) == 10
    assert response.content.decode().count("blk--appointment") == 70


def test_the_week_costs_the_same_queries_whatever_the_appointments(desk, demo):
    url = f"{WEEK_URL}?date={DAY}&stylist=all"
    busy_salon(demo, 2, 1)
    one_each = count_queries(desk.front, url)
    busy_salon_more(demo, [demo.ana, demo.ben])
    assert count_queries(desk.front, url) == one_each


@pytest.mark.parametrize("path", [gridcss.PATH])
def test_the_grid_stylesheet_is_what_gridcss_writes(path):
    assert path.read_text() == gridcss.grid_css(), "run python -m chairtime.frontdesk.gridcss"


@pytest.mark.parametrize(
    ("day", "starts"),
    [
        # Clocks go forward at 2:00: 1:00-4:00 on the wall is two real hours.
        (date(2027, 3, 14), ["01:00", "01:30", "03:00", "03:30"]),
        # Clocks go back at 2:00: 1:00-4:00 on the wall is four real hours, 1:00-2:00 twice.
        (date(2027, 11, 7), ["01:00", "01:30", "01:00", "01:30", "02:00", "02:30", "03:00", "03:30"]),
    ],
)
def test_it_draws_the_days_the_clocks_change(desk, demo, clock, day, starts):
    clock.move_to(datetime(2027, 3, 1, 12, tzinfo=UTC))
    SpecialHoursFactory(stylist=demo.ana, date=day, start=time(1), end=time(4))
    response = desk.front.get(f"{DAY_URL}?date={day}")
    assert response.status_code == 200
    ana = column(response, "Ana")
    found = re.findall(rf"start={day}T(\d\d:\d\d)", ana)
    assert found == starts, found
