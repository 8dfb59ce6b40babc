"""The JSON API's request and response shapes.

Every limit a request must respect is declared here, so the OpenAPI document
states it and a client can check its input before sending it. Text is validated
with the same regular expressions the document publishes; the messages are
written for people, because the API puts them in its error responses.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, cast

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from ninja import Field, Schema
from pydantic import AfterValidator, BeforeValidator, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from chairtime.booking import names
from chairtime.booking.services import KEEP, MAX_VISIT_ITEMS, Keep

# Ids are 64-bit database keys; a larger number could only fail inside the driver.
MAX_ID = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=MAX_ID)]

NAME_MAX_LENGTH = 100  # Appointment.customer_name
EMAIL_MAX_LENGTH = 254  # Appointment.customer_email
PHONE_MAX_LENGTH = 32  # Appointment.customer_phone

# Names in any script; no control characters (PostgreSQL refuses NUL in text; the
# others have no place in a name) and at least one visible character, so that the
# name the booking service stores after stripping the spaces is never empty. The
# pattern is what the OpenAPI document publishes; names.name_problem decides.
NAME_PATTERN = names.NAME_PATTERN
# Digits and the punctuation people write phone numbers with; empty means none.
PHONE_PATTERN = r"^(\+?[0-9 ()./-]*[0-9][0-9 ()./-]*)?$"

# Far enough from datetime.min/max that the day arithmetic of the availability
# rules (a day's bounds, the longest service before them) cannot overflow.
_EARLIEST_START = datetime(1, 1, 3, tzinfo=UTC)
_LATEST_START = datetime(9999, 12, 29, tzinfo=UTC)


def _matching(pattern: str, error_type: str, message: str) -> AfterValidator:
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.fullmatch(value):
            raise PydanticCustomError(error_type, message)
        return value

    return AfterValidator(check)


def _name(value: str) -> str:
    if names.name_problem(value) is not None:
        raise PydanticCustomError("name", "Enter a name with at least one letter and no control characters.")
    return value


def _email(value: str) -> str:
    try:
        validate_email(value)
    except DjangoValidationError:
        raise PydanticCustomError("email", "Enter a valid e-mail address.") from None
    return value


def _iso_datetime(value: object) -> datetime:
    """An ISO 8601 date and time with a UTC offset, read with Python's own parser:
    pydantic's lax mode would also take Unix timestamps and bare dates."""
    example = "for example 2027-03-15T09:00:00-07:00"
    if not isinstance(value, str):
        raise PydanticCustomError("datetime_type", f"Give an ISO 8601 date and time as a string, {example}.")
    try:
        # Upper case: RFC 3339 (the OpenAPI date-time) also allows "t" and "z".
        parsed = datetime.fromisoformat(value.upper())
    except ValueError:
        raise PydanticCustomError("datetime_parsing", f"Give an ISO 8601 date and time, {example}.") from None
    if parsed.utcoffset() is None:
        raise PydanticCustomError(
            "datetime_offset_required",
            f"A UTC offset is required (such as -07:00 or Z), {example}: without one the time is ambiguous.",
        )
    if not _EARLIEST_START <= parsed <= _LATEST_START:
        raise PydanticCustomError("datetime_range", "That date is out of range.")
    return parsed


def _iso_date(value: object) -> object:
    # Only YYYY-MM-DD: pydantic's lax mode would also read "1700000000" as a date.
    if isinstance(value, date):
        return value
    if not (isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value)):
        raise PydanticCustomError("date_parsing", "Give a date as YYYY-MM-DD, for example 2027-03-15.")
    return value


CustomerName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=NAME_MAX_LENGTH,
        json_schema_extra={"pattern": NAME_PATTERN},
        description="The customer's name, as the salon will greet them.",
        examples=["Alex Doe"],
    ),
    AfterValidator(_name),
]
CustomerEmail = Annotated[
    str,
    Field(
        max_length=EMAIL_MAX_LENGTH,
        json_schema_extra={"format": "email"},
        description="Where the confirmation goes.",
        examples=["alex@example.com"],
    ),
    AfterValidator(_email),
]
CustomerPhone = Annotated[
    str,
    Field(
        max_length=PHONE_MAX_LENGTH,
        json_schema_extra={"pattern": PHONE_PATTERN},
        description="Digits, spaces and + ( ) . / - only. Optional.",
        examples=["+1 415 555 0100"],
    ),
    _matching(PHONE_PATTERN, "phone", "Enter a phone number with digits, spaces and + ( ) . / - only."),
]
StartInstant = Annotated[
    datetime,
    BeforeValidator(_iso_datetime),
    Field(
        description="ISO 8601 with a UTC offset, e.g. 2027-03-15T09:00:00-07:00. "
        "One of the slots listed by /availability.",
        examples=["2027-03-15T09:00:00-07:00"],
    ),
]
LocalDate = Annotated[date, BeforeValidator(_iso_date)]
# A field named "date" would shadow the type inside its class body.
CalendarDate = date


