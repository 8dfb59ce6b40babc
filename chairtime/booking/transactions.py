"""Write transactions that survive lock conflicts.

The booking services take their locks in one global order (booking request key,
then stylists by primary key), so they cannot deadlock one another. Other writers
(the back office, ``load_salon``) and the database's own internal locks (InnoDB's
gap and insert-intention locks on unique indexes, foreign-key checks on the parent
row) can still close a cycle or outwait ``innodb_lock_wait_timeout``. The database
then aborts one transaction; it has written nothing, so running it again from the
start is safe and is what the database asks for. A customer must never see that
as a 500 or a 503.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, connection, transaction

logger = logging.getLogger("chairtime.booking")

T = TypeVar("T")

# Enough for a storm of a thousand concurrent bookings (bench/, test_storm.py) to
# see none escape; few enough that a real outage still fails within a second.
ATTEMPTS = 6
_BACKOFF_SECONDS = 0.02

# MySQL/MariaDB error numbers: 1213 deadlock found, 1205 lock wait timeout.
_MYSQL_CONFLICTS = frozenset({1205, 1213})
# PostgreSQL SQLSTATEs: deadlock_detected, serialization_failure, lock_not_available.
_POSTGRES_CONFLICTS = frozenset({"40P01", "40001", "55P03"})


def is_lock_conflict(error: BaseException) -> bool:
    """True when the database aborted a transaction to break a lock conflict
    (as opposed to being unreachable, which is no reason to retry at once)."""
    if not isinstance(error, OperationalError):
        return False
    cause = error.__cause__
    if connection.vendor == "mysql":
        return bool(error.args) and error.args[0] in _MYSQL_CONFLICTS
    if connection.vendor == "postgresql":
        return getattr(cause, "sqlstate", None) in _POSTGRES_CONFLICTS
    if connection.vendor == "sqlite":
        # BEGIN IMMEDIATE waited longer than the busy timeout for the writer lock.
        return "database is locked" in str(error)
    return False


def run_durable(work: Callable[[], T], *, what: str) -> T:
    """Run ``work`` in one durable transaction; when the database aborts it to
    break a deadlock or a lock wait, run it again from the start, up to ATTEMPTS
    times, with a short random back-off so the contenders do not meet again."""
    for attempt in range(1, ATTEMPTS + 1):
        try:
            with transaction.atomic(durable=True):
                return work()
        except OperationalError as e:
            if attempt == ATTEMPTS or not is_lock_conflict(e):
                raise
            logger.warning(
                "lock conflict, retrying",
                extra={"operation": what, "attempt": attempt, "error": str(e)[:200]},
            )
            time.sleep(random.uniform(0, _BACKOFF_SECONDS * 2**attempt))  # noqa: S311 - jitter, not security
    raise AssertionError("unreachable")  # pragma: no cover
