"""The manager's reports page: /desk/reports/ (docs/reports.md)."""

from __future__ import annotations

import csv
from datetime import date, timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from chairtime.booking.models import Salon
from chairtime.frontdesk.access import desk_view
from chairtime.frontdesk.models import Role
from chairtime.reports.figures import MAX_DAYS, RangeError, Report, Row, salon_report

DEFAULT_DAYS = 28


def _day(value: str | None, default: date, name: str) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise RangeError(f"The {name} must be a date written as YYYY-MM-DD, not {value[:40]!r}.") from None


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


def _hours(value: timedelta) -> str:
    return f"{value.total_seconds() / 3600:.2f}"


@desk_view(frozenset({Role.MANAGER}))
def report(request: HttpRequest) -> HttpResponse:
    salon = Salon.cached()
    now = timezone.now()
    today = now.astimezone(salon.tz).date()
    # The staff member draws the desk's navigation (frontdesk/base.html), as on every desk page.
    context: dict = {"salon": salon, "max_days": MAX_DAYS, "staff": request.staff}  # type: ignore[attr-defined]
    try:
        last_day = _day(request.GET.get("to"), today, "last day")
        first_day = _day(request.GET.get("from"), last_day - timedelta(days=DEFAULT_DAYS - 1), "first day")
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
        "rows": [_display(row) for row in figures.rows],
        "total": _display(figures.total),
    }
    return render(request, "reports/report.html", context)


def _display(row: Row) -> dict:
    return {
        "label": row.label,
        "working": _hours(row.working),
        "booked": _hours(row.booked),
        "utilisation": _percent(row.utilisation),
        "appointments": row.appointments,
        "completed": row.completed,
        "revenue": row.revenue,
        "no_shows": row.no_shows,
        "no_show_rate": _percent(row.no_show_rate),
        "cancelled": row.cancelled,
        "late_cancels": row.late_cancels,
        "late_cancel_rate": _percent(row.late_cancel_rate),
        "rebooked": row.rebooked,
        "rebooking_rate": _percent(row.rebooking_rate),
    }


COLUMNS = [
    ("label", "Stylist"),
    ("working", "Working hours"),
    ("booked", "Booked hours"),
    ("utilisation", "Utilisation %"),
    ("appointments", "Appointments"),
    ("completed", "Completed"),
    ("revenue", "Revenue"),
    ("no_shows", "No-shows"),
    ("no_show_rate", "No-show rate %"),
    ("cancelled", "Cancelled"),
    ("late_cancels", "Late cancellations"),
    ("late_cancel_rate", "Late-cancel rate %"),
    ("rebooked", "Rebooked"),
    ("rebooking_rate", "Rebooking rate %"),
]


def _csv(figures: Report) -> HttpResponse:
    name = f"chairtime-report-{figures.first_day}-{figures.last_day}.csv"
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    writer = csv.writer(response)
    writer.writerow(
        [title if key != "revenue" else f"Revenue ({figures.currency})" for key, title in COLUMNS]
    )
    for row in [*figures.rows, figures.total]:
        shown = _display(row)
        # A spreadsheet runs a cell that starts with = + - @: a stylist's name is text.
        shown["label"] = "'" + shown["label"] if shown["label"][:1] in "=+-@\t\r" else shown["label"]
        writer.writerow([shown[key] for key, _ in COLUMNS])
    return response
