"""What each middleware of the stack costs per request, in process.

    DJANGO_SETTINGS_MODULE=bench.settings DATABASE_URL=... SECRET_KEY=... \\
        .venv/bin/python -m bench.stack_profile [--requests 5000] [--path /bench/trivial] [--cprofile]

Calls the WSGI application in a loop, as gunicorn does (environ in, body
iterated, response closed), with a timing mark between every two middlewares:
a middleware's own time is what passes between the marks around it on the way
in plus on the way out. Reported: the CPU time of the whole request without
marks, then each middleware's median in microseconds, the marks' own cost
subtracted. Run it with DJANGO_SETTINGS_MODULE=bench.bare_settings for the bare
Django project. ``--cprofile`` prints the top functions by their own time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import time
from collections.abc import Callable

import django
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.test.utils import override_settings

MARK = "bench.stack_profile.Mark"
_marks: list[tuple[int, int]] = []  # (mark index, perf_counter_ns), in order of passage


class Mark:
    """Notes the time a request passes it on the way in and out."""

    index = 0

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        self.index = Mark.index
        Mark.index += 1

    def __call__(self, request):
        _marks.append((self.index, time.perf_counter_ns()))
        response = self.get_response(request)
        _marks.append((self.index, time.perf_counter_ns()))
        return response


def environ(path: str) -> dict:
    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_HOST": "127.0.0.1",
        "HTTP_USER_AGENT": "wrk",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.version": (1, 0),
    }


def _start_response(status, headers, exc_info=None):
    return None


def serve_one(app: WSGIHandler, path: str) -> int:
    began = time.perf_counter_ns()
    response = app(environ(path), _start_response)
    for _chunk in response:
        pass
    response.close()
    return time.perf_counter_ns() - began


def whole_request(app: WSGIHandler, path: str, count: int) -> float:
    """Microseconds of CPU per request, in batches of 100 (the median batch):
    CPU time, so that other work on a shared machine does not count."""
    for _ in range(200):
        serve_one(app, path)
    batches = []
    for _ in range(max(1, count // 100)):
        began = time.process_time_ns()
        for _ in range(100):
            serve_one(app, path)
        batches.append((time.process_time_ns() - began) / 100 / 1000)
    return statistics.median(batches)


def _passages(app: WSGIHandler, path: str) -> dict[int, list[int]]:
    """Mark position (0 = outermost) -> the times the request passed it."""
    _marks.clear()
    serve_one(app, path)
    # Django builds the chain from the innermost middleware out.
    last = Mark.index - 1
    passages: dict[int, list[int]] = {}
    for index, at in _marks:
        passages.setdefault(last - index, []).append(at)
    return passages


def per_middleware(path: str, count: int) -> list[tuple[str, float]]:
    names = list(settings.MIDDLEWARE)
    marked = [MARK]
    for name in names:
        marked += [name, MARK]
    # Two marks in a row: what one mark costs, to take off every slot.
    marked_empty = [MARK, MARK, MARK, *names]
    slots: dict[int, list[float]] = {}
    with override_settings(MIDDLEWARE=marked_empty):
        Mark.index = 0
        app = WSGIHandler()
        overhead = []
        for n in range(count + 200):
            t = _passages(app, path)
            if n >= 200:
                overhead.append(((t[1][0] - t[0][0]) + (t[0][1] - t[1][1])) / 1000)
        mark_cost = statistics.median(overhead)
    with override_settings(MIDDLEWARE=marked):
        Mark.index = 0
        app = WSGIHandler()
        for n in range(count + 200):
            t = _passages(app, path)
            if n < 200:
                continue
            for i in range(len(names)):
                into, back = t[i], t[i + 1]
                # In, then out again (a middleware that answers itself passes the
                # inner mark only once, or not at all).
                own = (back[0] - into[0] + into[-1] - back[-1]) if len(back) == 2 else into[-1] - into[0]
                slots.setdefault(i, []).append(own / 1000 - mark_cost)
    rows = [(name, statistics.median(slots.get(i, [0.0]))) for i, name in enumerate(names)]
    rows.append(("(one timing mark, subtracted above)", mark_cost))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--path", default="/bench/trivial")
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument("--whole-only", action="store_true")
    args = parser.parse_args()
    django.setup()
    # gunicorn's stdout takes the log lines; here they are written to nowhere.
    sys.stdout = open("/dev/null", "w")  # noqa: SIM115
    out = sys.__stdout__
    app = WSGIHandler()
    whole = whole_request(app, args.path, args.requests)
    print(f"{settings.SETTINGS_MODULE}: whole request {whole:.1f} us", file=out)
    if args.whole_only:
        return
    for name, micros in per_middleware(args.path, args.requests):
        print(f"  {name:64} {micros:7.1f} us", file=out)
    if args.cprofile:
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in range(args.requests):
            serve_one(app, args.path)
        profiler.disable()
        text = io.StringIO()
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(30)
        print(text.getvalue(), file=out)


if __name__ == "__main__":
    # Through the importable module: the settings name bench.stack_profile.Mark,
    # whose marks must land in the list this run reads.
    from bench.stack_profile import main as imported_main

    imported_main()
