"""Salon files: the salon's whole set-up (settings, services, stylists, their hours
and time off, closures) as one JSON document, for ``load_salon`` and ``dump_salon``.

* :func:`salon_file_parse` turns text into a :class:`SalonFile` and touches no
  database. It refuses anything the models would not hold with a
  :class:`SalonFileError` whose every message starts with the field's path, e.g.
  ``stylists[1].hours.tue[0]: end 09:00 is not after start 12:00``.
* :func:`salon_file_load` makes the database match a parsed file, in one
  transaction, writing only the rows that differ.
* :func:`salon_file_dump` writes the database out in the same format, so that
  loading a dump changes nothing.

The format, and the reasons behind its choices, are in docs/salon-file.md.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, validate_slug
from django.db import IntegrityError, models, transaction
from django.db.backends.base.operations import BaseDatabaseOperations
from django.db.models import QuerySet
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator
from pydantic import ValidationError as PydanticValidationError
from pydantic_core import ErrorDetails, PydanticCustomError

from chairtime.booking.models import (
    FIRST_DATE,
    LAST_DATE,
    Closure,
    Resource,
    Salon,
    Service,
    ServicePhase,
    SpecialHours,
    Stylist,
    StylistService,
    TimeOff,
    WorkingHours,
    parse_reminder_minutes,
    validate_time_zone,
)

__all__ = [
    "WEEKDAYS",
    "ClosureEntry",
    "LoadResult",
    "PhaseEntry",
    "ResourceEntry",
    "SalonFile",
    "SalonFileError",
    "SalonSettings",
    "ServiceEntry",
    "SpecialHoursEntry",
    "StylistEntry",
    "StylistServiceEntry",
    "Tally",
    "TimeOffEntry",
    "WeeklyHours",
    "salon_file_dump",
    "salon_file_load",
    "salon_file_parse",
]

# Index = WorkingHours.weekday (0 = Monday).
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_UTC = dt.UTC
_LINE_WIDTH = 100


class SalonFileError(Exception):
    """A salon file that cannot be loaded; ``problems`` are "path: message" lines."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def _invalid(message: str) -> PydanticCustomError:
    # The message goes in through the context so that braces in the user's input
    # are never taken for template fields.
    return PydanticCustomError("salon_file", "{message}", {"message": message})


def _show(value: Any) -> str:
    """A value as it was written in the file."""
    try:
        return json.dumps(value, ensure_ascii=False, default=str)
    except ValueError:
        return repr(value)


# --- Field rules, read from the models so that the two cannot drift apart ------------


@cache
def _int_limits(model: type[models.Model], name: str) -> tuple[int, int]:
    model_field = model._meta.get_field(name)
    # The column's range as every supported database has it (SQLite alone would
    # take any 64-bit number), narrowed by the validators the model declares.
    low, high = BaseDatabaseOperations.integer_field_ranges[model_field.get_internal_type()]
    for validator in model_field.validators:
        if isinstance(validator, MinValueValidator):
            low = max(low, validator.limit_value)
        elif isinstance(validator, MaxValueValidator):
            high = min(high, validator.limit_value)
    return low, high


def _int_in_range(model: type[models.Model], name: str) -> Callable[[int], int]:
    def check(value: int) -> int:
        low, high = _int_limits(model, name)
        if not low <= value <= high:
            raise _invalid(f"must be between {low} and {high}, not {value}")
        return value

    return check


def _text(model: type[models.Model], name: str, *, blank: bool) -> Callable[[str], str]:
    def check(value: str) -> str:
        max_length = model._meta.get_field(name).max_length
        if not blank and not value.strip():
            raise _invalid("must not be empty")
        if max_length is not None and len(value) > max_length:
            raise _invalid(f"must be at most {max_length} characters long, not {len(value)}")
        if "\x00" in value:  # JSON allows "\u0000"; PostgreSQL refuses to store it
            raise _invalid("must not contain NUL characters (\\u0000)")
        return value

    return check


def _key(value: str) -> str:
    max_length = Service._meta.get_field("key").max_length
    try:
        validate_slug(value)
    except ValidationError:
        raise _invalid(
            f'{_show(value)} is not a key: use letters, digits, "-" and "_" only, e.g. "beard-trim"'
        ) from None
    if max_length is not None and len(value) > max_length:
        raise _invalid(f"must be at most {max_length} characters long, not {len(value)}")
    return value


def _time_zone(value: str) -> str:
    try:
        validate_time_zone(value)
    except ValidationError:
        raise _invalid(
            f"{_show(value)} is not a known time zone; use an IANA name such as Europe/Paris"
        ) from None
    return value


_PRICE = re.compile(r"[0-9]+(?:\.[0-9]{1,2})?")


def _price(value: Any) -> Decimal:
    price_field = Service._meta.get_field("price")
    places = price_field.decimal_places
    whole_digits = price_field.max_digits - places
    problem = (
        f'must be an amount like "50.00": not negative, at most {places} decimal places '
        f"and less than {10**whole_digits}, not {_show(value)}"
    )
    # Numbers arrive as Decimal (the JSON is read with parse_float=Decimal), so a
    # price of 19.99 is exactly 19.99 and never passes through a binary float.
    is_number = isinstance(value, int | Decimal) and not isinstance(value, bool)
    if not is_number and not (isinstance(value, str) and _PRICE.fullmatch(value)):
        raise _invalid(problem)
    amount = Decimal(value)
    try:
        exact = amount == amount.quantize(Decimal(1).scaleb(-places))
    except InvalidOperation:  # NaN, infinity, or too many digits to quantize
        exact = False
    if not exact or amount < 0 or amount >= 10**whole_digits:
        raise _invalid(problem)
    return amount


_TIME = re.compile(r"([0-9]{2}):([0-9]{2})")
_TIME_WITH_SECONDS = re.compile(r"[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]+)?")


def _time(value: Any, name: str) -> dt.time:
    if isinstance(value, str) and _TIME_WITH_SECONDS.fullmatch(value):
        # Offered start times are stepped from the start of the working interval
        # and a booking link names hours and minutes only: a start at 10:00:30
        # would offer times that no link can book.
        raise _invalid(f'{name} {_show(value)} has seconds; working hours are in whole minutes: "HH:MM"')
    match = _TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise _invalid(f'must be a time "HH:MM" from "00:00" to "23:59", not {_show(value)}')
    return dt.time(int(match[1]), int(match[2]))


