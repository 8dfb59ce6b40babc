"""Salon announcements, kept in Amazon DynamoDB and read through Django's cache.

Table design
------------
One table (``settings.ANNOUNCEMENTS_TABLE``); every announcement is an item in the
same partition::

    pk          S  partition key, always "ANNOUNCEMENT"
    sk          S  sort key, the announcement's id (a ULID, so it sorts by creation)
    text        S  1 to 500 characters
    starts_at   S  ISO 8601 in UTC; absent: shown from the moment it is saved
    ends_at     S  ISO 8601 in UTC; absent: shown until deleted
    created_at  S  ISO 8601 in UTC
    updated_at  S  ISO 8601 in UTC
    expires_at  N  ends_at + 30 days in epoch seconds, only when ends_at is set;
                   the table's TTL attribute, so DynamoDB deletes stale items itself

Listing is one ``Query`` on that single partition key (never a ``Scan``): it reads
exactly the announcements and nothing else, in id order, a page at a time. One
partition is normally a hot-spot warning; here it is the point. A salon has a
handful of announcements, far below what one partition serves (3,000 reads a
second), and the pages read them at most once per cache period per process. The
30 days of grace before TTL deletion let staff still see, copy or re-date an
announcement that has just ended.

Reads for the public pages (``current_announcements``) go through Django's cache
and fail soft: when DynamoDB is slow, down, missing its table or the process has
no credentials, pages render without announcements after one logged warning.
The back office calls the store directly and shows the error instead.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, WaiterError
from django.conf import settings
from django.core.cache import cache
from django.core.signals import setting_changed
from django.utils import timezone
from django.utils.translation import gettext

from chairtime.ops import metrics

logger = logging.getLogger("chairtime.announcements")

PARTITION = "ANNOUNCEMENT"
MAX_TEXT_LENGTH = 500
TTL_ATTRIBUTE = "expires_at"
# How long after its end an announcement is kept before DynamoDB's TTL removes it.
EXPIRED_RETENTION = timedelta(days=30)
# The years an announcement's times may fall in: far from datetime's limits (years
# 1 and 9999), so that converting one to UTC and adding EXPIRED_RETENTION for the
# TTL never overflow. The booking pages serve the same years.
FIRST_YEAR, LAST_YEAR = 2000, 2999
# A dead DynamoDB is remembered this long, so that it costs one timeout per
# process per period instead of one per page view.
FAILURE_CACHE_SECONDS = 15
# Read timeout of the table-setup calls (the management command), in seconds.
SETUP_READ_TIMEOUT = 10.0

# Ids are ULIDs when made here; files loaded by `load_announcements` may use
# readable slugs. Both are safe in URLs and as DynamoDB keys.
ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(now: datetime | None = None) -> str:
    """A ULID: 48 bits of milliseconds then 80 random bits, 26 Crockford base-32 chars.

    Ids made later sort later, so the sort key keeps announcements in creation order.
    """
    millis = int((now or timezone.now()).timestamp() * 1000)
    value = (millis << 80) | secrets.randbits(80)
    chars = []
    for _ in range(26):
        value, digit = divmod(value, 32)
        chars.append(_CROCKFORD[digit])
    return "".join(reversed(chars))


def is_valid_id(value: object) -> bool:
    return isinstance(value, str) and ID_PATTERN.fullmatch(value) is not None


class InvalidAnnouncement(ValueError):
    """An announcement breaks a rule; ``message`` is written for the person who typed it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check_announcement(*, text: str, starts_at: datetime | None, ends_at: datetime | None) -> None:
    """Raise InvalidAnnouncement if these values cannot make an announcement.

    The back-office form, the file loader and the dataclass itself all apply these
    same rules, so the messages live here once.
    """
    if not isinstance(text, str) or not text.strip():
        raise InvalidAnnouncement("text", gettext("An announcement needs some text."))
    if len(text) > MAX_TEXT_LENGTH:
        raise InvalidAnnouncement(
            "text",
            gettext("Keep it to %(limit)s characters or fewer (this has %(length)s).")
            % {"limit": MAX_TEXT_LENGTH, "length": len(text)},
        )
    for name, value in (("starts_at", starts_at), ("ends_at", ends_at)):
        if value is not None and (not isinstance(value, datetime) or timezone.is_naive(value)):
            raise InvalidAnnouncement(name, gettext("A time must include its time zone (UTC offset)."))
        if value is not None and not FIRST_YEAR <= value.year <= LAST_YEAR:
            raise InvalidAnnouncement(
                name,
                gettext("Give a time between the years %(first)s and %(last)s.")
                % {"first": FIRST_YEAR, "last": LAST_YEAR},
            )
    if starts_at is not None and ends_at is not None and ends_at <= starts_at:
        raise InvalidAnnouncement("ends_at", gettext("The end must be after the start."))


