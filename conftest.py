"""Test-suite wide setup.

The suite runs against whatever DATABASE_URL names (SQLite by default; CI also runs
it against PostgreSQL and MariaDB) and always against a real DynamoDB-compatible
server on loopback (moto), started once per session.
"""

import pytest

pytest_plugins = ["chairtime.announcements.tests.fixtures", "chairtime.booking.tests.fixtures"]


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Every test starts with an empty cache: the salon's time zone, announcements
    and probe results are cached per process and must not leak between tests."""
    from django.core.cache import cache

    from chairtime.booking import catalog

    cache.clear()
    catalog.clear()
    yield
    cache.clear()
    catalog.clear()


@pytest.fixture(autouse=True)
def _default_language():
    """Every test starts in the default language. LocaleMiddleware activates each
    request's language in the thread and leaves it there: after a test that sent
    Accept-Language: fr, the next one's service calls would book in French (the
    visit keeps it) and its e-mails be written in French."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


# --- make test: the tests that do not touch the database run once -------------------
# The PostgreSQL and MariaDB runs of `make test` pass --database-tests-only: a test
# that asks for no database (pure booking rules, the deploy tools) cannot answer
# differently there, and it already ran on SQLite.
_DATABASE_FIXTURES = frozenset(
    {
        "db",
        "transactional_db",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
        "django_db_setup",
        "live_server",
    }
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database-tests-only",
        action="store_true",
        help="run only the tests that use the database (make test runs the others once, on SQLite)",
    )


def uses_database(item: pytest.Item) -> bool:
    return bool(item.get_closest_marker("django_db")) or not _DATABASE_FIXTURES.isdisjoint(
        getattr(item, "fixturenames", ())
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("database_tests_only"):
        return
    dropped = [item for item in items if not uses_database(item)]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if uses_database(item)]
