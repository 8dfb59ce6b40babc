"""The customer booking flow, the customer's private page and the staff day sheet.

/                                          choose a service
/book/<service>/                           choose a stylist
/book/<service>/<stylist|any>/             choose a day
/book/<service>/<stylist|any>/add/         add another service to the visit: which one
/book/<service>/<stylist|any>/add/<service>/    ... and who does it
/book/<service>/<stylist|any>/<date>/      choose a time
/book/<service>/<stylist|any>/<date>/<HH:MM>/   your details, then POST to book
A visit of several services carries the further ones, in order, in the query
string of every page after the first: ?then=<service>-<stylist|any>&then=...

/booking/<token>/                          see the appointment
/booking/<token>/cancel/                   confirm, then POST to cancel
/booking/<token>/change/?date=YYYY-MM-DD   move the visit: a day, then a time
/booking/<token>/change/<date>/<HH:MM>/    confirm, then POST to move
/booking/<token>/appointment.ics           add it to a calendar
/staff/day/?date=YYYY-MM-DD                the staff's day sheet

/book/<service>/<stylist|any>/<date>/waitlist/  join the day's waitlist
/waitlist/<token>/leave/                   the waitlist place; POST to leave
/waitlist/offer/<token>/                   a held time; POST books it
"""

from __future__ import annotations

from django.urls import path, register_converter

from chairtime.booking import change_pages, views, waitlist_pages


class IdConverter:
    # Nine digits at most: a longer "id" is none of ours, and would overflow some
    # databases' integer parameters before it could simply not be found.
    regex = "[0-9]{1,9}"

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: int) -> str:
        return str(value)


class StylistConverter:
    """A stylist id, or "any" (None): whichever suitable stylist is free."""

    regex = f"{views.ANY}|[0-9]{{1,9}}"

    def to_python(self, value: str) -> int | None:
        return None if value == views.ANY else int(value)

    def to_url(self, value: int | str | None) -> str:
        return views.ANY if value in (None, views.ANY) else str(int(value))


register_converter(IdConverter, "booking_id")
register_converter(StylistConverter, "booking_stylist")

app_name = "booking"

urlpatterns = [
    path("", views.home, name="home"),
    path("book/<booking_id:service_id>/", views.choose_stylist, name="stylist"),
    path("book/<booking_id:service_id>/<booking_stylist:stylist>/", views.choose_day, name="day"),
    # Before the day and time routes, which would read "add" as a malformed date.
    path("book/<booking_id:service_id>/<booking_stylist:stylist>/add/", views.add_service, name="add"),
    path(
        "book/<booking_id:service_id>/<booking_stylist:stylist>/add/<booking_id:added_id>/",
        views.add_stylist,
        name="add_stylist",
    ),
    path("book/<booking_id:service_id>/<booking_stylist:stylist>/<str:day>/", views.choose_time, name="time"),
    # Before the details route, which would read "waitlist" as a malformed time.
    path(
        "book/<booking_id:service_id>/<booking_stylist:stylist>/<str:day>/waitlist/",
        waitlist_pages.join,
        name="waitlist_join",
    ),
    path(
        "book/<booking_id:service_id>/<booking_stylist:stylist>/<str:day>/<str:start>/",
        views.details,
        name="details",
    ),
    path("booking/<str:token>/", views.manage, name="manage"),
    path("booking/<str:token>/cancel/", views.cancel, name="cancel"),
    path("booking/<str:token>/change/", change_pages.change, name="change"),
    path(
        "booking/<str:token>/change/<str:day>/<str:start>/",
        change_pages.change_confirm,
        name="change_confirm",
    ),
    path("booking/<str:token>/appointment.ics", views.calendar_file, name="calendar"),
    path("waitlist/<str:token>/leave/", waitlist_pages.leave, name="waitlist_leave"),
    path("waitlist/offer/<str:token>/", waitlist_pages.offer, name="waitlist_offer"),
    path("staff/day/", views.staff_day, name="staff_day"),
]