class Status(StrEnum):
    SCHEDULED = "scheduled"
    VISIBLE = "visible"
    EXPIRED = "expired"

    @property
    def label(self) -> str:
        """In the reader's language (the back office's lists and pages)."""
        labels = {
            "scheduled": gettext("Scheduled"),
            "visible": gettext("Visible now"),
            "expired": gettext("Expired"),
        }
        return labels[self.value]


@dataclass(frozen=True)
class Announcement:
    """One announcement. Every datetime is aware and normalised to UTC.

    Shown from ``starts_at`` (inclusive) until ``ends_at`` (exclusive); a missing
    bound is open.
    """

    id: str
    text: str
    starts_at: datetime | None
    ends_at: datetime | None
    created_at: datetime
    updated_at: datetime

    def __post_init__(self) -> None:
        if not is_valid_id(self.id):
            raise InvalidAnnouncement(
                "id", "Use 1 to 64 letters, digits, '-' or '_', starting with a letter or digit."
            )
        check_announcement(text=self.text, starts_at=self.starts_at, ends_at=self.ends_at)
        for name in ("created_at", "updated_at"):
            if not isinstance(getattr(self, name), datetime) or timezone.is_naive(getattr(self, name)):
                raise InvalidAnnouncement(name, "A time must include its time zone (UTC offset).")
        for name in ("starts_at", "ends_at", "created_at", "updated_at"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, value.astimezone(UTC))

    @classmethod
    def new(
        cls, *, text: str, starts_at: datetime | None = None, ends_at: datetime | None = None, now: datetime
    ) -> Announcement:
        return cls(
            id=new_id(now),
            text=text,
            starts_at=starts_at,
            ends_at=ends_at,
            created_at=now,
            updated_at=now,
        )

    def edited(
        self, *, text: str, starts_at: datetime | None, ends_at: datetime | None, now: datetime
    ) -> Announcement:
        return replace(self, text=text, starts_at=starts_at, ends_at=ends_at, updated_at=now)

    def same_content(self, other: Announcement) -> bool:
        return (self.text, self.starts_at, self.ends_at) == (other.text, other.starts_at, other.ends_at)

    def is_visible(self, now: datetime) -> bool:
        return self.status(now) is Status.VISIBLE

    def status(self, now: datetime) -> Status:
        if self.starts_at is not None and now < self.starts_at:
            return Status.SCHEDULED
        if self.ends_at is not None and now >= self.ends_at:
            return Status.EXPIRED
        return Status.VISIBLE

    @property
    def expires_at(self) -> int | None:
        """When DynamoDB's TTL may delete the item (epoch seconds), if it ends at all."""
        if self.ends_at is None:
            return None
        return int((self.ends_at + EXPIRED_RETENTION).timestamp())

    @property
    def shown_since(self) -> datetime:
        return self.starts_at or self.created_at


