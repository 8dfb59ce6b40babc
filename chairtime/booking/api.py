"""The JSON API for programmatic clients, mounted at /api/v1/ (docs/api.md).

Thin views: reads go through ``selectors``, writes through ``services``, and every
refusal is the domain's one ``BookingError``, turned into an HTTP status here and
nowhere else. Every error body is ``{"detail": <sentence>, "code": <reason>}``
(422s add the per-field ``errors``), and no client input can cause a 500.

CSRF: django-ninja marks its views csrf_exempt and only checks CSRF inside its
cookie and session auth classes, which this API does not use. That is safe here
because nothing is authorised by a cookie: the only credential is the manage
token, which a client must put into the request itself, and a cross-site page
cannot read or guess it.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation, TooManyFieldsSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext, gettext_lazy
from ninja import NinjaAPI, Path, Query, Status
from ninja.decorators import decorate_view
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.parser import Parser

from chairtime.booking import availability as availability_rules
from chairtime.booking import catalog, selectors, services, waitlist
from chairtime.booking.errors import BookingError, Problem
from chairtime.booking.microcache import micro_cache
from chairtime.booking.models import Appointment, Salon, Service, Stylist, WaitlistEntry
from chairtime.booking.schemas import (
    MAX_ID,
    AppointmentIn,
    AppointmentOut,
    AvailabilityOut,
    AvailabilityQuery,
    CustomerOut,
    ErrorOut,
    ItemOut,
    NextAvailabilityOut,
    NextAvailabilityQuery,
    RescheduleIn,
    ServiceOut,
    StylistOut,
    ValidationErrorOut,
    WaitlistIn,
    WaitlistOut,
)
from chairtime.booking.tokens import (
    make_manage_token,
    make_waitlist_token,
    read_manage_token,
    read_waitlist_token,
)
from chairtime.ops.security import rate_limit

DESCRIPTION = """\
Browse the salon's services and stylists, find free start times, book, and let
customers read, move or cancel their appointment with the private
`manage_token` returned on booking.

All times are ISO 8601 with a UTC offset; responses give them in the salon's own
time zone. Errors are JSON: `{"detail": "<a sentence for people>", "code": "<reason>"}`,
and 422 responses add `errors`, one entry per invalid field.
"""


class _InvalidJSON(ValueError):
    pass


class JSONParser(Parser):
    """The default parser, with an error that says what is wrong with the body."""

    def parse_body(self, request: HttpRequest) -> Any:
        try:
            return json.loads(request.body)
        except json.JSONDecodeError as e:
            # e.msg is the JSON parser's own English ("Expecting value").
            raise _InvalidJSON(
                gettext("The request body is not valid JSON: %(problem)s (line %(line)s, column %(column)s).")
                % {"problem": e.msg, "line": e.lineno, "column": e.colno}
            ) from None
        except UnicodeDecodeError:
            raise _InvalidJSON(gettext("The request body is not valid JSON: it is not UTF-8 text.")) from None


class _API(NinjaAPI):
    def get_openapi_schema(self, *args: Any, **kwargs: Any) -> Any:
        schema = super().get_openapi_schema(*args, **kwargs)
        # Every operation reads the query string (_query_string_read_first), so any
        # of them may answer 400 for one Django refuses to parse.
        for operations in schema["paths"].values():
            for operation in operations.values():
                operation["responses"].setdefault(
                    "400",
                    {
                        "description": "Bad Request",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/ErrorOut"}}
                        },
                    },
                )
        return schema


api = _API(
    title="Chairtime API",
    version="1",
    description=DESCRIPTION,
    urls_namespace="api",
    parser=JSONParser(),
)

IDEMPOTENCY_KEY = "Idempotency-Key"
_IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{16,255}")
IDEMPOTENCY_KEY_HELP = gettext_lazy(
    "The Idempotency-Key header must be 16 to 255 visible ASCII characters, "
    "for example a random UUID made for this booking."
)
IDEMPOTENCY_KEY_DOC = (
    "Makes retrying safe: a booking sent again with the same key and the same body "
    "within 24 hours books nothing more and answers 201 with the appointment the first "
    "one booked (waiting for it if it is still being booked). The same key with another "
    "body is refused with 422 (`request_key_reused`). Use a new random key (a UUID) for "
    "every new booking: the key, with the body, reads the booking back."
)


def _query_string_read_first(view: Callable[..., Any]) -> Callable[..., Any]:
    """Parse the query string before any operation runs, inside ninja's error
    handling: more parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS is then a JSON
    400 (``_suspicious`` below) on every route, also those that read no query."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        request.GET  # noqa: B018  # parsing it is the point
        return view(request, *args, **kwargs)

    return wrapper


