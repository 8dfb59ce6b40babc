"""The manager's reports page: /desk/reports/ (docs/reports.md)."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from decimal import Decimal

from babel.numbers import get_currency_precision
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import number_format
from django.utils.translation import gettext, gettext_lazy, pgettext_lazy

from chairtime.booking.models import Salon
from chairtime.formats import format_money
from chairtime.frontdesk.access import desk_view
from chairtime.frontdesk.models import Role
from chairtime.reports.figures import MAX_DAYS, RangeError, Report, Row, salon_report

DEFAULT_DAYS = 28


def _day(value: str | None, default: date, refusal: str) -> date:
    """The day ``value`` names (YYYY-MM-DD, what a date field sends), else
    ``default`` when it is empty; ``refusal`` says why not, with ``%(value)s``."""
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RangeError(refusal % {"value": repr(value[:40])}) from None


# The CSV's numbers are for spreadsheets and scripts: a dot for decimals in every
# language (docs/reports.md). The page writes the same figures as its language does.


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


def _hours(value: timedelta) -> str:
    return f"{value.total_seconds() / 3600:.2f}"


def _amount(amount: Decimal, currency: str) -> str:
    """An amount for the CSV: the currency's own decimals ("1234.50", not the "1234.5"
    SQLite's sum gives back), a dot, no grouping."""
    return str(amount.quantize(Decimal(1).scaleb(-get_currency_precision(currency))))


@desk_view(frozenset({Role.MANAGER}))
def report(request: HttpRequest) -> HttpResponse:
    salon = Salon.cached()
    now = timezone.now()
    today = now.astimezone(salon.tz).date()
    # The staff member draws the desk's navigation (frontdesk/base.html), as on every desk page.
    context: dict = {"salon": salon, "max_days": MAX_DAYS, "staff": request.staff}  # type: ignore[attr-defined]
    try:
        last_day = _day(
            request.GET.get("to"),
            today,
            gettext("The last day must be a date written as YYYY-MM-DD, not %(value)s."),
        )
        first_day = _day(
            request.GET.get("from"),
            last_day - timedelta(days=DEFAULT_DAYS - 1),
            gettext("The first day must be a date written as YYYY-MM-DD, not %(value)s."),
        )
        figures = salon_report(first_day, last_day, now=now)
    except RangeError as e:
        context |= {
            "error": str(e),
            "first_day": request.GET.get("from", ""),
            "last_day": request.GET.get("to", ""),
        }
        return render(request, "reports/report.html", context, status=400)
    if request.GET.get("format") == "csv":
        return _csv(figures)
    context |= {
        "report": figures,
        "first_day": figures.first_day.isoformat(),
        "last_day": figures.last_day.isoformat(),
        "first": figures.first_day,
        "last": figures.last_day,
        "rows": [_shown(row, figures.currency) for row in figures.rows],
        "total": _shown(figures.total, figures.currency),
    }
    return render(request, "reports/report.html", context)


def _shown(row: Row, currency: str) -> dict:
    """A row for the page: decimals, percentages and money in the reader's language."""
    shown = _display(row, currency)
    for key in ("working", "booked", "utilisation", "no_show_rate", "late_cancel_rate", "rebooking_rate"):
        shown[key] = _localised(shown[key])
    shown["revenue"] = format_money(row.revenue, currency)  # "$0.00", not a price's "Free"
    return shown


def _localised(figure: str) -> str:
    """The CSV's figure ("66.7") as the reader's language writes it ("66,7"). Rounded
    once, by the CSV's format, so the page and the download agree (Django's
    number_format cuts a float's digits instead of rounding them)."""
    if not figure:
        return figure
    return number_format(Decimal(figure), decimal_pos=len(figure.partition(".")[2]))


def _display(row: Row, currency: str) -> dict:
    """A row for the CSV: machine-readable numbers (a dot for decimals)."""
    return {
        "label": row.label,
        "working": _hours(row.working),
        "booked": _hours(row.booked),
        "utilisation": _percent(row.utilisation),
        "appointments": row.appointments,
        "completed": row.completed,
        "revenue": _amount(row.revenue, currency),
        "no_shows": row.no_shows,
        "no_show_rate": _percent(row.no_show_rate),
        "cancelled": row.cancelled,
        "late_cancels": row.late_cancels,
        "late_cancel_rate": _percent(row.late_cancel_rate),
        "rebooked": row.rebooked,
        "rebooking_rate": _percent(row.rebooking_rate),
    }


# The CSV's columns: the titles in the reader's language, the cells not. "Completed"
# and "Cancelled" count appointments: plural, unlike an appointment's status.
COLUMNS = [
    ("label", gettext_lazy("Stylist")),
    ("working", gettext_lazy("Working hours")),
    ("booked", gettext_lazy("Booked hours")),
    ("utilisation", gettext_lazy("Utilisation %")),
    ("appointments", gettext_lazy("Appointments")),
    ("completed", pgettext_lazy("appointments, a report column", "Completed")),
    ("revenue", gettext_lazy("Revenue")),
    ("no_shows", gettext_lazy("No-shows")),
    ("no_show_rate", gettext_lazy("No-show rate %")),
    ("cancelled", pgettext_lazy("appointments, a report column", "Cancelled")),
    ("late_cancels", gettext_lazy("Late cancellations")),
    ("late_cancel_rate", gettext_lazy("Late-cancel rate %")),
    ("rebooked", gettext_lazy("Rebooked")),
    ("rebooking_rate", gettext_lazy("Rebooking rate %")),
]


def _csv(figures: Report) -> HttpResponse:
    name = f"chairtime-report-{figures.first_day}-{figures.last_day}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    revenue = gettext("Revenue (%(currency)s)") % {"currency": figures.currency}
    writer.writerow([str(title) if key != "revenue" else revenue for key, title in COLUMNS])
    for row in [*figures.rows, figures.total]:
        shown = _display(row, figures.currency)
        # A spreadsheet runs a cell that starts with = + - @: a stylist's name is text.
        shown["label"] = "'" + shown["label"] if shown["label"][:1] in "=+-@\t\r" else shown["label"]
        writer.writerow([shown[key] for key, _ in COLUMNS])
    return response
