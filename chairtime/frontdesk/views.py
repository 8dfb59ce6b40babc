"""The front desk's pages. Thin: access checks in ``access.py``, reads and the
grid in ``calendar.py``, writes through ``booking.services`` and ``services.py``.
Every page works without JavaScript; every change is a POST form with CSRF."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.db.models import Prefetch, prefetch_related_objects
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from chairtime.booking import selectors
from chairtime.booking import services as booking
from chairtime.booking.errors import BookingError
from chairtime.booking.models import Appointment, Hold, Salon, Stylist
from chairtime.booking.views import (
    PageProblem,
    format_long_day,
    format_time_range,
    friendly_problems,
    parse_day,
    parse_start,
    phase_list,
    require_http_methods,
    require_safe,
)
from chairtime.clients import selectors as client_list
from chairtime.clients import services as client_cards
from chairtime.clients.models import Client
from chairtime.frontdesk import calendar
from chairtime.frontdesk import services as desk
from chairtime.frontdesk.access import DESK_ROLES, desk_view, refuse
from chairtime.frontdesk.forms import DeskBookingForm, DeskMoveForm
from chairtime.frontdesk.models import Attendance, StaffMember

# What each button asks, and who may press it.
ACTIONS = {
    "arrived": (pgettext_lazy("appointment status", "Arrived"), Attendance.ARRIVED),
    "in_progress": (pgettext_lazy("appointment status", "In progress"), Attendance.IN_PROGRESS),
    "completed": (pgettext_lazy("appointment status", "Completed"), Attendance.COMPLETED),
    "no_show": (pgettext_lazy("appointment status", "No-show"), Attendance.NO_SHOW),
    "cancel_customer": (_("Cancel: the customer asked"), None),
    "cancel_salon": (_("Cancel: the salon cancels"), None),
}
# What the page says once a button worked: whole sentences, so each language
# words them its own way.
MARKED = {
    "arrived": _("Marked arrived."),
    "in_progress": _("Marked in progress."),
    "completed": _("Marked completed."),
    "no_show": _("Marked no-show."),
}
STYLIST_ACTIONS = {"arrived", "in_progress", "completed", "no_show"}


class DeskLoginView(auth_views.LoginView):
    template_name = "frontdesk/login.html"
    redirect_authenticated_user = True

    def get_default_redirect_url(self) -> str:
        return reverse("frontdesk:home")


class DeskLogoutView(auth_views.LogoutView):
    next_page = "frontdesk:login"


def _today(salon: Salon, now: datetime) -> date:
    return now.astimezone(salon.tz).date()


def _day_param(request: HttpRequest, today: date, back: str) -> date:
    raw = request.GET.get("date", "")
    if not raw:
        return today
    day = parse_day(raw)
    if day is None:
        raise PageProblem(
            400,
            gettext("That is not a date. Use the form YYYY-MM-DD, for example %(today)s.")
            % {"today": today.isoformat()},
            back_url=reverse(back),
            back_label=gettext("Show today"),
        )
    return day


def _appointment_url(appointment: Appointment) -> str:
    return reverse("frontdesk:appointment", args=[appointment.pk])


def _calendar_links() -> tuple:
    """The calendar's link makers, reversing each URL once: a busy day links
    hundreds of slots, and reverse() is not free."""
    book_prefix = reverse("frontdesk:book")
    appointment_prefix = reverse("frontdesk:appointment", args=[1]).removesuffix("1/")

    def book_url(stylist: Stylist, local: datetime) -> str:
        return f"{book_prefix}?stylist={stylist.pk}&start={local:%Y-%m-%dT%H:%M}"

    def appointment_url(appointment: Appointment) -> str:
        return f"{appointment_prefix}{appointment.pk}/"

    return book_url, appointment_url


def _render_calendar(
    request: HttpRequest, *, stylists: list[Stylist], days: list[date], now: datetime, extra: dict
) -> HttpResponse:
    salon = Salon.cached()
    staff: StaffMember = request.staff  # type: ignore[attr-defined]
    schedule = calendar.read(salon, stylists, days[0], days[-1])
    book_url, appointment_url = _calendar_links()
    grid = calendar.layout(
        salon,
        schedule,
        stylists,
        days,
        now=now,
        appointment_url=appointment_url,
        book_url=book_url,
        may_book_for=staff.may_book_for,
    )
    context = {"grid": grid, "staff": staff, "salon": salon, **extra}
    return render(request, "frontdesk/calendar.html", context)


@require_safe
@desk_view()
@friendly_problems
def home(request: HttpRequest) -> HttpResponse:
    salon = Salon.cached()
    staff: StaffMember = request.staff  # type: ignore[attr-defined]
    now = timezone.now()
    today = _today(salon, now)
    by_stylist = selectors.appointment_list_for_day(salon=salon, day=today)
    rows = []
    for stylist, appointments in by_stylist.items():
        if not staff.may_see_stylist(stylist.pk):
            continue
        for a in appointments:
            if a.status != Appointment.Status.CONFIRMED:
                continue
            rows.append(
                {
                    "appointment": a,
                    "stylist": stylist,
                    "time": format_time_range(
                        a.starts_at.astimezone(salon.tz), a.ends_at.astimezone(salon.tz)
                    ),
                    "url": _appointment_url(a),
                }
            )
    rows.sort(key=lambda row: (row["appointment"].starts_at, row["stylist"].name))
    week_url = reverse("frontdesk:week")
    if staff.is_stylist:
        week_url += f"?stylist={staff.stylist_id}"
    context = {
        "staff": staff,
        "salon": salon,
        "today_label": format_long_day(today),
        "rows": rows,
        "week_url": week_url,
    }
    return render(request, "frontdesk/home.html", context)


@require_safe
@desk_view()
@friendly_problems
def day(request: HttpRequest) -> HttpResponse:
    salon = Salon.cached()
    staff: StaffMember = request.staff  # type: ignore[attr-defined]
    now = timezone.now()
    today = _today(salon, now)
    shown = _day_param(request, today, "frontdesk:day")
    stylists = [staff.stylist] if staff.is_stylist else calendar.stylists_for(shown, shown, salon.tz)
    url = reverse("frontdesk:day")
    extra = {
        "view": "day",
        "title": format_long_day(shown),
        "is_today": shown == today,
        "shown": shown,
        "prev_url": f"{url}?date={shown - timedelta(days=1):%Y-%m-%d}",
        "next_url": f"{url}?date={shown + timedelta(days=1):%Y-%m-%d}",
        "today_url": url,
        "other_url": f"{reverse('frontdesk:week')}?date={shown:%Y-%m-%d}"
        + (f"&stylist={staff.stylist_id}" if staff.is_stylist else ""),
        "other_label": gettext("Week view"),
    }
    return _render_calendar(request, stylists=stylists, days=[shown], now=now, extra=extra)


@require_safe
@desk_view()
@friendly_problems
def week(request: HttpRequest) -> HttpResponse:
    salon = Salon.cached()
    staff: StaffMember = request.staff  # type: ignore[attr-defined]
    now = timezone.now()
    today = _today(salon, now)
    shown = _day_param(request, today, "frontdesk:week")
    first = shown - timedelta(days=shown.weekday())
    days = [first + timedelta(days=n) for n in range(7)]
    raw = request.GET.get("stylist", "")
    if staff.is_stylist and not raw:
        raw = str(staff.stylist_id)
    if raw in ("", "all"):
        if staff.is_stylist:
            refuse(gettext("A stylist's account shows only their own calendar."))
        stylists = calendar.stylists_for(days[0], days[-1], salon.tz)
        who = "all"
    else:
        stylist = Stylist.objects.filter(pk=int(raw)).first() if raw.isdigit() and len(raw) <= 9 else None
        if stylist is None:
            raise PageProblem(
                404,
                gettext("There is no such stylist."),
                back_url=reverse("frontdesk:week"),
                back_label=gettext("Show everyone"),
            )
        if not staff.may_see_stylist(stylist.pk):
            refuse(gettext("A stylist's account shows only their own calendar, not another stylist's."))
        stylists = [stylist]
        who = str(stylist.pk)
    url = reverse("frontdesk:week")
    suffix = f"&stylist={who}"
    extra = {
        "view": "week",
        "title": gettext("Week of %(day)s") % {"day": format_long_day(first)},
        "is_today": first <= today <= days[-1],
        "shown": shown,
        "prev_url": f"{url}?date={first - timedelta(days=7):%Y-%m-%d}{suffix}",
        "next_url": f"{url}?date={first + timedelta(days=7):%Y-%m-%d}{suffix}",
        "today_url": f"{url}?stylist={who}",
        "other_url": f"{reverse('frontdesk:day')}?date={shown:%Y-%m-%d}",
        "other_label": gettext("Day view"),
        "who": who,
        "stylist_choices": [] if staff.is_stylist else Stylist.objects.filter(is_active=True),
    }
    return _render_calendar(request, stylists=stylists, days=days, now=now, extra=extra)


@require_http_methods(["GET", "HEAD", "POST"])
@desk_view()
@friendly_problems
def book(request: HttpRequest) -> HttpResponse:
    """Book a walk-in or phone customer. The desk books with anyone; a stylist
    only with themself (``StaffMember.may_book_for``), and finds only their own
    clients' cards."""
    salon = Salon.cached()
    staff: StaffMember = request.staff  # type: ignore[attr-defined]
    only = staff.stylist_id if staff.is_stylist else None
    asked = (request.POST if request.method == "POST" else request.GET).get("stylist", "")
    if only is not None and asked not in ("", str(only)):
        refuse("A stylist's account books only into their own column, not another stylist's.")
    status = 200
    if request.method == "POST":
        form = DeskBookingForm(request.POST, salon=salon, only_stylist_id=only)
        if form.is_valid():
            data = form.cleaned_data
            start = parse_start(f"{data['time']:%H:%M}", data["date"], salon.tz)
            if start is None:
                form.add_error("time", gettext("That time does not exist on that day (the clocks change)."))
            else:
                now = timezone.now()
                services = list(data["services"])
                items = [booking.ItemRequest(s.pk, data["stylist"].pk) for s in services]
                try:
                    appointments = booking.visit_book(
                        items=items,
                        start=start,
                        customer_name=data["customer_name"],
                        customer_email=data["customer_email"],
                        customer_phone=data["customer_phone"],
                        request=booking.request_key(
                            "desk", data["nonce"], items, start, data["customer_name"]
                        ),
                        now=now,
                        by_staff=True,
                    )
                except BookingError as error:
                    form.add_error(None, error.message)
                    status = 409 if error.conflict else 422
                else:
                    if not appointments[0].desk_events.exists():
                        desk.record_booked(appointments, user=request.user, now=now)
                    messages.success(
                        request,
                        gettext("Booked %(customer)s with %(stylist)s.")
                        % {"customer": data["customer_name"], "stylist": data["stylist"].name},
                    )
                    _join_card(request, salon, data, appointments, now)
                    return redirect("frontdesk:appointment", appointment_id=appointments[0].pk)
        if status == 200:
            status = 400
        picked = form.cleaned_data.get("client")  # read by the form's field, not again
    else:
        initial = {}
        if asked.isdigit() and len(asked) <= 9:
            initial["stylist"] = int(asked)
        elif only is not None:
            initial["stylist"] = only
        raw = request.GET.get("start", "")
        start_day = parse_day(raw[:10])
        if start_day is not None and len(raw) == 16 and raw[10] == "T":
            initial["date"] = start_day
            initial["time"] = raw[11:]
        else:
            initial["date"] = _today(salon, timezone.now())
        picked = _picked_client(salon, request.GET.get("client", ""), only)
        if picked is not None:
            initial.update(
                client=picked.pk,
                customer_name=picked.name,
                customer_email=picked.email or "",
                customer_phone=picked.phone,
            )
        form = DeskBookingForm(initial=initial, salon=salon, only_stylist_id=only)
    context = {"form": form, "staff": staff, "salon": salon, **_client_finder(request, salon, picked, only)}
    return render(request, "frontdesk/book.html", context, status=status)