def newest_first(announcements: Iterable[Announcement]) -> list[Announcement]:
    """Most recently started first (an announcement without a start began when created)."""
    return sorted(announcements, key=lambda a: (a.shown_since, a.id), reverse=True)


class AnnouncementStoreError(Exception):
    """DynamoDB could not be reached, timed out, or refused the request.

    ``code`` is short and safe to show or log: the DynamoDB error code
    (``ResourceNotFoundException``) or the botocore error class
    (``EndpointConnectionError``, ``ReadTimeoutError``, ``NoCredentialsError``).
    """

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail


@dataclass(frozen=True)
class TableSetup:
    """What ``create_table`` did, for the management command to report."""

    table: str
    created: bool
    ttl: str  # "enabled", "already enabled" or "pending" (table not ACTIVE yet)


def _dump_time(value: datetime) -> dict[str, str]:
    return {"S": value.astimezone(UTC).isoformat()}


def _load_time(attribute: dict[str, str]) -> datetime:
    value = datetime.fromisoformat(attribute["S"])
    if timezone.is_naive(value):
        raise ValueError(f"{attribute['S']!r} has no UTC offset")
    return value


def to_item(announcement: Announcement) -> dict[str, dict[str, str]]:
    item = {
        "pk": {"S": PARTITION},
        "sk": {"S": announcement.id},
        "text": {"S": announcement.text},
        "created_at": _dump_time(announcement.created_at),
        "updated_at": _dump_time(announcement.updated_at),
    }
    if announcement.starts_at is not None:
        item["starts_at"] = _dump_time(announcement.starts_at)
    if announcement.ends_at is not None:
        item["ends_at"] = _dump_time(announcement.ends_at)
        item[TTL_ATTRIBUTE] = {"N": str(announcement.expires_at)}
    return item


def from_item(item: dict[str, Any]) -> Announcement:
    """Raises KeyError, ValueError or TypeError on an item this code did not write."""
    return Announcement(
        id=item["sk"]["S"],
        text=item["text"]["S"],
        starts_at=_load_time(item["starts_at"]) if "starts_at" in item else None,
        ends_at=_load_time(item["ends_at"]) if "ends_at" in item else None,
        created_at=_load_time(item["created_at"]),
        updated_at=_load_time(item["updated_at"]),
    )


def _error_code(error: Exception) -> str:
    if isinstance(error, ClientError):
        return error.response.get("Error", {}).get("Code") or "ClientError"
    return type(error).__name__


