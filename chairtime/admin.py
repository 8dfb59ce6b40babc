"""The back office: Django's admin with the salon's own pages added.

Announcements live in DynamoDB, not in the ORM, so they get plain admin views
(registered here) instead of a ModelAdmin; the staff day view is linked too.

No page asks the database to convert time zones. Django's ``date_hierarchy`` on a
datetime field does (CONVERT_TZ on MySQL/MariaDB, which answers NULL, and the page
a 500, where the server has no time-zone tables: docs/settings.md). Dates are
filtered with ``SalonDateListFilter`` instead, whose ranges are computed here in
the salon's zone; the site swaps it in for the ``date_hierarchy`` of any ModelAdmin
registered with one (django-axes' have).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from datetime import date, datetime, time

from django.contrib import admin
from django.contrib.admin.utils import get_fields_from_path
from django.contrib.admin.widgets import AdminSplitDateTime
from django.db import models
from django.db.models import Count, Q, QuerySet
from django.db.models.base import ModelBase
from django.http import HttpRequest
from django.urls import URLPattern, URLResolver, reverse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _


class SalonDateListFilter(admin.DateFieldListFilter):
    """Django's date filter (any date, today, past 7 days, this month, this year),
    then each month of the year before and after this one that has rows: local
    days and months of the salon, computed here and applied as plain ranges
    (``field__gte``, ``field__lt``), so it works on every database."""

    MONTHS_AROUND = 12

    def __init__(self, field, request, params, model, model_admin, field_path) -> None:
        from chairtime.booking.models import Salon

        with timezone.override(Salon.current_time_zone()):
            super().__init__(field, request, params, model, model_admin, field_path)
            self.links += self._months_with_rows(field, model_admin.get_queryset(request))

    def _months_with_rows(self, field: models.Field, queryset: QuerySet) -> tuple:
        today = timezone.localdate()
        around = range(-self.MONTHS_AROUND, self.MONTHS_AROUND + 2)
        firsts = [_add_months(today.replace(day=1), n) for n in around]
        if isinstance(field, models.DateTimeField):
            zone = timezone.get_current_timezone()
            bounds: list[date] = [datetime.combine(first, time(), tzinfo=zone) for first in firsts]
        else:
            bounds = firsts
        months = [
            {self.lookup_kwarg_since: since, self.lookup_kwarg_until: until}
            for since, until in itertools.pairwise(bounds)
        ]
        # One query: how many rows each month holds.
        counts = queryset.filter(
            **{self.lookup_kwarg_since: bounds[0], self.lookup_kwarg_until: bounds[-1]}
        ).aggregate(**{f"month_{n}": Count("pk", filter=Q(**month)) for n, month in enumerate(months)})
        already = [{k: str(v) for k, v in params.items()} for _, params in self.links]
        return tuple(
            (date_format(month[self.lookup_kwarg_since], "YEAR_MONTH_FORMAT"), month)
            for n, month in enumerate(months)
            if counts[f"month_{n}"] and {k: str(v) for k, v in month.items()} not in already
        )


def _add_months(first_of_month: date, months: int) -> date:
    index = first_of_month.year * 12 + first_of_month.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def filter_dates_in_python(model_admin: admin.ModelAdmin) -> None:
    """Replace a ``date_hierarchy`` on a datetime field by a SalonDateListFilter."""
    name = model_admin.date_hierarchy
    if not name or not isinstance(get_fields_from_path(model_admin.model, name)[-1], models.DateTimeField):
        return  # on a date field it needs no conversion
    others = [f for f in model_admin.list_filter if f != name and not (isinstance(f, tuple) and f[0] == name)]
    model_admin.list_filter = [*others, (name, SalonDateListFilter)]
    model_admin.date_hierarchy = None


class LabelledDateTimes:
    """For a ModelAdmin or an inline: Django's split date-time boxes have only the
    text "Date:" and "Time:" beside them, no <label>, so a screen reader announces
    two unnamed boxes (axe: label). Each gets a name of its own, in the reader's
    language: "Start: date", "Start: time"."""

    def formfield_for_dbfield(self, db_field: models.Field, request: HttpRequest, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)  # type: ignore[misc]
        widget = getattr(formfield, "widget", None)
        if isinstance(widget, AdminSplitDateTime):
            names = {"field": capfirst(db_field.verbose_name)}
            date_box, time_box = widget.widgets
            date_box.attrs["aria-label"] = gettext("%(field)s: date") % names
            time_box.attrs["aria-label"] = gettext("%(field)s: time") % names
        return formfield


class ChairtimeAdminSite(admin.AdminSite):
    site_header = _("Chairtime back office")
    site_title = "Chairtime"
    index_title = _("Run the salon")

    def register(
        self, model_or_iterable: ModelBase | Iterable[ModelBase], admin_class=None, **options
    ) -> None:
        super().register(model_or_iterable, admin_class, **options)
        for model in [model_or_iterable] if isinstance(model_or_iterable, ModelBase) else model_or_iterable:
            filter_dates_in_python(self._registry[model])

    def get_urls(self) -> list[URLPattern | URLResolver]:
        from chairtime.announcements.admin_views import get_admin_urls

        return get_admin_urls(self) + super().get_urls()

    def get_app_list(self, request: HttpRequest, app_label: str | None = None) -> list[dict]:
        from chairtime.announcements.admin_views import app_list_entry

        app_list = super().get_app_list(request, app_label)
        if app_label in (None, "announcements"):
            entry = app_list_entry(request)
            if entry:
                app_list.append(entry)
        return app_list

    def each_context(self, request: HttpRequest) -> dict:
        context = super().each_context(request)
        context["day_view_url"] = reverse("booking:staff_day")
        return context