def _time_text(value: dt.time) -> str:
    # Seconds only from a database written before they were refused: the dump
    # shows them, and dump_salon's check says the file would not load.
    return value.isoformat(timespec="seconds" if value.second or value.microsecond else "minutes")


def _interval(value: Any) -> tuple[dt.time, dt.time]:
    if not isinstance(value, list) or len(value) != 2:
        raise _invalid(f'must be a pair of times [start, end] like ["09:00", "12:30"], not {_show(value)}')
    start, end = _time(value[0], "start"), _time(value[1], "end")
    if end <= start:
        raise _invalid(f"end {_time_text(end)} is not after start {_time_text(start)}")
    return start, end


_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# FIRST_DATE..LAST_DATE (models): converting between the salon's zone and UTC,
# on loading and again on dumping, can never leave datetime's range.
_OUT_OF_RANGE = f"must be between {FIRST_DATE} and {LAST_DATE}"


def _date(value: Any) -> dt.date:
    if isinstance(value, str) and _DATE.fullmatch(value):
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            pass
        else:
            if not FIRST_DATE <= day <= LAST_DATE:
                raise _invalid(f"{_OUT_OF_RANGE}, not {_show(value)}")
            return day
    raise _invalid(f'must be a date "YYYY-MM-DD", not {_show(value)}')


_DATETIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?(?:Z|[+-][0-9]{2}:[0-9]{2})?"
)


def _datetime(value: Any) -> dt.datetime:
    if isinstance(value, str) and _DATETIME.fullmatch(value):
        try:
            instant = dt.datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            # Checked here, before any conversion: 9999-12-31T20:00 in Los Angeles
            # is past the last datetime Python can hold once in UTC.
            if not FIRST_DATE <= instant.date() <= LAST_DATE:
                raise _invalid(f"{_OUT_OF_RANGE}, not {_show(value)}")
            return instant
    raise _invalid(
        f'must be a local date and time "YYYY-MM-DDTHH:MM" (optionally with an offset such as '
        f'"-08:00"), not {_show(value)}'
    )


Key = Annotated[str, AfterValidator(_key)]
Interval = Annotated[tuple[dt.time, dt.time], BeforeValidator(_interval)]
Instant = Annotated[dt.datetime, BeforeValidator(_datetime)]


# --- The format ------------------------------------------------------------------------


class _Model(BaseModel):
    # strict: a number is never read from a string, nor a string from a number, and
    # extra="forbid": a misspelt field is an error instead of being ignored.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class SpecialHoursEntry(_Model):
    """A dated exception to opening hours. The salon's limit every stylist that
    day (no hours: closed, a closure); a stylist's replace their weekly hours."""

    date: Annotated[dt.date, BeforeValidator(_date)]
    hours: list[Interval]
    reason: Annotated[str, AfterValidator(_text(SpecialHours, "reason", blank=True))] = ""


def _currency(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise _invalid(f"must be a three-letter ISO 4217 code such as USD or EUR, not {value!r}")
    return value


def _reminders(value: list[int]) -> list[int]:
    try:
        return parse_reminder_minutes(",".join(str(m) for m in value))
    except ValidationError as e:
        raise _invalid(e.messages[0]) from None


class SalonSettings(_Model):
    name: Annotated[str, AfterValidator(_text(Salon, "name", blank=False))]
    time_zone: Annotated[
        str, AfterValidator(_text(Salon, "time_zone", blank=False)), AfterValidator(_time_zone)
    ]
    slot_minutes: Annotated[int, AfterValidator(_int_in_range(Salon, "slot_minutes"))]
    min_notice_minutes: Annotated[int, AfterValidator(_int_in_range(Salon, "min_notice_minutes"))]
    horizon_days: Annotated[int, AfterValidator(_int_in_range(Salon, "horizon_days"))]
    address: Annotated[str, AfterValidator(_text(Salon, "address", blank=True))] = ""
    phone: Annotated[str, AfterValidator(_text(Salon, "phone", blank=True))] = ""
    currency: Annotated[str, AfterValidator(_currency)] = "USD"
    change_notice_minutes: Annotated[int, AfterValidator(_int_in_range(Salon, "change_notice_minutes"))] = 0
    # A list in the file, "1440,120" in the database (Salon.reminder_minutes).
    reminder_minutes: Annotated[list[int], AfterValidator(_reminders)] = [1440, 120]
    waitlist_hold_minutes: Annotated[int, AfterValidator(_int_in_range(Salon, "waitlist_hold_minutes"))] = 30
    special_hours: list[SpecialHoursEntry] = []


class ResourceEntry(_Model):
    key: Key
    name: Annotated[str, AfterValidator(_text(Resource, "name", blank=False))]
    quantity: Annotated[int, AfterValidator(_int_in_range(Resource, "quantity"))]


class PhaseEntry(_Model):
    """One step of a service; a processing phase leaves the stylist free."""

    minutes: Annotated[int, AfterValidator(_int_in_range(ServicePhase, "minutes"))]
    processing: bool = False
    resources: list[Key] = []

    def as_row(self) -> tuple[int, bool, tuple[str, ...]]:
        return self.minutes, self.processing, tuple(sorted(self.resources))


class ServiceEntry(_Model):
    key: Key
    name: Annotated[str, AfterValidator(_text(Service, "name", blank=False))]
    description: Annotated[str, AfterValidator(_text(Service, "description", blank=True))] = ""
    # None: the sum of the phases' minutes (required without phases).
    duration_minutes: Annotated[int, AfterValidator(_int_in_range(Service, "duration_minutes"))] | None = None
    price: Annotated[Decimal, BeforeValidator(_price)]
    is_active: bool = True
    # None: the entry's index in the list.
    position: Annotated[int, AfterValidator(_int_in_range(Service, "position"))] | None = None
    phases: list[PhaseEntry] = []
    buffer_before_minutes: Annotated[int, AfterValidator(_int_in_range(Service, "buffer_before_minutes"))] = 0
    buffer_after_minutes: Annotated[int, AfterValidator(_int_in_range(Service, "buffer_after_minutes"))] = 0

    @property
    def minutes(self) -> int:
        """The service's length: its phases' if it has some."""
        if self.phases:
            return sum(p.minutes for p in self.phases)
        # 0 only in a file salon_file_parse refuses (neither phases nor a duration).
        return self.duration_minutes or 0


class StylistServiceEntry(_Model):
    """A service a stylist offers: a key, or an object with the stylist's own
    ``price`` and ``duration_minutes`` (single-phase services) or ``phases``."""

    service: Key
    price: Annotated[Decimal, BeforeValidator(_price)] | None = None
    duration_minutes: (
        Annotated[int, AfterValidator(_int_in_range(StylistService, "duration_minutes"))] | None
    ) = None
    phases: list[PhaseEntry] | None = None

    @model_validator(mode="before")
    @classmethod
    def _plain_key(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"service": value}
        if not isinstance(value, dict):
            raise _invalid(
                f'must be a service key or an object {{"service", "price", "duration_minutes", "phases"}}, '
                f"not {_show(value)}"
            )
        return value

    @property
    def is_plain(self) -> bool:
        return self.price is None and self.duration_minutes is None and self.phases is None


class WeeklyHours(_Model):
    mon: list[Interval] = []
    tue: list[Interval] = []
    wed: list[Interval] = []
    thu: list[Interval] = []
    fri: list[Interval] = []
    sat: list[Interval] = []
    sun: list[Interval] = []

    def by_weekday(self) -> list[list[tuple[dt.time, dt.time]]]:
        return [getattr(self, day) for day in WEEKDAYS]


class TimeOffEntry(_Model):
    # In a parsed file: naive = local wall time of the salon. In a SalonFile
    # returned by salon_file_parse: always aware, in UTC.
    start: Instant
    end: Instant
    reason: Annotated[str, AfterValidator(_text(TimeOff, "reason", blank=True))] = ""


class StylistEntry(_Model):
    key: Key
    name: Annotated[str, AfterValidator(_text(Stylist, "name", blank=False))]
    services: list[StylistServiceEntry] = []
    hours: WeeklyHours = Field(default_factory=WeeklyHours)
    time_off: list[TimeOffEntry] = []
    special_hours: list[SpecialHoursEntry] = []
    is_active: bool = True
    position: Annotated[int, AfterValidator(_int_in_range(Stylist, "position"))] | None = None

    @property
    def service_keys(self) -> list[str]:
        return [offer.service for offer in self.services]


class ClosureEntry(_Model):
    date: Annotated[dt.date, BeforeValidator(_date)]
    reason: Annotated[str, AfterValidator(_text(Closure, "reason", blank=True))] = ""

    @model_validator(mode="before")
    @classmethod
    def _plain_date(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"date": value}
        if not isinstance(value, dict):
            raise _invalid(
                f'must be a date "YYYY-MM-DD" or an object {{"date", "reason"}}, not {_show(value)}'
            )
        return value


class SalonFile(_Model):
    salon: SalonSettings
    resources: list[ResourceEntry] = []
    services: list[ServiceEntry] = []
    stylists: list[StylistEntry] = []
    closures: list[ClosureEntry] = []

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.salon.time_zone)


