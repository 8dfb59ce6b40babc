"""The salon: its settings, services, stylists, their hours and the appointments.

Every datetime is stored in UTC. Working hours are local wall-clock times of the
salon (``Salon.time_zone``); the pure rules in ``availability.py`` turn them into
instants day by day, which is what keeps them right on daylight-saving days.
"""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta
from functools import cached_property

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models, transaction
from django.db.models import Case, F, Q, Sum, Value, When
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.dates import WEEKDAYS
from django.utils.translation import gettext, ngettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

# A service may not last longer than this. The availability query relies on it: to
# find the appointments that overlap a day it reads those that *start* between
# (day start - MAX_SERVICE_DURATION) and the day's end, an index range, so the cost
# of a query never grows with the salon's history.
MAX_SERVICE_MINUTES = 12 * 60
MAX_SERVICE_DURATION = timedelta(minutes=MAX_SERVICE_MINUTES)
MAX_BUFFER_MINUTES = 240
MAX_RESOURCE_QUANTITY = 50
SALON_CACHE_KEY = "chairtime:salon"
SALON_CACHE_SECONDS = 60
# Time off and closures lie in the years the booking pages serve (views.parse_day):
# far enough from datetime's limits (years 1 and 9999) that converting between
# the salon's zone and UTC, to store or to dump a salon file, never overflows.
FIRST_DATE, LAST_DATE = date(2000, 1, 1), date(2999, 12, 31)


def _outside_years(value: date | datetime | None) -> bool:
    """True for a date, or a time in the salon's zone, outside FIRST_DATE..LAST_DATE."""
    if value is None:
        return False
    day = value.date() if isinstance(value, datetime) else value
    if not FIRST_DATE <= day <= LAST_DATE:  # checked first: converting 9999-12-31 may overflow
        return True
    if isinstance(value, datetime) and value.tzinfo is not None:
        day = value.astimezone(Salon.current_time_zone()).date()
    return not FIRST_DATE <= day <= LAST_DATE


# One whole sentence per field, so each language can write it its own way.
_YEARS_MESSAGES = {
    "start": _("The start must be between %(first)s and %(last)s in the salon's time zone."),
    "end": _("The end must be between %(first)s and %(last)s in the salon's time zone."),
    "date": _("The date must be between %(first)s and %(last)s in the salon's time zone."),
}


def _years_message(name: str) -> str:
    return _YEARS_MESSAGES[name] % {"first": FIRST_DATE, "last": LAST_DATE}


def validate_time_zone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            _("%(value)s is not a known time zone; use an IANA name such as Europe/Paris."),
            params={"value": value},
        ) from None


MAX_REMINDERS = 3
MAX_CHANGE_NOTICE_MINUTES = 60 * 24 * 30


def parse_reminder_minutes(value: str) -> list[int]:
    """``"1440,120"`` -> ``[1440, 120]``: the minutes before a start that reminders
    go out, largest first. Raises ValidationError with a sentence for staff."""
    parts = [p.strip() for p in value.split(",") if p.strip()]
    try:
        minutes = [int(p) for p in parts]
    except ValueError:
        raise ValidationError(
            gettext("Write whole numbers of minutes separated by commas, such as 1440,120."), code="invalid"
        ) from None
    if len(minutes) > MAX_REMINDERS:
        raise ValidationError(
            ngettext("At most %(count)s reminder.", "At most %(count)s reminders.", MAX_REMINDERS)
            % {"count": MAX_REMINDERS},
            code="invalid",
        )
    if any(not 30 <= m <= 60 * 24 * 14 for m in minutes):
        raise ValidationError(
            gettext("Each reminder must be between 30 minutes and 14 days (20160 minutes) before the start."),
            code="invalid",
        )
    if len(set(minutes)) != len(minutes):
        raise ValidationError(gettext("The same reminder time is given twice."), code="invalid")
    return sorted(minutes, reverse=True)


def validate_reminder_minutes(value: str) -> None:
    parse_reminder_minutes(value)


