from __future__ import annotations

import logging
import sys


class StdoutHandler(logging.StreamHandler):
    """A StreamHandler bound to whatever ``sys.stdout`` is when a record is written,
    not when logging was configured: test runners and debuggers swap stdout, and a
    handler holding the old one writes to a closed file."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:
        pass