class AnnouncementStore:
    """Announcements in one DynamoDB table, through a low-level boto3 client.

    Every failure to talk to DynamoDB surfaces as AnnouncementStoreError. The
    clients are built on first use and kept: they are thread-safe and hold the
    connection pool, so a process makes one per store.
    """

    def __init__(
        self,
        table_name: str,
        *,
        region: str,
        connect_timeout: float,
        read_timeout: float,
        page_size: int | None = None,
    ) -> None:
        self.table_name = table_name
        self.region = region
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        # Items per Query page; None lets DynamoDB fill its 1 MB pages.
        self.page_size = page_size
        self._session: boto3.session.Session | None = None
        self._clients: dict[int, Any] = {}
        # Building a client reads config files and loads service models, and a
        # boto3 session is not thread-safe; the lock serialises the first requests.
        self._clients_lock = threading.Lock()

    @classmethod
    def from_settings(cls) -> AnnouncementStore:
        return cls(
            settings.ANNOUNCEMENTS_TABLE,
            region=settings.AWS_REGION,
            connect_timeout=settings.DYNAMODB_CONNECT_TIMEOUT,
            read_timeout=settings.DYNAMODB_READ_TIMEOUT,
        )

    # --- clients -------------------------------------------------------------------

    def _client(self, profile: str = "request") -> Any:
        client = self._clients.get(profile)
        if client is None:
            with self._clients_lock:
                client = self._clients.get(profile)
                if client is None:
                    max_attempts, read_timeout = {
                        # One retry at most: a page waits for DynamoDB no longer than
                        # 2 x (connect + read timeout) plus a short back-off.
                        "request": (2, self.read_timeout),
                        # A probe never waits through a retry.
                        "probe": (1, self.read_timeout),
                        # Table setup runs from a deploy job, not a page: patience is
                        # cheaper than a timed-out CreateTable retried into "in use".
                        "setup": (3, max(self.read_timeout, SETUP_READ_TIMEOUT)),
                    }[profile]
                    config = Config(
                        region_name=self.region,
                        connect_timeout=self.connect_timeout,
                        read_timeout=read_timeout,
                        retries={"mode": "standard", "total_max_attempts": max_attempts},
                    )
                    # The store's own session: boto3's default session is module state
                    # that is not safe to create clients from in several threads. The
                    # endpoint comes from AWS_ENDPOINT_URL_DYNAMODB when set.
                    if self._session is None:
                        self._session = boto3.session.Session()
                    client = self._session.client("dynamodb", config=config)
                    self._clients[profile] = client
        return client

    @property
    def client(self) -> Any:
        """The client of list/get/put/delete: two attempts per call, the settings' timeouts."""
        return self._client("request")

    @property
    def health_client(self) -> Any:
        """The client ``health`` uses: one attempt, so a probe waits one timeout at most."""
        return self._client("probe")

    def _call(self, operation: str, *, profile: str = "request", **params: Any) -> dict[str, Any]:
        try:
            client = self._client(profile)
        except (BotoCoreError, ValueError) as e:
            # botocore raises a bare ValueError for a malformed endpoint URL.
            raise AnnouncementStoreError("InvalidConfiguration", f"{type(e).__name__}: {e}") from e
        try:
            return getattr(client, operation)(**params)
        except ClientError as e:
            self._count_error(operation, profile, e)
            error = e.response.get("Error", {})
            raise AnnouncementStoreError(_error_code(e), error.get("Message", str(e))) from e
        except BotoCoreError as e:
            self._count_error(operation, profile, e)
            raise AnnouncementStoreError(_error_code(e), str(e)) from e

    @staticmethod
    def _count_error(operation: str, profile: str, error: Exception) -> None:
        # The table setup's calls expect errors (a table not there yet) and are not
        # the app's traffic; the pages', the back office's and the probe's are.
        if profile != "setup":
            metrics.dynamodb_error(operation=operation, code=_error_code(error))

    # --- items -----------------------------------------------------------------------

    def _key(self, announcement_id: str) -> dict[str, dict[str, str]]:
        return {"pk": {"S": PARTITION}, "sk": {"S": announcement_id}}

    def _pages(self) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {
            "TableName": self.table_name,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": "pk"},
            "ExpressionAttributeValues": {":pk": {"S": PARTITION}},
            # Strongly consistent: the list read right after a staff edit (and then
            # cached for a while) must include that edit.
            "ConsistentRead": True,
        }
        if self.page_size:
            params["Limit"] = self.page_size
        while True:
            page = self._call("query", **params)
            yield page
            last_key = page.get("LastEvaluatedKey")
            if not last_key:
                return
            params["ExclusiveStartKey"] = last_key

    def list_all(self) -> list[Announcement]:
        """Every announcement in the table, expired ones included, in id order."""
        announcements = []
        for page in self._pages():
            for item in page.get("Items", []):
                try:
                    announcements.append(from_item(item))
                except (KeyError, TypeError, ValueError) as e:
                    # Someone edited the table by hand; one bad item must not hide the rest.
                    logger.warning(
                        "skipping malformed announcement item",
                        extra={"table": self.table_name, "sk": str(item.get("sk"))[:100], "error": str(e)},
                    )
        return announcements

    def get(self, announcement_id: str) -> Announcement | None:
        if not is_valid_id(announcement_id):
            return None
        response = self._call(
            "get_item", TableName=self.table_name, Key=self._key(announcement_id), ConsistentRead=True
        )
        item = response.get("Item")
        if item is None:
            return None
        try:
            return from_item(item)
        except (KeyError, TypeError, ValueError) as e:
            raise AnnouncementStoreError("MalformedItem", f"{announcement_id}: {e}") from e

    def put(self, announcement: Announcement) -> None:
        """Create or replace the announcement with this id."""
        self._call("put_item", TableName=self.table_name, Item=to_item(announcement))
        invalidate_cache(self.table_name)

    def delete(self, announcement_id: str) -> bool:
        """Delete it; False if there was nothing to delete."""
        if not is_valid_id(announcement_id):
            return False
        response = self._call(
            "delete_item", TableName=self.table_name, Key=self._key(announcement_id), ReturnValues="ALL_OLD"
        )
        invalidate_cache(self.table_name)
        return "Attributes" in response

    # --- table -------------------------------------------------------------------------

    def create_table(self, *, wait: bool = True) -> TableSetup:
        """Create the table if it does not exist and switch on TTL; safe to run again.

        With ``wait`` it waits until the table is ACTIVE, which DynamoDB needs before
        TTL can be enabled; without, a newly created table reports TTL "pending"
        and a second run finishes the job.
        """
        try:
            self._call(
                "create_table",
                profile="setup",
                TableName=self.table_name,
                AttributeDefinitions=[
                    {"AttributeName": "pk", "AttributeType": "S"},
                    {"AttributeName": "sk", "AttributeType": "S"},
                ],
                KeySchema=[
                    {"AttributeName": "pk", "KeyType": "HASH"},
                    {"AttributeName": "sk", "KeyType": "RANGE"},
                ],
                BillingMode="PAY_PER_REQUEST",
            )
            created = True
        except AnnouncementStoreError as e:
            if e.code != "ResourceInUseException":
                raise
            created = False

        if wait:
            try:
                self._client("setup").get_waiter("table_exists").wait(
                    TableName=self.table_name, WaiterConfig={"Delay": 2, "MaxAttempts": 90}
                )
            except WaiterError as e:
                raise AnnouncementStoreError("WaiterError", str(e)) from e
        table = self._call("describe_table", profile="setup", TableName=self.table_name)["Table"]
        self._check_key_schema(table)
        if table["TableStatus"] != "ACTIVE":
            return TableSetup(self.table_name, created, "pending")
        return TableSetup(self.table_name, created, self._enable_ttl())

    def _check_key_schema(self, table: dict[str, Any]) -> None:
        keys = {k["AttributeName"]: k["KeyType"] for k in table.get("KeySchema", [])}
        types = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])}
        if keys != {"pk": "HASH", "sk": "RANGE"} or types.get("pk") != "S" or types.get("sk") != "S":
            raise AnnouncementStoreError(
                "WrongKeySchema",
                f"table {self.table_name} exists but is not keyed on pk (S, HASH) and sk (S, RANGE); "
                "it belongs to something else or must be recreated",
            )

    def _enable_ttl(self) -> str:
        description = self._call("describe_time_to_live", profile="setup", TableName=self.table_name)[
            "TimeToLiveDescription"
        ]
        status = description.get("TimeToLiveStatus")
        attribute = description.get("AttributeName")
        if status in ("ENABLED", "ENABLING"):
            if attribute != TTL_ATTRIBUTE:
                raise AnnouncementStoreError(
                    "WrongTtlAttribute",
                    f"TTL on {self.table_name} uses {attribute!r}, not {TTL_ATTRIBUTE!r}; fix it by hand",
                )
            return "already enabled"
        self._call(
            "update_time_to_live",
            profile="setup",
            TableName=self.table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": TTL_ATTRIBUTE},
        )
        return "enabled"

    def health(self) -> dict[str, Any]:
        """DescribeTable, one attempt: at worst the connect plus read timeout. Never raises.

        ``detail`` is a status or an error code only, never a message that could
        carry an endpoint address or an account id.
        """
        started = time.monotonic()
        try:
            table = self._call("describe_table", profile="probe", TableName=self.table_name)["Table"]
        except AnnouncementStoreError as e:
            status, detail = "error", e.code
        else:
            detail = table.get("TableStatus", "UNKNOWN")
            status = "ok" if detail in ("ACTIVE", "UPDATING") else "error"
        return {
            "status": status,
            "table": self.table_name,
            "detail": detail,
            "latency_ms": round((time.monotonic() - started) * 1000, 1),
        }


