from django.contrib import admin
from django.urls import include, path

from chairtime.booking.api import api

urlpatterns = [
    path("admin/", admin.site.urls),
    # The language switch posts here (Django's set_language view; docs/languages.md).
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/v1/", api.urls),
    path("desk/reports/", include("chairtime.reports.urls")),
    path("desk/", include("chairtime.frontdesk.urls")),
    path("staff/clients/", include("chairtime.clients.urls")),
    path("", include("chairtime.booking.urls")),
]

handler400 = "chairtime.ops.errors.bad_request"
handler403 = "chairtime.ops.errors.permission_denied"
handler404 = "chairtime.ops.errors.page_not_found"
handler500 = "chairtime.ops.errors.server_error"
