"""The staff's client pages: search, the card (notes, colour formulas), the data
export and erasure (GDPR).

Who may do what is the front desk's role (docs/clients.md), checked here for
every view: a manager everything; the front desk searches, reads, writes notes and
formulas and exports, but does not erase; a stylist finds and reads only their own
clients' cards (a card with a visit with them) and writes notes and formulas there.
"""

from __future__ import annotations

import json
import logging

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext

from chairtime.booking.models import Appointment, Salon
from chairtime.booking.views import format_long_day, format_time_range, require_http_methods, require_safe
from chairtime.clients import selectors, services
from chairtime.clients.forms import FormulaForm, NotesForm
from chairtime.clients.models import Client
from chairtime.frontdesk.access import ALL_ROLES, DESK_ROLES, desk_view, refuse
from chairtime.frontdesk.models import Role, StaffMember

logger = logging.getLogger("chairtime.clients")

MAX_ID = 2**63 - 1  # a larger id could only fail inside the database driver


MANAGERS = frozenset({Role.MANAGER})


def _member(request: HttpRequest) -> StaffMember:
    return request.staff  # type: ignore[attr-defined]  (set by desk_view)


def _client_or_404(client_id: int, salon: Salon, staff: StaffMember) -> Client:
    """The card, if it exists and this member may open it (else 404, or a 403 that
    says why to a stylist asking for someone else's client)."""
    client = None
    if 1 <= client_id <= MAX_ID:
        client = Client.objects.filter(pk=client_id, salon=salon).select_related("erased_by").first()
    if client is None:
        raise Http404("There is no such client.")
    if staff.is_stylist and not selectors.is_client_of(client, staff.stylist_id):
        refuse(gettext("This client has no visit with you: a stylist sees only their own clients' cards."))
    return client


def visit_label(appointment: Appointment, salon: Salon) -> str:
    start = appointment.starts_at.astimezone(salon.tz)
    end = appointment.ends_at.astimezone(salon.tz)
    # Translators: a visit on a client's card: its day, its times, its service.
    return gettext("%(day)s, %(times)s: %(service)s") % {
        "day": format_long_day(start.date()),
        "times": format_time_range(start, end),
        "service": appointment.service.name,
    }


@require_safe
@desk_view(ALL_ROLES)
def search(request: HttpRequest) -> HttpResponse:
    salon = Salon.cached()
    staff = _member(request)
    query = selectors.search_text(request.GET.get("q", ""))
    page = selectors.client_search_page(
        salon=salon,
        query=query,
        page=request.GET.get("page"),
        stylist_id=staff.stylist_id if staff.is_stylist else None,
    )
    context = {"query": query, "page": page, "staff": staff, "salon": salon}
    return render(request, "clients/search.html", context)


def _card_page(
    request: HttpRequest,
    client: Client,
    salon: Salon,
    *,
    notes_form: NotesForm | None = None,
    formula_form: FormulaForm | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    now = timezone.now()
    staff = _member(request)
    card = selectors.client_card(client=client, salon=salon, now=now)
    upcoming = [(a, visit_label(a, salon)) for a in card.upcoming]
    past = [(a, visit_label(a, salon)) for a in card.past]
    visits = [(a.pk, label) for a, label in upcoming + past if a.is_confirmed]
    context = {
        "card": card,
        "client": client,
        "error": error,
        "upcoming": upcoming,
        "past": past,
        "notes_form": notes_form or NotesForm(initial={"notes": client.notes}),
        "formula_form": formula_form
        or FormulaForm(initial={"date": now.astimezone(salon.tz).date()}, visits=visits),
        # Who reached the card may write it (a stylist only reaches their clients').
        "can_change": not client.is_erased,
        "can_export": not staff.is_stylist,
        "can_erase": staff.is_manager and not client.is_erased,
        "staff": staff,
        "salon": salon,
        "zone": now.astimezone(salon.tz).tzname(),
        "time_zone": salon.tz,
    }
    return render(request, "clients/card.html", context, status=status)


@require_safe
@desk_view(ALL_ROLES)
def card(request: HttpRequest, client_id: int) -> HttpResponse:
    salon = Salon.cached()
    return _card_page(request, _client_or_404(client_id, salon, _member(request)), salon)


@require_http_methods(["POST"])
@desk_view(ALL_ROLES)
def notes(request: HttpRequest, client_id: int) -> HttpResponse:
    salon = Salon.cached()
    client = _client_or_404(client_id, salon, _member(request))
    form = NotesForm(request.POST)
    if not form.is_valid():
        return _card_page(request, client, salon, notes_form=form, status=400)
    try:
        services.client_update_notes(client=client, notes=form.cleaned_data["notes"])
    except services.ClientError as error:
        return _card_page(request, client, salon, error=str(error), status=409)
    messages.success(request, gettext("Notes saved."))
    return redirect("clients:card", client_id=client.pk)


@require_http_methods(["POST"])
@desk_view(ALL_ROLES)
def formula_add(request: HttpRequest, client_id: int) -> HttpResponse:
    salon = Salon.cached()
    client = _client_or_404(client_id, salon, _member(request))
    visits = [
        (a.pk, visit_label(a, salon))
        for a in Appointment.objects.filter(client_link__client=client, status=Appointment.Status.CONFIRMED)
        .select_related("service")
        .order_by("-starts_at")
    ]
    form = FormulaForm(request.POST, visits=visits)
    if not form.is_valid():
        return _card_page(request, client, salon, formula_form=form, status=400)
    try:
        services.formula_add(
            client=client,
            day=form.cleaned_data["date"],
            text=form.cleaned_data["text"],
            appointment_id=form.cleaned_data["appointment"],
            staff=request.user,
        )
    except services.ClientError as error:
        return _card_page(request, client, salon, formula_form=form, error=str(error), status=409)
    messages.success(request, gettext("Formula added."))
    return redirect(reverse("clients:card", args=[client.pk]) + "#formulas")


@require_safe
@desk_view(DESK_ROLES)
def export(request: HttpRequest, client_id: int) -> HttpResponse:
    salon = Salon.cached()
    client = _client_or_404(client_id, salon, _member(request))
    data = selectors.client_export(client=client, salon=salon)
    logger.info("client data exported", extra={"client_id": client.pk, "exported_by": request.user.pk})
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="client-{client.pk}.json"'
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "HEAD", "POST"])
@desk_view(MANAGERS)
def erase(request: HttpRequest, client_id: int) -> HttpResponse:
    salon = Salon.cached()
    client = _client_or_404(client_id, salon, _member(request))
    error = ""
    if request.method == "POST":
        try:
            services.client_erase(client_id=client.pk, by=request.user)
        except services.ClientError as refusal:
            error = str(refusal)
        else:
            messages.success(
                request, gettext("The client was erased. Their appointments are kept, anonymised.")
            )
            return redirect("clients:card", client_id=client.pk)
    card = selectors.client_card(client=client, salon=salon, now=timezone.now())
    context = {
        "client": client,
        "card": card,
        "error": error,
        "visit_count": len(card.upcoming) + len(card.past),
        "erased_name": services.ERASED_NAME,
        "staff": _member(request),
        "salon": salon,
    }
    return render(request, "clients/erase.html", context, status=409 if error else 200)
