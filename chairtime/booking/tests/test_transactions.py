"""run_durable: a transaction the database aborts to break a deadlock runs again;
any other failure does not."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import OperationalError, connection, connections

from chairtime.booking.models import Stylist
from chairtime.booking.tests.factories import StylistFactory
from chairtime.booking.transactions import ATTEMPTS, run_durable

pytestmark = pytest.mark.concurrency


@pytest.mark.skipif(connection.vendor == "sqlite", reason="SQLite serialises writers: no deadlock to stage")
def test_it_runs_a_transaction_again_when_the_database_breaks_a_deadlock(transactional_db, caplog):
    first, second = StylistFactory(), StylistFactory()
    both_hold_one = threading.Barrier(2)
    runs = {"ab": 0, "ba": 0}

    def lock_in_order(name: str, order: list[int]) -> str:
        def work() -> str:
            runs[name] += 1
            Stylist.objects.select_for_update().get(pk=order[0])
            if runs[name] == 1:
                both_hold_one.wait(timeout=10)  # each holds one row and wants the other
            Stylist.objects.select_for_update().get(pk=order[1])
            Stylist.objects.filter(pk=order[1]).update(position=runs[name])
            return name

        try:
            return run_durable(work, what=f"test {name}")
        finally:
            connections.close_all()

    with ThreadPoolExecutor(2) as pool:
        done = list(pool.map(lock_in_order, ["ab", "ba"], [[first.pk, second.pk], [second.pk, first.pk]]))

    assert done == ["ab", "ba"]
    assert sorted(runs.values()) == [1, 2]  # the database aborted one, which ran again
    assert "lock conflict, retrying" in caplog.text


def test_it_does_not_retry_a_database_that_is_down(db):
    calls = []

    def work() -> None:
        calls.append(1)
        raise OperationalError("could not connect to server: Connection refused")

    with pytest.raises(OperationalError):
        run_durable(work, what="test")
    assert len(calls) == 1


@pytest.mark.skipif(connection.vendor != "mysql", reason="MySQL's error number")
def test_it_gives_up_after_a_bounded_number_of_attempts(db, monkeypatch):
    monkeypatch.setattr("chairtime.booking.transactions._BACKOFF_SECONDS", 0)
    calls = []

    def work() -> None:
        calls.append(1)
        raise OperationalError(1213, "Deadlock found when trying to get lock; try restarting transaction")

    with pytest.raises(OperationalError):
        run_durable(work, what="test")
    assert len(calls) == ATTEMPTS
