"""The customer booking pages, the private manage page and the staff day sheet.

Everything works without JavaScript: each choice is a plain link to a URL a
customer can bookmark or share (``/book/<service>/<stylist|any>/<date>/<time>/``)
and only booking and cancelling are POSTs. A visit of several services keeps its
first service in that path and carries the others, in order, in the query string
(``?then=<service>-<stylist|any>``, at most four), so a customer who books one
service has the URLs they always had. The views stay thin: reads go through
``selectors`` and writes through ``services``, both handed the one ``now`` each
request captures, so every check on a page agrees on the time.

Bad input in a URL never reaches the database as-is: ids are at most nine digits
(``urls.py``), dates and times are parsed strictly here. Malformed input answers
400, unknown things 404, and times that are not (or no longer) free 409, always
with a sentence a customer can act on.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from functools import wraps
from itertools import pairwise
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.db.models import Prefetch, prefetch_related_objects
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone as dj_timezone
from django.utils.formats import date_format
from django.utils.translation import gettext, gettext_lazy, ngettext, npgettext, pgettext, pgettext_lazy
from django.views.decorators.cache import never_cache

from chairtime.booking import catalog, selectors, services, tokens
from chairtime.booking.availability import Refusal
from chairtime.booking.errors import BookingError, refusal_message, too_late_to_change
from chairtime.booking.forms import ContactForm
from chairtime.booking.models import FIRST_DATE, LAST_DATE, Appointment, Hold, Salon, Service, Stylist
from chairtime.formats import (
    DASH,
    format_day,
    format_duration,
    format_long_day,
    format_month,
    format_price,
    format_short_day,
    format_time,
    format_time_range,
)
from chairtime.messages.ics import visit_calendar
from chairtime.ops.security import rate_limit

ANY = "any"
# The booking steps' names: short nouns in a navigation bar, in their own context
# (pgettext) so a language may word them unlike the same word elsewhere.
STEPS = (
    pgettext_lazy("booking step", "Service"),
    pgettext_lazy("booking step", "Stylist"),
    pgettext_lazy("booking step", "Day"),
    pgettext_lazy("booking step", "Time"),
    pgettext_lazy("booking step", "Details"),
)
# Contact details typed into a booking that then lost its time, kept so the
# customer does not type them again after choosing another time.
CONTACT_SESSION_KEY = "chairtime.contact"

_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_START = re.compile(r"([01]\d|2[0-3]):([0-5]\d)(?:([+-])([01]\d):([0-5]\d))?")


# --- formatting -------------------------------------------------------------------
# Pages show the salon's local wall time as the reader's language writes it
# (chairtime/formats). The names stay importable from here for the other views.


def wall_time_repeats(start: datetime, tz: ZoneInfo) -> bool:
    """True when the local wall time of instant ``start`` happens twice in ``tz``
    (the night the clocks go back), whichever of the two it is and whatever else
    is free that night.

    A real instant's wall time is never in a gap, so its two folds disagree on
    the offset only when it repeats."""
    local = start.astimezone(tz)
    return local.replace(fold=0).utcoffset() != local.replace(fold=1).utcoffset()


def format_start(start: datetime, tz: ZoneInfo) -> str:
    """A start as the pages show it: "1:30 AM", naming the zone ("1:30 AM PST")
    when the wall time happens twice that day."""
    return format_time(start) + (f" {start.tzname()}" if wall_time_repeats(start, tz) else "")


def day_and_time(day: str, time: str) -> str:
    """ "Monday, December 7, 2:30 PM": a day and a time (or a time range) written
    together, as the active language joins them."""
    return pgettext("a day, then a time", "%(day)s, %(time)s") % {"day": day, "time": time}


def start_slug(start: datetime, tz: ZoneInfo) -> str:
    """The URL segment of a start: local "HH:MM", plus the UTC offset when the wall
    time happens twice that day (parse_start reads a bare repeated time as the
    first of the two), so that every link names exactly one instant."""
    start = start.astimezone(tz)
    slug = f"{start:%H:%M}"
    if wall_time_repeats(start, tz):
        offset = start.utcoffset() or timedelta(0)
        sign = "-" if offset < timedelta(0) else "+"
        hours, minutes = divmod(abs(offset) // timedelta(minutes=1), 60)
        slug += f"{sign}{hours:02d}:{minutes:02d}"
    return slug


# --- URL parsing ----------------------------------------------------------------------


class PageProblem(Exception):
    """A request the page cannot answer; shown as a friendly error page."""

    def __init__(
        self, status: int, message: str, *, back_url: str = "", back_label: str = "", title: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.back_url = back_url
        self.back_label = back_label
        self.title = title


def problem_page(request: HttpRequest, problem: PageProblem) -> HttpResponse:
    context = {
        "message": problem.message,
        "back_url": problem.back_url,
        "back_label": problem.back_label,
        "title": problem.title,
    }
    return render(request, f"errors/{problem.status}.html", context, status=problem.status)


def friendly_problems(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except PageProblem as problem:
            return problem_page(request, problem)

    return wrapper


View = Callable[..., HttpResponse]


def require_http_methods(methods: list[str]) -> Callable[[View], View]:
    """Django's decorator of the same name, answering other methods with a page
    that says what to do (Django's own 405 has an empty body)."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in methods:
                response = problem_page(
                    request,
                    PageProblem(
                        405,
                        gettext(
                            "This page cannot be used that way. Please use the links and buttons on "
                            "the page, or start again from the booking page."
                        ),
                        title=gettext("That did not work"),
                    ),
                )
                response["Allow"] = ", ".join(methods)
                return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


require_safe = require_http_methods(["GET", "HEAD"])


def parse_day(value: str) -> date | None:
    """A canonical YYYY-MM-DD date, or None."""
    match = _DAY.fullmatch(value) if len(value) == 10 else None
    if match is None:
        return None
    try:
        day = date(*(int(part) for part in match.groups()))
    except ValueError:
        return None
    # The dates the salon serves (models.py): day +/- 1 and UTC conversions stay in range.
    return day if FIRST_DATE <= day <= LAST_DATE else None


def parse_start(value: str, day: date, tz: Any) -> datetime | None:
    """The instant of a start segment ("09:30", or "01:30-08:00" on the night
    the clocks go back) on local ``day``; None when malformed or when that wall
    time does not exist on that day."""
    match = _START.fullmatch(value) if len(value) <= 11 else None
    if match is None:
        return None
    hour, minute, sign, offset_hours, offset_minutes = match.groups()
    wall = datetime.combine(day, time(int(hour), int(minute)))
    if sign:
        offset = timedelta(hours=int(offset_hours), minutes=int(offset_minutes))
        start = wall.replace(tzinfo=timezone(-offset if sign == "-" else offset))
    else:
        # fold=0: of a wall time that happens twice, the first.
        start = wall.replace(tzinfo=tz)
    # Round trip through UTC: a time in the spring-forward gap, or an offset the
    # zone does not use that night, comes back as another wall time.
    if start.astimezone(UTC).astimezone(tz).replace(tzinfo=None) != wall:
        return None
    return start.astimezone(UTC)


# --- what a customer is booking -------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    """A service's price and length with the stylists who may do it: one
    stylist's own figures, or the range of everyone's ("from $45.00")."""

    low_price: Decimal
    high_price: Decimal
    shortest: int  # minutes
    longest: int
    currency: str  # the salon's, ISO 4217

    @property
    def fixed_length(self) -> bool:
        return self.shortest == self.longest

    @property
    def price(self) -> str:
        shown = format_price(self.low_price, self.currency)
        return shown if self.low_price == self.high_price else gettext("from %(price)s") % {"price": shown}

    @property
    def duration(self) -> str:
        if self.fixed_length:
            return format_duration(self.shortest)
        return f"{format_duration(self.shortest)} {DASH} {format_duration(self.longest)}"


def figures(config: catalog.Catalog, service: Service, stylists: Sequence[Stylist]) -> Figures:
    """The figures of ``service`` across ``stylists`` (their own price and length,
    from the catalogue), or the service's own when none of them is known to it."""
    known = [offer for s in stylists if (offer := config.offer(service, s.pk)) is not None]
    prices = [offer.price for offer in known] or [service.price]
    lengths = [offer.duration_minutes for offer in known] or [service.duration_minutes]
    return Figures(min(prices), max(prices), min(lengths), max(lengths), Salon.cached().currency)


@dataclass
class Item:
    """One service of the visit as chosen: a named stylist, or any of ``candidates``."""

    service: Service
    stylist: Stylist | None  # None: any stylist who offers the service
    candidates: list[Stylist]
    figures: Figures

    @property
    def slug(self) -> str:
        return ANY if self.stylist is None else str(self.stylist.pk)

    @property
    def token(self) -> str:
        """How the item travels in a query string (``then=5-any``, ``then=5-12``)."""
        return f"{self.service.pk}-{self.slug}"

    @property
    def stylist_name(self) -> str:
        return self.stylist.name if self.stylist else gettext("Any stylist")


def visit_url(name: str, items: Sequence[Item], *more: Any) -> str:
    """The URL of a booking page for the visit of ``items``: the first service and
    its stylist in the path, as ever (so a one-service visit has the URLs it always
    had), every further one as ``then=<service>-<stylist|any>``, in order."""
    first = items[0]
    url = reverse(f"booking:{name}", args=[first.service.pk, first.slug, *more])
    rest = [("then", item.token) for item in items[1:]]
    return f"{url}?{urlencode(rest)}" if rest else url


@dataclass
class Choice:
    """What the customer has chosen so far, read from the URL."""

    salon: Salon
    items: list[Item]
    now: datetime
    day: date | None = None
    start: datetime | None = None
    step: int = 1

    # The first service: the one the path names, and the only one of most visits.
    @property
    def service(self) -> Service:
        return self.items[0].service

    @property
    def stylist(self) -> Stylist | None:
        return self.items[0].stylist

    @property
    def candidates(self) -> list[Stylist]:
        return self.items[0].candidates

    @property
    def stylist_slug(self) -> str:
        return self.items[0].slug

    @property
    def is_visit(self) -> bool:
        """More than one service."""
        return len(self.items) > 1

    @property
    def title(self) -> str:
        return " + ".join(item.service.name for item in self.items)

    @property
    def named_stylists(self) -> str:
        """ "with Ana" when every service has its stylist named and it is one person."""
        names = {item.stylist.name for item in self.items if item.stylist is not None}
        if len(names) == 1 and all(item.stylist is not None for item in self.items):
            return names.pop()
        return ""

    @property
    def wanted(self) -> list[tuple[Service, list[Stylist]]]:
        """The visit as the selectors take it (``items=``)."""
        return [(item.service, item.candidates) for item in self.items]

    @property
    def can_add(self) -> bool:
        return len(self.items) < services.MAX_VISIT_ITEMS

    @property
    def today(self) -> date:
        return self.now.astimezone(self.salon.tz).date()

    @property
    def last_day(self) -> date:
        return self.today + timedelta(days=self.salon.horizon_days)

    def url(self, name: str, *more: Any) -> str:
        return visit_url(name, self.items, *more)

    @property
    def day_url(self) -> str:
        return self.url("day")

    def time_url(self, day: date | None = None) -> str:
        return self.url("time", (day or self.day).isoformat())

    @property
    def stylist_url(self) -> str:
        """Choose the first service's stylist again, keeping the rest of the visit."""
        url = reverse("booking:stylist", args=[self.service.pk])
        rest = [("then", item.token) for item in self.items[1:]]
        return f"{url}?{urlencode(rest)}" if rest else url

    @property
    def add_url(self) -> str:
        return self.url("add")

    @property
    def any_stylist_url(self) -> str:
        """The same visit with any stylist for every service."""
        anyone = [Item(i.service, None, i.candidates, i.figures) for i in self.items]
        return visit_url("day", anyone)


def load_service(service_id: int) -> Service:
    service = selectors.service_get(service_id)
    if service is None:
        raise PageProblem(
            404,
            gettext("That service does not exist or can no longer be booked."),
            back_url=reverse("booking:home"),
            back_label=gettext("See all services"),
            title=gettext("Service not found"),
        )
    return service


def load_item(config: catalog.Catalog, service_id: int, stylist: int | None) -> Item:
    service = load_service(service_id)
    candidates = list(selectors.stylist_list_for_service(service))
    chosen = None
    if stylist is not None:
        chosen = next((s for s in candidates if s.pk == stylist), None)
        if chosen is None:
            raise PageProblem(
                404,
                gettext("That stylist does not offer %(service)s or takes no bookings.")
                % {"service": service.name.lower()},
                back_url=reverse("booking:stylist", args=[service.pk]),
                back_label=gettext("Choose a stylist"),
                title=gettext("Stylist not available"),
            )
    candidates = [chosen] if chosen else candidates
    return Item(service, chosen, candidates, figures(config, service, candidates))


_THEN = re.compile(rf"([0-9]{{1,9}})-({ANY}|[0-9]{{1,9}})")


def read_then(request: HttpRequest) -> list[tuple[int, int | None]]:
    """The visit's further services from the query string, strictly: at most
    MAX_VISIT_ITEMS - 1 of ``then=<service id>-<stylist id|any>``."""
    values = request.GET.getlist("then")
    if len(values) > services.MAX_VISIT_ITEMS - 1:
        raise PageProblem(
            400,
            too_many_services_message(),
            back_url=reverse("booking:home"),
            back_label=gettext("Start again"),
            title=gettext("Too many services"),
        )
    found = []
    for value in values:
        match = _THEN.fullmatch(value) if len(value) <= 19 else None
        if match is None:
            raise PageProblem(
                400,
                gettext("That list of services is not one we understand. Please choose your services again."),
                back_url=reverse("booking:home"),
                back_label=gettext("Start again"),
                title=gettext("Services not understood"),
            )
        service_id, stylist = match.groups()
        found.append((int(service_id), None if stylist == ANY else int(stylist)))
    return found


def load_choice(service_id: int, stylist: int | None, request: HttpRequest | None = None) -> Choice:
    salon = Salon.cached()
    config = catalog.get()
    items = [load_item(config, service_id, stylist)]
    if request is not None:
        items.extend(load_item(config, more, who) for more, who in read_then(request))
    return Choice(salon=salon, items=items, now=dj_timezone.now())


def load_day(choice: Choice, value: str) -> date:
    day = parse_day(value)
    if day is None:
        raise PageProblem(
            400,
            gettext("That is not a date we understand. Please choose a day from the list."),
            back_url=choice.day_url,
            back_label=gettext("Choose a day"),
        )
    choice.day = day
    return day


def day_refusal(choice: Choice, day: date) -> Refusal | None:
    """Why no time on ``day`` can be booked at all, judged by the date alone."""
    if day < choice.today:
        return Refusal.IN_THE_PAST
    if day > choice.last_day:
        return Refusal.BEYOND_HORIZON
    return None


# --- page context -----------------------------------------------------------------------


def steps(choice: Choice | None, current: int) -> list[dict]:
    """The step indicator: steps before the current one link back."""
    urls: list[str] = [reverse("booking:home")]
    if choice is not None:
        urls.append(choice.stylist_url)
        urls.append(choice.day_url)
        if choice.day is not None:
            urls.append(choice.time_url())
    return [
        {
            "number": number,
            "label": label,
            "url": urls[number - 1] if number < current and number <= len(urls) else "",
            "current": number == current,
            "done": number < current,
        }
        for number, label in enumerate(STEPS, start=1)
    ]


def item_times(choice: Choice) -> list[tuple[datetime, datetime] | None]:
    """Each service's start and end once the visit's start is chosen: back to back,
    the next starting when the one before ends (absolute arithmetic, in UTC). None
    for a service whose times depend on which stylist "any stylist" turns out to
    be (their lengths differ), and for every one after it."""
    times: list[tuple[datetime, datetime] | None] = []
    start = choice.start.astimezone(UTC) if choice.start is not None else None
    for item in choice.items:
        if start is None or not item.figures.fixed_length:
            times.append(None)
            start = None
            continue
        end = start + timedelta(minutes=item.figures.shortest)
        times.append((start, end))
        start = end
    return times


def summary(choice: Choice) -> list[dict]:
    tz = choice.salon.tz
    if not choice.is_visit:
        item = choice.items[0]
        rows = [
            {"label": gettext("Service"), "value": item.service.name},
            {"label": gettext("Length"), "value": item.figures.duration},
            {"label": gettext("Price"), "value": item.figures.price},
        ]
        if choice.step > 2:
            rows.append({"label": gettext("Stylist"), "value": item.stylist_name})
    else:
        rows = []
        for number, (item, times) in enumerate(zip(choice.items, item_times(choice), strict=True), 1):
            parts = [item.stylist_name, item.figures.duration, item.figures.price]
            if times is not None:
                start, end = (moment.astimezone(tz) for moment in times)
                parts.insert(1, format_time_range(start, end))
            rows.append({"label": f"{number}. {item.service.name}", "value": " · ".join(parts)})
    if choice.day is not None and choice.step > 3:
        rows.append({"label": gettext("Day"), "value": format_day(choice.day)})
    if choice.start is not None:
        local = choice.start.astimezone(tz)
        times = item_times(choice)
        if times[-1] is not None:
            end = times[-1][1].astimezone(tz)
            rows.append({"label": gettext("Time"), "value": format_time_range(local, end, zone=True)})
        else:
            rows.append({"label": gettext("Starts"), "value": f"{format_time(local)} {local.tzname()}"})
    if choice.is_visit:
        low = sum((item.figures.shortest for item in choice.items), 0)
        high = sum((item.figures.longest for item in choice.items), 0)
        total = Figures(
            sum((item.figures.low_price for item in choice.items), Decimal(0)),
            sum((item.figures.high_price for item in choice.items), Decimal(0)),
            low,
            high,
            choice.salon.currency,
        )
        rows.append({"label": gettext("Total time"), "value": total.duration})
        rows.append({"label": gettext("Total price"), "value": total.price})
    return rows


def booking_context(choice: Choice, **context: Any) -> dict:
    return {"choice": choice, "steps": steps(choice, choice.step), "summary": summary(choice), **context}


TIME_GROUP_NAMES = {
    "morning": gettext_lazy("Morning"),
    "afternoon": gettext_lazy("Afternoon"),
    "evening": gettext_lazy("Evening"),
}


def time_list(choice: Choice, day: date) -> dict:
    """The free start times of ``day``, grouped into morning, afternoon, evening."""
    tz = choice.salon.tz
    starts = selectors.slot_list(
        salon=choice.salon, items=choice.wanted, day=day, now=choice.now, catalog=catalog.get()
    ).starts
    # On the night the clocks go back a wall time happens twice: name the zone
    # (PDT/PST) on those, and put the offset in their URLs (start_slug).
    groups: dict[str, list[dict]] = {"morning": [], "afternoon": [], "evening": []}
    for start in starts:
        label = format_start(start, tz)
        group = "morning" if start.hour < 12 else "afternoon" if start.hour < 17 else "evening"
        groups[group].append(
            {"label": label, "url": choice.url("details", day.isoformat(), start_slug(start, tz))}
        )
    zones = list(dict.fromkeys(start.tzname() for start in starts)) or [
        datetime.combine(day, time(12), tzinfo=tz).tzname()
    ]
    return {
        "time_groups": [
            {"name": TIME_GROUP_NAMES[group], "times": times} for group, times in groups.items() if times
        ],
        "time_count": len(starts),
        "zone_names": " / ".join(zones),
        "free_starts": {start.astimezone(UTC) for start in starts},
    }


# --- customer pages -------------------------------------------------------------------------


def service_options(url: Callable[[Service], str]) -> list[dict]:
    """Every bookable service with its length and price ("from $X" where the
    stylists' own differ), linking to ``url`` of the service."""
    config = catalog.get()
    options = []
    for service in selectors.service_list():
        shown = figures(config, service, config.stylists_for(service))
        options.append(
            {"service": service, "duration": shown.duration, "price": shown.price, "url": url(service)}
        )
    return options


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    offered = service_options(lambda service: reverse("booking:stylist", args=[service.pk]))
    return render(request, "booking/home.html", {"services": offered, "steps": steps(None, 1)})


def stylist_options(item: Item, url: Callable[[Item], str]) -> list[dict]:
    """ "Any stylist" and each stylist who offers ``item``'s service, with their own
    price and length, linking to ``url`` of the item so chosen."""
    config = catalog.get()
    options = []
    if item.candidates:
        options.append(
            {
                "name": gettext("Any stylist"),
                "note": gettext("We pick whoever is free at the time you choose."),
                "figures": item.figures,
                "url": url(Item(item.service, None, item.candidates, item.figures)),
                "any": True,
            }
        )
    for stylist in item.candidates:
        own = figures(config, item.service, [stylist])
        options.append(
            {
                "name": stylist.name,
                "note": "",
                "figures": own,
                "url": url(Item(item.service, stylist, [stylist], own)),
            }
        )
    return options


@require_safe
@friendly_problems
def choose_stylist(request: HttpRequest, service_id: int) -> HttpResponse:
    choice = load_choice(service_id, None, request)
    choice.step = 2
    first = choice.items[0]
    options = stylist_options(first, lambda chosen: visit_url("day", [chosen, *choice.items[1:]]))
    return render(
        request, "booking/stylist.html", booking_context(choice, options=options, item=first, adding=False)
    )


def visit_list(choice: Choice) -> list[dict]:
    """The visit's services for the day page, each with a link that removes it."""
    return [
        {
            "number": number,
            "item": item,
            "remove_url": visit_url("day", [other for other in choice.items if other is not item])
            if choice.is_visit
            else "",
        }
        for number, item in enumerate(choice.items, 1)
    ]


@require_safe
@friendly_problems
def add_service(request: HttpRequest, service_id: int, stylist: int | None) -> HttpResponse:
    """Add another service to the visit: which one."""
    choice = load_choice(service_id, stylist, request)
    choice.step = 2
    if not choice.can_add:
        raise too_many(choice)
    offered = service_options(lambda service: choice.url("add_stylist", service.pk))
    return render(
        request,
        "booking/add.html",
        booking_context(choice, services=offered, max_items=services.MAX_VISIT_ITEMS),
    )


def too_many_services_message() -> str:
    return ngettext(
        "A visit books at most %(count)s service. Please remove one, or book the rest separately.",
        "A visit books at most %(count)s services. Please remove one, or book the rest separately.",
        services.MAX_VISIT_ITEMS,
    ) % {"count": services.MAX_VISIT_ITEMS}


def too_many(choice: Choice) -> PageProblem:
    return PageProblem(
        400,
        too_many_services_message(),
        back_url=choice.day_url,
        back_label=gettext("Back to your visit"),
        title=gettext("Too many services"),
    )


@require_safe
@friendly_problems
def add_stylist(request: HttpRequest, service_id: int, stylist: int | None, added_id: int) -> HttpResponse:
    """Add another service to the visit: who does it."""
    choice = load_choice(service_id, stylist, request)
    choice.step = 2
    if not choice.can_add:
        raise too_many(choice)
    added = load_item(catalog.get(), added_id, None)
    options = stylist_options(added, lambda chosen: visit_url("day", [*choice.items, chosen]))
    context = booking_context(choice, options=options, item=added, adding=True)
    return render(request, "booking/stylist.html", context)


@require_safe
@friendly_problems
def choose_day(request: HttpRequest, service_id: int, stylist: int | None) -> HttpResponse:
    choice = load_choice(service_id, stylist, request)
    choice.step = 3
    config = catalog.get()
    free_counts = selectors.bookable_day_list(
        salon=choice.salon, items=choice.wanted, now=choice.now, catalog=config
    )
    everyone = list({s.pk: s for item in choice.items for s in item.candidates}.values())
    closed = selectors.closed_day_set(everyone, [day for day, _ in free_counts], catalog=config)
    return render(
        request,
        "booking/day.html",
        booking_context(
            choice,
            # A fully booked day links to its times page too, which offers its waitlist.
            months=month_list(
                free_counts,
                closed,
                choice.today,
                choice.time_url,
                full_url=None if choice.is_visit else choice.time_url,
            ),
            any_free=any(free for _, free in free_counts),
            first_available=first_available(choice, config),
            visit=visit_list(choice),
            anyone_named=any(item.stylist is not None for item in choice.items),
        ),
    )


def month_list(
    free_counts: Sequence[tuple[date, int]],
    closed: set[date],
    today: date,
    url: Callable[[date], str],
    *,
    full_url: Callable[[date], str] | None = None,
) -> list[dict]:
    """The days of ``free_counts`` by month, as the day grid shows them, each day
    with free times linking to ``url`` of it; with ``full_url``, each fully booked
    (not closed) day links to that (its waitlist)."""
    months: dict[str, list[dict]] = {}
    for day, free in free_counts:
        if free:
            state = npgettext("free start times", "%(count)s time", "%(count)s times", free) % {"count": free}
        elif day in closed:
            state = gettext("Closed")
        elif day == today:
            state = gettext("No times left")
        else:
            state = gettext("Fully booked")
        months.setdefault(format_month(day), []).append(
            {
                "day": day,
                "weekday": date_format(day, "D"),
                "column": day.isoweekday(),  # 1 = Monday: where the month's first row starts
                "number": day.day,
                "month": date_format(day, "b"),
                "long": format_day(day),
                "state": state,
                "spoken": spoken_day(format_day(day), free, state, today=day == today),
                "free": free,
                "today": day == today,
                "url": url(day) if free else full_url(day) if full_url and day not in closed else "",
            }
        )
    return [{"name": name, "days": days} for name, days in months.items()]


def spoken_day(label: str, free: int, state: str, *, today: bool) -> str:
    """What a screen reader says of a day of the grid: "Monday, March 1 (today): 9
    free times", "Tuesday, March 2: Fully booked"."""
    values = {"day": label, "count": free, "state": state}
    if free and today:
        return (
            ngettext("%(day)s (today): %(count)s free time", "%(day)s (today): %(count)s free times", free)
            % values
        )
    if free:
        return ngettext("%(day)s: %(count)s free time", "%(day)s: %(count)s free times", free) % values
    if today:
        return gettext("%(day)s (today): %(state)s") % values
    return gettext("%(day)s: %(state)s") % values


FIRST_AVAILABLE_SHOWN = 4


def first_available(choice: Choice, config: catalog.Catalog) -> list[dict]:
    """The next few free times across days, as links that book exactly them."""
    tz = choice.salon.tz
    starts = selectors.first_free_start_list(
        salon=choice.salon, items=choice.wanted, now=choice.now, limit=FIRST_AVAILABLE_SHOWN, catalog=config
    )
    return [
        {
            "label": day_and_time(format_short_day(start), format_start(start, tz)),
            "url": choice.url("details", start.astimezone(tz).date().isoformat(), start_slug(start, tz)),
        }
        for start in starts
    ]


@require_safe
@friendly_problems
def choose_time(request: HttpRequest, service_id: int, stylist: int | None, day: str) -> HttpResponse:
    choice = load_choice(service_id, stylist, request)
    choice.step = 4
    chosen_day = load_day(choice, day)
    refusal = day_refusal(choice, chosen_day)
    if refusal is not None:
        raise PageProblem(
            404,
            refusal_message(refusal),
            back_url=choice.day_url,
            back_label=gettext("Choose another day"),
            title=gettext("This day can't be booked"),
        )
    return time_page(request, choice)


def time_page(request: HttpRequest, choice: Choice, *, error: str = "", status: int = 200) -> HttpResponse:
    assert choice.day is not None  # noqa: S101 - set by load_day
    choice.step = 4
    choice.start = None
    refusal = day_refusal(choice, choice.day)
    times = time_list(choice, choice.day) if refusal is None else {"time_groups": [], "time_count": 0}
    context = booking_context(
        choice,
        error=error,
        day_label=format_day(choice.day),
        day_refused=refusal is not None,
        waitlist_url=choice.url("waitlist_join", choice.day.isoformat()),
        **times,
    )
    return render(request, "booking/time.html", context, status=status)


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
@rate_limit("book", "BOOKING_RATE_LIMIT")
@friendly_problems
def details(request: HttpRequest, service_id: int, stylist: int | None, day: str, start: str) -> HttpResponse:
    choice = load_choice(service_id, stylist, request)
    choice.step = 5
    chosen_day = load_day(choice, day)
    instant = parse_start(start, chosen_day, choice.salon.tz)
    if instant is None:
        malformed = len(start) > 11 or _START.fullmatch(start) is None
        raise PageProblem(
            400 if malformed else 404,
            gettext("That is not a start time we offer on this day. Please choose one of the times listed."),
            back_url=choice.time_url(),
            back_label=gettext("Choose a time"),
            title="" if malformed else gettext("Time not available"),
        )
    choice.start = instant
    if request.method == "POST":
        return book(request, choice)

    refusal = day_refusal(choice, chosen_day)
    if refusal is not None:
        return time_page(request, choice, error=refusal_message(refusal), status=409)
    if instant not in time_list(choice, chosen_day)["free_starts"]:
        local = instant.astimezone(choice.salon.tz)
        return time_page(
            request,
            choice,
            error=gettext("Sorry, %(time)s is not available. Please choose another time.")
            % {"time": format_time(local)},
            status=409,
        )
    initial = request.session.get(CONTACT_SESSION_KEY) or {}
    form = ContactForm(initial={key: initial.get(key, "") for key in ("name", "email", "phone")})
    return details_page(request, choice, form)


def details_page(request: HttpRequest, choice: Choice, form: ContactForm, status: int = 200) -> HttpResponse:
    context = booking_context(choice, form=form, nonce=secrets.token_urlsafe(16))
    return render(request, "booking/details.html", context, status=status)


def book(request: HttpRequest, choice: Choice) -> HttpResponse:
    assert choice.start is not None  # noqa: S101 - set by details()
    # The form's one-time nonce: the same form sent again (a double click, a reload,
    # two tabs) leads to the booking it made, even while that is still being made.
    nonce = request.POST.get("nonce", "")[:64]
    # One service: asked as before visits, so a form sent before this release and
    # again after it is still recognised.
    asked = [choice.service.pk, choice.stylist_slug, choice.start.isoformat()]
    asked.extend(item.token for item in choice.items[1:])
    request_key = services.request_key("form", nonce, *asked) if nonce else None

    assert choice.day is not None  # noqa: S101 - set by details()
    refusal = day_refusal(choice, choice.day)
    if refusal is not None:
        return time_page(request, choice, error=refusal_message(refusal), status=409)

    form = ContactForm(request.POST)
    if not form.is_valid():
        return details_page(request, choice, form, status=400)
    contact = form.cleaned_data
    try:
        appointments = services.visit_book(
            items=[
                services.ItemRequest(item.service.pk, item.stylist.pk if item.stylist else None)
                for item in choice.items
            ],
            start=choice.start,
            customer_name=contact["name"],
            customer_email=contact["email"],
            customer_phone=contact["phone"],
            request=request_key,
            now=choice.now,
        )
    except BookingError as e:
        if not e.conflict:
            raise PageProblem(
                404, e.message, back_url=reverse("booking:home"), back_label=gettext("Start again")
            ) from e
        request.session[CONTACT_SESSION_KEY] = {key: contact[key] for key in ("name", "email", "phone")}
        return time_page(request, choice, error=e.message, status=409)

    request.session.pop(CONTACT_SESSION_KEY, None)
    messages.success(request, booked_message(visit=len(appointments) > 1))
    return redirect("booking:manage", token=tokens.make_manage_token(appointments[0].pk))


def booked_message(*, visit: bool) -> str:
    """The note on the private page just after booking (also after taking a
    waitlist offer)."""
    if visit:
        return gettext(
            "You're booked! Keep this page's address (bookmark it): it is the only way to see or cancel "
            "your visit online."
        )
    return gettext(
        "You're booked! Keep this page's address (bookmark it): it is the only way to see or cancel "
        "your appointment online."
    )


# --- the customer's private page -----------------------------------------------------------------


def load_appointment(token: str) -> Appointment:
    appointment_id = tokens.read_manage_token(token)
    appointment = selectors.appointment_get(appointment_id) if appointment_id is not None else None
    if appointment is None:
        raise PageProblem(
            404,
            gettext(
                "We could not find that appointment. The link may be incomplete or expired; "
                "please use the full link from your confirmation, or call the salon."
            ),
            back_url=reverse("booking:home"),
            back_label=gettext("Book an appointment"),
            title=gettext("Appointment not found"),
        )
    return appointment


def appointment_view(request: HttpRequest, appointment: Appointment, token: str, now: datetime) -> dict:
    """The private page's facts: the appointment, or every service of its visit."""
    salon = Salon.cached()
    tz = salon.tz
    visit = selectors.visit_appointment_list(appointment)
    first, last = visit[0], visit[-1]
    # Online changes and cancellations close the salon's change notice before the start.
    upcoming = appointment.is_confirmed and first.starts_at > now
    closes = services.change_closes_at(salon, first.starts_at)
    too_late = upcoming and now > closes
    start = first.starts_at.astimezone(tz)
    end = last.ends_at.astimezone(tz)
    items = [
        {
            "appointment": item,
            "time": format_time_range(item.starts_at.astimezone(tz), item.ends_at.astimezone(tz)),
            "duration": format_duration(minutes_between(item.starts_at, item.ends_at)),
            "price": format_price(item.price, salon.currency),
        }
        for item in visit
    ]
    again = [("then", f"{item.service_id}-{ANY}") for item in visit[1:]]
    book_again_url = reverse("booking:stylist", args=[first.service_id])
    return {
        "appointment": appointment,
        "visit": items,
        "is_visit": len(visit) > 1,
        "token": token,
        "day": format_long_day(start.date()),
        "time": format_time_range(start, end, zone=True),
        "duration": format_duration(minutes_between(first.starts_at, last.ends_at)),
        "price": format_price(sum((item.price for item in visit), Decimal(0)), salon.currency),
        "cancelled": appointment.status == Appointment.Status.CANCELLED,
        "past": first.starts_at <= now,
        "can_cancel": upcoming and not too_late,
        "can_change": upcoming and not too_late,
        "too_late": too_late,
        "too_late_message": too_late_to_change(salon.change_notice_minutes, salon.phone).message,
        "changes_close": (
            day_and_time(
                format_long_day(closes.astimezone(tz).date()), format_start(closes.astimezone(tz), tz)
            )
            if salon.change_notice_minutes
            else ""
        ),
        "manage_url": request.build_absolute_uri(reverse("booking:manage", args=[token])),
        "book_again_url": f"{book_again_url}?{urlencode(again)}" if again else book_again_url,
    }


def minutes_between(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds() // 60)


def private(response: HttpResponse) -> HttpResponse:
    # The page is as good as a password: keep it out of shared caches and search engines.
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@require_safe
@friendly_problems
def manage(request: HttpRequest, token: str) -> HttpResponse:
    appointment = load_appointment(token)
    context = appointment_view(request, appointment, token, dj_timezone.now())
    return private(render(request, "booking/manage.html", context))


@require_http_methods(["GET", "HEAD", "POST"])
@rate_limit("cancel", "CANCEL_RATE_LIMIT")
@friendly_problems
def cancel(request: HttpRequest, token: str) -> HttpResponse:
    appointment = load_appointment(token)
    now = dj_timezone.now()
    context = appointment_view(request, appointment, token, now)
    if request.method != "POST":
        if not context["can_cancel"]:
            return redirect("booking:manage", token=token)
        return private(render(request, "booking/cancel.html", context))
    try:
        services.appointment_cancel(appointment_id=appointment.pk, now=now)
    except BookingError as e:
        appointment.refresh_from_db()
        context = appointment_view(request, appointment, token, now)
        context["error"] = e.message
        return private(render(request, "booking/manage.html", context, status=409))
    if context["is_visit"]:
        messages.success(
            request, gettext("Your visit is cancelled. The times are free for someone else now.")
        )
    else:
        messages.success(
            request, gettext("Your appointment is cancelled. The time is free for someone else now.")
        )
    return redirect("booking:manage", token=token)


@require_safe
@friendly_problems
def calendar_file(request: HttpRequest, token: str) -> HttpResponse:
    appointment = load_appointment(token)
    salon = Salon.cached()
    manage_url = request.build_absolute_uri(reverse("booking:manage", args=[token]))
    # The same calendar event the confirmation e-mail carries (its UID and
    # sequence), as a plain import: a later cancellation e-mail removes it.
    body = visit_calendar(
        selectors.visit_appointment_list(appointment),
        salon=salon,
        manage_url=manage_url,
        now=dj_timezone.now(),
        method="PUBLISH",
        sequence=appointment.messages.count(),
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="appointment.ics"'
    return private(response)


# --- staff ------------------------------------------------------------------------------------------


@require_safe
@staff_member_required
@friendly_problems
def staff_day(request: HttpRequest) -> HttpResponse:
    salon = Salon.cached()
    today = dj_timezone.now().astimezone(salon.tz).date()
    raw = request.GET.get("date", "")
    day = parse_day(raw) if raw else today
    if day is None:
        raise PageProblem(
            400,
            gettext(
                "That is not a date. Use the form YYYY-MM-DD, for example %(today)s, or pick a day with the "
                "calendar."
            )
            % {"today": today.isoformat()},
            back_url=reverse("booking:staff_day"),
            back_label=gettext("Show today"),
        )
    columns, total, cancelled = [], 0, 0
    by_stylist = selectors.appointment_list_for_day(salon=salon, day=day)
    # Every appointment's holds (busy spans, resource units) in one query, whatever
    # the number of appointments.
    prefetch_related_objects(
        [appointment for appointments in by_stylist.values() for appointment in appointments],
        Prefetch(
            "holds",
            queryset=Hold.objects.select_related("unit__resource").order_by("starts_at", "pk"),
            to_attr="sheet_holds",
        ),
    )
    # A visit's services are all on the sheet (they run back to back from one start):
    # each says where it sits in its visit without another query.
    visits: dict[int, list[Appointment]] = {}
    for appointments in by_stylist.values():
        for appointment in appointments:
            if appointment.visit_id is not None:
                visits.setdefault(appointment.visit_id, []).append(appointment)
    for members in visits.values():
        members.sort(key=lambda member: (member.position, member.pk))
    for stylist, appointments in by_stylist.items():
        rows = []
        for appointment in appointments:
            start = appointment.starts_at.astimezone(salon.tz)
            end = appointment.ends_at.astimezone(salon.tz)
            is_cancelled = appointment.status == Appointment.Status.CANCELLED
            total += not is_cancelled
            cancelled += is_cancelled
            rows.append(
                {
                    "appointment": appointment,
                    "time": format_time_range(start, end),
                    "cancelled": is_cancelled,
                    "phases": phase_list(appointment, salon.tz),
                    "visit_note": visit_note(appointment, visits.get(appointment.visit_id or 0, [])),
                    "admin_url": reverse("admin:booking_appointment_change", args=[appointment.pk]),
                }
            )
        columns.append({"stylist": stylist, "rows": rows})
    context = {
        "day": day,
        "day_label": format_long_day(day),
        "is_today": day == today,
        "prev_url": f"{reverse('booking:staff_day')}?date={day - timedelta(days=1):%Y-%m-%d}",
        "next_url": f"{reverse('booking:staff_day')}?date={day + timedelta(days=1):%Y-%m-%d}",
        "today_url": reverse("booking:staff_day"),
        "columns": columns,
        "confirmed_count": total,
        "cancelled_count": cancelled,
        "zone": datetime.combine(day, time(12), tzinfo=salon.tz).tzname(),
    }
    return render(request, "booking/staff_day.html", context)


PHASE_LABELS = {
    "work": gettext_lazy("Busy"),
    "setup": gettext_lazy("Set-up (busy)"),
    "cleanup": gettext_lazy("Clean-up (busy)"),
    "processing": gettext_lazy("Processing — free to book"),
}


def phase_list(appointment: Appointment, tz: ZoneInfo) -> list[dict]:
    """The appointment's phases as the stylist lives them, read from its holds:
    busy (working phases), set-up and clean-up (buffers), and processing time
    between busy spans (the client waits; the stylist can take someone else), each
    with the resource units held then ("Basin 2"). Empty when there is nothing
    to add to its time: a plain one-phase service, or no holds (cancelled, or
    booked by the release before visits)."""
    holds = getattr(appointment, "sheet_holds", [])
    busy = [(h.starts_at, h.ends_at) for h in holds if h.stylist_id is not None]
    units = [(h.unit, h.starts_at, h.ends_at) for h in holds if h.unit_id is not None]
    cuts = sorted(
        {appointment.starts_at, appointment.ends_at}
        | {moment for s, e in busy for moment in (s, e)}
        | {moment for _, s, e in units for moment in (s, e)}
    )
    phases: list[dict] = []
    # Between two consecutive cuts nothing changes: a hold that overlaps that
    # piece covers all of it.
    for a, b in pairwise(cuts):
        is_busy = any(s < b and a < e for s, e in busy)
        if b <= appointment.starts_at:
            kind = "setup" if is_busy else ""
        elif a >= appointment.ends_at:
            kind = "cleanup" if is_busy else ""
        else:
            kind = "work" if is_busy else "processing"
        if not kind:
            continue
        held = ", ".join(str(unit) for unit, s, e in units if s < b and a < e)
        last = phases[-1] if phases else None
        if last is not None and (last["kind"], last["units"], last["end"]) == (kind, held, a):
            last["end"] = b
        else:
            phases.append({"kind": kind, "units": held, "start": a, "end": b})
    if len(phases) <= 1 and not any(phase["units"] for phase in phases):
        return []
    for phase in phases:
        phase["label"] = PHASE_LABELS[phase["kind"]]
        phase["time"] = format_time_range(phase["start"].astimezone(tz), phase["end"].astimezone(tz))
    return phases


def visit_note(appointment: Appointment, members: list[Appointment]) -> str:
    """ "Visit 1 of 2 · then Haircut with Ben" for a service of a visit of several."""
    if len(members) < 2:
        return ""
    index = members.index(appointment)
    values = {"position": index + 1, "count": len(members)}
    if index + 1 < len(members):
        following = members[index + 1]
        values.update(service=following.service.name, stylist=following.stylist.name)
        return gettext("Visit %(position)s of %(count)s · then %(service)s with %(stylist)s") % values
    before = members[index - 1]
    values.update(service=before.service.name, stylist=before.stylist.name)
    return gettext("Visit %(position)s of %(count)s · after %(service)s with %(stylist)s") % values
