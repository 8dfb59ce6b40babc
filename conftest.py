"""Test-suite wide setup.

The suite runs against whatever DATABASE_URL names (SQLite by default; CI also runs
it against PostgreSQL and MariaDB) and always against a real DynamoDB-compatible
server on loopback (moto), started once per session.
"""

import os

# Tests run with the local-development defaults; nothing here may reach real AWS.
os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("LOG_LEVEL", "WARNING")

pytest_plugins = ["chairtime.announcements.tests.fixtures", "chairtime.booking.tests.fixtures"]