api.add_decorator(_query_string_read_first)

NOT_FOUND = {404: ErrorOut}
INVALID = {422: ValidationErrorOut}
RATE_LIMITED = {429: ErrorOut}
MANAGE_PROOF_HELP = "The manage_token returned when the appointment was booked."


# --- Catalogue --------------------------------------------------------------------


@api.get("/services", response=list[ServiceOut], tags=["catalogue"], summary="List bookable services")
def list_services(request: HttpRequest) -> list[ServiceOut]:
    return [
        ServiceOut(
            id=s.pk,
            name=s.name,
            description=s.description,
            duration_minutes=s.duration_minutes,
            price=str(s.price),
        )
        for s in selectors.service_list()
    ]


@api.get(
    "/stylists",
    response={200: list[StylistOut], **NOT_FOUND, **INVALID},
    tags=["catalogue"],
    summary="List the stylists who offer a service",
)
def list_stylists(
    request: HttpRequest,
    service: int = Query(..., ge=1, le=MAX_ID, description="A service id from /services."),
) -> list[StylistOut]:
    found = _service_or_404(service)
    config = catalog.get()
    stylists = []
    for stylist in selectors.stylist_list_for_service(found):
        offer = config.offer(found, stylist.pk)
        stylists.append(
            StylistOut(
                id=stylist.pk,
                name=stylist.name,
                price=str(offer.price) if offer else None,
                duration_minutes=offer.duration_minutes if offer else None,
            )
        )
    return stylists


@api.get(
    "/availability",
    response={200: AvailabilityOut, **NOT_FOUND, **INVALID},
    tags=["booking"],
    summary="List free start times on a day",
    description="A start is listed when the stylist asked for, or without `stylist` at least one "
    "suitable stylist, is free for the whole service (in their own length, with the resources its "
    "phases need). Several `service` values ask for a visit: the services back to back in that "
    "order, `stylist` values matched to them by position (`any`, or none: any suitable stylist); "
    "a slot is then the visit's start. Dates in the past or beyond the booking horizon are not "
    "errors: they simply have no free slots.",
)
@decorate_view(micro_cache)
def availability(request: HttpRequest, query: Query[AvailabilityQuery]) -> AvailabilityOut:
    now = timezone.now()
    salon = Salon.cached()
    # Services, stylists, hours, time off and closures from the process's snapshot
    # (booking/catalog.py); only the day's appointments are read per request.
    config = catalog.get()
    wanted = _wanted(config, query.wanted())

    slots: list[datetime] = []
    # Asked first, without a query: a day outside the booking horizon has nothing
    # to offer, and the extreme dates a client may send never reach the day maths.
    if query.date in availability_rules.bookable_dates(selectors.salon_policy(salon), now):
        day_slots = selectors.slot_list(salon=salon, items=wanted, day=query.date, now=now, catalog=config)
        # Already the salon's wall times, each with the UTC offset in force then.
        slots = list(day_slots.starts)
    return AvailabilityOut(date=query.date, time_zone=salon.time_zone, slots=slots)