# --- Parsing ----------------------------------------------------------------------------


class _NotJSON(ValueError):
    pass


def _object_without_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            # json.loads would keep the last silently: a second "mon" would drop the first.
            raise _NotJSON(f"duplicate key {_show(name)} in one object; each key may appear once")
        result[name] = value
    return result


def _no_constant(name: str) -> Any:
    raise _NotJSON(f"{name} is not allowed")


def _path(loc: Iterable[int | str]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else part
    return path or "(top level)"


_MESSAGES = {
    "missing": "is required",
    "int_type": "must be a whole number",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "model_type": "must be an object",
    "dict_type": "must be an object",
}


def _describe(error: ErrorDetails) -> str:
    loc = error["loc"]
    if error["type"] == "extra_forbidden":
        if len(loc) >= 2 and loc[-2] == "hours":
            return f"{_show(loc[-1])} is not a weekday; use {', '.join(WEEKDAYS)}"
        return "is not a field of this format"
    if error["type"] in _MESSAGES:
        message = _MESSAGES[error["type"]]
        if error["type"] == "missing":
            return message
        shown = _show(error["input"])
        return f"{message}, not {shown if len(shown) <= 40 else shown[:37] + '...'}"
    return error["msg"]


def salon_file_parse(text: str) -> SalonFile:
    """Read and check a salon file; raise :class:`SalonFileError` listing every problem.

    The result is normalised: time off is in UTC (resolved with the file's own time
    zone). References to services that are neither in the file nor in the database
    are caught by :func:`salon_file_load`, which can see the database.
    """
    try:
        data = json.loads(
            text,
            parse_float=Decimal,
            parse_constant=_no_constant,
            object_pairs_hook=_object_without_duplicate_keys,
        )
    except json.JSONDecodeError as e:
        raise SalonFileError([f"line {e.lineno}, column {e.colno}: not valid JSON: {e.msg}"]) from None
    except _NotJSON as e:
        raise SalonFileError([f"not valid JSON: {e}"]) from None
    try:
        salon_file = SalonFile.model_validate(data)
    except PydanticValidationError as e:
        raise SalonFileError([f"{_path(err['loc'])}: {_describe(err)}" for err in e.errors()]) from None
    problems: list[str] = []
    salon_file = _check(salon_file, problems)
    if problems:
        raise SalonFileError(problems)
    return salon_file


def _duplicates(
    problems: list[str], section: str, values: Iterable[Any], field_name: str | None, what: str
) -> None:
    first_seen: dict[Any, int] = {}
    for index, value in enumerate(values):
        # Keys compare without case: MySQL's collation would call "Haircut" and
        # "haircut" the same key, PostgreSQL and SQLite two different ones.
        normal = value.casefold() if isinstance(value, str) else value
        where = f"{section}[{index}]" + (f".{field_name}" if field_name else "")
        if normal in first_seen:
            problems.append(
                f"{where}: duplicate {what} {_show(value)}, first used at {section}[{first_seen[normal]}]"
            )
        else:
            first_seen[normal] = index


def _local_text(value: dt.datetime) -> str:
    return value.isoformat(timespec="minutes" if not value.second and not value.microsecond else "auto")


def _instant(value: dt.datetime, tz: ZoneInfo, where: str, problems: list[str]) -> dt.datetime | None:
    """A time off bound as an aware UTC datetime; a naive one is wall time in ``tz``."""
    if value.tzinfo is not None:
        instant = value.astimezone(_UTC)
        # With an offset, the salon's own calendar may put it on another day, and
        # that local date-time is what dump_salon writes back.
        local = instant.astimezone(tz).replace(tzinfo=None)
        if not FIRST_DATE <= local.date() <= LAST_DATE:
            problems.append(
                f"{where}: {_local_text(value)} is {_local_text(local)} in {tz.key}; {_OUT_OF_RANGE} there"
            )
            return None
        return instant
    earlier = value.replace(tzinfo=tz, fold=0)
    later = value.replace(tzinfo=tz, fold=1)
    if earlier.utcoffset() == later.utcoffset():
        return earlier.astimezone(_UTC)
    # The two folds disagree: the wall time is either skipped (the clocks go
    # forward) or happens twice (they go back). Guessing would move the time off
    # by an hour, so the file has to say.
    if earlier.astimezone(_UTC).astimezone(tz).replace(tzinfo=None) != value:
        problems.append(f"{where}: {_local_text(value)} does not exist in {tz.key} (the clocks go forward)")
    else:
        problems.append(
            f"{where}: {_local_text(value)} happens twice in {tz.key} (the clocks go back); "
            f"add the offset to say which, e.g. {_local_text(earlier)} or {_local_text(later)}"
        )
    return None


def _check(salon_file: SalonFile, problems: list[str]) -> SalonFile:
    """The rules that span more than one field; returns the file with time off in UTC."""
    tz = salon_file.tz
    _duplicates(problems, "resources", (r.key for r in salon_file.resources), "key", "key")
    _duplicates(problems, "services", (s.key for s in salon_file.services), "key", "key")
    _duplicates(problems, "stylists", (s.key for s in salon_file.stylists), "key", "key")
    for i, service in enumerate(salon_file.services):
        where = f"services[{i}]"
        if service.phases:
            _check_phases(problems, f"{where}.phases", service.phases)
            total = service.minutes
            if service.duration_minutes is not None and service.duration_minutes != total:
                problems.append(
                    f"{where}.duration_minutes: {service.duration_minutes} is not the sum of the phases' "
                    f"minutes ({total}); leave it out, or make the two agree"
                )
        elif service.duration_minutes is None:
            problems.append(f"{where}.duration_minutes: is required for a service without phases")
    stylists = []
    for s, stylist in enumerate(salon_file.stylists):
        _duplicates(problems, f"stylists[{s}].services", stylist.service_keys, None, "service")
        for o, offer in enumerate(stylist.services):
            if offer.phases is not None:
                where = f"stylists[{s}].services[{o}]"
                if offer.duration_minutes is not None:
                    problems.append(
                        f"{where}.duration_minutes: give either this stylist's own phases or their own "
                        "duration_minutes, not both"
                    )
                if not offer.phases:
                    problems.append(f"{where}.phases: must not be empty; leave it out for the service's own")
                _check_phases(problems, f"{where}.phases", offer.phases)
        for day, intervals in zip(WEEKDAYS, stylist.hours.by_weekday(), strict=True):
            _overlaps(problems, f"stylists[{s}].hours.{day}", f"hours.{day}", intervals)
        _check_special_hours(problems, f"stylists[{s}].special_hours", stylist.special_hours)
        for d, entry in enumerate(stylist.special_hours):
            if not entry.hours:
                problems.append(
                    f"stylists[{s}].special_hours[{d}].hours: a stylist's special day needs hours; "
                    "for a day off, give time_off"
                )
        time_off = []
        for t, entry in enumerate(stylist.time_off):
            where = f"stylists[{s}].time_off[{t}]"
            start = _instant(entry.start, tz, f"{where}.start", problems)
            end = _instant(entry.end, tz, f"{where}.end", problems)
            if start is None or end is None:
                continue
            if end <= start:
                problems.append(
                    f"{where}: end {_local_text(entry.end)} is not after start {_local_text(entry.start)}"
                )
            time_off.append(entry.model_copy(update={"start": start, "end": end}))
        stylists.append(stylist.model_copy(update={"time_off": time_off}))
    _duplicates(problems, "closures", (c.date for c in salon_file.closures), "date", "date")
    _check_special_hours(problems, "salon.special_hours", salon_file.salon.special_hours)
    closures = {c.date for c in salon_file.closures}
    for d, entry in enumerate(salon_file.salon.special_hours):
        if entry.date in closures:
            problems.append(
                f"salon.special_hours[{d}].date: {entry.date} is also a closure; give it in one place"
            )
    return salon_file.model_copy(update={"stylists": stylists})


def _check_phases(problems: list[str], where: str, phases: list[PhaseEntry]) -> None:
    """A service starts and ends with the stylist at work, lasts what a service may,
    and names each resource of a phase once."""
    if phases and phases[0].processing:
        problems.append(
            f"{where}[0].processing: the first phase cannot be a processing phase; "
            "a service starts with the stylist at work"
        )
    if len(phases) > 1 and phases[-1].processing:
        problems.append(
            f"{where}[{len(phases) - 1}].processing: the last phase cannot be a processing phase; "
            "a service ends with the stylist at work"
        )
    low, high = _int_limits(Service, "duration_minutes")
    total = sum(p.minutes for p in phases)
    if phases and not low <= total <= high:
        problems.append(f"{where}: the phases add up to {total} minutes; a service lasts {low} to {high}")
    for p, phase in enumerate(phases):
        _duplicates(problems, f"{where}[{p}].resources", phase.resources, None, "resource")


def _overlaps(problems: list[str], where: str, short: str, intervals: list[tuple[dt.time, dt.time]]) -> None:
    """Intervals of one day that overlap; ``short`` names the list in messages."""
    latest_end: int | None = None  # the index of the interval reaching furthest so far
    for i in sorted(range(len(intervals)), key=intervals.__getitem__):
        if latest_end is not None and intervals[i][0] < intervals[latest_end][1]:
            problems.append(
                f"{where}[{i}]: {_interval_text(intervals[i])} overlaps "
                f"{_interval_text(intervals[latest_end])} ({short}[{latest_end}])"
            )
        if latest_end is None or intervals[i][1] > intervals[latest_end][1]:
            latest_end = i


def _check_special_hours(problems: list[str], where: str, entries: list[SpecialHoursEntry]) -> None:
    _duplicates(problems, where, (e.date for e in entries), "date", "date")
    for d, entry in enumerate(entries):
        _overlaps(problems, f"{where}[{d}].hours", "hours", entry.hours)


def _interval_text(interval: tuple[dt.time, dt.time]) -> str:
    return f"{_time_text(interval[0])}-{_time_text(interval[1])}"


# --- Loading ----------------------------------------------------------------------------


@dataclass
class Tally:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    deactivated: int = 0

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.created + other.created,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
            self.deactivated + other.deactivated,
        )

    def __str__(self) -> str:
        text = f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged"
        return f"{text}, {self.deactivated} deactivated" if self.deactivated else text


