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
