"""The customer's "Change time" pages, from the private manage page:

/booking/<token>/change/[?date=YYYY-MM-DD]      the days with free times for the
                                                visit, and a day's times (without
                                                a date: the visit's own day)
/booking/<token>/change/<date>/<HH:MM>/         confirm, then POST to move

The visit moves as a whole, with the stylists it has. Its own current time counts
as free (``selectors.slot_list(ignoring=...)``): moving half an hour later over
itself is offered. No JavaScript: links, and one POST form with its CSRF token.
The move goes through ``services.visit_reschedule``, which checks everything
again under its locks; the salon's change notice closes these pages as it closes
cancelling (the manage page then says whom to call).
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache

from chairtime.booking import availability, catalog, selectors, services
from chairtime.booking.errors import BookingError
from chairtime.booking.models import Appointment, Salon, Service, Stylist
from chairtime.booking.views import (
    _START,
    PageProblem,
    appointment_view,
    format_day,
    format_start,
    format_time_range,
    friendly_problems,
    load_appointment,
    month_list,
    parse_day,
    parse_start,
    private,
    require_http_methods,
    require_safe,
    start_slug,
)
from chairtime.ops.security import rate_limit


def cannot_change_online(*, visit: bool) -> str:
    if visit:
        return gettext(
            "This visit cannot be changed online any more: one of its services or stylists is no longer "
            "booked online. Please call the salon."
        )
    return gettext(
        "This appointment cannot be changed online any more: one of its services or stylists is no "
        "longer booked online. Please call the salon."
    )


def _change_url(token: str, day: date | None = None) -> str:
    url = reverse("booking:change", args=[token])
    return f"{url}?date={day.isoformat()}" if day else url


def _wanted(visit: list[Appointment]) -> list[tuple[Service, list[Stylist]]]:
    """The visit's services, each with the stylist it has, from the catalogue;
    a PageProblem when one of them is no longer booked online."""
    config = catalog.get()
    wanted = []
    for appointment in visit:
        service = config.service(appointment.service_id)
        offered = service is not None and appointment.stylist_id in {
            s.pk for s in config.stylists_for(service)
        }
        if not offered:
            raise PageProblem(
                409, cannot_change_online(visit=len(visit) > 1), title=gettext("Please call the salon")
            )
        wanted.append((service, [config.stylists[appointment.stylist_id]]))
    return wanted


def _day_times(
    salon: Salon, visit: list[Appointment], wanted, day: date, now: datetime, token: str
) -> list[dict]:
    """The visit's free starts on ``day`` (its own time counted free), each
    linking to its confirmation; the visit's current start is marked, not linked."""
    policy = selectors.salon_policy(salon)
    if day not in availability.bookable_dates(policy, now):
        return []
    own = [a.pk for a in visit]
    starts = selectors.slot_list(
        salon=salon, items=wanted, day=day, now=now, catalog=catalog.get(), ignoring=own
    ).starts
    tz = salon.tz
    current = visit[0].starts_at
    return [
        {
            "label": format_start(start, tz),
            "current": start.astimezone(UTC) == current,  # UTC: a repeated wall time is two instants
            "url": reverse("booking:change_confirm", args=[token, day.isoformat(), start_slug(start, tz)]),
        }
        for start in starts
    ]


def change_page(
    request: HttpRequest,
    appointment: Appointment,
    token: str,
    now: datetime,
    *,
    day: date | None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    salon = Salon.cached()
    context = appointment_view(request, appointment, token, now)
    visit = [item["appointment"] for item in context["visit"]]
    wanted = _wanted(visit)
    config = catalog.get()
    free_counts = selectors.bookable_day_list(
        salon=salon, items=wanted, now=now, catalog=config, ignoring=[a.pk for a in visit]
    )
    stylists = list({s.pk: s for _, candidates in wanted for s in candidates}.values())
    closed = selectors.closed_day_set(stylists, [d for d, _ in free_counts], catalog=config)
    today = availability.local_today(selectors.salon_policy(salon), now)
    times = _day_times(salon, visit, wanted, day, now, token) if day is not None else []
    context.update(
        error=error,
        months=month_list(free_counts, closed, today, lambda d: _change_url(token, d)),
        any_free=any(free for _, free in free_counts),
        chosen_day=day,
        chosen_day_label=format_day(day) if day else "",
        times=times,
        any_time=any(not t["current"] for t in times),
        zone_name=visit[0].starts_at.astimezone(salon.tz).tzname(),
        last_day=free_counts[-1][0] if free_counts else today,
    )
    return private(render(request, "booking/change.html", context, status=status))


@require_safe
@friendly_problems
def change(request: HttpRequest, token: str) -> HttpResponse:
    appointment = load_appointment(token)
    now = dj_timezone.now()
    context = appointment_view(request, appointment, token, now)
    if not context["can_change"]:
        return redirect("booking:manage", token=token)
    asked = request.GET.get("date", "")
    day = parse_day(asked) if asked else None
    if asked and day is None:
        raise PageProblem(
            400,
            gettext("That is not a date we can show. Please choose one of the days listed."),
            back_url=_change_url(token),
            back_label=gettext("Choose a day"),
        )
    if day is None:  # most moves stay on the day: its times first
        day = context["visit"][0]["appointment"].starts_at.astimezone(Salon.cached().tz).date()
    return change_page(request, appointment, token, now, day=day)


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
@rate_limit("book", "BOOKING_RATE_LIMIT")
@friendly_problems
def change_confirm(request: HttpRequest, token: str, day: str, start: str) -> HttpResponse:
    appointment = load_appointment(token)
    now = dj_timezone.now()
    salon = Salon.cached()
    chosen_day = parse_day(day)
    instant = parse_start(start, chosen_day, salon.tz) if chosen_day is not None else None
    if instant is None:
        malformed = chosen_day is None or len(start) > 11 or _START.fullmatch(start) is None
        raise PageProblem(
            400 if malformed else 404,
            gettext("That is not a start time we offer on this day. Please choose one of the times listed."),
            back_url=_change_url(token, chosen_day),
            back_label=gettext("Choose a time"),
        )
    context = appointment_view(request, appointment, token, now)
    if request.method != "POST":
        if not context["can_change"]:
            return redirect("booking:manage", token=token)
        visit = [item["appointment"] for item in context["visit"]]
        new_end = instant + (visit[-1].ends_at - visit[0].starts_at)
        tz = salon.tz
        context.update(
            new_day=format_day(instant.astimezone(tz).date()),
            new_time=format_time_range(instant.astimezone(tz), new_end.astimezone(tz), zone=True),
            back_url=_change_url(token, chosen_day),
        )
        return private(render(request, "booking/change_confirm.html", context))
    try:
        services.visit_reschedule(appointment_id=appointment.pk, start=instant, now=now)
    except BookingError as e:
        if e.code == "too_late_to_change" or not e.conflict:
            # The manage page says what is possible now, and whom to call.
            appointment.refresh_from_db()
            context = appointment_view(request, appointment, token, now)
            context["error"] = e.message
            return private(render(request, "booking/manage.html", context, status=409))
        appointment.refresh_from_db()
        return change_page(request, appointment, token, now, day=chosen_day, error=e.message, status=409)
    if context["is_visit"]:
        moved = gettext("Your visit has a new time. An e-mail with the details is on its way.")
    else:
        moved = gettext("Your appointment has a new time. An e-mail with the details is on its way.")
    messages.success(request, moved)
    return redirect("booking:manage", token=token)