@dataclass
class LoadResult:
    """What a load did (or, in a dry run, would have done), row by row."""

    salon: Tally = field(default_factory=Tally)
    resources: Tally = field(default_factory=Tally)
    services: Tally = field(default_factory=Tally)
    stylists: Tally = field(default_factory=Tally)
    closures: Tally = field(default_factory=Tally)

    @property
    def total(self) -> Tally:
        return self.salon + self.resources + self.services + self.stylists + self.closures

    @property
    def changed(self) -> bool:
        total = self.total
        return bool(total.created or total.updated or total.deactivated)


def _assign(instance: models.Model, values: dict[str, Any]) -> list[str]:
    """Set the fields that differ and return their names."""
    changed = [name for name, value in values.items() if getattr(instance, name) != value]
    for name in changed:
        setattr(instance, name, values[name])
    return changed


def _case_clashes(section: str, keys: Iterable[str], stored: set[str], what: str) -> list[str]:
    """Keys that match a stored one only when case is ignored, as MySQL's collation
    does: on MySQL creating the row would fail, elsewhere it would make a near-twin."""
    stored_by_case = {key.casefold(): key for key in stored}
    return [
        f"{section}[{index}].key: {_show(key)} differs only in case from the existing {what} "
        f"{_show(stored_by_case[key.casefold()])}; spell it the same way"
        for index, key in enumerate(keys)
        if key not in stored and key.casefold() in stored_by_case
    ]