# --- the process-wide store -----------------------------------------------------------------

_store: AnnouncementStore | None = None
_store_lock = threading.Lock()


def get_store() -> AnnouncementStore:
    """The store of this process, built from settings on first use."""
    global _store
    store = _store
    if store is None:
        with _store_lock:
            if _store is None:
                _store = AnnouncementStore.from_settings()
            store = _store
    return store


def reset_store() -> None:
    """Forget the process's store, so the next ``get_store`` reads settings and env again."""
    global _store
    with _store_lock:
        _store = None


_STORE_SETTINGS = {
    "ANNOUNCEMENTS_TABLE",
    "AWS_REGION",
    "DYNAMODB_CONNECT_TIMEOUT",
    "DYNAMODB_READ_TIMEOUT",
}


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in _STORE_SETTINGS:
        reset_store()


setting_changed.connect(_on_setting_changed, dispatch_uid="chairtime.announcements.store")


# --- cached reads for the public pages -----------------------------------------------------------

_UNAVAILABLE = "unavailable"


def _generation_key(table_name: str) -> str:
    return f"announcements:{table_name}:generation"


def _list_key(table_name: str) -> str:
    # The list is cached under the table's current generation, and a write sets a
    # new generation instead of deleting the list. That closes the race where a
    # read that began before a write stores its (now stale) result after the
    # write's invalidation: it lands under the old generation, which nobody reads.
    generation = cache.get(_generation_key(table_name), "0")
    return f"announcements:{table_name}:list:{generation}"


