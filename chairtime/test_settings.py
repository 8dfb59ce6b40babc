"""Settings for the test suite: the real settings with local-development defaults.

pytest-django imports this before any conftest runs, so the defaults are set here.
Anything given in the environment (DATABASE_URL above all) still wins.
"""

import os

os.environ.setdefault("DEBUG", "true")
os.environ.setdefault("LOG_LEVEL", "WARNING")

from chairtime.settings import *  # noqa: F403