def _check_references(
    salon_file: SalonFile,
    *,
    stored_services: Iterable[str],
    stored_stylists: Iterable[str],
    prune: bool,
    stored_resources: Iterable[str] = (),
    phased_services: Iterable[str] = (),
) -> list[str]:
    stored = set(stored_services)
    in_file = {s.key for s in salon_file.services}
    problems = _case_clashes("services", (s.key for s in salon_file.services), stored, "service")
    problems += _case_clashes(
        "stylists", (s.key for s in salon_file.stylists), set(stored_stylists), "stylist"
    )
    # Without --prune a file may refer to services it does not list (set up in the
    # back office, say). With --prune those would be deactivated by this very load.
    known = in_file if prune else in_file | stored
    resources = {r.key for r in salon_file.resources} | set(stored_resources)
    problems += _case_clashes(
        "resources", (r.key for r in salon_file.resources), set(stored_resources), "resource"
    )
    # A service the file lists has the file's phases; one it does not, the database's.
    phased = {s.key for s in salon_file.services if s.phases} | (set(phased_services) - in_file)
    for i, service in enumerate(salon_file.services):
        problems += _unknown_resources(f"services[{i}].phases", service.phases, resources)
    for s, stylist in enumerate(salon_file.stylists):
        for i, offer in enumerate(stylist.services):
            key = offer.service
            where = f"stylists[{s}].services[{i}]"
            if key not in known:
                why = (
                    "with --prune, a stylist may only offer services this file lists"
                    if prune and key in stored
                    else "neither in this file's services nor in the database"
                )
                problems.append(f"{where}: unknown service {_show(key)}: {why}")
            elif offer.duration_minutes is not None and key in phased and offer.phases is None:
                problems.append(
                    f"{where}.duration_minutes: {_show(key)} has phases, so its length is theirs; "
                    "give this stylist's own phases instead"
                )
            problems += _unknown_resources(f"{where}.phases", offer.phases or [], resources)
    return problems


def _unknown_resources(where: str, phases: list[PhaseEntry], known: set[str]) -> list[str]:
    return [
        f"{where}[{p}].resources[{r}]: unknown resource {_show(key)}: "
        "neither in this file's resources nor in the database"
        for p, phase in enumerate(phases)
        for r, key in enumerate(phase.resources)
        if key not in known
    ]


def _sync(
    rows: Iterable[Any], wanted: Counter[Any], key: Callable[[Any], Any], keep: Callable[[Any], bool]
) -> tuple[list[int], list[Any]]:
    """Split ``rows`` against the ``wanted`` multiset: returns the pks of the rows to
    delete, and the keys still missing. A row not wanted is kept if ``keep(row)``."""
    missing = Counter(wanted)
    stale = []
    for row in rows:
        if missing[key(row)] > 0:
            missing[key(row)] -= 1
        elif not keep(row):
            stale.append(row.pk)
    return stale, list(missing.elements())


def _load_hours(stylist: Stylist, entry: StylistEntry) -> bool:
    wanted = Counter(
        (weekday, start, end)
        for weekday, intervals in enumerate(entry.hours.by_weekday())
        for start, end in intervals
    )
    stale, missing = _sync(
        stylist.hours.all(), wanted, lambda h: (h.weekday, h.start, h.end), lambda h: False
    )
    if stale:
        WorkingHours.objects.filter(pk__in=stale).delete()
    WorkingHours.objects.bulk_create(
        WorkingHours(stylist=stylist, weekday=weekday, start=start, end=end)
        for weekday, start, end in missing
    )
    return bool(stale or missing)


def _load_time_off(stylist: Stylist, entry: StylistEntry, now: dt.datetime) -> bool:
    wanted = Counter((t.start, t.end, t.reason) for t in entry.time_off)
    # Time off that has ended is history: it no longer changes availability, and a
    # file written before it was entered must not erase the record. Everything
    # still running or to come is replaced by the file's.
    stale, missing = _sync(
        stylist.time_off.all(), wanted, lambda t: (t.start, t.end, t.reason), lambda t: t.end <= now
    )
    if stale:
        TimeOff.objects.filter(pk__in=stale).delete()
    TimeOff.objects.bulk_create(
        TimeOff(stylist=stylist, start=start, end=end, reason=reason) for start, end, reason in missing
    )
    return bool(stale or missing)


