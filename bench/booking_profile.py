"""Where a booking's time goes, in process: the bench's two-service visits booked
one after another through Django's test client (the whole middleware stack and
the API), against a real database.

    DJANGO_SETTINGS_MODULE=bench.settings DEBUG=false SECRET_KEY=x ALLOWED_HOSTS=testserver \\
        BOOKING_RATE_LIMIT=1000000/s DATABASE_URL=postgres://postgres@127.0.0.1:5432/chairtime_prof \\
        .venv/bin/python -m bench.booking_profile [--setup] [--visits 200] [--pyinstrument | --cprofile]

``--setup`` (re)creates that database, migrates it and loads the demo salon and
booking (median over the visits), the queries each booking ran (the first
booking's, numbered), and with a profiler its report.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


class NoQueries:
    captured_queries: list[dict] = []


def setup_database() -> None:
    from bench.run import Database

    url = os.environ["DATABASE_URL"]
    vendor = "postgres" if url.startswith("postgres") else "mariadb"
    db = Database(vendor)
    db.url = url
    db.name = url.rsplit("/", 1)[1]
    db.recreate()
    for command in (["manage.py", "migrate", "--no-input"], ["manage.py", "load_salon", "demo/salon.json"]):
        subprocess.run([sys.executable, *command], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)  # noqa: S603


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--setup", action="store_true")
    parser.add_argument("--visits", type=int, default=200)
    parser.add_argument("--first-day", type=int, default=2, help="days from today of the first day booked")
    parser.add_argument("--pyinstrument", action="store_true")
    parser.add_argument("--cprofile", action="store_true")
    parser.add_argument(
        "--no-capture", action="store_true", help="do not record the queries (recording them costs CPU too)"
    )
    args = parser.parse_args()
    if args.setup:
        setup_database()

    import django

    django.setup()
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.run import bench_visits

    client = Client()

    class InProcessSalon:
        """bench.run.Salon's reads, through the test client."""

        def __init__(self) -> None:
            services = client.get("/api/v1/services").json()
            self.services = {s["name"]: s["id"] for s in services}
            self.minutes = {s["id"]: s["duration_minutes"] for s in services}
            self.service_id = self.services["Haircut"]
            self.offers: dict[int, set[int]] = {}
            for service in services:
                for stylist in client.get(f"/api/v1/stylists?service={service['id']}").json():
                    self.offers.setdefault(stylist["id"], set()).add(service["id"])
            self.stylist_ids = sorted(s for s, o in self.offers.items() if self.service_id in o)

        def offering(self, name: str) -> list[int]:
            return sorted(s for s, o in self.offers.items() if self.services[name] in o)

        def visit_slots(self, items, day):
            query = "&".join(f"service={a}&stylist={b}" for a, b in items)
            return client.get(f"/api/v1/availability?date={day.isoformat()}&{query}").json()["slots"]

    salon = InProcessSalon()
    visits = bench_visits(salon)  # type: ignore[arg-type]
    today = dt.datetime.now(dt.UTC).date()
    wanted = []
    day = today + dt.timedelta(days=args.first_day)
    while len(wanted) < args.visits and day < today + dt.timedelta(days=29):
        for items in visits.values():
            last_end = None
            length = dt.timedelta(minutes=sum(salon.minutes[s] for s, _ in items))
            for start in salon.visit_slots(items, day):
                at = dt.datetime.fromisoformat(start)
                if last_end is None or at >= last_end:
                    wanted.append((items, start))
                    last_end = at + length
        day += dt.timedelta(days=1)
    wanted = wanted[: args.visits]
    print(f"{len(wanted)} distinct visits to book, up to {day - dt.timedelta(days=1)}")

    profiler = None
    if args.pyinstrument:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
    elif args.cprofile:
        profiler = cProfile.Profile()
    walls, cpus, queries = [], [], []
    first_queries: list[str] = []
    for n, (items, start) in enumerate(wanted):
        body = json.dumps(
            {
                "items": [{"service": s, "stylist": st} for s, st in items],
                "start": start,
                "customer": {"name": f"Profile {n}", "email": f"profile{n}-{time.time_ns()}@example.com"},
            }
        )
        if profiler is not None and n == 10:  # after the first requests' warm-up
            profiler.enable() if isinstance(profiler, cProfile.Profile) else profiler.start()
        capture = (
            contextlib.nullcontext(NoQueries()) if args.no_capture else CaptureQueriesContext(connection)
        )
        with capture as captured:
            wall, cpu = time.perf_counter(), time.process_time()
            response = client.post("/api/v1/appointments", body, content_type="application/json")
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        if response.status_code != 201:
            print(f"visit {n}: {response.status_code} {response.content[:200]!r}")
        queries.append(len(captured.captured_queries))
        if n == 10:
            first_queries = [q["sql"] for q in captured.captured_queries]
    if profiler is not None:
        if isinstance(profiler, cProfile.Profile):
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(45)
            print(out.getvalue())
        else:
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False, show_all=False))
    print(f"queries per booking: median {statistics.median(queries)}; the 11th booking's:")
    for i, sql in enumerate(first_queries, 1):
        print(f"  {i:2}. {sql[:160]}")
    print(
        f"per booking: wall {statistics.median(walls) * 1000:.2f} ms, "
        f"CPU {statistics.median(cpus) * 1000:.2f} ms (median of {len(walls)}; includes the profiler's cost)"
        if profiler
        else f"per booking: wall {statistics.median(walls) * 1000:.2f} ms, "
        f"CPU {statistics.median(cpus) * 1000:.2f} ms (median of {len(walls)})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
