"""Back-office pages for announcements, inside Django's admin.

Announcements are not ORM models, so instead of a ModelAdmin there are four
plain views, mounted by ``chairtime.admin.ChairtimeAdminSite`` through
``get_admin_urls`` and listed on the admin index through ``app_list_entry``.

Who may use them: active staff (the admin site itself checks that) who are
superusers or hold ``booking.change_salon``, the permission of the people who
already run the salon's settings. There is no model, so no permission of its own.

Times are entered and shown in the salon's time zone (``Salon.time_zone``) and
stored in UTC. When DynamoDB cannot be reached, the pages say so (HTTP 503)
rather than fail with a server error, and a form keeps what was typed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.conf import settings
from django.contrib import messages
from django.contrib.admin import AdminSite, helpers
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext, gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods

from chairtime.announcements.forms import AnnouncementForm
from chairtime.announcements.store import (
    Announcement,
    AnnouncementStoreError,
    get_store,
    newest_first,
)
from chairtime.booking.models import Salon

logger = logging.getLogger("chairtime.announcements")

PERMISSION = "booking.change_salon"
_read_only = method_decorator(require_http_methods(["GET", "HEAD"]))
_read_write = method_decorator(require_http_methods(["GET", "HEAD", "POST"]))
UNAVAILABLE_MESSAGE = gettext_lazy(
    "The announcements store (DynamoDB) cannot be reached right now, so announcements "
    "cannot be shown or changed. The public pages keep working without them. "
    "Try again in a minute; if it persists, tell whoever runs the servers."
)
# What was done, one sentence each: a verb dropped into one sentence would not
# agree in French and Spanish.
DONE = {
    "added": gettext_lazy("The announcement was added."),
    "changed": gettext_lazy("The announcement was changed."),
    "deleted": gettext_lazy("The announcement was deleted."),
}


def has_permission(request: HttpRequest) -> bool:
    user = request.user
    return bool(user.is_active and user.is_staff and (user.is_superuser or user.has_perm(PERMISSION)))


def _log_store_error(request: HttpRequest, error: AnnouncementStoreError, action: str) -> None:
    logger.warning(
        "announcements back office: store unavailable",
        extra={"action": action, "error": error.code, "detail": error.detail[:200], "path": request.path},
    )


class AnnouncementAdminViews:
    def __init__(self, admin_site: AdminSite) -> None:
        self.admin_site = admin_site

    def get_urls(self) -> list[URLPattern]:
        wrap = self.admin_site.admin_view
        return [
            path("announcements/", wrap(self.list_view), name="announcements_list"),
            path("announcements/add/", wrap(self.add_view), name="announcements_add"),
            path(
                "announcements/<str:announcement_id>/change/",
                wrap(self.change_view),
                name="announcements_change",
            ),
            path(
                "announcements/<str:announcement_id>/delete/",
                wrap(self.delete_view),
                name="announcements_delete",
            ),
        ]

    # --- helpers ------------------------------------------------------------------------

    def _start(self, request: HttpRequest) -> Salon:
        if not has_permission(request):
            raise PermissionDenied
        request.current_app = self.admin_site.name
        return Salon.load()

    def _context(self, request: HttpRequest, salon: Salon, **extra) -> dict:
        return {
            **self.admin_site.each_context(request),
            "salon_time_zone": salon.time_zone,
            "cache_seconds": settings.ANNOUNCEMENTS_CACHE_SECONDS,
            **extra,
        }

    def _url(self, name: str, *args: str) -> str:
        return reverse(f"admin:{name}", args=args, current_app=self.admin_site.name)

    def _saved_message(self, what: str) -> str:
        seconds = settings.ANNOUNCEMENTS_CACHE_SECONDS
        if not seconds:
            when = gettext("The public pages show the change at once.")
        else:
            when = ngettext(
                "Every public page shows the change within %(seconds)s second.",
                "Every public page shows the change within %(seconds)s seconds.",
                seconds,
            ) % {"seconds": seconds}
        return f"{DONE[what]} {when}"

    # --- views ----------------------------------------------------------------------------

    @_read_only
    def list_view(self, request: HttpRequest) -> HttpResponse:
        salon = self._start(request)
        now = timezone.now()
        store_error = None
        try:
            announcements = newest_first(get_store().list_all())
        except AnnouncementStoreError as e:
            _log_store_error(request, e, "list")
            announcements, store_error = [], str(UNAVAILABLE_MESSAGE)
        context = self._context(
            request,
            salon,
            title=gettext("Announcements"),
            rows=[(a, a.status(now)) for a in announcements],
            store_error=store_error,
        )
        with timezone.override(salon.tz):
            return render(
                request, "admin/announcements/list.html", context, status=503 if store_error else 200
            )

    @_read_write
    def add_view(self, request: HttpRequest) -> HttpResponse:
        salon = self._start(request)
        return self._form_view(request, salon, original=None)

    @_read_write
    def change_view(self, request: HttpRequest, announcement_id: str) -> HttpResponse:
        salon = self._start(request)
        try:
            original = get_store().get(announcement_id)
        except AnnouncementStoreError as e:
            _log_store_error(request, e, "get")
            return self._unavailable(request, salon, gettext("Change announcement"))
        if original is None:
            raise Http404("No such announcement; it may have been deleted or have expired.")
        return self._form_view(request, salon, original=original)

    def _form_view(self, request: HttpRequest, salon: Salon, original: Announcement | None) -> HttpResponse:
        now = timezone.now()
        store_error = None
        # Bound, validated and rendered in the salon's zone: see AnnouncementForm.
        with timezone.override(salon.tz):
            initial = (
                {"text": original.text, "starts_at": original.starts_at, "ends_at": original.ends_at}
                if original
                else {}
            )
            form_kwargs = {"initial": initial, "now": now, "time_zone_name": salon.time_zone}
            if request.method == "POST":
                form = AnnouncementForm(request.POST, **form_kwargs)
                if form.is_valid():
                    announcement = self._build(form.cleaned_data, original, now)
                    try:
                        get_store().put(announcement)
                    except AnnouncementStoreError as e:
                        _log_store_error(request, e, "put")
                        store_error = (
                            f"{UNAVAILABLE_MESSAGE} {gettext('Nothing was saved; your text is still below.')}"
                        )
                    else:
                        messages.success(request, self._saved_message("changed" if original else "added"))
                        return HttpResponseRedirect(self._url("announcements_list"))
            else:
                form = AnnouncementForm(**form_kwargs)
            context = self._context(
                request,
                salon,
                title=gettext("Change announcement") if original else gettext("Add announcement"),
                original=original,
                announcement_status=original.status(now) if original else None,
                adminform=helpers.AdminForm(
                    form, [(None, {"fields": ["text", "starts_at", "ends_at"]})], prepopulated_fields={}
                ),
                errors=form.errors,
                store_error=store_error,
            )
            return render(
                request, "admin/announcements/form.html", context, status=503 if store_error else 200
            )

    @staticmethod
    def _build(data: dict, original: Announcement | None, now: datetime) -> Announcement:
        fields = {"text": data["text"], "starts_at": data["starts_at"], "ends_at": data["ends_at"]}
        if original is None:
            return Announcement.new(now=now, **fields)
        return original.edited(now=now, **fields)

    @_read_write
    def delete_view(self, request: HttpRequest, announcement_id: str) -> HttpResponse:
        salon = self._start(request)
        store = get_store()
        try:
            if request.method == "POST":
                if store.delete(announcement_id):
                    messages.success(request, self._saved_message("deleted"))
                else:
                    messages.info(request, gettext("That announcement had already been deleted."))
                return HttpResponseRedirect(self._url("announcements_list"))
            announcement = store.get(announcement_id)
        except AnnouncementStoreError as e:
            _log_store_error(request, e, "delete")
            return self._unavailable(request, salon, gettext("Delete announcement"))
        if announcement is None:
            raise Http404("No such announcement; it may have been deleted or have expired.")
        context = self._context(
            request,
            salon,
            title=gettext("Delete announcement"),
            announcement=announcement,
            announcement_status=announcement.status(timezone.now()),
        )
        with timezone.override(salon.tz):
            return render(request, "admin/announcements/delete.html", context)

    def _unavailable(self, request: HttpRequest, salon: Salon, title: str) -> HttpResponse:
        context = self._context(request, salon, title=title, store_error=str(UNAVAILABLE_MESSAGE))
        return render(request, "admin/announcements/unavailable.html", context, status=503)


def get_admin_urls(admin_site: AdminSite) -> list[URLPattern]:
    """The announcement pages, for ``AdminSite.get_urls`` (URL names ``announcements_*``)."""
    return AnnouncementAdminViews(admin_site).get_urls()


def app_list_entry(request: HttpRequest) -> dict | None:
    """An "Announcements" entry shaped like the items of ``AdminSite.get_app_list``.

    None when the user may not manage announcements, so the index hides it.
    """
    if not has_permission(request):
        return None
    current_app = getattr(request, "current_app", None)
    list_url = reverse("admin:announcements_list", current_app=current_app)
    return {
        "name": gettext("Announcements"),
        "app_label": "announcements",
        "app_url": list_url,
        "has_module_perms": True,
        "models": [
            {
                "name": gettext("Announcements"),
                "object_name": "Announcement",
                "admin_url": list_url,
                "add_url": reverse("admin:announcements_add", current_app=current_app),
                "view_only": False,
                "perms": {"add": True, "change": True, "delete": True, "view": True},
            }
        ],
    }