@api.get(
    "/availability/next",
    response={200: NextAvailabilityOut, **NOT_FOUND, **INVALID},
    tags=["booking"],
    summary="List the next free start times, across days",
    description="First available: the next `limit` starts from now, over every day of the booking "
    "horizon, with the stylist asked for or, without `stylist`, any suitable one. Fewer (or none) "
    "when the horizon holds fewer.",
)
@decorate_view(micro_cache)
def next_availability(request: HttpRequest, query: Query[NextAvailabilityQuery]) -> NextAvailabilityOut:
    salon = Salon.cached()
    config = catalog.get()
    slots = selectors.first_free_start_list(
        salon=salon,
        items=_wanted(config, query.wanted()),
        now=timezone.now(),
        limit=query.limit,
        catalog=config,
    )
    return NextAvailabilityOut(time_zone=salon.time_zone, slots=slots)


def _wanted(
    config: catalog.Catalog, asked: list[tuple[int, int | None]]
) -> list[tuple[Service, list[Stylist]]]:
    return [_service_and_stylists(config, service_id, stylist_id) for service_id, stylist_id in asked]


def _service_and_stylists(
    config: catalog.Catalog, service_id: int, stylist_id: int | None
) -> tuple[Service, list[Stylist]]:
    """The bookable service and who may take it: the stylist asked for, else every
    suitable one; a BookingError that says which id is wrong otherwise."""
    service = config.service(service_id)
    if service is None:
        raise BookingError(Problem.SERVICE_NOT_FOUND)
    if stylist_id is None:
        return service, config.stylists_for(service)
    if not config.has_stylist(stylist_id):
        raise BookingError(Problem.STYLIST_NOT_FOUND)
    if service.pk not in config.offers[stylist_id]:
        raise BookingError(Problem.STYLIST_DOES_NOT_OFFER)
    return service, [config.stylists[stylist_id]]


# --- Appointments -----------------------------------------------------------------


def _idempotency_key_header(description: str) -> dict:
    """The OpenAPI entry of the optional Idempotency-Key header."""
    return {
        "parameters": [
            {
                "in": "header",
                "name": "Idempotency-Key",
                "required": False,
                "schema": {"type": "string", "minLength": 16, "maxLength": 255},
                "description": description,
            }
        ]
    }


@api.post(
    "/appointments",
    response={
        201: AppointmentOut,
        400: ErrorOut,
        **NOT_FOUND,
        409: ErrorOut,
        413: ErrorOut,
        **INVALID,
        **RATE_LIMITED,
    },
    tags=["booking"],
    summary="Book an appointment, or a visit of several services",
    openapi_extra=_idempotency_key_header(IDEMPOTENCY_KEY_DOC),
    description="Books `start` if it is free at this moment (whatever /availability said a moment "
    "ago): one service (`service`, `stylist`) or a visit (`items`: its services back to back, "
    "booked or refused as a whole). 409 with a `code` when it is not: taken, resource_busy, "
    "too_soon, in_the_past, beyond_horizon, closed, outside_hours, off_grid, time_off, "
    "no_stylist, already_booked. Keep the returned `manage_token`: "
    "it is the only way to read or cancel the appointment later. 429 (rate_limited) after "
    "too many bookings from one address in a short time.",
)
@decorate_view(rate_limit("book", "BOOKING_RATE_LIMIT"))
def book_appointment(
    request: HttpRequest, payload: AppointmentIn, response: HttpResponse
) -> Status[AppointmentOut] | HttpResponse:
    key = request.headers.get(IDEMPOTENCY_KEY)
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        return _error(request, 400, IDEMPOTENCY_KEY_HELP, "invalid_idempotency_key")
    # The same request, whatever the spelling of its JSON or the offset of its start.
    asked = payload.model_copy(update={"start": payload.start.astimezone(UTC)}).model_dump_json()
    appointments = services.visit_book(
        items=[services.ItemRequest(item.service, item.stylist) for item in payload.wanted()],
        start=payload.start,
        customer_name=payload.customer.name,
        customer_email=payload.customer.email,
        customer_phone=payload.customer.phone or "",
        request=services.request_key("api", key, asked) if key is not None else None,
    )
    if key is not None:
        response["Idempotency-Key"] = key
    lead = appointments[0]
    return Status(201, _appointment_out(request, lead, make_manage_token(lead.pk), appointments))


