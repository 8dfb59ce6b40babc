"""Gunicorn's configuration in the container image (and in `make bench`, which
measures the app served exactly this way).

Every knob that differs between environments is an environment variable; the
defaults are the production ones. Start with:
    gunicorn -c deploy/container/gunicorn.conf.py chairtime.wsgi
"""

from __future__ import annotations

import os


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise SystemExit(f"gunicorn.conf.py: {name}={value!r} is not a whole number") from None
    if number < 1:
        raise SystemExit(f"gunicorn.conf.py: {name}={number} must be at least 1")
    return number


def _cores() -> int:
    # The CPUs this process may run on (a container's cpuset), not the host's count.
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# Where to listen: every interface of the pod, on $PORT (the Service/ALB target port).
bind = f"0.0.0.0:{_int_env('PORT', 8000)}"

# Sync worker processes: the classic 2 x cores + 1 for a request mix that waits on
# the database part of the time. Capped at 8 so that a pod scheduled on a large
# node neither opens dozens of database connections (each worker keeps its own,
# CONN_MAX_AGE) nor multiplies memory; scale out with more pods instead.
# WEB_CONCURRENCY is the conventional override (Heroku, buildpacks, uvicorn).
workers = _int_env("WEB_CONCURRENCY", min(2 * _cores() + 1, 8))

# Threads per worker. 1 keeps the sync worker (no thread-safety questions, one
# database connection per worker); more than 1 switches gunicorn to the gthread
# worker, which helps only when requests mostly wait on I/O.
threads = _int_env("GUNICORN_THREADS", 1)

# A worker silent for this long is killed and replaced: far above any sane request
# (availability answers in milliseconds; DynamoDB calls time out after ~1.5 s),
# but short enough that a hung worker does not hold its slot for minutes.
timeout = _int_env("GUNICORN_TIMEOUT", 30)

# On SIGTERM, workers finish their in-flight requests for up to 25 s, then are
# killed: shorter than Kubernetes' default 30 s terminationGracePeriodSeconds, so
# gunicorn ends its own workers before the kubelet SIGKILLs the whole pod.
graceful_timeout = _int_env("GUNICORN_GRACEFUL_TIMEOUT", 25)

# Keep idle client connections open for 75 s, longer than the ALB's 60 s idle
# timeout: the load balancer must always be the side that closes an idle
# connection, or it may send a request on a socket gunicorn is closing (a 502).
keepalive = _int_env("GUNICORN_KEEPALIVE", 75)

# No gunicorn access log: the app's middleware writes one JSON line per request,
# with its request id; a second, plain-text line would only double the volume.
accesslog = None
# Gunicorn's own messages (start, worker deaths) go to stderr for the log shipper.
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")

# The heartbeat file each worker touches: in RAM, because a container's overlay
# filesystem (or a slow volume) can stall the touch long enough for the arbiter
# to think a healthy worker hung.
worker_tmp_dir = "/dev/shm"  # noqa: S108 - a tmpfs by design, not a shared temp file

# Trust X-Forwarded-For/-Proto from the ALB. Only the load balancer can reach the
# pod (security groups), and its address is not fixed, so trust any peer; set
# FORWARDED_ALLOW_IPS to the VPC range to narrow it.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")

# Import the app in the arbiter before forking: workers share its memory pages
# and start faster. Safe here: no database connection is opened at import time.
preload_app = True
