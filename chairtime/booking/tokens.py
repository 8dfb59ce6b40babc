"""Customers' private links to view or cancel an appointment.

The token is the appointment id signed with SECRET_KEY (HMAC) and a timestamp:
unguessable without the key, checkable without storing anything, and it expires
after MANAGE_LINK_MAX_AGE_DAYS. SECRET_KEY_FALLBACKS keeps links working across
a key rotation.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core import signing

SALT = "chairtime.booking.manage"


def make_manage_token(appointment_id: int) -> str:
    return signing.dumps({"a": appointment_id}, salt=SALT, compress=False)


def read_manage_token(token: str) -> int | None:
    """The appointment id the token was issued for, or None if it is forged,
    malformed or expired."""
    if not token or len(token) > 200:
        return None
    try:
        payload = signing.loads(token, salt=SALT, max_age=timedelta(days=settings.MANAGE_LINK_MAX_AGE_DAYS))
    except signing.BadSignature:  # SignatureExpired is a subclass
        return None
    appointment_id = payload.get("a") if isinstance(payload, dict) else None
    return appointment_id if isinstance(appointment_id, int) else None


# The waitlist's links: leaving the waitlist (an entry) and taking an offer (an
# offer), signed as the manage link is, each with its own salt so that one kind
# of link can never be used as the other.
WAITLIST_SALT = "chairtime.booking.waitlist"
OFFER_SALT = "chairtime.booking.waitlist-offer"


def make_waitlist_token(entry_id: int) -> str:
    return signing.dumps({"w": entry_id}, salt=WAITLIST_SALT, compress=False)


def read_waitlist_token(token: str) -> int | None:
    """The waitlist entry id the token was issued for, or None."""
    return _read(token, WAITLIST_SALT, "w")


def make_offer_token(offer_id: int) -> str:
    return signing.dumps({"o": offer_id}, salt=OFFER_SALT, compress=False)


def read_offer_token(token: str) -> int | None:
    """The waitlist offer id the token was issued for, or None."""
    return _read(token, OFFER_SALT, "o")


def _read(token: str, salt: str, key: str) -> int | None:
    if not token or len(token) > 200:
        return None
    try:
        payload = signing.loads(token, salt=salt, max_age=timedelta(days=settings.MANAGE_LINK_MAX_AGE_DAYS))
    except signing.BadSignature:
        return None
    value = payload.get(key) if isinstance(payload, dict) else None
    return value if isinstance(value, int) else None