@api.get(
    "/appointments/{appointment_id}",
    response={200: AppointmentOut, **NOT_FOUND, **INVALID},
    tags=["booking"],
    summary="Read an appointment",
    description="Needs the appointment's `token`. A missing, forged or expired token gives the "
    "same 404 as an appointment that does not exist.",
)
def get_appointment(
    request: HttpRequest,
    appointment_id: int = Path(..., ge=1, le=MAX_ID),
    token: str = Query("", description=MANAGE_PROOF_HELP),
) -> AppointmentOut:
    _check_token(appointment_id, token)
    appointment = selectors.appointment_get(appointment_id)
    if appointment is None:
        raise BookingError(Problem.APPOINTMENT_NOT_FOUND)
    return _appointment_out(request, appointment, token)


@api.post(
    "/appointments/{appointment_id}/cancel",
    response={200: AppointmentOut, **NOT_FOUND, 409: ErrorOut, **INVALID, **RATE_LIMITED},
    tags=["booking"],
    summary="Cancel an appointment",
    description="Needs the appointment's `token` (404 otherwise). 409 when it was already "
    "cancelled (already_cancelled), has started (already_started), or the salon's change notice "
    "has begun (too_late_to_change: the `detail` says to call the salon, with its phone number). "
    "429 (rate_limited) after too many cancellations from one address in a short time.",
)
@decorate_view(rate_limit("cancel", "CANCEL_RATE_LIMIT"))
def cancel_appointment(
    request: HttpRequest,
    appointment_id: int = Path(..., ge=1, le=MAX_ID),
    token: str = Query("", description=MANAGE_PROOF_HELP),
) -> AppointmentOut:
    _check_token(appointment_id, token)
    appointment = services.appointment_cancel(appointment_id=appointment_id)
    return _appointment_out(request, appointment, token)


RESCHEDULE_IDEMPOTENCY_KEY_DOC = (
    "Makes retrying safe: the same change sent again with the same key and the same body "
    "within 24 hours changes nothing more and answers 200 with the visit as it is. The same "
    "key with another body is refused with 422 (`request_key_reused`)."
)


@api.post(
    "/appointments/{appointment_id}/reschedule",
    response={
        200: AppointmentOut,
        400: ErrorOut,
        **NOT_FOUND,
        409: ErrorOut,
        413: ErrorOut,
        **INVALID,
        **RATE_LIMITED,
    },
    tags=["booking"],
    summary="Move an appointment, or its whole visit, to another start",
    openapi_extra=_idempotency_key_header(RESCHEDULE_IDEMPOTENCY_KEY_DOC),
    description="Needs the appointment's `token` (404 otherwise). Moves the appointment's visit, all "
    "its services back to back as booked, to `start` if that is free at this moment, with the visit's "
    "own current time counted as free: the new time is booked and the old one freed together, or "
    "nothing changes. Without `stylist` (or `items`) every service keeps its stylist; `stylist` "
    "(one service) or `items` (one entry per service, in order) name another, or null for any "
    "suitable one. The id and the `manage_token` stay valid; the customer gets an e-mail with the "
    "new time. The same start and stylists change nothing (200, no e-mail). 409 with a `code`: "
    "taken, resource_busy, too_soon, in_the_past, beyond_horizon, closed, outside_hours, off_grid, "
    "time_off, no_stylist, already_booked; appointment_cancelled (a cancelled appointment cannot "
    "be moved: book a new one); started_cannot_move; too_late_to_change (inside the salon's change "
    "notice: the `detail` says to call the salon, with its phone number). 422 visit_shape when "
    "`items` does not have one entry per service. Counts against the booking rate limit (429).",
)
@decorate_view(rate_limit("book", "BOOKING_RATE_LIMIT"))
def reschedule_appointment(
    request: HttpRequest,
    payload: RescheduleIn,
    response: HttpResponse,
    appointment_id: int = Path(..., ge=1, le=MAX_ID),
    token: str = Query("", description=MANAGE_PROOF_HELP),
) -> AppointmentOut | HttpResponse:
    _check_token(appointment_id, token)
    key = request.headers.get(IDEMPOTENCY_KEY)
    if key is not None and not _IDEMPOTENCY_KEY.fullmatch(key):
        return _error(request, 400, IDEMPOTENCY_KEY_HELP, "invalid_idempotency_key")
    # Absent and null stylists ask different things: exclude_unset keeps them apart.
    asked = payload.model_copy(update={"start": payload.start.astimezone(UTC)}).model_dump_json(
        exclude_unset=True
    )
    visit = services.visit_reschedule(
        appointment_id=appointment_id,
        start=payload.start,
        stylists=payload.stylists(),
        request=services.request_key("api-reschedule", key, appointment_id, asked)
        if key is not None
        else None,
    )
    if key is not None:
        response["Idempotency-Key"] = key
    appointment = next(a for a in visit if a.pk == appointment_id)
    return _appointment_out(request, appointment, token, visit)