# --- Requests ---------------------------------------------------------------------


class StrictSchema(Schema):
    # Unknown fields are refused rather than ignored: a typo such as "stylst"
    # would otherwise book with any stylist without a word.
    model_config = ConfigDict(extra="forbid")


class CustomerIn(StrictSchema):
    name: CustomerName
    email: CustomerEmail
    phone: CustomerPhone | None = None


class ItemIn(StrictSchema):
    service: Id = Field(description="A service id from /services.")
    stylist: Id | None = Field(
        default=None, description="A stylist id from /stylists; null or absent: any suitable stylist."
    )


class AppointmentIn(StrictSchema):
    service: Id | None = Field(default=None, description="A service id from /services (one service).")
    stylist: Id | None = Field(
        default=None, description="A stylist id from /stylists; null or absent: any suitable stylist."
    )
    items: list[ItemIn] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_VISIT_ITEMS,
        description="A visit: its services back to back, in this order, each with its stylist. "
        "Instead of service and stylist.",
    )
    start: StartInstant
    customer: CustomerIn

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "service": 1,
                    "stylist": None,
                    "start": "2027-03-15T09:00:00-07:00",
                    "customer": {"name": "Alex Doe", "email": "alex@example.com", "phone": "+1 415 555 0100"},
                },
                {
                    "items": [{"service": 3, "stylist": 1}, {"service": 1, "stylist": None}],
                    "start": "2027-03-15T09:00:00-07:00",
                    "customer": {"name": "Alex Doe", "email": "alex@example.com"},
                },
            ]
        },
    )

    @model_validator(mode="after")
    def _one_way_to_say_what(self) -> AppointmentIn:
        if (self.items is None) == (self.service is None):
            raise PydanticCustomError(
                "items_or_service", "Give either service (and stylist) or items, not both and not neither."
            )
        if self.items is not None and self.stylist is not None:
            raise PydanticCustomError("items_or_service", "With items, give each item's stylist inside it.")
        return self

    def wanted(self) -> list[ItemIn]:
        """The visit's items, whichever way the request said them."""
        if self.items is not None:
            return self.items
        # The validator made sure that service is given when items is not.
        return [ItemIn(service=cast(int, self.service), stylist=self.stylist)]


class RescheduleItemIn(StrictSchema):
    stylist: Id | None = Field(
        default=None,
        description="A stylist id from /stylists; null: any suitable stylist; absent: the one it has.",
    )


class RescheduleIn(StrictSchema):
    start: StartInstant
    stylist: Id | None = Field(
        default=None,
        description="One service: a stylist id from /stylists; null: any suitable stylist; "
        "absent: the one it has.",
    )
    items: list[RescheduleItemIn] | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_VISIT_ITEMS,
        description="A visit: one entry per service, in the visit's order, each with its stylist. "
        "Instead of stylist; absent: every service keeps its stylist.",
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"start": "2027-03-15T10:30:00-07:00"},
                {"start": "2027-03-15T10:30:00-07:00", "stylist": None},
                {"start": "2027-03-15T10:30:00-07:00", "items": [{"stylist": 1}, {"stylist": None}]},
            ]
        },
    )

    @model_validator(mode="after")
    def _one_way_to_say_who(self) -> RescheduleIn:
        if self.items is not None and "stylist" in self.model_fields_set:
            raise PydanticCustomError("items_or_stylist", "Give either stylist or items, not both.")
        return self

    def stylists(self) -> list[int | Keep | None] | None:
        """For services.visit_reschedule: the stylist asked for each service (an
        id, None for any, KEEP for the one it has), or None: each keeps its own."""
        if self.items is not None:
            return [item.stylist if "stylist" in item.model_fields_set else KEEP for item in self.items]
        if "stylist" in self.model_fields_set:
            return [self.stylist]
        return None


def _any_stylist(value: object) -> object:
    # "any" (or empty) in a list of stylists stands for any suitable stylist.
    return None if value in ("any", "") else value


StylistChoice = Annotated[Id | None, BeforeValidator(_any_stylist)]
_SERVICES = Field(
    min_length=1,
    max_length=MAX_VISIT_ITEMS,
    description="A service id from /services; repeat it for a visit of several services, in order.",
)
_STYLISTS = Field(
    default_factory=list,
    max_length=MAX_VISIT_ITEMS,
    description="Only this stylist, or `any`; repeated, matched to the services by position. "
    "Omitted: any suitable stylist.",
)