FOUND_CLIENTS = 8  # the finder lists this many; more is a sign to type more


def _picked_client(salon: Salon, raw: str, stylist_id: int | None) -> Client | None:
    """The card ``?client=`` names: among a stylist's own clients for a stylist."""
    if not raw.isdigit() or len(raw) > 18:
        return None
    return client_list.client_search(salon=salon, query="", stylist_id=stylist_id).filter(pk=int(raw)).first()


def _client_finder(request: HttpRequest, salon: Salon, picked: Client | None, stylist_id: int | None) -> dict:
    """The booking page's "Find a client": its query, the cards it found (a
    stylist's own clients for a stylist), and the slot (stylist, start) its links
    and form carry on."""
    keep = {k: request.GET[k] for k in ("stylist", "start") if k in request.GET}
    query = client_list.search_text(request.GET.get("client_q", ""))
    cards = client_list.client_search(salon=salon, query=query, stylist_id=stylist_id)
    found = list(cards[: FOUND_CLIENTS + 1]) if query else []
    book_url = reverse("frontdesk:book")
    slot = urlencode(keep, safe=":")
    return {
        "client_q": query,
        "found": found[:FOUND_CLIENTS],
        "found_more": len(found) > FOUND_CLIENTS,
        "keep": keep,
        "picked": picked,
        "pick_url": f"{book_url}?{slot}{'&' if slot else ''}client=",
        "unpick_url": f"{book_url}?{slot}",
    }


