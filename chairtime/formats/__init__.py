"""How the pages and e-mails write times, days, lengths and prices, in the active
language (docs/languages.md).

The date and time shapes are named formats in ``<lang>/formats.py`` beside this
file (Django's FORMAT_MODULE_PATH), so a language changes them in one place and a
template can use the same names (``{{ day|date:"DAY_FORMAT" }}``). Prices go
through Babel's CLDR data: the salon's currency (``Salon.currency``) written the
way the reader's language writes it ("$45.00", "45,00 $US", "45,00 US$")."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from babel.numbers import format_currency
from django.utils.formats import date_format
from django.utils.translation import get_language, gettext, to_locale

DASH = "\u2013"  # an en dash, between the two ends of a time range


def format_time(moment: datetime) -> str:
    """A wall time: "2:30 PM" in English, "14:30" in French and Spanish."""
    return date_format(moment, "TIME_FORMAT")


def format_day(day: date) -> str:
    """ "Monday, December 7"; "lundi 7 décembre"; "lunes 7 de diciembre"."""
    return date_format(day, "DAY_FORMAT")


def format_long_day(day: date) -> str:
    """A day with its year, for a page or an e-mail that may be read much later."""
    return date_format(day, "LONG_DAY_FORMAT")


def format_short_day(day: date) -> str:
    """ "Mon, Dec 7": a day in a list of times."""
    return date_format(day, "SHORT_DAY_FORMAT")


def format_month(day: date) -> str:
    """ "December 2026": a month's heading."""
    return date_format(day, "YEAR_MONTH_FORMAT")


def format_time_range(start: datetime, end: datetime, *, zone: bool = False) -> str:
    """ "9:00 AM to 10:00 AM" with an en dash; both ends name their zone when the
    clocks change in between ("1:00 AM PDT to 1:00 AM PST" is an hour, not nothing)."""
    if start.tzname() != end.tzname():
        return f"{format_time(start)} {start.tzname()} {DASH} {format_time(end)} {end.tzname()}"
    return f"{format_time(start)} {DASH} {format_time(end)}" + (f" {end.tzname()}" if zone else "")


def format_duration(minutes: int) -> str:
    """ "1 h 30 min": the same in the three languages."""
    hours, rest = divmod(minutes, 60)
    parts = ([f"{hours} h"] if hours else []) + ([f"{rest} min"] if rest else [])
    return " ".join(parts)


def format_money(amount: Decimal, currency: str) -> str:
    """An amount in ``currency`` (ISO 4217) as the active language writes it,
    nothing included ("$0.00"): a revenue, a total."""
    return format_currency(amount, currency, locale=to_locale(get_language() or "en"))


def format_price(price: Decimal, currency: str) -> str:
    """A price as :func:`format_money` writes it, or "Free" in the active language."""
    if price == 0:
        return gettext("Free")
    return format_money(price, currency)