def salon_file_load(
    *, salon_file: SalonFile, now: dt.datetime, prune: bool = False, dry_run: bool = False
) -> LoadResult:
    """Make the database match ``salon_file`` and report what changed.

    Services and stylists are matched by key, closures by date. Rows that already
    match are not written, so loading the same file twice changes nothing. Rows the
    file does not mention are left alone, except that ``prune`` deactivates the
    services and stylists it does not list (never deletes them: appointments
    refer to them). Time off that ended before ``now`` is kept as history.

    Everything happens in one transaction: a file that fails any check, including
    the checks against the database, writes nothing. ``dry_run`` rolls back at the
    end and reports what would have changed.
    """
    result = LoadResult()
    with transaction.atomic():
        # A booking locks its stylists (in primary-key order), then re-reads their
        # hours and time off. Locking them here the same way makes a booking that
        # races a load wait for the new hours instead of booking against the old.
        stylists = {
            s.key: s
            for s in Stylist.objects.select_for_update()
            .order_by("pk")
            .prefetch_related("stylist_services", "hours", "time_off")
        }
        # Then the resources, as a booking that holds them does (stylists first, then
        # resources by primary key): a quantity lowered here cannot race a booking
        # taking the unit that goes.
        resources = {r.key: r for r in Resource.objects.select_for_update().order_by("pk")}
        services = {s.key: s for s in Service.objects.all()}
        phases = _Phases()
        problems = _check_references(
            salon_file,
            stored_services=services,
            stored_stylists=stylists,
            prune=prune,
            stored_resources=resources,
            phased_services={s.key for s in services.values() if phases.of(s.pk, None)},
        )
        if problems:
            raise SalonFileError(problems)
        try:
            _load_salon(salon_file.salon, result.salon)
            _load_resources(salon_file, resources, now, result.resources)
            _load_services(salon_file, services, phases, resources, result.services, prune=prune)
            _load_stylists(
                salon_file, stylists, services, phases, resources, now, result.stylists, prune=prune
            )
            _load_closures(salon_file, result.closures)
        except IntegrityError as e:  # a check above missed something; the database did not
            raise SalonFileError([f"the database refused the file: {e}"]) from e
        if dry_run:
            transaction.set_rollback(True)
    return result


def _load_salon(settings: SalonSettings, tally: Tally) -> None:
    values = settings.model_dump(exclude={"special_hours"})
    values["reminder_minutes"] = ",".join(str(m) for m in values["reminder_minutes"])
    salon = Salon.objects.filter(pk=1).first()
    if salon is None:
        Salon(**values).save()
        tally.created += 1
    elif changed := _assign(salon, values):
        salon.save(update_fields=changed)
        tally.updated += 1
    else:
        tally.unchanged += 1


def _load_resources(
    salon_file: SalonFile, resources: dict[str, Resource], now: dt.datetime, tally: Tally
) -> None:
    """Resources the file lists, matched by key; the others are left alone (phases
    and bookings may use them). ``save()`` numbers the units 1..quantity."""
    for index, entry in enumerate(salon_file.resources):
        resource = resources.get(entry.key)
        values = {"name": entry.name, "quantity": entry.quantity}
        if resource is None:
            resources[entry.key] = resource = Resource(key=entry.key, **values)
            resource.save()
            tally.created += 1
            continue
        busiest = resource.highest_unit_booked_from(now)
        if busiest is not None and entry.quantity < busiest:
            raise SalonFileError(
                [
                    f"resources[{index}].quantity: {resource.name} number {busiest} is booked for an "
                    f"upcoming appointment, so the quantity cannot go below {busiest} yet"
                ]
            )
        if changed := _assign(resource, values):
            resource.save(update_fields=changed)
            tally.updated += 1
        else:
            tally.unchanged += 1


class _Phases:
    """Every stored phase, read once, by (service pk, stylist pk or None)."""

    def __init__(self) -> None:
        self.by_owner: dict[tuple[int, int | None], list[ServicePhase]] = {}
        for phase in ServicePhase.objects.order_by("position", "pk").prefetch_related("resources"):
            self.by_owner.setdefault((phase.service_id, phase.stylist_id), []).append(phase)

    def of(self, service_id: int, stylist_id: int | None) -> list[ServicePhase]:
        return self.by_owner.get((service_id, stylist_id), [])

    def load(
        self,
        service: Service,
        stylist: Stylist | None,
        entries: list[PhaseEntry],
        resources: dict[str, Resource],
    ) -> bool:
        """Replace the phases of (service, stylist) with ``entries`` unless they
        already are those; returns whether anything changed."""
        stored = self.of(service.pk, stylist.pk if stylist else None)
        as_stored = [
            (p.minutes, p.processing, tuple(sorted(r.key for r in p.resources.all()))) for p in stored
        ]
        if as_stored == [entry.as_row() for entry in entries]:
            return False
        if stored:
            ServicePhase.objects.filter(pk__in=[p.pk for p in stored]).delete()
        created = ServicePhase.objects.bulk_create(
            ServicePhase(
                service=service,
                stylist=stylist,
                position=position,
                minutes=entry.minutes,
                processing=entry.processing,
            )
            for position, entry in enumerate(entries)
        )
        links = [
            ServicePhase.resources.through(servicephase_id=phase.pk, resource_id=resources[key].pk)
            for phase, entry in zip(created, entries, strict=True)
            for key in entry.resources
        ]
        if links and any(phase.pk is None for phase in created):  # no RETURNING: read the new rows back
            created = list(ServicePhase.objects.filter(service=service, stylist=stylist).order_by("position"))
            links = [
                ServicePhase.resources.through(servicephase_id=phase.pk, resource_id=resources[key].pk)
                for phase, entry in zip(created, entries, strict=True)
                for key in entry.resources
            ]
        ServicePhase.resources.through.objects.bulk_create(links)
        self.by_owner[(service.pk, stylist.pk if stylist else None)] = created
        return True


def _load_services(
    salon_file: SalonFile,
    services: dict[str, Service],
    phases: _Phases,
    resources: dict[str, Resource],
    tally: Tally,
    *,
    prune: bool,
) -> None:
    for index, entry in enumerate(salon_file.services):
        values = entry.model_dump(exclude={"key", "phases"})
        # The phases' sum for a service with phases: what the pages show and what
        # the availability rules book must agree.
        values["duration_minutes"] = entry.minutes
        values["position"] = index if entry.position is None else entry.position
        service = services.get(entry.key)
        if service is None:
            services[entry.key] = service = Service.objects.create(key=entry.key, **values)
            phases.load(service, None, entry.phases, resources)
            tally.created += 1
            continue
        changed = _assign(service, values)
        if changed:
            service.save(update_fields=changed)
        # No short-circuit: the phases are brought up to date either way.
        if phases.load(service, None, entry.phases, resources) or changed:
            tally.updated += 1
        else:
            tally.unchanged += 1
    if prune:
        tally.deactivated += _deactivate_unlisted(Service, [s.key for s in salon_file.services])