def _join_card(request: HttpRequest, salon: Salon, data: dict, appointments: list[Appointment], now) -> None:
    """The visit just booked joins the card picked from the client list, or a card
    started for a customer without an e-mail address when staff asked for one (with
    an address, the attach rule found or started its card inside the booking)."""
    card = data["client"]
    if card is None and data["start_card"] and not data["customer_email"]:
        card = client_cards.client_start(
            salon_id=salon.pk, name=data["customer_name"], phone=data["customer_phone"], now=now
        )
    if card is None:
        return
    try:
        client_cards.attach(client=card, appointment_ids=[a.pk for a in appointments], now=now)
    except client_cards.ClientError as error:
        messages.warning(
            request, gettext("The visit is booked but not on the client's card: %(why)s") % {"why": error}
        )


def _local_span(salon: Salon, first: Appointment, last: Appointment) -> str:
    """From ``first``'s start to ``last``'s end, in the salon's time, with its zone."""
    return format_time_range(
        first.starts_at.astimezone(salon.tz), last.ends_at.astimezone(salon.tz), zone=True
    )


def _visible_appointment(request: HttpRequest, appointment_id: int) -> Appointment:
    staff: StaffMember = request.staff  # type: ignore[attr-defined]
    appointment = selectors.appointment_get(appointment_id)
    if appointment is None:
        raise PageProblem(404, gettext("There is no such appointment."), back_url=reverse("frontdesk:day"))
    if not staff.may_see_stylist(appointment.stylist_id):
        refuse(gettext("A stylist's account shows only their own appointments."))
    return appointment