# --- Waitlist -------------------------------------------------------------------------


@api.post(
    "/waitlist",
    response={
        201: WaitlistOut,
        400: ErrorOut,
        **NOT_FOUND,
        409: ErrorOut,
        413: ErrorOut,
        **INVALID,
        **RATE_LIMITED,
    },
    tags=["waitlist"],
    summary="Join the waitlist of a day with no free time",
    description="Puts the customer on the waitlist of `service` (with `stylist`, or any) on the salon's "
    "local `date`. The customer gets an e-mail with a link to leave it; when a matching time frees, the "
    "first in line gets an e-mail with a link that holds the time for the salon's waitlist hold and books "
    "it in one step. The same customer (e-mail) waiting for the same already gets that place back (201). "
    "409 times_available when the day still has a free time for it (book that instead), no_stylist; "
    "422 waitlist_day for a date outside today..the booking horizon, stylist_does_not_offer, or a field "
    "that is not valid; 404 for a service or stylist that does not exist. Keep `leave_token`.",
)
@decorate_view(rate_limit("book", "BOOKING_RATE_LIMIT"))
def join_waitlist(request: HttpRequest, payload: WaitlistIn) -> Status[WaitlistOut]:
    entry = waitlist.waitlist_join(
        service_id=payload.service,
        stylist_id=payload.stylist,
        day=payload.date,
        customer_name=payload.customer.name,
        customer_email=payload.customer.email,
        customer_phone=payload.customer.phone or "",
    )
    return Status(201, _waitlist_out(request, entry, make_waitlist_token(entry.pk)))


@api.delete(
    "/waitlist/{entry_id}",
    response={200: WaitlistOut, **NOT_FOUND, **INVALID, **RATE_LIMITED},
    tags=["waitlist"],
    summary="Leave the waitlist",
    description="Needs the place's `token` (404 otherwise). A time held for the customer is released "
    "and offered to the next in line. Leaving twice, or after booking, changes nothing (200).",
)
@decorate_view(rate_limit("cancel", "CANCEL_RATE_LIMIT"))
def leave_waitlist(
    request: HttpRequest,
    entry_id: int = Path(..., ge=1, le=MAX_ID),
    token: str = Query("", description="The leave_token returned when joining."),
) -> WaitlistOut:
    if read_waitlist_token(token) != entry_id:
        raise BookingError(Problem.WAITLIST_ENTRY_NOT_FOUND)
    return _waitlist_out(request, waitlist.waitlist_leave(entry_id=entry_id), token)


def _waitlist_out(request: HttpRequest, entry: WaitlistEntry, token: str) -> WaitlistOut:
    try:
        url = request.build_absolute_uri(reverse("booking:waitlist_leave", kwargs={"token": token}))
    except NoReverseMatch:  # a deployment without the customer pages
        url = None
    return WaitlistOut(
        id=entry.pk,
        service=entry.service_id,
        stylist=entry.stylist_id,
        date=entry.date,
        state=entry.state,
        leave_token=token,
        leave_url=url,
    )