def _load_stylists(
    salon_file: SalonFile,
    stylists: dict[str, Stylist],
    services: dict[str, Service],
    phases: _Phases,
    resources: dict[str, Resource],
    now: dt.datetime,
    tally: Tally,
    *,
    prune: bool,
) -> None:
    for index, entry in enumerate(salon_file.stylists):
        values = {
            "name": entry.name,
            "is_active": entry.is_active,
            "position": index if entry.position is None else entry.position,
        }
        stylist = stylists.get(entry.key)
        if stylist is None:
            stylist = Stylist.objects.create(key=entry.key, **values)
            created, changed = True, []
        else:
            created, changed = False, _assign(stylist, values)
            if changed:
                stylist.save(update_fields=changed)
        services_changed = _load_offers(stylist, entry, services, phases, resources, created=created)
        # No short-circuit: hours, time off and special hours are all brought up to date.
        hours_changed = _load_hours(stylist, entry)
        time_off_changed = _load_time_off(stylist, entry, now)
        special_changed = _load_special_hours(
            SpecialHours.objects.filter(stylist=stylist),
            entry.special_hours,
            lambda row: row.date < now.astimezone(salon_file.tz).date(),
            stylist=stylist,
        )
        if created:
            tally.created += 1
        elif changed or services_changed or hours_changed or time_off_changed or special_changed:
            tally.updated += 1
        else:
            tally.unchanged += 1
    if prune:
        tally.deactivated += _deactivate_unlisted(Stylist, [s.key for s in salon_file.stylists])


def _load_offers(
    stylist: Stylist,
    entry: StylistEntry,
    services: dict[str, Service],
    phases: _Phases,
    resources: dict[str, Resource],
    *,
    created: bool,
) -> bool:
    """The services the stylist offers, at their own price and length, and their own
    phases; returns whether anything changed."""
    wanted = {services[offer.service].pk: offer for offer in entry.services}
    stored = {} if created else {row.service_id: row for row in stylist.stylist_services.all()}
    stale = [row.pk for service_id, row in stored.items() if service_id not in wanted]
    changed = bool(stale)
    if stale:
        StylistService.objects.filter(pk__in=stale).delete()
    missing = []
    for service_id, offer in wanted.items():
        values = {"price": offer.price, "duration_minutes": offer.duration_minutes}
        row = stored.get(service_id)
        if row is None:
            missing.append(StylistService(stylist=stylist, service_id=service_id, **values))
        elif fields := _assign(row, values):
            row.save(update_fields=fields)
            changed = True
    StylistService.objects.bulk_create(missing)
    by_pk = {s.pk: s for s in services.values()}
    for service_id, offer in wanted.items():
        changed |= phases.load(by_pk[service_id], stylist, offer.phases or [], resources)
    # A stylist's own phases of a service they no longer offer go with the offer.
    for (service_id, stylist_id), rows in list(phases.by_owner.items()):
        if stylist_id == stylist.pk and service_id not in wanted and rows:
            ServicePhase.objects.filter(pk__in=[p.pk for p in rows]).delete()
            phases.by_owner[(service_id, stylist_id)] = []
            changed = True
    return changed or bool(missing)


def _deactivate_unlisted(model: type[Service] | type[Stylist], listed: list[str]) -> int:
    """--prune: deactivate, never delete (appointments refer to them)."""
    return model.objects.filter(is_active=True).exclude(key__in=listed).update(is_active=False)


def _load_special_hours(
    rows: QuerySet[SpecialHours],
    entries: list[SpecialHoursEntry],
    keep: Callable[[SpecialHours], bool],
    *,
    stylist: Stylist | None = None,
) -> bool:
    """Make ``rows`` hold the entries' intervals; a row no entry wants is deleted
    unless ``keep(row)``. Returns whether anything changed."""
    wanted = Counter(
        (entry.date, start, end, entry.reason) for entry in entries for start, end in entry.hours
    )
    stale, missing = _sync(rows, wanted, lambda h: (h.date, h.start, h.end, h.reason), keep)
    if stale:
        SpecialHours.objects.filter(pk__in=stale).delete()
    SpecialHours.objects.bulk_create(
        SpecialHours(stylist=stylist, date=day, start=start, end=end, reason=reason)
        for day, start, end, reason in missing
    )
    return bool(stale or missing)


def _load_closures(salon_file: SalonFile, tally: Tally) -> None:
    """Closures, and the salon's special hours: for each date the file names, its
    intervals replace the stored ones, and a date with no hours is a closure.
    Dates the file does not name are left alone."""
    special = salon_file.salon.special_hours
    stored_days = set(
        SpecialHours.objects.filter(stylist__isnull=True, date__in=[e.date for e in special]).values_list(
            "date", flat=True
        )
    )
    for entry in special:
        if _load_special_hours(
            SpecialHours.objects.filter(stylist__isnull=True, date=entry.date), [entry], lambda row: False
        ):
            if entry.date not in stored_days:
                tally.created += 1
            elif entry.hours:  # with no hours the day's rows went, and the closure counts below
                tally.updated += 1
        elif entry.hours:
            tally.unchanged += 1
    wanted = {c.date: c.reason for c in salon_file.closures}
    wanted.update({entry.date: entry.reason for entry in special if not entry.hours})
    stored = {c.date: c for c in Closure.objects.filter(date__in=list(wanted))}
    for day, reason in wanted.items():
        closure = stored.get(day)
        if closure is None:
            Closure.objects.create(date=day, reason=reason)
            tally.created += 1
        elif _assign(closure, {"reason": reason}):
            closure.save(update_fields=["reason"])
            tally.updated += 1
        else:
            tally.unchanged += 1


# --- Dumping ----------------------------------------------------------------------------


def _instant_text(instant: dt.datetime, tz: ZoneInfo) -> str:
    local = instant.astimezone(tz)
    text = _local_text(local.replace(tzinfo=None))
    if local.replace(fold=1 - local.fold).utcoffset() != local.utcoffset():
        # A wall time the clocks pass twice (fall back): only the offset tells which.
        text = _local_text(local)
    return text