def invalidate_cache(table_name: str | None = None) -> None:
    """Make the next ``current_announcements`` in this process read DynamoDB again.

    With a per-process cache (LocMem) other processes catch up when their copy
    expires, within ANNOUNCEMENTS_CACHE_SECONDS; a shared cache makes it immediate.
    """
    table_name = table_name or get_store().table_name
    cache.set(_generation_key(table_name), secrets.token_hex(8), timeout=None)


def _cached_announcements() -> tuple[Announcement, ...]:
    store = get_store()
    key = _list_key(store.table_name)
    cached = cache.get(key)
    if cached == _UNAVAILABLE:
        return ()
    if cached is not None:
        return cached
    try:
        announcements = tuple(newest_first(store.list_all()))
    except AnnouncementStoreError as e:
        logger.warning(
            "announcements unavailable, pages show none",
            extra={
                "table": store.table_name,
                "error": e.code,
                "detail": e.detail[:200],
                "retry_in_seconds": FAILURE_CACHE_SECONDS,
            },
        )
        cache.set(key, _UNAVAILABLE, FAILURE_CACHE_SECONDS)
        return ()
    cache.set(key, announcements, settings.ANNOUNCEMENTS_CACHE_SECONDS)
    return announcements


def current_announcements(now: datetime | None = None) -> list[Announcement]:
    """The announcements to show at ``now``, most recently started first.

    Served from the cache (ANNOUNCEMENTS_CACHE_SECONDS), so a page view normally
    makes no DynamoDB request. The whole list is cached and the time window
    applied here, so an announcement appears and disappears on time whatever
    the cache holds. Never raises for a DynamoDB problem: returns [] instead.
    """
    now = now or timezone.now()
    return [a for a in _cached_announcements() if a.is_visible(now)]