class Salon(models.Model):
    """The one salon this deployment serves (a singleton row, id 1).

    The fields after ``horizon_days`` have database defaults (``db_default``): the
    release before them inserts the row without those columns."""

    # Not auto-incremented: MariaDB refuses a CHECK on an AUTO_INCREMENT column.
    id = models.PositiveSmallIntegerField(primary_key=True, default=1, editable=False)
    name = models.CharField(_("name"), max_length=100)
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default="UTC",
        validators=[validate_time_zone],
        help_text=_("IANA time zone name, e.g. America/Los_Angeles. Working hours are in this zone."),
    )
    slot_minutes = models.PositiveSmallIntegerField(
        _("slot minutes"),
        default=30,
        validators=[MinValueValidator(5), MaxValueValidator(240)],
        help_text=_("Offered start times are this many minutes apart."),
    )
    min_notice_minutes = models.PositiveIntegerField(
        _("min notice minutes"),
        default=60,
        validators=[MaxValueValidator(60 * 24 * 30)],
        help_text=_("How long before a start time booking closes."),
    )
    horizon_days = models.PositiveSmallIntegerField(
        _("horizon days"),
        default=30,
        validators=[MinValueValidator(0), MaxValueValidator(366)],
        help_text=_("How many days ahead customers may book."),
    )
    address = models.CharField(
        _("address"),
        max_length=300,
        blank=True,
        default="",
        db_default="",
        help_text=_("Street address, one line: shown in e-mails and calendar entries."),
    )
    phone = models.CharField(
        _("phone"),
        max_length=40,
        blank=True,
        default="",
        db_default="",
        help_text=_("The number customers call, e.g. when it is too late to change online."),
    )
    currency = models.CharField(
        _("currency"),
        max_length=3,
        default="USD",
        db_default="USD",
        validators=[
            RegexValidator(r"^[A-Z]{3}\Z", _("Use a three-letter ISO 4217 code such as USD or EUR."))
        ],
        help_text=_("ISO 4217 code of the prices, e.g. USD, EUR, GBP."),
    )
    change_notice_minutes = models.PositiveIntegerField(
        _("change notice minutes"),
        default=0,
        db_default=0,
        validators=[MaxValueValidator(MAX_CHANGE_NOTICE_MINUTES)],
        help_text=_(
            "Online, customers may cancel or reschedule until this many minutes before the start; "
            "after that they are asked to call. 0: until the start. Staff are never bound by it."
        ),
    )
    reminder_minutes = models.CharField(
        _("reminder minutes"),
        max_length=40,
        blank=True,
        default="1440,120",
        db_default="1440,120",
        validators=[validate_reminder_minutes],
        help_text=_(
            "When reminders go out, in minutes before the start, separated by commas: "
            "1440,120 is a day and two hours before. Empty: no reminders."
        ),
    )
    waitlist_hold_minutes = models.PositiveSmallIntegerField(
        _("waitlist hold minutes"),
        default=30,
        db_default=30,
        validators=[MinValueValidator(5), MaxValueValidator(24 * 60)],
        help_text=_("How long a freed time is held for the customer a waitlist offer goes to."),
    )

    class Meta:
        verbose_name = _("salon")
        verbose_name_plural = _("salons")
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="salon_is_singleton"),
            models.CheckConstraint(
                condition=Q(slot_minutes__gte=5, slot_minutes__lte=240), name="salon_slot_minutes_range"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.pk = 1
        super().save(*args, **kwargs)
        # On commit: a read between this save and its commit would otherwise cache
        # the old row again, for SALON_CACHE_SECONDS (as catalog.py, for the same reason).
        transaction.on_commit(lambda: cache.delete(SALON_CACHE_KEY))

    @classmethod
    def load(cls) -> Salon:
        """The salon, created with neutral defaults if none was configured yet."""
        salon, _created = cls.objects.get_or_create(pk=1, defaults={"name": "Chairtime salon"})
        return salon

    @cached_property
    def tz(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.time_zone)

    @property
    def reminder_offsets(self) -> list[int]:
        """The reminders' minutes before a start, largest first."""
        return parse_reminder_minutes(self.reminder_minutes)

    @classmethod
    def cached(cls) -> Salon:
        """The salon for reads (pages, availability): from the process cache, so a
        request does not read the row again. Settings edited in the back office
        reach every pod within SALON_CACHE_SECONDS; the booking service re-reads
        the row inside its transaction with ``load()``."""
        salon = cache.get(SALON_CACHE_KEY)
        if salon is None:
            salon = cls.load()
            cache.set(SALON_CACHE_KEY, salon, SALON_CACHE_SECONDS)
        return salon

    @classmethod
    def current_time_zone(cls) -> zoneinfo.ZoneInfo:
        """The salon's zone: every request needs it, it rarely changes."""
        return cls.cached().tz


class Service(models.Model):
    key = models.SlugField(
        _("key"), max_length=50, unique=True, help_text=_("Stable identifier used by salon files.")
    )
    name = models.CharField(_("name"), max_length=100)
    description = models.TextField(_("description"), blank=True)
    duration_minutes = models.PositiveSmallIntegerField(
        _("duration minutes"), validators=[MinValueValidator(5), MaxValueValidator(MAX_SERVICE_MINUTES)]
    )
    price = models.DecimalField(_("price"), max_digits=8, decimal_places=2, validators=[MinValueValidator(0)])
    is_active = models.BooleanField(
        _("is active"), default=True, help_text=_("Inactive services cannot be booked.")
    )
    position = models.PositiveSmallIntegerField(
        _("position"), default=0, help_text=_("Order on the booking pages.")
    )
    # db_default too: the release before this one inserts services without the column.
    buffer_before_minutes = models.PositiveSmallIntegerField(
        _("buffer before minutes"),
        default=0,
        db_default=0,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_BUFFER_MINUTES)],
        help_text=_(
            "Minutes the stylist is busy before the service (set-up) that the customer does not see."
        ),
    )
    buffer_after_minutes = models.PositiveSmallIntegerField(
        _("buffer after minutes"),
        default=0,
        db_default=0,
        validators=[MinValueValidator(0), MaxValueValidator(MAX_BUFFER_MINUTES)],
        help_text=_(
            "Minutes the stylist is busy after the service (clean-up) that the customer does not see."
        ),
    )

    class Meta:
        verbose_name = _("service")
        verbose_name_plural = _("services")
        ordering = ["position", "name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(duration_minutes__gte=5, duration_minutes__lte=MAX_SERVICE_MINUTES),
                name="service_duration_range",
            ),
            models.CheckConstraint(condition=Q(price__gte=0), name="service_price_not_negative"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def duration(self) -> timedelta:
        return timedelta(minutes=self.duration_minutes)

    def sync_duration(self) -> bool:
        """Make ``duration_minutes`` the sum of the standard phases' minutes (a
        service without phases keeps its own); returns whether it changed. The
        pages and the catalog show ``duration_minutes``: it must never disagree
        with the phases the availability rules book."""
        total = self.phases.filter(stylist__isnull=True).aggregate(total=Sum("minutes"))["total"]
        if total is None or total == self.duration_minutes:
            return False
        self.duration_minutes = total
        self.save(update_fields=["duration_minutes"])
        return True


class Resource(models.Model):
    """Something with a quantity that phases need: basins, a colour station, chairs.
    Each unit is a row (ResourceUnit) and a booked phase holds one unit, so that
    PostgreSQL's exclusion constraint can refuse two holds of one unit at once."""

    salon = models.ForeignKey(
        Salon, verbose_name=_("salon"), on_delete=models.CASCADE, related_name="resources", default=1
    )
    key = models.SlugField(_("key"), max_length=50, help_text=_("Stable identifier used by salon files."))
    name = models.CharField(_("name"), max_length=100)
    quantity = models.PositiveSmallIntegerField(
        _("quantity"),
        validators=[MinValueValidator(1), MaxValueValidator(MAX_RESOURCE_QUANTITY)],
        help_text=_("How many the salon has: phases needing it can run at the same time up to this many."),
    )

    class Meta:
        verbose_name = _("resource")
        verbose_name_plural = _("resources")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["salon", "key"], name="resource_one_per_key"),
            models.CheckConstraint(
                condition=Q(quantity__gte=1, quantity__lte=MAX_RESOURCE_QUANTITY),
                name="resource_quantity_range",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        with transaction.atomic():
            super().save(*args, **kwargs)
            self.sync_units()

    def clean(self) -> None:
        if self.pk is None or self.quantity is None:
            return
        busiest = self.highest_unit_booked_from(timezone.now())
        if busiest is not None and self.quantity < busiest:
            raise ValidationError(
                {
                    "quantity": gettext(
                        "%(resource)s number %(number)s is booked for an upcoming appointment, so "
                        "the quantity cannot go below %(number)s yet. Cancel or move the "
                        "appointments using it first, or wait until they are over."
                    )
                    % {"resource": self.name, "number": busiest}
                }
            )

    def highest_unit_booked_from(self, now: datetime) -> int | None:
        """The highest unit number held by a booking that has not ended by ``now``."""
        return Hold.objects.filter(unit__resource=self, ends_at__gt=now).aggregate(
            highest=models.Max("unit__number")
        )["highest"]

    def sync_units(self) -> None:
        """Make the units exactly 1..quantity. A surplus unit's past holds are
        history nobody reads by unit, and go with it; a future hold makes the
        delete fail (PROTECT): ``clean()`` says so first, in words."""
        numbers = set(self.units.values_list("number", flat=True))
        wanted = set(range(1, self.quantity + 1))
        surplus = self.units.filter(number__in=numbers - wanted)
        if numbers - wanted:
            Hold.objects.filter(unit__in=surplus, ends_at__lte=timezone.now()).delete()
            surplus.delete()
        ResourceUnit.objects.bulk_create(
            ResourceUnit(resource=self, number=number) for number in sorted(wanted - numbers)
        )


class ResourceUnit(models.Model):
    """One of a resource's ``quantity``: "Basin 2"."""

    resource = models.ForeignKey(
        Resource, verbose_name=_("resource"), on_delete=models.CASCADE, related_name="units"
    )
    number = models.PositiveSmallIntegerField(_("number"))

    class Meta:
        verbose_name = _("resource unit")
        verbose_name_plural = _("resource units")
        ordering = ["resource", "number"]
        constraints = [
            models.UniqueConstraint(fields=["resource", "number"], name="resource_unit_one_per_number")
        ]

    def __str__(self) -> str:
        return f"{self.resource.name} {self.number}"


class ServicePhase(models.Model):
    """One step of a service. Without a stylist: the service's standard phases; with
    one: that stylist's own version of the service. A service without phase rows
    is one busy phase of ``duration_minutes``."""

    service = models.ForeignKey(
        Service, verbose_name=_("service"), on_delete=models.CASCADE, related_name="phases"
    )
    stylist = models.ForeignKey(
        "Stylist",
        verbose_name=_("stylist"),
        on_delete=models.CASCADE,
        related_name="phase_overrides",
        null=True,
        blank=True,
        help_text=_("Empty: the service's standard phases. Set: this stylist's own version of the service."),
    )
    position = models.PositiveSmallIntegerField(_("position"))
    minutes = models.PositiveSmallIntegerField(
        _("minutes"), validators=[MinValueValidator(1), MaxValueValidator(MAX_SERVICE_MINUTES)]
    )
    processing = models.BooleanField(
        _("processing"),
        default=False,
        help_text=_("The client waits (e.g. colour developing); the stylist is free for someone else."),
    )
    resources = models.ManyToManyField(
        Resource, verbose_name=_("resources"), blank=True, related_name="phases"
    )

    class Meta:
        verbose_name = _("service phase")
        verbose_name_plural = _("service phases")
        ordering = ["service", "stylist", "position"]
        constraints = [
            models.CheckConstraint(
                condition=Q(minutes__gte=1, minutes__lte=MAX_SERVICE_MINUTES),
                name="service_phase_minutes_range",
            ),
        ]

    def __str__(self) -> str:
        kind = "processing" if self.processing else "work"
        return f"{self.service} #{self.position}: {self.minutes} min {kind}"


class Stylist(models.Model):
    key = models.SlugField(
        _("key"), max_length=50, unique=True, help_text=_("Stable identifier used by salon files.")
    )
    name = models.CharField(_("name"), max_length=100)
    services = models.ManyToManyField(
        Service, verbose_name=_("services"), related_name="stylists", blank=True, through="StylistService"
    )
    is_active = models.BooleanField(
        _("is active"), default=True, help_text=_("Inactive stylists take no new bookings.")
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("stylist")
        verbose_name_plural = _("stylists")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class StylistService(models.Model):
    """A service a stylist offers, at their own price and length if given (a senior
    stylist's cut: 45 minutes, $65). The table is the one the plain many-to-many
    field had (migration 0005), so ``stylist.services.add()`` keeps working."""

    stylist = models.ForeignKey(
        Stylist, verbose_name=_("stylist"), on_delete=models.CASCADE, related_name="stylist_services"
    )
    service = models.ForeignKey(
        Service, verbose_name=_("service"), on_delete=models.CASCADE, related_name="stylist_services"
    )
    price = models.DecimalField(
        _("price"),
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(0)],
        help_text=_("This stylist's own price; empty: the service's."),
    )
    duration_minutes = models.PositiveSmallIntegerField(
        _("duration minutes"),
        null=True,
        blank=True,
        validators=[MinValueValidator(5), MaxValueValidator(MAX_SERVICE_MINUTES)],
        help_text=_("This stylist's own length, for a service without phases; empty: the service's."),
    )

    class Meta:
        verbose_name = _("stylist service")
        verbose_name_plural = _("stylist services")
        db_table = "booking_stylist_services"
        unique_together = [("stylist", "service")]
        constraints = [
            models.CheckConstraint(
                condition=Q(price__isnull=True) | Q(price__gte=0), name="stylist_service_price_not_negative"
            ),
            models.CheckConstraint(
                condition=Q(duration_minutes__isnull=True)
                | Q(duration_minutes__gte=5, duration_minutes__lte=MAX_SERVICE_MINUTES),
                name="stylist_service_duration_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.service} by {self.stylist}"

    def clean(self) -> None:
        phased = (
            self.duration_minutes is not None
            and self.service_id is not None
            and self.service.phases.filter(stylist__isnull=True).exists()
        )
        if phased:
            raise ValidationError(
                {
                    "duration_minutes": gettext(
                        "%(service)s has phases, so its length is theirs: give this stylist's "
                        "own phases on the service's page instead."
                    )
                    % {"service": self.service}
                }
            )


class Weekday(models.IntegerChoices):
    # Django's own words for the days (its catalog: "lundi", "lunes"), the same the
    # dates on every page use: a second translation of "Monday" in our catalogs
    # would replace Django's everywhere, in every date too.
    MONDAY = 0, WEEKDAYS[0]
    TUESDAY = 1, WEEKDAYS[1]
    WEDNESDAY = 2, WEEKDAYS[2]
    THURSDAY = 3, WEEKDAYS[3]
    FRIDAY = 4, WEEKDAYS[4]
    SATURDAY = 5, WEEKDAYS[5]
    SUNDAY = 6, WEEKDAYS[6]


class WorkingHours(models.Model):
    """One working interval of a stylist on a weekday, in the salon's local time."""

    stylist = models.ForeignKey(
        Stylist, verbose_name=_("stylist"), on_delete=models.CASCADE, related_name="hours"
    )
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    start = models.TimeField(_("start"))
    end = models.TimeField(_("end"))

    class Meta:
        verbose_name = _("working hours")
        verbose_name_plural = pgettext_lazy("plural", "working hours")
        ordering = ["stylist", "weekday", "start"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="hours_end_after_start"),
            models.CheckConstraint(condition=Q(weekday__gte=0, weekday__lte=6), name="hours_weekday_range"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start:%H:%M}-{self.end:%H:%M}"

    def clean(self) -> None:
        _check_interval(self.start, self.end)


_WHOLE_MINUTES_MESSAGES = {
    "start": _("Give the start in whole minutes (HH:MM), without seconds, not %(value)s."),
    "end": _("Give the end in whole minutes (HH:MM), without seconds, not %(value)s."),
}


def _check_interval(start: time | None, end: time | None, errors: dict[str, str] | None = None) -> None:
    """Working intervals, weekly or special: whole minutes, end after start."""
    # Offered start times step from the interval's start, and booking links name
    # hours and minutes only: a start at 10:00:30 would offer times no link can
    # book. Whole minutes, as salon files require too.
    errors = dict(errors or {})
    errors.update(
        {
            name: _WHOLE_MINUTES_MESSAGES[name] % {"value": value.isoformat()}
            for name, value in (("start", start), ("end", end))
            if value is not None and (value.second or value.microsecond)
        }
    )
    if not errors and start is not None and end is not None and end <= start:
        errors["end"] = gettext("The end must be after the start.")
    if errors:
        raise ValidationError(errors)


class SpecialHours(models.Model):
    """Dated opening hours. The salon's (no stylist) limit every stylist's hours
    that day (24 December: 09:00-15:00); a stylist's replace their weekly hours
    that day (an extra Sunday shift, a late evening). Several rows of one date are
    that day's intervals. A day with no hours at all is a Closure (salon) or time
    off (stylist)."""

    salon = models.ForeignKey(
        Salon, verbose_name=_("salon"), on_delete=models.CASCADE, related_name="special_hours", default=1
    )
    stylist = models.ForeignKey(
        Stylist,
        verbose_name=_("stylist"),
        on_delete=models.CASCADE,
        related_name="special_hours",
        null=True,
        blank=True,
        help_text=_("Empty: the whole salon's opening hours that day."),
    )
    date = models.DateField(_("date"))
    start = models.TimeField(_("start"))
    end = models.TimeField(_("end"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("special hours")
        verbose_name_plural = pgettext_lazy("plural", "special hours")
        ordering = ["date", "stylist", "start"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="special_hours_end_after_start"),
        ]
        indexes = [models.Index(fields=["salon", "date"], name="special_hours_salon_date")]

    def __str__(self) -> str:
        who = self.stylist if self.stylist_id else "Salon"
        return f"{who}: {self.date:%Y-%m-%d} {self.start:%H:%M}-{self.end:%H:%M}"

    def clean(self) -> None:
        _check_interval(
            self.start, self.end, {"date": _years_message("date")} if _outside_years(self.date) else None
        )


class TimeOff(models.Model):
    stylist = models.ForeignKey(
        Stylist, verbose_name=_("stylist"), on_delete=models.CASCADE, related_name="time_off"
    )
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("time off")
        verbose_name_plural = pgettext_lazy("plural", "time off")
        ordering = ["start"]
        constraints = [
            models.CheckConstraint(condition=Q(end__gt=F("start")), name="time_off_end_after_start")
        ]
        indexes = [models.Index(fields=["stylist", "end"], name="time_off_stylist_end")]

    def __str__(self) -> str:
        return f"{self.stylist}: {self.start:%Y-%m-%d %H:%M} to {self.end:%Y-%m-%d %H:%M}"

    def clean(self) -> None:
        errors = {
            name: _years_message(name)
            for name, value in (("start", self.start), ("end", self.end))
            if _outside_years(value)
        }
        if errors:
            raise ValidationError(errors)
        if self.start is not None and self.end is not None and self.end <= self.start:
            raise ValidationError({"end": gettext("The end must be after the start.")})


class Closure(models.Model):
    """A local date on which the salon is closed all day."""

    date = models.DateField(_("date"), unique=True)
    reason = models.CharField(_("reason"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("closure")
        verbose_name_plural = _("closures")
        ordering = ["date"]

    def __str__(self) -> str:
        return f"{self.date:%Y-%m-%d} {self.reason}".strip()

    def clean(self) -> None:
        if _outside_years(self.date):
            raise ValidationError({"date": _years_message("date")})


class Visit(models.Model):
    """What a customer books: one or several services back to back (a colour with
    Ana, then a cut with anyone), booked or refused as a whole."""

    salon = models.ForeignKey(
        Salon, verbose_name=_("salon"), on_delete=models.CASCADE, related_name="visits", default=1
    )
    created_at = models.DateTimeField(_("created at"))
    # The language the customer booked in: its e-mails are written in it, whatever
    # the worker's (docs/messages.md). db_default: the previous release inserts
    # visits without this column.
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default="en", db_default="en"
    )

    class Meta:
        verbose_name = _("visit")
        verbose_name_plural = _("visits")

    def __str__(self) -> str:
        return f"visit {self.pk} booked at {self.created_at:%Y-%m-%d %H:%M} UTC"


class Appointment(models.Model):
    class Status(models.TextChoices):
        # The context the front desk's statuses use: "Annulé", "Cancelada".
        CONFIRMED = "confirmed", pgettext_lazy("appointment status", "Confirmed")
        CANCELLED = "cancelled", pgettext_lazy("appointment status", "Cancelled")

    service = models.ForeignKey(
        Service, verbose_name=_("service"), on_delete=models.PROTECT, related_name="appointments"
    )
    stylist = models.ForeignKey(
        Stylist, verbose_name=_("stylist"), on_delete=models.PROTECT, related_name="appointments"
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    status = models.CharField(_("status"), max_length=16, choices=Status.choices, default=Status.CONFIRMED)
    # The start of a confirmed appointment, NULL once cancelled. Unique per stylist:
    # the last line of defence against a double booking on every database, because
    # MySQL/MariaDB support neither partial unique indexes nor exclusion constraints.
    # (PostgreSQL also gets an exclusion constraint on overlapping ranges, added in
    # migration 0002.) It is also the index the availability query reads.
    confirmed_starts_at = models.GeneratedField(
        expression=Case(When(status="confirmed", then=F("starts_at")), default=Value(None)),
        output_field=models.DateTimeField(null=True),
        db_persist=True,
    )
    customer_name = models.CharField(_("customer name"), max_length=100)
    # Optional: a walk-in or phone customer booked at the front desk may give none
    # (the online pages and the API still require one).
    customer_email = models.EmailField(_("customer email"), max_length=254, blank=True)
    # The customer's e-mail address, lower-cased, while the appointment is confirmed
    # (NULL once cancelled, or when there is no address). Unique with the service and
    # the start: one customer cannot hold the same service at the same time twice,
    # whichever stylists two racing requests chose (the browser's Back button and
    # Book again; two "any stylist" requests that do not lock the same stylists).
    confirmed_customer = models.GeneratedField(
        expression=Case(
            When(Q(status="confirmed") & ~Q(customer_email=""), then=Lower("customer_email")),
            default=Value(None),
        ),
        output_field=models.CharField(max_length=254, null=True),
        db_persist=True,
    )
    customer_phone = models.CharField(_("customer phone"), max_length=32, blank=True)
    price = models.DecimalField(
        _("price"), max_digits=8, decimal_places=2, help_text=_("The service's price when booked.")
    )
    created_at = models.DateTimeField(_("created at"))
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)
    # NULL only for rows the release before visits wrote (expand/contract: see
    # migration 0005); a later release's migration makes it NOT NULL.
    visit = models.ForeignKey(
        Visit,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="appointments",
        verbose_name=_("visit"),
    )
    # db_default: the previous release inserts appointments without this column.
    position = models.PositiveSmallIntegerField(
        _("position"), default=0, db_default=0, help_text=_("Its place in the visit.")
    )

    class Meta:
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        ordering = ["starts_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="appointment_ends_after_start"
            ),
            models.CheckConstraint(
                condition=Q(status="confirmed", cancelled_at__isnull=True)
                | Q(status="cancelled", cancelled_at__isnull=False),
                name="appointment_cancelled_at_matches_status",
            ),
            models.UniqueConstraint(
                fields=["stylist", "confirmed_starts_at"], name="appointment_one_confirmed_start_per_stylist"
            ),
            models.UniqueConstraint(
                fields=["service", "confirmed_customer", "starts_at"],
                name="appointment_one_per_customer_service_start",
            ),
        ]
        indexes = [models.Index(fields=["starts_at"], name="appointment_starts_at")]

    def __str__(self) -> str:
        return f"{self.service} with {self.stylist} at {self.starts_at:%Y-%m-%d %H:%M} UTC"

    @property
    def is_confirmed(self) -> bool:
        return self.status == self.Status.CONFIRMED


class WaitlistEntry(models.Model):
    """A customer waiting for a time of ``service`` (with ``stylist``, or anyone)
    on the salon-local ``date``: offered the first matching time that frees
    (WaitlistOffer), in the order they joined."""

    class State(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        OFFERED = "offered", _("Offered a time")
        BOOKED = "booked", _("Booked the offered time")
        LEFT = "left", _("Left the waitlist")
        EXPIRED = "expired", _("Let the offer lapse")

    salon = models.ForeignKey(
        Salon, verbose_name=_("salon"), on_delete=models.CASCADE, related_name="waitlist_entries", default=1
    )
    service = models.ForeignKey(
        Service, verbose_name=_("service"), on_delete=models.CASCADE, related_name="waitlist_entries"
    )
    stylist = models.ForeignKey(
        Stylist,
        verbose_name=_("stylist"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="waitlist_entries",
        help_text=_("Empty: any stylist who offers the service."),
    )
    date = models.DateField(_("date"), help_text=_("The day wanted, in the salon's time zone."))
    customer_name = models.CharField(_("customer name"), max_length=100)
    customer_email = models.EmailField(_("customer email"), max_length=254)
    customer_phone = models.CharField(_("customer phone"), max_length=32, blank=True)
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.WAITING)
    created_at = models.DateTimeField(_("created at"))
    # When the entry left WAITING/OFFERED (booked, left, expired).
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    # The language the customer joined in: the waitlist's e-mails are written in it.
    language = models.CharField(
        _("language"), max_length=8, choices=settings.LANGUAGES, default="en", db_default="en"
    )

    class Meta:
        verbose_name = _("waitlist entry")
        verbose_name_plural = _("waitlist entries")
        ordering = ["created_at", "pk"]
        indexes = [models.Index(fields=["salon", "date", "state", "created_at"], name="waitlist_line")]

    def __str__(self) -> str:
        who = self.stylist or "any stylist"
        return f"{self.customer_name}: {self.service} with {who} on {self.date:%Y-%m-%d} ({self.state})"

    @property
    def is_open(self) -> bool:
        return self.state in (self.State.WAITING, self.State.OFFERED)


class WaitlistOffer(models.Model):
    """A freed time held for a waitlist entry until ``expires_at``: its Hold rows
    (``holds``) keep everyone else off it meanwhile."""

    class State(models.TextChoices):
        OPEN = "open", _("Held for the customer")
        TAKEN = "taken", pgettext_lazy("waitlist offer state", "Booked")
        LAPSED = "lapsed", _("Lapsed or withdrawn")

    # A context: Django's admin has its own "entry" (of its history).
    entry = models.ForeignKey(
        WaitlistEntry,
        verbose_name=pgettext_lazy("waitlist", "entry"),
        on_delete=models.CASCADE,
        related_name="offers",
    )
    stylist = models.ForeignKey(
        Stylist, verbose_name=_("stylist"), on_delete=models.CASCADE, related_name="+"
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    expires_at = models.DateTimeField(_("expires at"))
    state = models.CharField(_("state"), max_length=16, choices=State.choices, default=State.OPEN)
    created_at = models.DateTimeField(_("created at"))
    appointment = models.ForeignKey(
        Appointment,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("appointment"),
    )

    class Meta:
        verbose_name = _("waitlist offer")
        verbose_name_plural = _("waitlist offers")
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")), name="waitlist_offer_ends_after_start"
            )
        ]

    def __str__(self) -> str:
        return f"offer {self.pk} of {self.starts_at:%Y-%m-%d %H:%M} UTC until {self.expires_at:%H:%M} UTC"


class Hold(models.Model):
    """One busy span of a confirmed appointment, or of an open waitlist offer: a
    stylist's busy time (a phase the stylist works, or a buffer), or one resource
    unit held by a phase. Holds exist only while the appointment is confirmed (the
    booking service deletes them when it cancels) or the offer is open. They are
    what availability reads and what the constraints guard: the unique starts
    below on every database (MariaDB and SQLite have nothing better), and on
    PostgreSQL exclusion constraints on overlapping spans per stylist and per unit
    (migration 0005; not in the model state, as 0002's).

    An offer's holds carry ``held_until`` (its expiry): reads ignore them from
    then on, so an expired offer never blocks a time even when the task that
    lapses it is late; writers delete them under the locks before they write
    (services.clear_lapsed_holds), since the constraints still see the rows."""

    appointment = models.ForeignKey(
        Appointment,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="holds",
        verbose_name=_("appointment"),
    )
    offer = models.ForeignKey(
        WaitlistOffer,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="holds",
        verbose_name=_("offer"),
    )
    held_until = models.DateTimeField(_("held until"), null=True, blank=True)
    stylist = models.ForeignKey(
        Stylist, verbose_name=_("stylist"), on_delete=models.PROTECT, null=True, related_name="holds"
    )
    unit = models.ForeignKey(
        ResourceUnit, verbose_name=_("unit"), on_delete=models.PROTECT, null=True, related_name="holds"
    )
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))

    class Meta:
        verbose_name = _("hold")
        verbose_name_plural = _("holds")
        constraints = [
            models.CheckConstraint(
                condition=Q(stylist__isnull=False, unit__isnull=True)
                | Q(stylist__isnull=True, unit__isnull=False),
                name="hold_stylist_or_unit",
            ),
            models.CheckConstraint(
                condition=Q(appointment__isnull=False, offer__isnull=True, held_until__isnull=True)
                | Q(appointment__isnull=True, offer__isnull=False, held_until__isnull=False),
                name="hold_of_appointment_or_offer",
            ),
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="hold_ends_after_start"),
            # Also the indexes availability reads: stylist (or unit) + a range of starts.
            models.UniqueConstraint(fields=["stylist", "starts_at"], name="hold_one_start_per_stylist"),
            models.UniqueConstraint(fields=["unit", "starts_at"], name="hold_one_start_per_unit"),
        ]

    def __str__(self) -> str:
        who = self.stylist if self.stylist_id else self.unit
        return f"{who} busy {self.starts_at:%Y-%m-%d %H:%M}-{self.ends_at:%H:%M} UTC"


class ScheduleException(models.Model):
    """Staff kept this appointment although a change of the schedule (time off, a
    closure, special or weekly hours, services offered) left it outside what its
    stylist works: an explicit exception, so it is not listed as affected again.
    It holds for the time and stylist it was made for; moved, the appointment is
    judged afresh."""

    appointment = models.OneToOneField(
        Appointment,
        on_delete=models.CASCADE,
        related_name="schedule_exception",
        verbose_name=_("appointment"),
    )
    starts_at = models.DateTimeField(_("starts at"))
    stylist = models.ForeignKey(
        Stylist, verbose_name=_("stylist"), on_delete=models.CASCADE, related_name="+"
    )
    reason = models.CharField(
        _("reason"), max_length=200, help_text=_("Why it no longer fitted, when it was kept.")
    )
    kept_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("kept by"),
    )
    kept_at = models.DateTimeField(_("kept at"))

    class Meta:
        verbose_name = _("schedule exception")
        verbose_name_plural = _("schedule exceptions")

    def __str__(self) -> str:
        return f"appointment {self.appointment_id} kept outside hours ({self.reason})"

    def covers(self, appointment: Appointment) -> bool:
        return self.starts_at == appointment.starts_at and self.stylist_id == appointment.stylist_id