@api.api_operation(["GET", "POST", "PUT", "PATCH", "DELETE"], "/{path:rest}", include_in_schema=False)
def unknown_endpoint(request: HttpRequest, rest: str) -> None:
    # Without this, a mistyped API URL would get the site's HTML 404 page.
    raise Http404


# --- Helpers ----------------------------------------------------------------------


def _service_or_404(service_id: int) -> Service:
    service = selectors.service_get(service_id)
    if service is None:
        raise BookingError(Problem.SERVICE_NOT_FOUND)
    return service


def _check_token(appointment_id: int, token: str) -> None:
    # One answer for "no such appointment" and "not your appointment", so the
    # API cannot be used to find out which ids exist.
    if read_manage_token(token) != appointment_id:
        raise BookingError(Problem.APPOINTMENT_NOT_FOUND)


def _manage_url(request: HttpRequest, token: str) -> str | None:
    try:
        return request.build_absolute_uri(reverse("booking:manage", kwargs={"token": token}))
    except NoReverseMatch:  # a deployment without the customer pages
        return None


def _appointment_out(
    request: HttpRequest, appointment: Appointment, token: str, visit: list[Appointment] | None = None
) -> AppointmentOut:
    tz = Salon.cached().tz
    visit = visit if visit is not None else selectors.visit_appointment_list(appointment)
    return AppointmentOut(
        id=appointment.pk,
        service=visit[0].service_id,
        stylist=visit[0].stylist_id,
        start=visit[0].starts_at.astimezone(tz),
        end=visit[-1].ends_at.astimezone(tz),
        status=appointment.status,
        price=str(sum((item.price for item in visit), Decimal(0))),
        items=[
            ItemOut(
                service=item.service_id,
                stylist=item.stylist_id,
                start=item.starts_at.astimezone(tz),
                end=item.ends_at.astimezone(tz),
                price=str(item.price),
            )
            for item in visit
        ],
        # The e-mail address only ever goes to the holder of the token; the phone
        # number not even there: a forwarded link should not leak it.
        customer=CustomerOut(name=appointment.customer_name, email=appointment.customer_email),
        manage_token=token,
        manage_url=_manage_url(request, token),
    )


# --- Errors -----------------------------------------------------------------------

# Refusals of the *time* are conflicts (409, BookingError.conflict). Of the rest,
# an id that names nothing bookable is a 404 wherever it appears, query or body;
# a stylist who exists but does not offer the service is an invalid combination
# (422); a service nobody offers at the moment is the salon's state, a conflict.
_PROBLEM_STATUS = {
    Problem.SERVICE_NOT_FOUND: 404,
    Problem.STYLIST_NOT_FOUND: 404,
    Problem.APPOINTMENT_NOT_FOUND: 404,
    Problem.STYLIST_DOES_NOT_OFFER: 422,
    Problem.NO_STYLIST: 409,
    Problem.REQUEST_KEY_REUSED: 422,
    Problem.VISIT_SHAPE: 422,
    Problem.WAITLIST_ENTRY_NOT_FOUND: 404,
    Problem.OFFER_NOT_FOUND: 404,
    Problem.WAITLIST_DAY: 422,
}
_PROBLEM_FIELD = {Problem.STYLIST_DOES_NOT_OFFER: "stylist", Problem.WAITLIST_DAY: "date"}
# Friendlier words for pydantic's most frequent messages (pydantic's own stay English).
_MESSAGES = {
    "missing": gettext_lazy("This field is required"),
    "extra_forbidden": gettext_lazy("This field is not part of the request; check its spelling"),
    # JSON can carry lone surrogates ("\ud800"), which no database could store.
    "string_unicode": gettext_lazy("Text must be valid Unicode"),
}
_BODY_MISSING = gettext_lazy("The request body must be a JSON object; it is empty")
# Rules about the body as a whole (schemas.AppointmentIn), not its shape.
_WHOLE_BODY_RULES = {"items_or_service", "items_or_stylist"}
_BODY_NOT_OBJECT = gettext_lazy("The request body must be a JSON object")
# Model fields, as named in the API, for errors that get as far as full_clean().
_MODEL_FIELD_LOC = {
    "customer_name": ["body", "customer", "name"],
    "customer_email": ["body", "customer", "email"],
    "customer_phone": ["body", "customer", "phone"],
    "starts_at": ["body", "start"],
}


