from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, timedelta, tzinfo

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.forms import BaseInlineFormSet, ModelForm
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from chairtime.admin import LabelledDateTimes, SalonDateListFilter
from chairtime.booking import schedule_changes, services
from chairtime.booking.errors import BookingError
from chairtime.booking.models import (
    MAX_SERVICE_MINUTES,
    Appointment,
    Closure,
    Resource,
    Salon,
    ScheduleException,
    Service,
    ServicePhase,
    SpecialHours,
    Stylist,
    StylistService,
    TimeOff,
    WaitlistEntry,
    WorkingHours,
)
from chairtime.booking.transactions import run_durable
from chairtime.formats import format_long_day, format_time, format_time_range


class RetryingModelAdmin(LabelledDateTimes, admin.ModelAdmin):
    """The back office's writes run as the booking services' do: a deadlock or lock
    timeout (a staff edit of a stylist's hours meeting a booking that locks that
    stylist, a list edit meeting a load_salon) rolls the request's transaction back
    and runs the view again from the start, instead of answering a 500."""

    def changeform_view(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return self._retrying(request, super().changeform_view, *args, **kwargs)

    def changelist_view(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if "_save" not in request.POST:
            # Not a save of the list's editable columns, but an action: actions
            # call the booking services, whose own transactions retry.
            return super().changelist_view(request, *args, **kwargs)
        return self._retrying(request, super().changelist_view, *args, **kwargs)

    def delete_view(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        return self._retrying(request, super().delete_view, *args, **kwargs)

    def _retrying(self, request: HttpRequest, view, *args, **kwargs) -> HttpResponse:
        if request.method != "POST":
            return view(request, *args, **kwargs)
        return run_durable(
            lambda: view(request, *args, **kwargs), what=f"back office {self.model._meta.model_name}"
        )


class _NeedsDecisions(Exception):
    def __init__(self, affected: list[schedule_changes.Affected], error: str = "") -> None:
        super().__init__(error or "decisions needed")
        self.affected = affected
        self.error = error


class ScheduleChangeGuard:
    """A change form whose save can leave booked appointments outside their
    stylist's hours (time off, closures, special hours, a stylist's weekly hours
    and services). It locks the change's stylists before writing, as a booking
    does; after writing, inside the same transaction, it lists the confirmed
    appointments that no longer fit (schedule_changes). If there are any and
    staff have not decided for each, the whole save is rolled back and a page
    lists them, with keep / cancel for each; that page posts the same form again
    with the decisions, which are carried out with the change, atomically.

    List before the RetryingModelAdmin: the rollback must happen before the page
    is drawn, outside the durable transaction."""

    def schedule_scope(self, obj) -> schedule_changes.Scope:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj, form: ModelForm, change: bool) -> None:
        schedule_changes.lock(self.schedule_scope(obj))
        super().save_model(request, obj, form, change)  # type: ignore[misc]

    def save_related(self, request: HttpRequest, form: ModelForm, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)  # type: ignore[misc]
        self._settle(request, self.schedule_scope(form.instance))

    def delete_model(self, request: HttpRequest, obj) -> None:
        # Deleting a stylist's special hours (an extra shift) takes hours away too.
        scope = self.schedule_scope(obj)
        schedule_changes.lock(scope)
        super().delete_model(request, obj)  # type: ignore[misc]
        self._settle(request, scope)

    def delete_queryset(self, request: HttpRequest, queryset) -> None:
        # The list's "delete selected" action: no page to decide on, so refused
        # (rolled back, changelist_view says why) when anything is affected.
        # Actions run outside the request's transaction: this one has its own.
        with transaction.atomic():
            scope = schedule_changes.Scope.union(self.schedule_scope(obj) for obj in queryset)
            schedule_changes.lock(scope)
            super().delete_queryset(request, queryset)  # type: ignore[misc]
            self._settle(request, scope)

    def _settle(self, request: HttpRequest, scope: schedule_changes.Scope) -> None:
        """After the change is written: nothing affected, or staff's decision for
        each affected appointment carried out, or _NeedsDecisions (rolled back)."""
        now = timezone.now()
        # New hours may have made time for someone on the waitlist (rolled back
        # with the change if it is).
        services.waitlist_hours_changed(scope.first_day, scope.last_day, now=now)
        affected = schedule_changes.affected_appointment_list(scope, now=now)
        if not affected:
            return
        decisions = {}
        for item in affected:
            value = request.POST.get(f"decision-{item.appointment.pk}")
            if value not in {d.value for d in schedule_changes.Decision}:
                raise _NeedsDecisions(
                    affected,
                    gettext("Choose keep or cancel for every appointment below.")
                    if "_schedule_decisions" in request.POST
                    else "",
                )
            decisions[item.appointment.pk] = schedule_changes.Decision(value)
        try:
            done = schedule_changes.apply_decisions(affected, decisions, user=request.user, now=now)
        except BookingError as e:
            raise _NeedsDecisions(affected, e.message) from None
        kept, cancelled = done[schedule_changes.Decision.KEEP], done[schedule_changes.Decision.CANCEL]
        self.message_user(  # type: ignore[attr-defined]
            request,
            gettext(
                "Of the appointments this change affected, kept as exceptions: %(kept)s; "
                "cancelled (their customers are being told): %(cancelled)s."
            )
            % {"kept": kept, "cancelled": cancelled},
            messages.SUCCESS,
        )

    def changelist_view(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return super().changelist_view(request, *args, **kwargs)  # type: ignore[misc]
        except _NeedsDecisions as needed:  # a list edit or a bulk delete: rolled back
            count = len(needed.affected)
            # The English says "appointment(s)" either way (and a test reads it);
            # ngettext lets French and Spanish write the right form.
            self.message_user(  # type: ignore[attr-defined]
                request,
                ngettext(
                    "Nothing was saved: this would leave %(count)s booked appointment(s) outside "
                    "their stylist's hours. Make the change from each item's own page, which lists "
                    "them and asks what to do with each.",
                    "Nothing was saved: this would leave %(count)s booked appointment(s) outside "
                    "their stylist's hours. Make the change from each item's own page, which lists "
                    "them and asks what to do with each.",
                    count,
                )
                % {"count": count},
                messages.ERROR,
            )
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return super().delete_view(request, *args, **kwargs)  # type: ignore[misc]
        except _NeedsDecisions as needed:
            return self._decision_page(request, needed)

    def changeform_view(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return super().changeform_view(request, *args, **kwargs)  # type: ignore[misc]
        except _NeedsDecisions as needed:  # the transaction is rolled back: nothing was saved
            return self._decision_page(request, needed)

    def _decision_page(self, request: HttpRequest, needed: _NeedsDecisions) -> HttpResponse:
        opts = self.model._meta  # type: ignore[attr-defined]
        replay = [
            (name, value)
            for name, values in request.POST.lists()
            for value in values
            if name not in ("csrfmiddlewaretoken", "_schedule_decisions") and not name.startswith("decision-")
        ]
        salon = Salon.cached()
        context = {
            **self.admin_site.each_context(request),  # type: ignore[attr-defined]
            "opts": opts,
            "title": gettext("Appointments this change affects"),
            "affected": needed.affected,
            "rows": _affected_rows(needed.affected, salon.tz),
            "error": needed.error,
            "replay": replay,
            "time_zone": salon.time_zone,
            "back_url": reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist"),
        }
        return TemplateResponse(request, "admin/booking/schedule_change.html", context, status=409)


def _affected_rows(affected: list[schedule_changes.Affected], zone: tzinfo) -> list[dict]:
    """The decision page's rows: each appointment's day and times in the salon's
    zone, written the reader's language's way, and why it no longer fits."""
    rows = []
    for item in affected:
        start, end = item.appointment.starts_at.astimezone(zone), item.appointment.ends_at.astimezone(zone)
        rows.append(
            {
                "appointment": item.appointment,
                "day": format_long_day(start.date()),
                "times": format_time_range(start, end),
                "start": format_time(start),
                "reason": item.reason_text,
            }
        )
    return rows


def _local_day(instant) -> date:
    return timezone.localtime(instant, Salon.cached().tz).date()


@admin.register(Salon)
class SalonAdmin(RetryingModelAdmin):
    list_display = ["name", "time_zone", "slot_minutes", "min_notice_minutes", "horizon_days"]
    fieldsets = [
        (None, {"fields": ["name", "time_zone", "currency"]}),
        (_("Contact (in e-mails and calendar entries)"), {"fields": ["address", "phone"]}),
        (_("Online booking"), {"fields": ["slot_minutes", "min_notice_minutes", "horizon_days"]}),
        (
            _("Changes, reminders and the waitlist"),
            {"fields": ["change_notice_minutes", "reminder_minutes", "waitlist_hold_minutes"]},
        ),
    ]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return not Salon.objects.exists() and super().has_add_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Salon | None = None) -> bool:
        return False


class ServicePhaseFormSet(BaseInlineFormSet):
    """Each version of the service (the standard phases, and each stylist's own)
    starts and ends with the stylist at work, and lasts what a service may."""

    def clean(self) -> None:
        super().clean()
        if any(self.errors):
            return
        versions: dict[Stylist | None, list[dict]] = defaultdict(list)
        for form in self.forms:
            data = getattr(form, "cleaned_data", None)
            if data and not data.get("DELETE"):
                versions[data.get("stylist")].append(data)
        problems = []
        for stylist, phases in versions.items():
            phases.sort(key=lambda data: data["position"])
            problems += _phase_problems(phases, stylist.name if stylist else None)
        if problems:
            raise ValidationError(problems)


def _phase_problems(phases: list[dict], stylist: str | None) -> list[str]:
    """What is wrong with one version of a service's phases (sorted), in whole
    sentences: the standard phases (``stylist`` None) or one stylist's own."""
    names = {"stylist": stylist}
    problems = []
    if phases[0]["processing"]:
        problems.append(
            gettext(
                "%(stylist)s's own phases: the first phase cannot be a processing phase; "
                "a service starts with the stylist at work."
            )
            % names
            if stylist
            else gettext(
                "The standard phases: the first phase cannot be a processing phase; "
                "a service starts with the stylist at work."
            )
        )
    if len(phases) > 1 and phases[-1]["processing"]:
        problems.append(
            gettext(
                "%(stylist)s's own phases: the last phase cannot be a processing phase; "
                "a service ends with the stylist at work."
            )
            % names
            if stylist
            else gettext(
                "The standard phases: the last phase cannot be a processing phase; "
                "a service ends with the stylist at work."
            )
        )
    total = sum(data["minutes"] for data in phases)
    if not 5 <= total <= MAX_SERVICE_MINUTES:
        values = {**names, "total": total, "max": MAX_SERVICE_MINUTES}
        problems.append(
            ngettext(
                "%(stylist)s's own phases add up to %(total)s minute; a service lasts 5 to %(max)s minutes.",
                "%(stylist)s's own phases add up to %(total)s minutes; a service lasts 5 to %(max)s minutes.",
                total,
            )
            % values
            if stylist
            else ngettext(
                "The standard phases add up to %(total)s minute; a service lasts 5 to %(max)s minutes.",
                "The standard phases add up to %(total)s minutes; a service lasts 5 to %(max)s minutes.",
                total,
            )
            % values
        )
    return problems


class ServicePhaseInline(admin.TabularInline):
    model = ServicePhase
    formset = ServicePhaseFormSet
    extra = 0
    fields = ["position", "minutes", "processing", "resources", "stylist"]
    verbose_name = _("phase")
    verbose_name_plural = _(
        "phases (stylist empty: the standard phases, whose minutes become the service's length; "
        "a stylist: that stylist's own version)"
    )


@admin.register(Service)
class ServiceAdmin(RetryingModelAdmin):
    list_display = ["name", "duration_minutes", "price", "is_active", "position", "stylist_count"]
    list_editable = ["is_active", "position"]
    list_filter = ["is_active"]
    search_fields = ["name", "key", "description"]
    prepopulated_fields = {"key": ["name"]}
    inlines = [ServicePhaseInline]

    @admin.display(description=_("stylists"))
    def stylist_count(self, obj: Service) -> int:
        return obj.stylists.filter(is_active=True).count()

    def save_related(self, request: HttpRequest, form: ModelForm, formsets, change: bool) -> None:
        super().save_related(request, form, formsets, change)
        # The pages show duration_minutes; with phases it is their sum.
        form.instance.sync_duration()


@admin.register(Resource)
class ResourceAdmin(RetryingModelAdmin):
    """Basins, colour stations: what phases hold one unit of while they run."""

    list_display = ["name", "key", "quantity", "unit_count"]
    search_fields = ["name", "key"]
    prepopulated_fields = {"key": ["name"]}
    fields = ["key", "name", "quantity"]

    @admin.display(description=_("units"))
    def unit_count(self, obj: Resource) -> int:
        return obj.units.count()

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Resource | None:
        if request.method != "POST":
            return super().get_object(request, object_id, from_field)
        # A POST may lower the quantity: lock the row as a booking holding one of
        # its units does, so that the check in Resource.clean() (no upcoming
        # booking on a unit that goes) cannot race a booking taking that unit.
        field = Resource._meta.pk if from_field is None else Resource._meta.get_field(from_field)
        try:
            return (
                self.get_queryset(request).select_for_update().get(**{field.name: field.to_python(object_id)})
            )
        except (Resource.DoesNotExist, ValidationError, ValueError):
            return None


class WorkingHoursInline(admin.TabularInline):
    model = WorkingHours
    extra = 0
    verbose_name = _("working hours")
    verbose_name_plural = pgettext_lazy("plural", "working hours")


class TimeOffInline(LabelledDateTimes, admin.TabularInline):
    model = TimeOff
    extra = 0
    fields = ["start", "end", "reason"]
    verbose_name = _("time off")
    verbose_name_plural = pgettext_lazy("plural", "time off")

    def get_queryset(self, request: HttpRequest) -> QuerySet[TimeOff]:
        # Past time off is history; only what still matters is edited here.
        return super().get_queryset(request).filter(end__gte=timezone.now())


class SpecialHoursInline(admin.TabularInline):
    model = SpecialHours
    extra = 0
    fields = ["date", "start", "end", "reason"]
    verbose_name = _("special hours")
    verbose_name_plural = _("special hours (replace the weekly hours on these dates)")

    def get_queryset(self, request: HttpRequest) -> QuerySet[SpecialHours]:
        # Past days are history; only what still matters is edited here.
        return super().get_queryset(request).filter(date__gte=timezone.now().date() - timedelta(days=1))


class StylistServiceInline(admin.TabularInline):
    """The services a stylist offers, each at their own price and length if given."""

    model = StylistService
    extra = 0
    fields = ["service", "price", "duration_minutes"]
    verbose_name = _("service offered")
    verbose_name_plural = _("services offered (price and length: empty for the service's own)")


@admin.register(Stylist)
class StylistAdmin(ScheduleChangeGuard, RetryingModelAdmin):
    list_display = ["name", "offered_services", "is_active", "position"]
    list_editable = ["is_active", "position"]
    list_filter = ["is_active", "services"]
    search_fields = ["name", "key"]
    prepopulated_fields = {"key": ["name"]}
    inlines = [StylistServiceInline, WorkingHoursInline, TimeOffInline, SpecialHoursInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Stylist]:
        return super().get_queryset(request).prefetch_related("services")

    @admin.display(description=_("services"))
    def offered_services(self, obj: Stylist) -> str:
        return ", ".join(s.name for s in obj.services.all())

    def schedule_scope(self, obj: Stylist) -> schedule_changes.Scope:
        # Weekly hours, time off, special hours, services offered, being active.
        return schedule_changes.Scope((obj.pk,) if obj.pk else ())


@admin.register(TimeOff)
class TimeOffAdmin(ScheduleChangeGuard, RetryingModelAdmin):
    list_display = ["stylist", "start", "end", "reason"]
    list_filter = ["stylist", ("start", SalonDateListFilter)]
    search_fields = ["reason", "stylist__name"]

    def schedule_scope(self, obj: TimeOff) -> schedule_changes.Scope:
        return schedule_changes.Scope((obj.stylist_id,), _local_day(obj.start), _local_day(obj.end))


@admin.register(Closure)
class ClosureAdmin(ScheduleChangeGuard, RetryingModelAdmin):
    list_display = ["date", "reason"]
    date_hierarchy = "date"
    search_fields = ["reason"]

    def schedule_scope(self, obj: Closure) -> schedule_changes.Scope:
        return schedule_changes.Scope(None, obj.date, obj.date)


@admin.register(SpecialHours)
class SpecialHoursAdmin(ScheduleChangeGuard, RetryingModelAdmin):
    """The salon's dated opening hours (no stylist: every stylist's hours are cut
    to them that day), and stylists' special shifts."""

    list_display = ["date", "who", "start", "end", "reason"]
    list_filter = [("stylist", admin.EmptyFieldListFilter), "stylist", "date"]
    search_fields = ["reason"]
    ordering = ["-date", "start"]
    list_select_related = ["stylist"]

    @admin.display(description=pgettext_lazy("special hours for", "for"), ordering="stylist__name")
    def who(self, obj: SpecialHours) -> str:
        return obj.stylist.name if obj.stylist_id else gettext("The whole salon")

    def schedule_scope(self, obj: SpecialHours) -> schedule_changes.Scope:
        return schedule_changes.Scope((obj.stylist_id,) if obj.stylist_id else None, obj.date, obj.date)


@admin.register(ScheduleException)
class ScheduleExceptionAdmin(admin.ModelAdmin):
    """Appointments staff kept although a schedule change left them outside their
    stylist's hours (docs/architecture.md). Read only: made by the guarded forms."""

    list_display = ["appointment", "stylist", "starts_at", "why", "kept_by", "kept_at"]
    list_select_related = ["appointment__service", "appointment__stylist", "stylist", "kept_by"]
    ordering = ["-starts_at"]

    @admin.display(description=_("why it no longer fits"), ordering="reason")
    def why(self, obj: ScheduleException) -> str:
        return schedule_changes.reason_text(obj.reason)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: ScheduleException | None = None) -> bool:
        return False


@admin.register(WaitlistEntry)
class WaitlistEntryAdmin(admin.ModelAdmin):
    """Who waits for which day, and what came of it (docs/waitlist.md). Read only:
    customers join and leave through their pages and the API, offers are made by
    the queue."""

    list_display = ["date", "service", "stylist", "customer_name", "state", "created_at"]
    list_filter = ["state", ("date", SalonDateListFilter)]
    list_select_related = ["service", "stylist"]
    search_fields = ["customer_name", "=customer_email"]
    ordering = ["date", "created_at", "pk"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WaitlistEntry | None = None) -> bool:
        return False


@admin.register(Appointment)
class AppointmentAdmin(RetryingModelAdmin):
    list_display = ["starts_at", "stylist", "service", "customer_name", "status_badge", "price"]
    list_filter = ["status", "stylist", "service", ("starts_at", SalonDateListFilter)]
    list_select_related = ["stylist", "service"]
    search_fields = ["customer_name", "customer_email", "customer_phone"]
    ordering = ["-starts_at"]
    actions = ["cancel_appointments"]
    readonly_fields = [
        "service",
        "stylist",
        "starts_at",
        "ends_at",
        "status",
        "price",
        "created_at",
        "cancelled_at",
        "day_view_link",
    ]
    fields = [
        "service",
        "stylist",
        "starts_at",
        "ends_at",
        "status",
        "customer_name",
        "customer_email",
        "customer_phone",
        "price",
        "created_at",
        "cancelled_at",
        "day_view_link",
    ]

    # Appointments are made through the booking pages or API, which apply the
    # rules and take the locks; the back office can only correct contact details
    # and cancel (through the booking service, like the customer's cancel).
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Appointment | None = None) -> bool:
        return False

    def get_object(
        self, request: HttpRequest, object_id: str, from_field: str | None = None
    ) -> Appointment | None:
        if request.method != "POST":
            return super().get_object(request, object_id, from_field)
        # A POST edits the row it reads, inside the one transaction Django's admin
        # opens for it: lock the row, so that a customer's cancel cannot land
        # between this read and the write (and be undone by it). The cancel waits
        # for this transaction, then applies to the saved row.
        field = Appointment._meta.pk if from_field is None else Appointment._meta.get_field(from_field)
        try:
            locked = self.get_queryset(request).select_for_update()
            return locked.get(**{field.name: field.to_python(object_id)})
        except (Appointment.DoesNotExist, ValidationError, ValueError):
            return None

    def save_model(self, request: HttpRequest, obj: Appointment, form: ModelForm, change: bool) -> None:
        # Only the columns this form changed (the contact details): the status and
        # everything else stay as the booking service last wrote them.
        obj.save(update_fields=form.changed_data)

    def get_urls(self) -> list[URLPattern]:
        cancel = path(
            "<path:object_id>/cancel/",
            self.admin_site.admin_view(self.cancel_view),
            name="booking_appointment_cancel",
        )
        return [cancel, *super().get_urls()]

    def cancel_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The change page's "Cancel this appointment": through the booking service,
        like the customer's cancel and the list's action, never a write of the
        status (the service locks the row and checks it may still be cancelled)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        if not self.has_change_permission(request):
            raise PermissionDenied
        if not re.fullmatch("[0-9]{1,9}", object_id):  # no integer overflow in the query
            raise Http404
        try:
            services.appointment_cancel(appointment_id=int(object_id), by_staff=True)
        except BookingError as e:
            self.message_user(request, e.message, messages.WARNING)
        else:
            self.message_user(request, gettext("Cancelled; its time is free again."), messages.SUCCESS)
        return HttpResponseRedirect(
            reverse("admin:booking_appointment_change", args=[object_id], current_app=self.admin_site.name)
        )

    @admin.display(description=_("status"), ordering="status")
    def status_badge(self, obj: Appointment) -> str:
        return format_html('<span class="status-{}">{}</span>', obj.status, obj.get_status_display())

    @admin.display(description=_("day view"))
    def day_view_link(self, obj: Appointment) -> str:
        day = timezone.localtime(obj.starts_at).date()
        url = reverse("booking:staff_day") + f"?date={day.isoformat()}"
        text = gettext("All appointments on %(day)s") % {"day": format_long_day(day)}
        return format_html('<a href="{}">{}</a>', url, text)

    @admin.action(description=_("Cancel the selected appointments"))
    def cancel_appointments(self, request: HttpRequest, queryset: QuerySet[Appointment]) -> None:
        cancelled, refused = 0, []
        for appointment_id in queryset.values_list("pk", flat=True):
            try:
                services.appointment_cancel(appointment_id=appointment_id, by_staff=True)
                cancelled += 1
            except BookingError as e:
                refused.append(f"#{appointment_id}: {e.message}")
        if cancelled:
            self.message_user(
                request,
                ngettext("Cancelled %(count)s appointment.", "Cancelled %(count)s appointments.", cancelled)
                % {"count": cancelled},
                messages.SUCCESS,
            )
        for line in refused:
            self.message_user(request, line, messages.WARNING)
