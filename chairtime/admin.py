"""The back office: Django's admin with the salon's own pages added.

Announcements live in DynamoDB, not in the ORM, so they get plain admin views
(registered here) instead of a ModelAdmin; the staff day view is linked too.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest
from django.urls import URLPattern, URLResolver, reverse


class ChairtimeAdminSite(admin.AdminSite):
    site_header = "Chairtime back office"
    site_title = "Chairtime"
    index_title = "Run the salon"

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