def _error(request: HttpRequest, status: int, detail: str, code: str, **extra: Any) -> HttpResponse:
    # detail: the sentence for people, in the request's language; code: for programs, always English.
    return api.create_response(request, {"detail": str(detail), "code": code, **extra}, status=status)


def _invalid(request: HttpRequest, errors: list[dict[str, Any]]) -> HttpResponse:
    sentences = []
    for error in errors:
        where = ".".join(str(part) for part in error["loc"][1:])
        message = error["msg"].rstrip(".")
        sentences.append(f"{where}: {message}" if where else message)
    detail = "; ".join(sentences) + "." if sentences else gettext("The request is not valid.")
    return _error(request, 422, detail, "invalid", errors=errors)


@api.exception_handler(BookingError)
def _booking_error(request: HttpRequest, exc: BookingError) -> HttpResponse:
    status = 409 if exc.conflict else _PROBLEM_STATUS.get(exc.reason, 422)
    if status != 422:
        return _error(request, status, exc.message, exc.code)
    source = "query" if request.method == "GET" else "body"
    field = _PROBLEM_FIELD.get(exc.reason)
    errors = [{"loc": [source, field], "msg": exc.message, "type": exc.code}] if field else []
    return _error(request, 422, exc.message, exc.code, errors=errors)


@api.exception_handler(NinjaValidationError)
def _validation_error(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = []
    for error in exc.errors:
        loc = list(error["loc"])
        if loc[:2] == ["body", "payload"]:  # the view's parameter name means nothing to clients
            loc = ["body", *loc[2:]]
        if loc[:2] == ["query", "query"]:  # as "payload": the view's parameter name
            loc = ["query", *loc[2:]]
        if loc[:1] == ["query"]:  # a repeated parameter (service=1&service=2) is one name
            loc = [part for part in loc if not isinstance(part, int)]
        if loc == ["body"] and error["type"] in _WHOLE_BODY_RULES:
            message = error["msg"]
        elif loc == ["body"]:  # the body as a whole: absent, or not an object
            message = str(_BODY_MISSING if error["type"] == "missing" else _BODY_NOT_OBJECT)
        else:
            message = str(_MESSAGES.get(error["type"], error["msg"])).removeprefix("Value error, ")
        errors.append({"loc": loc, "msg": message, "type": error["type"]})
    return _invalid(request, errors)


@api.exception_handler(DjangoValidationError)
def _model_validation_error(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    # The schemas check everything full_clean() does; this is the safety net
    # should a model's rules ever grow stricter than the schema's.
    by_field = exc.message_dict if hasattr(exc, "error_dict") else {"": exc.messages}
    errors = [
        {
            "loc": _MODEL_FIELD_LOC.get(field, ["body", field] if field else ["body"]),
            "msg": m,
            "type": "invalid",
        }
        for field, messages in by_field.items()
        for m in messages
    ]
    return _invalid(request, errors)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc.__cause__, _InvalidJSON):
        return _error(request, 400, str(exc.__cause__), "invalid_json")
    return _error(request, exc.status_code, exc.message, "error")


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, gettext("There is nothing at this address. See /api/v1/docs."), "not_found")


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return _error(request, 413, gettext("The request body is too large."), "too_large")


@api.exception_handler(SuspiciousOperation)
def _suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    # Django would answer these with its HTML 400 page (a traceback page with
    # DEBUG on) and log an ERROR with the whole query string.
    if isinstance(exc, TooManyFieldsSent):
        limit = settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
        detail = gettext("The request has too many query parameters; at most %(limit)s are allowed.") % {
            "limit": limit
        }
        return _error(request, 400, detail, "too_many_parameters")
    return _error(request, 400, gettext("The request is not valid."), "bad_request")
