"""The staff's client pages: search, the card (notes, colour formulas), the data
export and erasure (GDPR).

Until the front desk's roles exist, every page needs a staff account
(``staff_member_required``) and a model permission: view_client to search, read
and export; change_client to write notes and formulas; delete_client to erase.
The roles will be granted these permissions (docs/clients.md).
"""

from __future__ import annotations

import json
import logging

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from chairtime.booking.models import Appointment, Salon
from chairtime.booking.views import format_long_day, format_time_range, require_http_methods, require_safe
from chairtime.clients import selectors, services
from chairtime.clients.forms import FormulaForm, NotesForm
from chairtime.clients.models import Client

logger = logging.getLogger("chairtime.clients")

MAX_ID = 2**63 - 1  # a larger id could only fail inside the database driver


def _client_or_404(client_id: int, salon: Salon) -> Client:
    client = None
    if 1 <= client_id <= MAX_ID:
        client = Client.objects.filter(pk=client_id, salon=salon).select_related("erased_by").first()
    if client is None:
        raise Http404("There is no such client.")
    return client


def visit_label(appointment: Appointment, salon: Salon) -> str:
    start = appointment.starts_at.astimezone(salon.tz)
    end = appointment.ends_at.astimezone(salon.tz)
    return f"{format_long_day(start.date())}, {format_time_range(start, end)}: {appointment.service.name}"


@require_safe
@staff_member_required
@permission_required("clients.view_client", raise_exception=True)
def search(request: HttpRequest) -> HttpResponse:
    salon = Salon.cached()
    # Control characters match no card, and PostgreSQL refuses a NUL in a query.
    query = "".join(ch for ch in request.GET.get("q", "")[:100] if ch.isprintable())
    page = selectors.client_search_page(salon=salon, query=query, page=request.GET.get("page"))
    return render(request, "clients/search.html", {"query": query.strip(), "page": page})


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
        "can_change": request.user.has_perm("clients.change_client") and not client.is_erased,
        "can_erase": request.user.has_perm("clients.delete_client") and not client.is_erased,
        "zone": now.astimezone(salon.tz).tzname(),
        "time_zone": salon.tz,
    }
    return render(request, "clients/card.html", context, status=status)


@require_safe
@staff_member_required
@permission_required("clients.view_client", raise_exception=True)
def card(request: HttpRequest, client_id: int) -> HttpResponse:
    salon = Salon.cached()
    return _card_page(request, _client_or_404(client_id, salon), salon)


@require_http_methods(["POST"])
@staff_member_required
@permission_required("clients.change_client", raise_exception=True)
def notes(request: HttpRequest, client_id: int) -> HttpResponse:
    salon = Salon.cached()
    client = _client_or_404(client_id, salon)
    form = NotesForm(request.POST)
    if not form.is_valid():
        return _card_page(request, client, salon, notes_form=form, status=400)
    try:
        services.client_update_notes(client=client, notes=form.cleaned_data["notes"])
    except services.ClientError as error:
        return _card_page(request, client, salon, error=str(error), status=409)
    messages.success(request, "Notes saved.")
    return redirect("clients:card", client_id=client.pk)


@require_http_methods(["POST"])
@staff_member_required
@permission_required("clients.change_client", raise_exception=True)
def formula_add(request: HttpRequest, client_id: int) -> HttpResponse:
    salon = Salon.cached()
    client = _client_or_404(client_id, salon)
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
    messages.success(request, "Formula added.")
    return redirect(reverse("clients:card", args=[client.pk]) + "#formulas")


@require_safe
@staff_member_required
@permission_required("clients.view_client", raise_exception=True)
def export(request: HttpRequest, client_id: int) -> HttpResponse:
    salon = Salon.cached()
    client = _client_or_404(client_id, salon)
    data = selectors.client_export(client=client, salon=salon)
    logger.info("client data exported", extra={"client_id": client.pk, "exported_by": request.user.pk})
    response = HttpResponse(
        json.dumps(data, indent=2, ensure_ascii=False), content_type="application/json; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="client-{client.pk}.json"'
    response["Cache-Control"] = "no-store"
    return response


@require_http_methods(["GET", "HEAD", "POST"])
@staff_member_required
@permission_required("clients.delete_client", raise_exception=True)
def erase(request: HttpRequest, client_id: int) -> HttpResponse:
    salon = Salon.cached()
    client = _client_or_404(client_id, salon)
    error = ""
    if request.method == "POST":
        try:
            services.client_erase(client_id=client.pk, by=request.user)
        except services.ClientError as refusal:
            error = str(refusal)
        else:
            messages.success(request, "The client was erased. Their appointments are kept, anonymised.")
            return redirect("clients:card", client_id=client.pk)
    card = selectors.client_card(client=client, salon=salon, now=timezone.now())
    context = {
        "client": client,
        "card": card,
        "error": error,
        "visit_count": len(card.upcoming) + len(card.past),
    }
    return render(request, "clients/erase.html", context, status=409 if error else 200)