class _VisitQuery(Schema):
    service: list[Id] = _SERVICES
    stylist: list[StylistChoice] = _STYLISTS

    @model_validator(mode="after")
    def _stylists_match_services(self) -> _VisitQuery:
        if len(self.stylist) > len(self.service):
            raise PydanticCustomError(
                "too_many_stylists", "Give at most one stylist (or any) for each service, in the same order."
            )
        return self

    def wanted(self) -> list[tuple[int, int | None]]:
        stylists = [*self.stylist, *[None] * (len(self.service) - len(self.stylist))]
        return list(zip(self.service, stylists, strict=True))


class NextAvailabilityQuery(_VisitQuery):
    limit: int = Field(default=10, ge=1, le=50, description="How many starts, 1 to 50.")


class AvailabilityQuery(_VisitQuery):
    date: LocalDate = Field(description="The salon's local date, YYYY-MM-DD.")


class WaitlistIn(StrictSchema):
    service: Id = Field(description="A service id from /services.")
    stylist: Id | None = Field(
        default=None, description="A stylist id from /stylists; null or absent: any suitable stylist."
    )
    date: LocalDate = Field(description="The salon's local date wanted, YYYY-MM-DD.")
    customer: CustomerIn

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "service": 1,
                    "stylist": None,
                    "date": "2027-03-15",
                    "customer": {"name": "Alex Doe", "email": "alex@example.com"},
                }
            ]
        },
    )


# --- Responses --------------------------------------------------------------------


class ServiceOut(Schema):
    id: int
    name: str
    description: str
    duration_minutes: int
    price: str = Field(description="A decimal string in the salon's currency.", examples=["50.00"])


class StylistOut(Schema):
    id: int
    name: str
    price: str | None = Field(
        default=None, description="This stylist's price for the service asked for, a decimal string."
    )
    duration_minutes: int | None = Field(
        default=None, description="This stylist's length of the service asked for, in minutes."
    )


class AvailabilityOut(Schema):
    date: CalendarDate
    time_zone: str = Field(description="The salon's IANA time zone; slots carry its UTC offset.")
    slots: list[datetime] = Field(description="Free start times, ascending, in the salon's local time.")


class NextAvailabilityOut(Schema):
    time_zone: str = Field(description="The salon's IANA time zone; slots carry its UTC offset.")
    slots: list[datetime] = Field(
        description="The next free start times from now, across days, ascending, in the salon's local time."
    )


class CustomerOut(Schema):
    name: str
    email: str


class ItemOut(Schema):
    service: int
    stylist: int
    start: datetime = Field(description="In the salon's local time, with its UTC offset.")
    end: datetime = Field(description="In the salon's local time, with its UTC offset.")
    price: str = Field(description="This service's price with this stylist when booked.")


class AppointmentOut(Schema):
    id: int
    service: int = Field(description="The (first) service.")
    stylist: int = Field(description="The (first) service's stylist.")
    start: datetime = Field(description="The visit's start, in the salon's local time, with its UTC offset.")
    end: datetime = Field(description="The visit's end, in the salon's local time, with its UTC offset.")
    status: str = Field(description='"confirmed" or "cancelled".')
    price: str = Field(description="The visit's total price when booked, a decimal string.")
    items: list[ItemOut] = Field(description="Each service of the visit, in order (one for one service).")
    customer: CustomerOut
    manage_token: str = Field(description="Proof of ownership: pass it as ?token= to read or cancel.")
    manage_url: str | None = Field(description="The customer's own page for the appointment, if any.")


# --- Errors -----------------------------------------------------------------------


class ErrorOut(Schema):
    detail: str = Field(description="A sentence that can be shown to the customer as is.")
    code: str = Field(description="A stable machine-readable reason, e.g. taken or service_not_found.")


class FieldErrorOut(Schema):
    loc: list[str | int] = Field(description='Where the problem is, e.g. ["body", "customer", "email"].')
    msg: str
    type: str


class ValidationErrorOut(ErrorOut):
    errors: list[FieldErrorOut]


class WaitlistOut(Schema):
    id: int
    service: int
    stylist: int | None = Field(description="The stylist asked for; null: any.")
    date: CalendarDate = Field(description="The salon's local date.")
    state: str = Field(description='"waiting", "offered", "booked", "left" or "expired".')
    leave_token: str = Field(description="Proof of the place: leave with DELETE /waitlist/{id}?token=...")
    leave_url: str | None = Field(default=None, description="The customer's page to see or leave the place.")