def salon_file_dump() -> str:
    """The salon as a salon file: stable (same database, same bytes), times local.

    Scalar fields at their default (empty description and reason, active, position
    equal to the entry's index) are left out; lists are always written, and hours
    name all seven days. Raises ``Salon.DoesNotExist`` before a salon was set up.
    """
    with transaction.atomic():
        salon = Salon.objects.get(pk=1)
        tz = salon.tz
        resources = list(Resource.objects.order_by("key"))
        services = list(Service.objects.order_by("position", "name", "key"))
        service_rank = {s.pk: i for i, s in enumerate(services)}
        stylists = list(
            Stylist.objects.order_by("position", "name", "key").prefetch_related(
                "stylist_services__service", "hours", "time_off"
            )
        )
        phases: dict[tuple[int, int | None], list[dict[str, Any]]] = {}
        for phase in ServicePhase.objects.order_by("position", "pk").prefetch_related("resources"):
            phases.setdefault((phase.service_id, phase.stylist_id), []).append(_phase_data(phase))
        closures = list(Closure.objects.order_by("date"))
        special = list(SpecialHours.objects.order_by("date", "start", "end"))

    data: dict[str, Any] = {
        "salon": {
            "name": salon.name,
            "time_zone": salon.time_zone,
            "slot_minutes": salon.slot_minutes,
            "min_notice_minutes": salon.min_notice_minutes,
            "horizon_days": salon.horizon_days,
            "address": salon.address,
            "phone": salon.phone,
            "currency": salon.currency,
            "change_notice_minutes": salon.change_notice_minutes,
            "reminder_minutes": salon.reminder_offsets,
            "waitlist_hold_minutes": salon.waitlist_hold_minutes,
        },
        "services": [
            _service_data(index, s, phases.get((s.pk, None), [])) for index, s in enumerate(services)
        ],
        "stylists": [
            _stylist_data(index, s, service_rank, tz, [h for h in special if h.stylist_id == s.pk], phases)
            for index, s in enumerate(stylists)
        ],
        "closures": [
            {"date": c.date.isoformat(), "reason": c.reason} if c.reason else c.date.isoformat()
            for c in closures
        ],
    }
    salon_special = _special_hours_data([h for h in special if h.stylist_id is None])
    if salon_special:
        data["salon"]["special_hours"] = salon_special
    if resources:  # only when there are some: files from before resources dump unchanged
        data = {
            "salon": data.pop("salon"),
            "resources": [{"key": r.key, "name": r.name, "quantity": r.quantity} for r in resources],
            **data,
        }
    return _format(data, 0) + "\n"


def _phase_data(phase: ServicePhase) -> dict[str, Any]:
    data: dict[str, Any] = {"minutes": phase.minutes}
    if phase.processing:
        data["processing"] = True
    keys = sorted(r.key for r in phase.resources.all())
    if keys:
        data["resources"] = keys
    return data


def _special_hours_data(rows: list[SpecialHours]) -> list[dict[str, Any]]:
    """Rows of one salon or stylist, by date: [{"date", "hours", "reason"?}]."""
    by_date: dict[dt.date, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda h: (h.date, h.start, h.end)):
        entry = by_date.setdefault(row.date, {"date": row.date.isoformat(), "hours": []})
        entry["hours"].append([_time_text(row.start), _time_text(row.end)])
        if row.reason:
            entry["reason"] = row.reason
    return list(by_date.values())


def _service_data(index: int, service: Service, phases: list[dict[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {"key": service.key, "name": service.name}
    if service.description:
        data["description"] = service.description
    if not phases:  # with phases, the length is their sum
        data["duration_minutes"] = service.duration_minutes
    data["price"] = f"{service.price:.2f}"
    if phases:
        data["phases"] = phases
    if service.buffer_before_minutes:
        data["buffer_before_minutes"] = service.buffer_before_minutes
    if service.buffer_after_minutes:
        data["buffer_after_minutes"] = service.buffer_after_minutes
    if not service.is_active:
        data["is_active"] = False
    if service.position != index:
        data["position"] = service.position
    return data


def _stylist_data(
    index: int,
    stylist: Stylist,
    service_rank: dict[int, int],
    tz: ZoneInfo,
    special: list[SpecialHours],
    phases: dict[tuple[int, int | None], list[dict[str, Any]]],
) -> dict[str, Any]:
    hours: dict[str, list[list[str]]] = {day: [] for day in WEEKDAYS}
    for h in sorted(stylist.hours.all(), key=lambda h: (h.weekday, h.start, h.end)):
        hours[WEEKDAYS[h.weekday]].append([_time_text(h.start), _time_text(h.end)])
    time_off = []
    for t in sorted(stylist.time_off.all(), key=lambda t: (t.start, t.end, t.reason)):
        entry = {"start": _instant_text(t.start, tz), "end": _instant_text(t.end, tz)}
        if t.reason:
            entry["reason"] = t.reason
        time_off.append(entry)
    data: dict[str, Any] = {
        "key": stylist.key,
        "name": stylist.name,
        "services": [
            _offer_data(offer, phases.get((offer.service_id, stylist.pk)))
            for offer in sorted(stylist.stylist_services.all(), key=lambda o: service_rank[o.service_id])
        ],
        "hours": hours,
        "time_off": time_off,
    }
    # Written only when there are some: files from before special hours dump unchanged.
    if special:
        data["special_hours"] = _special_hours_data(special)
    if not stylist.is_active:
        data["is_active"] = False
    if stylist.position != index:
        data["position"] = stylist.position
    return data


def _offer_data(offer: StylistService, phases: list[dict[str, Any]] | None) -> str | dict[str, Any]:
    """A plain key unless the stylist has their own price, length or phases."""
    data: dict[str, Any] = {"service": offer.service.key}
    if offer.price is not None:
        data["price"] = f"{offer.price:.2f}"
    if offer.duration_minutes is not None:
        data["duration_minutes"] = offer.duration_minutes
    if phases:
        data["phases"] = phases
    return data if len(data) > 1 else offer.service.key


def _format(value: Any, column: int, indent: int = 0) -> str:
    """JSON indented by 2, except that a list holding no objects goes on one line
    when it fits: hours read as ``"mon": [["09:00", "12:30"], ["13:30", "18:00"]]``.
    ``column`` is where the value starts on its line."""
    if isinstance(value, list) and value and not any(isinstance(v, dict) for v in value):
        one_line = json.dumps(value, ensure_ascii=False)
        if column + len(one_line) + 1 <= _LINE_WIDTH:
            return one_line
    inner = " " * (indent + 2)
    if isinstance(value, dict) and value:
        items = []
        for name, item in value.items():
            head = f"{inner}{json.dumps(name, ensure_ascii=False)}: "
            items.append(head + _format(item, len(head), indent + 2))
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    if isinstance(value, list) and value:
        items = [inner + _format(item, len(inner), indent + 2) for item in value]
        return "[\n" + ",\n".join(items) + "\n" + " " * indent + "]"
    return json.dumps(value, ensure_ascii=False)
