"""Browser tests: Playwright drives the Chromium that Debian ships (no downloaded browsers)."""

from __future__ import annotations

import pytest

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict) -> dict:
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "headless": True,
        "args": [
            "--no-sandbox",  # the test container runs as root
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            # Nothing but the live server: no update checks, no component downloads.
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }
