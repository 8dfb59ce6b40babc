from __future__ import annotations

import datetime as dt
import json
import logging
import re
import sys
import time
from typing import Any

# A customer's manage link is /booking/<token>/...: whatever stands in that
# segment is a token, or a mangled copy of one (a slash missing, a suffix added),
# whether or not the URL resolves.
_BOOKING_SEGMENT = re.compile(r"(/booking/)[^/?#\s\"']+")
# A token anywhere else (the API, a mistyped link): Django's signed value,
# base64url runs joined by colons (percent-encoded in a raw request line), 70
# characters or so. Twenty or more tell it from a time of day such as 10:00.
_SIGNED_VALUE = re.compile(r"[A-Za-z0-9_-]*(?:(?::|%3[Aa])[A-Za-z0-9_-]*)+")
_SIGNED_VALUE_MIN_LENGTH = 20
# A query string, up to the end of the target in a raw request line.
_QUERY = re.compile(r"\?[^\s\"']*")
TOKEN = "<token>"  # noqa: S105 - the placeholder written instead of one


def redact_path(path: str) -> str:
    """``path`` (or a raw request line) without query string and manage tokens."""
    if "?" in path:
        path = _QUERY.sub("", path)
    if "/booking/" in path:
        path = _BOOKING_SEGMENT.sub(r"\1" + TOKEN, path)
    if ":" in path or "%3" in path:
        path = _SIGNED_VALUE.sub(_token_if_long, path)
    return path


def _token_if_long(match: re.Match[str]) -> str:
    return TOKEN if len(match[0]) >= _SIGNED_VALUE_MIN_LENGTH else match[0]


class RedactPaths(logging.Filter):
    """On the handler every line goes through, for the loggers that write request
    paths themselves: Django's development server (``django.server``: the raw
    request line, query string included, of every 4xx under ``make run``),
    ``django.request`` (the path of a 500) and ``django.security.*``.

    The message and its arguments go through ``redact_path``; the ``request``
    they attach goes: the development server's is the client's socket (its
    address), Django's HttpRequest prints as its path and query string."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = redact_path(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact_path(arg) if isinstance(arg, str) else arg for arg in record.args)
        record.__dict__.pop("request", None)
        return True


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


# What every LogRecord has; anything else on a record is an extra field of the line.
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    try:
        return str(value)
    except Exception:  # a log line must not fail over one field
        return repr(value)


# One encoder for every line: json.dumps(default=...) builds a new one per call.
_ENCODER = json.JSONEncoder(default=_jsonable)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time``, ``level``, ``logger``, ``message``,
    ``request_id``, ``exc_info`` and ``stack_info`` when there are any, then the
    record's extra fields (those not starting with an underscore).

    The lines python-json-logger wrote with our settings, key for key, at a
    third of its cost: it looked up every field through its format string and
    rename table, and formatted the time from scratch for every line.
    """

    def __init__(self) -> None:
        super().__init__()
        self._second: tuple[int, str] = (-1, "")

    def _time(self, record: logging.LogRecord) -> str:
        # logging's default asctime ("2026-12-07 00:48:29,740"), strftime'd once a second.
        second, text = self._second
        if int(record.created) != second:
            second = int(record.created)
            text = time.strftime("%Y-%m-%d %H:%M:%S", self.converter(record.created))
            self._second = (second, text)
        return f"{text},{int(record.msecs):03d}"

    def format(self, record: logging.LogRecord) -> str:
        message_fields = record.msg.copy() if isinstance(record.msg, dict) else None
        line: dict[str, Any] = {
            "time": self._time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": "" if message_fields is not None else record.getMessage(),
            "request_id": record.__dict__.get("request_id"),
        }
        if message_fields:
            line.update(message_fields)
        if record.exc_info:
            line["exc_info"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc_info"] = record.exc_text
        if record.stack_info:
            line["stack_info"] = self.formatStack(record.stack_info)
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                line[key] = value
        return _ENCODER.encode(line)
