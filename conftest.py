"""Test-suite wide setup.

The suite runs against whatever DATABASE_URL names (SQLite by default; CI also runs
it against PostgreSQL and MariaDB) and always against a real DynamoDB-compatible
server on loopback (moto), started once per session.
"""

pytest_plugins = ["chairtime.announcements.tests.fixtures", "chairtime.booking.tests.fixtures"]