def _actions_for(staff: StaffMember) -> list[tuple[str, str]]:
    return [
        (key, label) for key, (label, _) in ACTIONS.items() if not staff.is_stylist or key in STYLIST_ACTIONS
    ]


@require_safe
@desk_view()
@friendly_problems
def appointment(request: HttpRequest, appointment_id: int) -> HttpResponse:
    return _appointment_page(request, _visible_appointment(request, appointment_id))


def _appointment_page(request: HttpRequest, appointment: Appointment, status: int = 200) -> HttpResponse:
    salon = Salon.cached()
    staff: StaffMember = request.staff  # type: ignore[attr-defined]
    prefetch_related_objects(
        [appointment],
        Prefetch(
            "holds",
            queryset=Hold.objects.select_related("unit__resource").order_by("starts_at", "pk"),
            to_attr="sheet_holds",
        ),
    )
    state = calendar.status_of(Appointment.objects.select_related("desk_state").get(pk=appointment.pk))
    local_day = appointment.starts_at.astimezone(salon.tz).date()
    context = {
        "staff": staff,
        "salon": salon,
        "appointment": appointment,
        "time": _local_span(salon, appointment, appointment),
        "day_label": format_long_day(local_day),
        "day_url": f"{reverse('frontdesk:day')}?date={local_day:%Y-%m-%d}",
        "state": state,
        "state_label": calendar.STATUS_LABELS[state],
        "phases": phase_list(appointment, salon.tz),
        "visit": selectors.visit_appointment_list(appointment),
        "events": appointment.desk_events.select_related(None).all(),
        "actions": _actions_for(staff) if appointment.status == Appointment.Status.CONFIRMED else [],
    }
    return render(request, "frontdesk/appointment.html", context, status=status)


@require_http_methods(["POST"])
@desk_view()
@friendly_problems
def status(request: HttpRequest, appointment_id: int) -> HttpResponse:
    staff: StaffMember = request.staff  # type: ignore[attr-defined]
    appointment = _visible_appointment(request, appointment_id)
    action = request.POST.get("action", "")
    if action not in dict(_actions_for(staff)):
        if action in ACTIONS:
            refuse(gettext("Only the front desk and managers can cancel appointments."))
        raise PageProblem(
            400, gettext("That is not a change the desk can make."), back_url=_appointment_url(appointment)
        )
    now = timezone.now()
    try:
        if action.startswith("cancel_"):
            desk.appointment_cancel(
                appointment_id=appointment.pk, by_salon=action == "cancel_salon", user=request.user, now=now
            )
            messages.success(request, gettext("Cancelled. The time is free again."))
        else:
            desk.appointment_mark(
                appointment_id=appointment.pk, attendance=ACTIONS[action][1], user=request.user, now=now
            )
            messages.success(request, str(MARKED[action]))
    except (BookingError, desk.DeskError) as error:
        messages.error(request, error.message)
        return _appointment_page(request, selectors.appointment_get(appointment.pk), status=409)
    return redirect("frontdesk:appointment", appointment_id=appointment.pk)


