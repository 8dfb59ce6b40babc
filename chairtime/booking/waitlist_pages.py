"""The waitlist's pages, no JavaScript (links and POST forms with their CSRF token):

/book/<service>/<stylist|any>/<date>/waitlist/   from a day with no free times: the
                                                 customer's details, POST to join
/waitlist/<token>/leave/                          confirm, then POST to leave
/waitlist/offer/<token>/                          the held time and until when; POST
                                                  books it in one step

Writes go through chairtime/booking/waitlist.py, which checks everything again
under the booking's locks.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone as dj_timezone
from django.utils.translation import gettext
from django.views.decorators.cache import never_cache

from chairtime.booking import tokens, waitlist
from chairtime.booking.errors import BookingError, Problem, refusal_message
from chairtime.booking.forms import ContactForm
from chairtime.booking.models import Salon, WaitlistEntry, WaitlistOffer
from chairtime.booking.views import (
    PageProblem,
    booked_message,
    booking_context,
    day_and_time,
    day_refusal,
    format_day,
    format_long_day,
    format_time,
    format_time_range,
    friendly_problems,
    load_choice,
    load_day,
    private,
    require_http_methods,
)
from chairtime.ops.security import rate_limit


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
@rate_limit("book", "BOOKING_RATE_LIMIT")
@friendly_problems
def join(request: HttpRequest, service_id: int, stylist: int | None, day: str) -> HttpResponse:
    choice = load_choice(service_id, stylist, request)
    choice.step = 4
    chosen_day = load_day(choice, day)
    if choice.is_visit:
        raise PageProblem(
            400,
            gettext("The waitlist takes one service at a time. Please join it for each service separately."),
            back_url=choice.time_url(),
            back_label=gettext("Back to the times"),
        )
    refusal = day_refusal(choice, chosen_day)
    if refusal is not None:
        raise PageProblem(
            404, refusal_message(refusal), back_url=choice.day_url, back_label=gettext("Choose another day")
        )
    form = ContactForm(request.POST) if request.method == "POST" else ContactForm()
    context = booking_context(choice, form=form, day_label=format_day(chosen_day))
    if request.method != "POST":
        return render(request, "booking/waitlist_join.html", context)
    if not form.is_valid():
        return render(request, "booking/waitlist_join.html", context, status=400)
    contact = form.cleaned_data
    try:
        entry = waitlist.waitlist_join(
            service_id=choice.service.pk,
            stylist_id=choice.stylist.pk if choice.stylist else None,
            day=chosen_day,
            customer_name=contact["name"],
            customer_email=contact["email"],
            customer_phone=contact["phone"],
            now=choice.now,
        )
    except BookingError as e:
        if e.reason is Problem.TIMES_AVAILABLE:
            messages.info(request, e.message)
            return redirect(choice.time_url())
        raise PageProblem(
            409 if e.conflict else 404, e.message, back_url=choice.day_url, back_label=gettext("Choose a day")
        ) from e
    return redirect("booking:waitlist_leave", token=tokens.make_waitlist_token(entry.pk))


def _by_token(token: str, read, rows, problem: Problem, title: str):
    """The row a signed link names, or the customer's 404 page (a forged, expired or
    another kind's token reads as no id)."""
    row_id = read(token)
    row = rows.filter(pk=row_id).first() if row_id is not None else None
    if row is None:
        home = reverse("booking:home")
        raise PageProblem(
            404, gettext(problem.value), back_url=home, back_label=gettext("Book an appointment"), title=title
        )
    return row


def _load_entry(token: str) -> WaitlistEntry:
    rows = WaitlistEntry.objects.select_related("service", "stylist")
    return _by_token(
        token,
        tokens.read_waitlist_token,
        rows,
        Problem.WAITLIST_ENTRY_NOT_FOUND,
        gettext("Waitlist place not found"),
    )


@require_http_methods(["GET", "HEAD", "POST"])
@rate_limit("cancel", "CANCEL_RATE_LIMIT")
@friendly_problems
def leave(request: HttpRequest, token: str) -> HttpResponse:
    """The entry's page: where the customer stands, and the button to leave."""
    entry = _load_entry(token)
    if request.method == "POST":
        entry = waitlist.waitlist_leave(entry_id=entry.pk)
        messages.success(request, gettext("You have left the waitlist."))
        return redirect("booking:waitlist_leave", token=token)
    held = entry.offers.filter(state=WaitlistOffer.State.OPEN).order_by("-pk").first()
    context = {
        "entry": entry,
        "day": format_long_day(entry.date),
        "token": token,
        "book_url": reverse("booking:stylist", args=[entry.service_id]),
        "offer_url": reverse("booking:waitlist_offer", args=[tokens.make_offer_token(held.pk)])
        if held
        else "",
    }
    return private(render(request, "booking/waitlist_leave.html", context))


def _load_offer(token: str) -> WaitlistOffer:
    rows = WaitlistOffer.objects.select_related("entry__service", "stylist")
    return _by_token(
        token, tokens.read_offer_token, rows, Problem.OFFER_NOT_FOUND, gettext("Offer not found")
    )


@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
@rate_limit("book", "BOOKING_RATE_LIMIT")
@friendly_problems
def offer(request: HttpRequest, token: str) -> HttpResponse:
    """The held time, until when, and the one button that books it."""
    held = _load_offer(token)
    now = dj_timezone.now()
    error = ""
    status = 200
    if request.method == "POST":
        try:
            appointments = waitlist.waitlist_offer_take(offer_id=held.pk, now=now)
        except BookingError as e:
            error, status = e.message, 409
            held.refresh_from_db()
        else:
            messages.success(request, booked_message(visit=False))
            return redirect("booking:manage", token=tokens.make_manage_token(appointments[0].pk))
    tz = Salon.cached().tz
    start, until = held.starts_at.astimezone(tz), held.expires_at.astimezone(tz)
    taken = held.state == WaitlistOffer.State.TAKEN and held.appointment_id is not None
    context = {
        "offer": held,
        "entry": held.entry,
        "error": error,
        "day": format_long_day(start.date()),
        "time": format_time_range(start, held.ends_at.astimezone(tz), zone=True),
        "held_until": day_and_time(format_long_day(until.date()), f"{format_time(until)} {until.tzname()}"),
        "open": held.state == WaitlistOffer.State.OPEN and held.expires_at > now and held.entry.is_open,
        "taken_url": reverse("booking:manage", args=[tokens.make_manage_token(held.appointment_id)])
        if taken
        else "",
        "book_url": reverse("booking:stylist", args=[held.entry.service_id]),
    }
    return private(render(request, "booking/waitlist_offer.html", context, status=status))
