"""current_announcements(): what public pages show, through the cache, failing soft."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta

import time_machine

from chairtime.announcements.store import (
    FAILURE_CACHE_SECONDS,
    Announcement,
    current_announcements,
    get_store,
    reset_store,
)
from chairtime.announcements.tests.fixtures import record_requests

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)


def make(text: str, **kwargs) -> Announcement:
    return Announcement.new(text=text, now=kwargs.pop("now", NOW), **kwargs)


def announcement_warnings(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "chairtime.announcements" and r.levelno == logging.WARNING]


def test_it_shows_only_what_is_visible_at_the_given_time(announcement_store):
    always = make("Always")
    window = make(
        "Holiday hours",
        starts_at=datetime(2026, 12, 20, tzinfo=UTC),
        ends_at=datetime(2027, 1, 2, tzinfo=UTC),
    )
    ended = make("Old news", ends_at=datetime(2026, 11, 1, tzinfo=UTC))
    for announcement in (always, window, ended):
        announcement_store.put(announcement)

    assert current_announcements(now=datetime(2026, 12, 19, 23, 59, tzinfo=UTC)) == [always]
    assert current_announcements(now=datetime(2026, 12, 20, tzinfo=UTC)) == [window, always]
    assert current_announcements(now=datetime(2027, 1, 2, tzinfo=UTC)) == [always]


def test_it_sorts_the_most_recently_started_first(announcement_store):
    old = make("Created long ago", now=NOW - timedelta(days=30))
    recent = make("Created yesterday", now=NOW - timedelta(days=1))
    started_today = make("Created long ago, starts today", starts_at=NOW, now=NOW - timedelta(days=60))
    for announcement in (old, recent, started_today):
        announcement_store.put(announcement)

    assert current_announcements(now=NOW) == [started_today, recent, old]


def test_it_uses_the_real_clock_by_default(announcement_store):
    with time_machine.travel(datetime(2026, 12, 24, 12, 0, tzinfo=UTC), tick=False):
        announcement_store.put(make("Christmas Eve", starts_at=datetime(2026, 12, 24, tzinfo=UTC)))
        announcement_store.put(make("After Christmas", starts_at=datetime(2026, 12, 27, tzinfo=UTC)))

        assert [a.text for a in current_announcements()] == ["Christmas Eve"]


def test_it_serves_repeated_reads_from_the_cache_without_dynamodb(announcement_store, dynamodb_requests):
    announcement = make("Cached", starts_at=NOW, ends_at=NOW + timedelta(hours=1))
    announcement_store.put(announcement)
    dynamodb_requests.clear()

    assert current_announcements(now=NOW) == [announcement]
    assert dynamodb_requests == ["Query"]

    # The window is applied to the cached list, so it still ends on time.
    assert current_announcements(now=NOW + timedelta(minutes=30)) == [announcement]
    assert current_announcements(now=NOW + timedelta(hours=1)) == []
    assert current_announcements(now=NOW - timedelta(seconds=1)) == []
    assert dynamodb_requests == ["Query"]


def test_it_reads_dynamodb_again_once_the_cache_expires(announcement_store, dynamodb_requests, settings):
    settings.ANNOUNCEMENTS_CACHE_SECONDS = 30
    current_announcements(now=NOW)
    assert dynamodb_requests == ["Query"]

    with time_machine.travel(time.time() + 29, tick=False):
        current_announcements(now=NOW)
    assert dynamodb_requests == ["Query"]

    with time_machine.travel(time.time() + 31, tick=False):
        current_announcements(now=NOW)
    assert dynamodb_requests == ["Query", "Query"]


def test_it_caches_nothing_when_the_cache_period_is_zero(announcement_store, settings):
    settings.ANNOUNCEMENTS_CACHE_SECONDS = 0
    requests = record_requests(get_store().client)

    current_announcements(now=NOW)
    current_announcements(now=NOW)

    assert requests == ["Query", "Query"]


def test_it_shows_a_new_announcement_at_once_after_a_put(announcement_store, dynamodb_requests):
    assert current_announcements(now=NOW) == []
    announcement = make("Fresh")

    announcement_store.put(announcement)

    assert current_announcements(now=NOW) == [announcement]
    assert dynamodb_requests == ["Query", "PutItem", "Query"]


def test_it_hides_an_announcement_at_once_after_a_delete(announcement_store):
    announcement = make("Soon gone")
    announcement_store.put(announcement)
    assert current_announcements(now=NOW) == [announcement]

    announcement_store.delete(announcement.id)

    assert current_announcements(now=NOW) == []


def test_it_does_not_let_a_read_that_raced_a_write_cache_stale_data(announcement_store, dynamodb_requests):
    announcement = make("Saved while a page was reading")
    written = []

    def staff_saves_after_the_page_query(**kwargs) -> None:
        # The page's Query has its (empty) answer; its result is not cached yet.
        if not written:
            written.append(True)
            announcement_store.put(announcement)

    announcement_store.client.meta.events.register(
        "after-call.dynamodb.Query", staff_saves_after_the_page_query
    )

    assert current_announcements(now=NOW) == []  # the page that raced the write
    assert current_announcements(now=NOW) == [announcement]
    assert dynamodb_requests == ["Query", "PutItem", "Query"]


def test_it_returns_nothing_and_warns_once_when_dynamodb_refuses_connections(refused_endpoint, caplog):
    started = time.monotonic()

    assert current_announcements(now=NOW) == []

    # Not botocore's 60 s default wait: a refused connection fails at once, and this
    # bound only has to stay clear of a loaded machine (8 s seen at load 17).
    assert time.monotonic() - started < 20
    [warning] = announcement_warnings(caplog)
    assert warning.error == "EndpointConnectionError"
    assert warning.exc_info is None  # one line, no stack trace


def test_it_remembers_a_failure_briefly_so_pages_do_not_each_wait(refused_endpoint, caplog):
    requests = record_requests(get_store().client)

    for _ in range(5):
        assert current_announcements(now=NOW) == []

    assert requests == ["Query"]
    assert len(announcement_warnings(caplog)) == 1

    with time_machine.travel(time.time() + FAILURE_CACHE_SECONDS + 1, tick=False):
        assert current_announcements(now=NOW) == []
    assert requests == ["Query", "Query"]
    assert len(announcement_warnings(caplog)) == 2


def test_it_returns_nothing_when_dynamodb_hangs(hanging_endpoint, caplog, settings):
    started = time.monotonic()

    assert current_announcements(now=NOW) == []

    # A loose bound: two attempts, at most 1 s of back-off, slack for a busy machine.
    attempt = settings.DYNAMODB_CONNECT_TIMEOUT + settings.DYNAMODB_READ_TIMEOUT
    assert time.monotonic() - started < 2 * attempt + 3
    [warning] = announcement_warnings(caplog)
    assert warning.error == "ReadTimeoutError"


def test_it_returns_nothing_when_the_table_is_missing(announcement_store, settings, caplog):
    announcement_store.put(make("In the other table"))
    settings.ANNOUNCEMENTS_TABLE = "chairtime-announcements-missing"

    assert current_announcements(now=NOW) == []

    [warning] = announcement_warnings(caplog)
    assert warning.error == "ResourceNotFoundException"
    assert warning.table == "chairtime-announcements-missing"


def test_it_returns_nothing_without_credentials(announcement_store, monkeypatch, caplog):
    announcement_store.put(make("Needs credentials to be seen"))
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    reset_store()

    assert current_announcements(now=NOW) == []

    [warning] = announcement_warnings(caplog)
    assert warning.error == "NoCredentialsError"


def test_it_is_available_to_templates_as_a_lazy_variable(announcement_store, rf):
    from django.template import engines

    announcement_store.put(make("Shown on the page"))
    template = engines["django"].from_string(
        "{% for a in announcements %}<p>{{ a.text }}</p>{% empty %}none{% endfor %}"
    )
    requests = record_requests(get_store().client)

    unused = engines["django"].from_string("no announcements here").render({}, rf.get("/"))
    assert requests == []
    html = template.render({}, rf.get("/"))

    assert unused == "no announcements here"
    assert html == "<p>Shown on the page</p>"
    assert requests == ["Query"]