class BookingRequest(models.Model):
    """A request that booked, remembered by its key so that the same request sent
    again books nothing more: a booking form's one-time nonce, or an API client's
    ``Idempotency-Key``. The booking service claims the key first in its
    transaction, so a second request with it waits for the first and then answers
    with the first one's appointment."""

    KEPT_FOR = timedelta(hours=24)

    salon = models.ForeignKey(
        Salon, verbose_name=_("salon"), on_delete=models.CASCADE, related_name="booking_requests", default=1
    )
    # SHA-256 of where the key came from and the key itself: never the key, which
    # an API client may treat as a secret.
    key = models.CharField(_("key"), max_length=64)
    # SHA-256 of what was asked: the same key with another request is refused.
    fingerprint = models.CharField(_("fingerprint"), max_length=64)
    # NULL only inside the claiming transaction, before the appointment exists.
    appointment = models.ForeignKey(
        Appointment, verbose_name=_("appointment"), on_delete=models.CASCADE, null=True, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("booking request")
        verbose_name_plural = _("booking requests")
        constraints = [models.UniqueConstraint(fields=["salon", "key"], name="booking_request_one_per_key")]
        indexes = [models.Index(fields=["created_at"], name="booking_request_created_at")]

    def __str__(self) -> str:
        return f"booking request {self.key[:12]} at {self.created_at:%Y-%m-%d %H:%M} UTC"
