"""Settings for the test suite: the real settings with local-development defaults.

pytest-django imports this before any conftest runs, so the defaults are set here.
Anything given in the environment (DATABASE_URL above all) still wins.
"""

import os

os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("LOG_LEVEL", "WARNING")
# The suite books and cancels many times a minute from 127.0.0.1, and servers the
# tests start inherit this environment: production rate limits would turn those
# requests into 429s. The rate-limit tests (ops/tests/test_security.py) set theirs.
os.environ.setdefault("BOOKING_RATE_LIMIT", "10000/m")
os.environ.setdefault("CANCEL_RATE_LIMIT", "10000/m")
# Off: tests move the clock within a test; test_microcache.py switches it on.
os.environ.setdefault("AVAILABILITY_CACHE_SECONDS", "0")

from chairtime.settings import *  # noqa: F403
from chairtime.settings import BASE_DIR, DATABASES

# One test database per test run, so two runs at once (two terminals, or the
# PostgreSQL and MariaDB jobs of one CI run) never drop each other's tables.
_run = os.getpid()
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    DATABASES["default"]["TEST"]["NAME"] = str(BASE_DIR / "var" / f"test-chairtime-{_run}.sqlite3")
else:
    DATABASES["default"]["TEST"]["NAME"] = f"test_chairtime_{_run}"

# Hashing a password the production way takes most of a second here; tests make many.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
