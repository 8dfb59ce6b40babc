"""`make bench` / `make bench-quick`: Chairtime's performance figures.

    .venv/bin/python -m bench.run [--quick] [--databases postgres,mariadb] [--out DIR]

For each database it creates a dedicated database (``chairtime_bench``), migrates
it, loads the demo salon, and serves the app with gunicorn exactly as the image
does (deploy/container/gunicorn.conf.py, DEBUG off, WhiteNoise manifest storage,
DynamoDB through a local moto server that counts the calls it gets). Then:

1. availability latency (sequential requests, p50/p99) for one stylist and one
   future day while the salon's *past* grows to 1,000, 100,000 and 1,000,000
   appointments, bulk-inserted in SQL;
2. throughput with wrk of a bare Django project's trivial view (the ceiling:
   bench/bare_settings.py, Django's default middleware, the same gunicorn
   configuration), then Chairtime's trivial view, /healthz, the availability
   API, the booking (choose a time) page and the home page, in the same gunicorn
   run; each also as a ratio to the bare ceiling and to our trivial view;
3. concurrent bookings of distinct free slots (plus duplicates and overlapping
   ones), then a count of overlapping confirmed appointments in SQL;
4. DynamoDB calls per home-page view during the wrk run of the home page.

The full run writes docs/performance.md and docs/performance.json; --quick uses
small sizes and short runs and writes to var/bench/ so CI leaves the tree clean.
Either exits 1 when an invariant fails (see ``check_invariants``).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import datetime as dt
import http.client
import json
import os
import platform
import random
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
GUNICORN = str(Path(PY).parent / "gunicorn")
DB_NAME = "chairtime_bench"
DATABASE_URLS = {
    "postgres": os.environ.get("BENCH_POSTGRES_URL", f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"),
    "mariadb": os.environ.get("BENCH_MARIADB_URL", f"mysql://root@127.0.0.1:3306/{DB_NAME}"),
}
VENDOR_LABEL = {"postgres": "PostgreSQL", "mariadb": "MariaDB"}

# The invariants: the bench fails (exit 1) when one does not hold.
MAX_LATENCY_RATIO = 3.0
MAX_DYNAMODB_CALLS_PER_VIEW = 0.1


@dataclass(frozen=True)
class Mode:
    name: str
    sizes: tuple[int, ...]
    latency_requests: int
    wrk_seconds: int
    booking_days: int


FULL = Mode("full", (1_000, 100_000, 1_000_000), latency_requests=300, wrk_seconds=10, booking_days=14)
QUICK = Mode("quick", (1_000, 10_000), latency_requests=40, wrk_seconds=2, booking_days=3)
# The ceiling: a bare Django project (bench/bare_settings.py), same trivial view.
BARE_LABEL = "bare Django trivial view"
BARE_PATH = "/bench/trivial"
WRK_THREADS = 2
WRK_CONNECTIONS = 8
BOOKING_CONCURRENCY = 16


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not answer within {seconds:.0f} s") from None
            time.sleep(0.2)


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


# --- The machine -----------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem_kb = int(line.split()[1])
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "cpu_model": cpu,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "wrk": _output(["wrk", "--version"]).split(" Copyright")[0] if shutil.which("wrk") else None,
        # Other work on the machine skews every figure; the 1-minute load average
        # when the run ended says how much there was.
        "load_average_1min_at_end": float(Path("/proc/loadavg").read_text().split()[0]),
    }


def _output(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)  # noqa: S603
    return (result.stdout or result.stderr).strip()


def git_commit() -> dict[str, Any]:
    commit = _output(["git", "rev-parse", "HEAD"])
    dirty = bool(_output(["git", "status", "--porcelain", "--untracked-files=no"]))
    return {"commit": commit, "uncommitted_changes": dirty}


# --- Databases ---------------------------------------------------------------------


class Database:
    """Raw connections for what Django is not needed for: creating the database,
    bulk history, the double-booking count."""

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
        self.url = DATABASE_URLS[vendor]
        parts = urllib.parse.urlsplit(self.url)
        self.name = parts.path.lstrip("/")
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port
        self.user, self.password = parts.username or "", parts.password or ""

    def connect(self, database: str | None = None):
        if self.vendor == "postgres":
            import psycopg

            return psycopg.connect(
                host=self.host,
                port=self.port or 5432,
                user=self.user,
                password=self.password or None,
                dbname=database or self.name,
                autocommit=True,
            )
        import MySQLdb

        conn = MySQLdb.connect(
            host=self.host,
            port=self.port or 3306,
            user=self.user,
            password=self.password,
            database=database or self.name,
            charset="utf8mb4",
        )
        conn.autocommit(True)
        return conn

    def recreate(self) -> None:
        conn = self.connect("postgres" if self.vendor == "postgres" else "mysql")
        with conn.cursor() as cur:
            if self.vendor == "postgres":
                cur.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
                cur.execute(f'CREATE DATABASE "{self.name}"')
            else:
                cur.execute(f"DROP DATABASE IF EXISTS `{self.name}`")
                cur.execute(f"CREATE DATABASE `{self.name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        conn.close()

    def version(self) -> str:
        conn = self.connect()
        with conn.cursor() as cur:
            cur.execute("SELECT version()")
            (version,) = cur.fetchone()
        conn.close()
        return str(version).split(" on ")[0].split(",")[0]

    def add_history(self, first: int, last: int, *, stylist_ids: list[int], service_id: int) -> None:
        """Appointments number first..last-1 of the salon's past, in one pass of SQL.

        Appointment i belongs to stylist i mod S and starts (i div S + 1) hours
        before today's midnight UTC, lasting 30 minutes: a grid on which no two
        confirmed appointments of a stylist overlap, entirely in the past. One in
        ten is cancelled, as in a real salon; nine in ten stay confirmed and so sit
        in the (stylist, confirmed_starts_at) index the availability query reads.
        Each stylist's past customer is another e-mail address: one customer cannot
        hold the same service at the same start twice (a unique constraint).
        """
        anchor = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
        s = len(stylist_ids)
        conn = self.connect()
        with conn.cursor() as cur:
            if self.vendor == "postgres":
                cur.execute(
                    """
                    INSERT INTO booking_appointment (service_id, stylist_id, starts_at, ends_at, status,
                        customer_name, customer_email, customer_phone, price, created_at, cancelled_at)
                    SELECT %(service)s, (%(stylists)s::bigint[])[1 + i %% %(s)s], start,
                           start + interval '30 minutes',
                           CASE WHEN i %% 10 = 9 THEN 'cancelled' ELSE 'confirmed' END,
                           'Past Customer', 'past' || (i %% %(s)s) || '@example.com', '', 50.00,
                           start - interval '7 days',
                           CASE WHEN i %% 10 = 9 THEN start - interval '1 day' END
                    FROM generate_series(%(first)s::bigint, %(last)s::bigint - 1) AS i,
                         LATERAL (SELECT (%(anchor)s::timestamp AT TIME ZONE 'UTC')
                                         - (i / %(s)s + 1) * interval '1 hour' AS start) AS t
                    """,
                    {
                        "service": service_id,
                        "stylists": stylist_ids,
                        "s": s,
                        "first": first,
                        "last": last,
                        "anchor": anchor,
                    },
                )
                cur.execute("ANALYZE booking_appointment")
            else:
                ids = ", ".join(str(int(i)) for i in stylist_ids)
                # MariaDB's Sequence engine: seq_A_to_B is a table of the integers A..B.
                batch = 250_000
                for start in range(first, last, batch):
                    stop = min(last, start + batch) - 1
                    cur.execute(
                        f"""
                        INSERT INTO booking_appointment (service_id, stylist_id, starts_at, ends_at, status,
                            customer_name, customer_email, customer_phone, price, created_at, cancelled_at)
                        SELECT %s, ELT(1 + seq MOD {s}, {ids}), t.start, t.start + INTERVAL 30 MINUTE,
                               IF(seq MOD 10 = 9, 'cancelled', 'confirmed'),
                               'Past Customer', CONCAT('past', seq MOD {s}, '@example.com'), '', 50.00,
                               t.start - INTERVAL 7 DAY,
                               IF(seq MOD 10 = 9, t.start - INTERVAL 1 DAY, NULL)
                        FROM (SELECT seq, %s - INTERVAL (seq DIV {s} + 1) HOUR AS start
                              FROM seq_{int(start)}_to_{int(stop)}) AS t
                        """,  # noqa: S608 - integers only
                        (service_id, anchor),
                    )
                cur.execute("ANALYZE TABLE booking_appointment")
                cur.fetchall()
        conn.close()

    def scalar(self, sql: str) -> Any:
        conn = self.connect()
        with conn.cursor() as cur:
            cur.execute(sql)
            (value,) = cur.fetchone()
        conn.close()
        return value

    def double_bookings(self) -> int:
        """Confirmed appointments that start before an earlier confirmed
        appointment of the same stylist has ended, over the whole table (history
        and the bench's bookings). One ordered pass over the unique index,
        streamed: a SQL self-join or a window frame is quadratic on MariaDB."""
        query = (
            "SELECT stylist_id, starts_at, ends_at FROM booking_appointment "
            "WHERE confirmed_starts_at IS NOT NULL ORDER BY stylist_id, confirmed_starts_at"
        )
        conn = self.connect()
        if self.vendor == "postgres":
            rows = conn.cursor().stream(query)
        else:
            import MySQLdb.cursors

            cursor = conn.cursor(MySQLdb.cursors.SSCursor)
            cursor.execute(query)
            rows = iter(cursor.fetchone, None)
        overlapping = 0
        stylist, latest_end = None, None
        for stylist_id, starts_at, ends_at in rows:
            if stylist_id != stylist:
                stylist, latest_end = stylist_id, ends_at
                continue
            if starts_at < latest_end:
                overlapping += 1
            latest_end = max(latest_end, ends_at)
        conn.close()
        return overlapping


# --- The server under test -------------------------------------------------------------


class Stack:
    """moto (counting DynamoDB calls) for the whole run, gunicorn per database."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.dynamodb_port = free_port()
        self.dynamodb_url = f"http://127.0.0.1:{self.dynamodb_port}"
        self.static_root = workdir / "static"
        self.processes: list[subprocess.Popen] = []
        self.env = {
            **os.environ,
            "DEBUG": "false",
            "SECRET_KEY": "bench-" + os.urandom(16).hex(),
            "ALLOWED_HOSTS": "127.0.0.1",
            "STATIC_ROOT": str(self.static_root),
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "AWS_ENDPOINT_URL_DYNAMODB": self.dynamodb_url,
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",  # moto needs something to sign with
            "AWS_DEFAULT_REGION": "us-east-1",
            "ANNOUNCEMENTS_TABLE": "chairtime-bench-announcements",
            "PYTHONDONTWRITEBYTECODE": "1",
            # One client address books hundreds of slots a second on purpose.
            "BOOKING_RATE_LIMIT": "1000000/s",
            "CANCEL_RATE_LIMIT": "1000000/s",
        }
        self.env.pop("WEB_CONCURRENCY", None)  # the image's default, whatever the shell says
        self.env.pop("GUNICORN_THREADS", None)

    def start_dynamodb(self) -> None:
        out = (self.workdir / "dynamodb.log").open("w")
        self.processes.append(
            subprocess.Popen(  # noqa: S603
                [PY, "-m", "bench.dynamodb", str(self.dynamodb_port)],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        )
        wait_http(f"{self.dynamodb_url}/bench/dynamodb-calls")

    def dynamodb_calls(self) -> int:
        return requests.get(f"{self.dynamodb_url}/bench/dynamodb-calls", timeout=5).json()["calls"]

    def manage(self, env: dict[str, str], *args: str) -> None:
        subprocess.run([PY, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)  # noqa: S603

    def start_gunicorn(self, env: dict[str, str], port: int, name: str) -> subprocess.Popen:
        out = (self.workdir / f"gunicorn-{name}.log").open("w")
        process = subprocess.Popen(  # noqa: S603
            [GUNICORN, "-c", str(ROOT / "deploy/container/gunicorn.conf.py"), "chairtime.wsgi"],
            cwd=ROOT,
            env={**env, "PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        self.processes.append(process)
        wait_http(f"http://127.0.0.1:{port}/healthz")
        return process

    def stop(self, process: subprocess.Popen) -> None:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            self.stop(process)


# --- Measurements ------------------------------------------------------------------------


def sequential_latency(port: int, path: str, count: int, warmup: int = 30) -> dict[str, float]:
    """p50/p99 in milliseconds of `count` requests one after another on one
    keep-alive connection (after `warmup`), each checked for a 200 with slots.
    Each carries a distinct, ignored ``bench=N`` parameter, so that the API's
    micro-cache never answers it."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    timings = []
    for n in range(warmup + count):
        began = time.perf_counter()
        # A distinct question each time: measured is the query, not the micro-cache.
        conn.request("GET", f"{path}&bench={n}")
        response = conn.getresponse()
        body = response.read()
        elapsed = time.perf_counter() - began
        if response.status != 200 or not json.loads(body)["slots"]:
            raise RuntimeError(f"GET {path}: {response.status} {body[:200]!r}")
        if n >= warmup:
            timings.append(elapsed * 1000)
    conn.close()
    return {
        "p50_ms": round(statistics.median(timings), 2),
        "p99_ms": round(percentile(timings, 0.99), 2),
        "requests": count,
    }


_WRK_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


DISTINCT_SCRIPT = Path(__file__).with_name("distinct.lua")


def run_wrk(port: int, path: str, seconds: int, *, distinct: bool = False) -> dict[str, Any]:
    """wrk's figures for ``path``; with ``distinct``, every request a new question
    (bench/distinct.lua)."""
    url = f"http://127.0.0.1:{port}{path}"
    command = ["wrk", f"-t{WRK_THREADS}", f"-c{WRK_CONNECTIONS}", f"-d{seconds}s", "--timeout", "10s"]
    if distinct:
        command += ["-s", str(DISTINCT_SCRIPT)]
    command += ["--latency", url]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)

    def ms(label: str) -> float | None:
        found = re.search(rf"\s{label}%\s+([\d.]+)(us|ms|s)\b", out)
        return round(float(found.group(1)) * _WRK_UNITS[found.group(2)], 2) if found else None

    return {
        "requests_per_second": round(rps, 1),
        "requests": total,
        "non_2xx_3xx": int(bad.group(1)) if bad else 0,
        "socket_errors": sum(int(x) for x in errors.groups()) if errors else 0,
        "latency_p50_ms": ms("50"),
        "latency_p99_ms": ms("99"),
    }


@dataclass
class Salon:
    """What the bench needs to know about the demo salon, read through the API."""

    base: str
    service_id: int = 0
    stylist_ids: list[int] = field(default_factory=list)
    time_zone: str = ""

    def load(self) -> None:
        services = requests.get(f"{self.base}/api/v1/services", timeout=10).json()
        self.service_id = next(s["id"] for s in services if s["name"] == "Haircut")
        stylists = requests.get(
            f"{self.base}/api/v1/stylists", params={"service": self.service_id}, timeout=10
        ).json()
        self.stylist_ids = [s["id"] for s in stylists]

    def slots(self, stylist: int, day: dt.date) -> list[str]:
        response = requests.get(
            f"{self.base}/api/v1/availability",
            params={"service": self.service_id, "stylist": stylist, "date": day.isoformat()},
            timeout=10,
        )
        response.raise_for_status()
        self.time_zone = response.json()["time_zone"]
        return response.json()["slots"]

    def book(self, session: requests.Session, stylist: int | None, start: str, n: int) -> int:
        response = session.post(
            f"{self.base}/api/v1/appointments",
            json={
                "service": self.service_id,
                "stylist": stylist,
                "start": start,
                "customer": {"name": f"Bench Customer {n}", "email": f"bench{n}@example.com"},
            },
            timeout=30,
        )
        return response.status_code


def booking_run(salon: Salon, first_day: dt.date, days: int) -> dict[str, Any]:
    """Book every non-overlapping free hour of every haircut stylist over `days`
    days at once, with duplicates and overlapping starts mixed in: the distinct
    ones must succeed, the others must be refused, and none may double-book."""
    distinct: list[tuple[int, str]] = []
    colliding: list[tuple[int | None, str]] = []
    duration = dt.timedelta(hours=1)  # a haircut
    for day in (first_day + dt.timedelta(days=n) for n in range(days)):
        for stylist in salon.stylist_ids:
            last_end = None
            for index, start in enumerate(salon.slots(stylist, day)):
                at = dt.datetime.fromisoformat(start)
                if last_end is None or at >= last_end:
                    distinct.append((stylist, start))
                    last_end = at + duration
                    if len(distinct) % 4 == 0:
                        colliding.append((stylist, start))  # the very same slot again
                elif index % 3 == 0:
                    colliding.append((stylist, start))  # overlaps the slot just chosen
    requests_ = [*distinct, *colliding]
    random.Random(42).shuffle(requests_)  # noqa: S311 - a repeatable order, not a secret
    statuses: dict[int, int] = {}

    def one(item: tuple[int, tuple[int | None, str]]) -> int:
        n, (stylist, start) = item
        session = sessions[n % BOOKING_CONCURRENCY]
        return salon.book(session, stylist, start, n)

    sessions = [requests.Session() for _ in range(BOOKING_CONCURRENCY)]
    began = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(BOOKING_CONCURRENCY) as pool:
        for status in pool.map(one, enumerate(requests_)):
            statuses[status] = statuses.get(status, 0) + 1
    elapsed = time.perf_counter() - began
    booked = statuses.get(201, 0)
    return {
        "attempts": len(requests_),
        "distinct_free_slots": len(distinct),
        "colliding_attempts": len(colliding),
        "booked": booked,
        "refused_409": statuses.get(409, 0),
        "server_errors": sum(c for s, c in statuses.items() if s >= 500),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "seconds": round(elapsed, 2),
        "bookings_per_second": round(booked / elapsed, 1),
        "concurrency": BOOKING_CONCURRENCY,
    }


def first_working_day(salon: Salon, stylist: int, after: dt.date) -> dt.date:
    day = after
    while not salon.slots(stylist, day):
        day += dt.timedelta(days=1)
    return day


def bench_database(vendor: str, mode: Mode, stack: Stack) -> dict[str, Any]:
    db = Database(vendor)
    log(f"{vendor}: creating {db.name}, migrating, loading the demo salon")
    db.recreate()
    env = {**stack.env, "DATABASE_URL": db.url}
    stack.manage(env, "migrate", "--no-input")
    stack.manage(env, "load_salon", "demo/salon.json")
    port = free_port()
    gunicorn = stack.start_gunicorn(env, port, vendor)
    try:
        return _bench_served(db, mode, stack, port, env)
    finally:
        stack.stop(gunicorn)


def bare_django_ceiling(stack: Stack, env: dict[str, str], name: str, seconds: int) -> dict[str, Any]:
    """wrk against a bare Django project's trivial view (bench/bare_settings.py:
    startproject's middleware), served by the same gunicorn configuration on the
    same database server: what Django itself allows on this machine right now."""
    port = free_port()
    bare_env = {**env, "DJANGO_SETTINGS_MODULE": "bench.bare_settings"}
    process = stack.start_gunicorn(bare_env, port, f"{name}-bare")
    try:
        run_wrk(port, BARE_PATH, 1)
        return {"path": BARE_PATH, **run_wrk(port, BARE_PATH, seconds)}
    finally:
        stack.stop(process)


def _bench_served(db: Database, mode: Mode, stack: Stack, port: int, env: dict[str, str]) -> dict[str, Any]:
    base = f"http://127.0.0.1:{port}"
    salon = Salon(base)
    salon.load()
    today = dt.datetime.now(dt.UTC).date()
    stylist = salon.stylist_ids[0]
    # The day asked for lies beyond the days the booking run fills, and is in the
    # future while all generated history is in the past: the honest case, where
    # the query must skip the whole history through the index.
    target = first_working_day(salon, stylist, today + dt.timedelta(days=mode.booking_days + 3))
    # Two confirmed appointments on that day, so the query returns rows too.
    with requests.Session() as session:
        for n, start in enumerate(salon.slots(stylist, target)[1:6:4]):
            assert salon.book(session, stylist, start, -1 - n) == 201, start  # noqa: S101
    path = f"/api/v1/availability?service={salon.service_id}&stylist={stylist}&date={target.isoformat()}"
    result: dict[str, Any] = {"database": VENDOR_LABEL[db.vendor], "server_version": db.version()}

    latency = {}
    have = 0
    for size in mode.sizes:
        began = time.perf_counter()
        db.add_history(have, size, stylist_ids=salon.stylist_ids, service_id=salon.service_id)
        took = time.perf_counter() - began
        have = size
        rows = int(db.scalar("SELECT COUNT(*) FROM booking_appointment"))
        figures = sequential_latency(port, path, mode.latency_requests)
        latency[str(size)] = {**figures, "history_rows_in_table": rows, "insert_seconds": round(took, 1)}
        log(f"{db.vendor}: {size:>9,} past appointments: p50 {figures['p50_ms']}, p99 {figures['p99_ms']} ms")
    smallest, largest = latency[str(mode.sizes[0])], latency[str(mode.sizes[-1])]
    result["availability_latency"] = {
        "path": path,
        "day": target.isoformat(),
        "by_history_size": latency,
        "p50_ratio_largest_to_smallest": round(largest["p50_ms"] / smallest["p50_ms"], 2),
        "p99_ratio_largest_to_smallest": round(largest["p99_ms"] / smallest["p99_ms"], 2),
    }

    endpoints = {
        "trivial view": "/bench/trivial",
        "/healthz": "/healthz",
        # The same question over and over: answered from the 2 s micro-cache
        # after the first time in each worker and each 2 s.
        "availability API, repeated question": path,
        # A new question every time (bench/distinct.lua): one query each.
        "availability API, distinct questions": path,
        "booking page": f"/book/{salon.service_id}/{stylist}/{target.isoformat()}/",
        "home page": "/",
    }
    throughput = {BARE_LABEL: bare_django_ceiling(stack, env, db.vendor, mode.wrk_seconds)}
    log(f"{db.vendor}: wrk {BARE_LABEL}: {throughput[BARE_LABEL]['requests_per_second']} req/s")
    dynamodb = {}
    for label, url in endpoints.items():
        # Every worker's first request of a kind imports, compiles templates and
        # builds schemas (up to a second); a short discarded run warms them all.
        distinct = label.endswith("distinct questions")
        run_wrk(port, url, 1, distinct=distinct)
        calls_before = stack.dynamodb_calls()
        figures = run_wrk(port, url, mode.wrk_seconds, distinct=distinct)
        if label == "home page":
            calls = stack.dynamodb_calls() - calls_before
            dynamodb = {
                "home_page_views": figures["requests"],
                "dynamodb_calls": calls,
                "calls_per_view": round(calls / max(1, figures["requests"]), 5),
            }
        throughput[label] = {"path": url, **figures}
        log(f"{db.vendor}: wrk {label}: {figures['requests_per_second']} req/s")
    bare = throughput[BARE_LABEL]["requests_per_second"]
    trivial = throughput["trivial view"]["requests_per_second"]
    for figures in throughput.values():
        figures["ratio_to_bare_django"] = round(figures["requests_per_second"] / bare, 2)
        figures["ratio_to_trivial"] = round(figures["requests_per_second"] / trivial, 2)
    result["throughput"] = {
        "wrk": f"wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{mode.wrk_seconds}s",
        "endpoints": throughput,
    }
    result["dynamodb_per_home_view"] = dynamodb

    log(f"{db.vendor}: concurrent bookings")
    booking = booking_run(salon, today + dt.timedelta(days=2), mode.booking_days)
    booking["double_bookings"] = db.double_bookings()
    result["booking"] = booking
    log(
        f"{db.vendor}: {booking['booked']} booked of {booking['distinct_free_slots']} distinct slots "
        f"({booking['bookings_per_second']}/s), {booking['double_bookings']} double bookings"
    )
    return result


# --- Verdict and reports -----------------------------------------------------------------


def check_invariants(results: dict[str, Any]) -> list[str]:
    failures = []
    for vendor, r in results.items():
        ratio = r["availability_latency"]["p50_ratio_largest_to_smallest"]
        if ratio > MAX_LATENCY_RATIO:
            failures.append(
                f"{vendor}: availability p50 grew {ratio}x with history (max {MAX_LATENCY_RATIO})"
            )
        if r["booking"]["double_bookings"]:
            failures.append(f"{vendor}: {r['booking']['double_bookings']} double bookings")
        if r["booking"]["server_errors"]:
            failures.append(f"{vendor}: {r['booking']['server_errors']} 5xx answers to bookings")
        # An overlapping attempt may win first and block two neighbours, so fewer
        # than the distinct slots may succeed; more would be a double booking.
        if r["booking"]["booked"] > r["booking"]["distinct_free_slots"]:
            failures.append(f"{vendor}: more bookings than distinct free slots")
        for label, t in r["throughput"]["endpoints"].items():
            if t["non_2xx_3xx"] or t["socket_errors"]:
                failures.append(
                    f"{vendor}: {label}: {t['non_2xx_3xx']} non-2xx, {t['socket_errors']} socket errors"
                )
        per_view = r["dynamodb_per_home_view"]["calls_per_view"]
        if per_view > MAX_DYNAMODB_CALLS_PER_VIEW:
            failures.append(f"{vendor}: {per_view} DynamoDB calls per home-page view")
    return failures


def markdown(report: dict[str, Any]) -> str:
    results = report["results"]
    vendors = list(results)
    head = "| Metric | " + " | ".join(results[v]["database"] for v in vendors) + " |"
    rule = "|---|" + "---:|" * len(vendors)
    rows = []

    def row(label: str, values: list[Any]) -> None:
        rows.append(f"| {label} | " + " | ".join(str(v) for v in values) + " |")

    sizes = report["mode"]["history_sizes"]
    for size in sizes:
        row(
            f"Availability p50 / p99, {size:,} past appointments (ms)",
            [
                f"{results[v]['availability_latency']['by_history_size'][str(size)]['p50_ms']} / "
                f"{results[v]['availability_latency']['by_history_size'][str(size)]['p99_ms']}"
                for v in vendors
            ],
        )
    row(
        f"**Latency ratio {sizes[-1]:,} : {sizes[0]:,}** (p50 / p99; must stay close to 1)",
        [
            f"**{results[v]['availability_latency']['p50_ratio_largest_to_smallest']}** / "
            f"{results[v]['availability_latency']['p99_ratio_largest_to_smallest']}"
            for v in vendors
        ],
    )
    row(
        f"Bulk insert of the last {sizes[-1] - sizes[-2]:,} past appointments (s)",
        [
            results[v]["availability_latency"]["by_history_size"][str(sizes[-1])]["insert_seconds"]
            for v in vendors
        ],
    )
    for label in results[vendors[0]]["throughput"]["endpoints"]:
        row(
            f"Throughput: {label} (req/s; ratio to bare Django / to our trivial view)",
            [
                f"{results[v]['throughput']['endpoints'][label]['requests_per_second']:,.0f} "
                f"({results[v]['throughput']['endpoints'][label]['ratio_to_bare_django']} / "
                f"{results[v]['throughput']['endpoints'][label]['ratio_to_trivial']})"
                for v in vendors
            ],
        )
    row(
        "**Our middleware stack's share of Django's ceiling** (trivial view : bare Django)",
        [
            f"**{results[v]['throughput']['endpoints']['trivial view']['ratio_to_bare_django']}**"
            for v in vendors
        ],
    )
    row(
        "Bookings: distinct slots booked per second",
        [results[v]["booking"]["bookings_per_second"] for v in vendors],
    )
    row(
        "Bookings: booked / distinct free slots / attempts (incl. colliding)",
        [
            f"{results[v]['booking']['booked']} / {results[v]['booking']['distinct_free_slots']} / "
            f"{results[v]['booking']['attempts']}"
            for v in vendors
        ],
    )
    row(
        "**Double bookings** (must be 0)",
        [f"**{results[v]['booking']['double_bookings']}**" for v in vendors],
    )
    row(
        "**DynamoDB requests per home-page view** (calls / views)",
        [
            f"**{results[v]['dynamodb_per_home_view']['calls_per_view']}** "
            f"({results[v]['dynamodb_per_home_view']['dynamodb_calls']} / "
            f"{results[v]['dynamodb_per_home_view']['home_page_views']:,})"
            for v in vendors
        ],
    )
    m = report["machine"]
    lines = [
        head,
        rule,
        *rows,
        "",
        f"- Command: `{report['command']}` ({report['mode']['name']} mode, "
        f"{report['duration_seconds']:.0f} s)",
        f"- Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB RAM, Linux {m['kernel']}, "
        f"Python {m['python']}, {m['wrk']}; load average {m['load_average_1min_at_end']} at the end",
        "- Servers: "
        + ", ".join(f"{results[v]['database']} {results[v]['server_version']}" for v in vendors),
        f"- Date: {report['date']}; git commit {report['git']['commit'][:12]}"
        + (" with uncommitted changes" if report["git"]["uncommitted_changes"] else ""),
        f"- gunicorn: deploy/container/gunicorn.conf.py defaults "
        f"({report['gunicorn_workers']} sync workers); "
        f"load: `{results[vendors[0]]['throughput']['wrk']}` per endpoint, on the same 2 cores",
        f"- Verdict: {'all invariants hold' if not report['failures'] else '; '.join(report['failures'])}",
    ]
    return "\n".join(lines) + "\n"


BEGIN, END = "<!-- bench:begin (written by make bench) -->", "<!-- bench:end -->"


def write_markdown(path: Path, table: str) -> None:
    """Replace the generated block of `path`, keeping the prose around it."""
    text = path.read_text() if path.exists() else f"# Performance\n\n{BEGIN}\n{END}\n"
    before, found, rest = text.partition(BEGIN)
    if not found:
        before, rest = text.rstrip() + "\n\n", END
    _, _, after = rest.partition(END)
    path.write_text(f"{before}{BEGIN}\n{table}{END}{after}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="small sizes and short runs (CI)")
    parser.add_argument("--databases", default="postgres,mariadb", help="comma-separated: postgres, mariadb")
    parser.add_argument("--out", type=Path, help="where to write performance.md/.json")
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    vendors = [v.strip() for v in args.databases.split(",") if v.strip()]
    unknown = set(vendors) - set(DATABASE_URLS)
    if unknown:
        parser.error(f"unknown database(s): {', '.join(sorted(unknown))}")
    out = args.out or (ROOT / ("var/bench" if args.quick else "docs"))
    if not shutil.which("wrk"):
        parser.error("wrk is not installed (scripts/system-deps bench)")

    began = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="chairtime-bench-"))
    stack = Stack(workdir)
    results = {}
    try:
        stack.start_dynamodb()
        env = {**stack.env, "DATABASE_URL": "sqlite:///" + str(workdir / "setup.sqlite3")}
        stack.manage(env, "collectstatic", "--no-input")
        stack.manage(env, "create_announcements_table")
        stack.manage(env, "load_announcements", "demo/announcements.json")
        for vendor in vendors:
            results[vendor] = bench_database(vendor, mode, stack)
    finally:
        stack.stop_all()
    workers = int(
        _output(
            [PY, "-c", "import runpy; print(runpy.run_path('deploy/container/gunicorn.conf.py')['workers'])"]
        )
    )
    failures = check_invariants(results)
    command = "make bench-quick" if args.quick else "make bench"
    if argv is None and sys.argv[1:] not in ([], ["--quick"]):
        command = "python -m bench.run " + shlex.join(sys.argv[1:])
    report = {
        "command": command,
        "mode": {
            "name": mode.name,
            "history_sizes": list(mode.sizes),
            "latency_requests": mode.latency_requests,
            "wrk_seconds": mode.wrk_seconds,
        },
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "duration_seconds": round(time.monotonic() - began, 1),
        "machine": machine(),
        "git": git_commit(),
        "gunicorn_workers": workers,
        "results": results,
        "failures": failures,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "performance.json").write_text(json.dumps(report, indent=2) + "\n")
    table = markdown(report)
    write_markdown(out / "performance.md", table)
    print(table)
    shutil.rmtree(workdir, ignore_errors=True)
    for failure in failures:
        log(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