def _wants_json(request: HttpRequest) -> bool:
    """The calendar's drag and keyboard moves ask for JSON first in Accept; a
    browser's own form post lists text/html first (and */*, which is why
    ``request.accepts`` cannot tell them apart)."""
    return request.headers.get("Accept", "").split(",")[0].strip() == "application/json"


def _visit_start(start: datetime, appointment: Appointment, visit: list[Appointment]) -> datetime:
    """The visit's new start when ``start`` is ``appointment``'s own (the calendar
    moves the block that was dragged, which may be the visit's second service).
    In UTC: the services' offsets are elapsed time, across a change of the clocks too."""
    offset = appointment.starts_at - visit[0].starts_at
    return (start.astimezone(UTC) - offset).astimezone(start.tzinfo)


@require_http_methods(["GET", "HEAD", "POST"])
@desk_view(DESK_ROLES)
@friendly_problems
def move(request: HttpRequest, appointment_id: int) -> HttpResponse:
    """Move a visit (every service of it) to another start, with the same
    stylists or another one: services.visit_reschedule as staff (no change
    notice, no minimum notice, no horizon; hours, time off, other bookings and
    resources as for anyone). The customer is sent the change e-mail.

    The calendar's drag and keyboard moves post the same form with
    ``time_of=appointment`` (the time is this appointment's new start, not the
    visit's) and ask for JSON: ``{"message": ...}`` when moved, ``{"error": ...}``
    with the form's status (400, 409, 422) when not; the flash message is set
    either way a move succeeds, for the calendar the script then reloads."""
    salon = Salon.cached()
    appointment = _visible_appointment(request, appointment_id)
    wants_json = request.method == "POST" and _wants_json(request)
    if appointment.status != Appointment.Status.CONFIRMED:
        if wants_json:
            return JsonResponse({"error": "A cancelled appointment cannot be moved."}, status=409)
        raise PageProblem(
            409, gettext("A cancelled appointment cannot be moved."), back_url=_appointment_url(appointment)
        )
    visit = selectors.visit_appointment_list(appointment)
    status = 200
    if request.method == "POST":
        form = DeskMoveForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            start = parse_start(f"{data['time']:%H:%M}", data["date"], salon.tz)
            if start is None:
                form.add_error("time", gettext("That time does not exist on that day (the clocks change)."))
            else:
                if request.POST.get("time_of") == "appointment":
                    start = _visit_start(start, appointment, visit)
                now = timezone.now()
                stylist = data["stylist"]
                try:
                    moved = booking.visit_reschedule(
                        appointment_id=appointment.pk,
                        start=start,
                        stylists=None if stylist is None else [stylist.pk] * len(visit),
                        by_staff=True,
                        request=booking.request_key(
                            "desk-move", data["nonce"], [appointment.pk], start, str(stylist and stylist.pk)
                        ),
                        now=now,
                    )
                except BookingError as error:
                    form.add_error(None, error.message)
                    status = 409 if error.conflict else 422
                else:
                    desk.record_moved(moved, user=request.user, now=now)
                    when = _local_span(salon, moved[0], moved[-1])
                    day_label = format_long_day(moved[0].starts_at.astimezone(salon.tz).date())
                    message = gettext("Moved to %(day)s, %(time)s.") % {"day": day_label, "time": when}
                    messages.success(request, message)
                    if wants_json:
                        return JsonResponse({"message": message})
                    return redirect("frontdesk:appointment", appointment_id=appointment.pk)
        if status == 200:
            status = 400
        if wants_json:
            errors = [e for field_errors in form.errors.values() for e in field_errors]
            return JsonResponse({"error": " ".join(errors)}, status=status)
    else:
        local = visit[0].starts_at.astimezone(salon.tz)
        form = DeskMoveForm(initial={"date": local.date(), "time": local.strftime("%H:%M")})
    context = {
        "form": form,
        "staff": request.staff,  # type: ignore[attr-defined]
        "salon": salon,
        "appointment": appointment,
        "visit": visit,
        "time": _local_span(salon, visit[0], visit[-1]),
        "day_label": format_long_day(visit[0].starts_at.astimezone(salon.tz).date()),
        "summary": _visit_summary(visit),
    }
    return render(request, "frontdesk/move.html", context, status=status)


def _visit_summary(visit: list[Appointment]) -> str:
    """ "Cut with Ana, then Colour with Ben": each language orders its own words."""
    pieces = [
        gettext("%(service)s with %(stylist)s") % {"service": a.service.name, "stylist": a.stylist.name}
        for a in visit
    ]
    summary = pieces[0]
    for later in pieces[1:]:
        summary = gettext("%(earlier)s, then %(later)s") % {"earlier": summary, "later": later}
    return summary
