"""The front desk, for the salon's staff (docs/frontdesk.md).

/desk/                              the desk's home: today, links by role
/desk/login/  /desk/logout/         sign in and out
/desk/day/?date=YYYY-MM-DD          the day's calendar, one column per stylist
/desk/week/?date=...&stylist=<id|all>   the week's calendar, one column per day
/desk/book/?stylist=<id>&start=YYYY-MM-DDTHH:MM   book a walk-in or phone customer
/desk/appointment/<id>/             an appointment: its phases, history and buttons
/desk/appointment/<id>/status/      POST: arrived, in progress, completed, no-show, cancel
/desk/appointment/<id>/move/        move the visit to another time or stylist
/desk/jsi18n/                       the calendar script's words and time format in the
                                    page's language (Django's JavaScriptCatalog)
"""

from __future__ import annotations

from django.urls import path
from django.views.decorators.cache import cache_control
from django.views.i18n import JavaScriptCatalog

from chairtime.frontdesk import views

app_name = "frontdesk"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.DeskLoginView.as_view(), name="login"),
    path("logout/", views.DeskLogoutView.as_view(), name="logout"),
    path("day/", views.day, name="day"),
    path("week/", views.week, name="week"),
    path("book/", views.book, name="book"),
    path("appointment/<int:appointment_id>/", views.appointment, name="appointment"),
    path("appointment/<int:appointment_id>/status/", views.status, name="status"),
    path("appointment/<int:appointment_id>/move/", views.move, name="move"),
    # The same for everyone of a language (Vary: Accept-Language, Cookie); it changes
    # only with a release, so the browser keeps it an hour.
    path(
        "jsi18n/",
        cache_control(max_age=3600, private=True)(
            JavaScriptCatalog.as_view(packages=["chairtime.frontdesk"])
        ),
        name="jsi18n",
    ),
]
