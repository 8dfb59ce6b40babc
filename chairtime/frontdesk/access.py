"""Who may open which desk page: checked on the server, for every desk view.

Every view is wrapped in :func:`desk_view`. A visitor who is not signed in goes
to the desk's sign-in page; a signed-in user without a staff role, or with a role
the page is not for, gets a 403 page that says why in a sentence. The view then
finds the member at ``request.staff``. Which stylist's data a stylist may see is
``StaffMember.may_see_stylist``; views call :func:`refuse` when it says no.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from chairtime.frontdesk.models import Role, StaffMember

ALL_ROLES = frozenset(Role)
DESK_ROLES = frozenset({Role.MANAGER, Role.FRONT_DESK})

View = Callable[..., HttpResponse]

# Whole sentences per role: a label dropped into one sentence reads wrong in French
# and Spanish (gender, articles, capitals).
NOT_FOR_ROLE = {
    Role.MANAGER: _("This page is not part of what an owner or manager account may use."),
    Role.FRONT_DESK: _("This page is not part of what a front desk account may use."),
    Role.STYLIST: _("This page is not part of what a stylist account may use."),
}


class Refused(Exception):
    """A desk request the member may not make; the message says why."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def refuse(message: str) -> None:
    raise Refused(message)


def forbidden(request: HttpRequest, message: str) -> HttpResponse:
    return render(
        request,
        "frontdesk/forbidden.html",
        {"message": message, "staff": getattr(request, "staff", None)},
        status=403,
    )


def staff_member_for(request: HttpRequest) -> StaffMember | None:
    user = request.user
    if not user.is_authenticated or not user.is_active:
        return None
    member = StaffMember.objects.select_related("stylist").filter(user=user).first()
    if member is not None:
        member.user = user  # the pages name the account: no second read of it
    return member


def desk_view(roles: frozenset[Role] = ALL_ROLES) -> Callable[[View], View]:
    """Let in signed-in staff whose role is in ``roles``; set ``request.staff``."""

    def decorator(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path(), reverse("frontdesk:login"))
            staff = staff_member_for(request)
            if staff is None:
                return forbidden(
                    request,
                    _("Your account has no role at the front desk. Ask the salon's manager to give you one."),
                )
            request.staff = staff  # type: ignore[attr-defined]
            if staff.role not in roles:
                return forbidden(request, NOT_FOR_ROLE[staff.role])
            try:
                response = view(request, *args, **kwargs)
            except Refused as refused:
                return forbidden(request, refused.message)
            # Staff pages show customers' details: never from a shared cache.
            response["Cache-Control"] = "private, no-store"
            response["X-Robots-Tag"] = "noindex, nofollow"
            return response

        return wrapper

    return decorator
