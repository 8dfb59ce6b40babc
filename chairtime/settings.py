"""Chairtime settings.

Every knob is an environment variable with a safe local default, documented in
docs/settings.md. Production secrets have no default: with DEBUG off, a missing
SECRET_KEY stops the process at start instead of running with a guessable key.
Secrets may also be given as files (``SECRET_KEY_FILE``), the way Kubernetes
secret volumes and the Secrets Store CSI driver mount them.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env(name: str, default: str = "") -> str:
    """Read a setting from NAME, or from the file named by NAME_FILE."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as e:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} cannot be read: {e}") from e
    # An empty variable counts as unset, as in a shell's ${NAME:-default}.
    return os.environ.get(name) or default


def envbool(name: str, default: str) -> bool:
    value = env(name, default).strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true or false)")


def envint(name: str, default: str, *, minimum: int | None = None) -> int:
    value = env(name, default).strip()
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a whole number") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}")
    return number


def envfloat(name: str, default: str) -> float:
    value = env(name, default).strip()
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None


def envlist(name: str, default: str) -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


def envrate(name: str, default: str) -> str:
    """A rate limit: "10/m" is ten per minute (periods s, m, h, d; "5/15m" is five per 15 minutes)."""
    value = env(name, default).strip()
    if not re.fullmatch(r"[1-9][0-9]*/(?:[1-9][0-9]*)?[smhd]", value):
        raise ImproperlyConfigured(f"{name}={value!r} is not a rate such as 10/m")
    return value


DEBUG = envbool("DEBUG", "false")

SECRET_KEY = env("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY (or SECRET_KEY_FILE) must be set when DEBUG is off. "
            "For local development set DEBUG=true."
        )
    SECRET_KEY = "chairtime-insecure-local-development-key-never-use-in-production"  # noqa: S105
SECRET_KEY_FALLBACKS = envlist("SECRET_KEY_FALLBACKS", "")

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "chairtime.apps.ChairtimeAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "csp",
    "axes",
    # Only for its static files: the API docs page then loads Swagger UI from this
    # site instead of a CDN with an inline script, which the CSP would block.
    "ninja",
    "django_ratelimit",
    "chairtime.ops",
    "chairtime.booking",
    "chairtime.frontdesk",
    "chairtime.reports",
    "chairtime.announcements",
    "chairtime.messages",
    "chairtime.clients",
    # Django's tasks API (the backport) and its database backend: the messages' queue.
    "django_tasks",
    "django_tasks_db",
]

MIDDLEWARE = [
    # First, so probes answer whatever the Host header and without touching
    # sessions, the database or any other middleware.
    "chairtime.ops.middleware.HealthCheckMiddleware",
    # X-Request-ID in, on every log line, and out (django-guid's context variable).
    "chairtime.ops.middleware.RequestIdMiddleware",
    "chairtime.ops.middleware.AccessLogMiddleware",
    # Turns "database unreachable" in a view into a friendly 503 page.
    "chairtime.ops.middleware_db.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # django-csp's, with the settings' policy built once per process.
    "chairtime.ops.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The language: the switch's cookie, else the browser's Accept-Language, else
    # English (docs/languages.md). After sessions, before anything that renders.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "chairtime.booking.middleware.SalonTimeZoneMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout signalled during login into a 429.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "chairtime.urls"
WSGI_APPLICATION = "chairtime.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "chairtime" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
                "chairtime.booking.context_processors.salon",
                "chairtime.announcements.context_processors.announcements",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------

DATABASE_URL = env("DATABASE_URL", f"sqlite:///{BASE_DIR / 'var' / 'chairtime.sqlite3'}")
_db = dj_database_url.parse(
    DATABASE_URL,
    conn_max_age=envint("DATABASE_CONN_MAX_AGE", "60", minimum=0),
    conn_health_checks=True,
)
_vendor = _db["ENGINE"].rsplit(".", 1)[-1]
_db.setdefault("OPTIONS", {})
_db.setdefault("TEST", {})
if _vendor == "sqlite3":
    if _db["NAME"] and _db["NAME"] != ":memory:":
        Path(_db["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    # IMMEDIATE takes SQLite's single write lock when a transaction begins, so two
    # bookings cannot both read "free" and then both write; the timeout makes the
    # second writer wait for the first instead of failing with "database is locked".
    _db["OPTIONS"].update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
    # Tests use a file, not :memory:, so the threads of a live test server each get
    # their own connection and really compete for the lock (see test_settings.py).
elif _vendor == "mysql":
    # READ COMMITTED: after the booking service waits for a stylist's row lock,
    # its re-check must see the appointment the lock holder just committed.
    # MySQL's default REPEATABLE READ would show it the older snapshot.
    _db["OPTIONS"].update(
        {
            "charset": "utf8mb4",
            "isolation_level": "read committed",
            "init_command": "SET sql_mode='STRICT_TRANS_TABLES'",
        }
    )
    _db["TEST"].update({"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"})

if envbool("DATABASE_IAM_AUTH", "false"):
    # RDS IAM authentication: a short-lived token, generated by boto3 from the pod's
    # role, replaces the password on every new connection.
    if _vendor not in ("postgresql", "mysql"):
        raise ImproperlyConfigured("DATABASE_IAM_AUTH needs a PostgreSQL or MySQL DATABASE_URL")
    _db["ENGINE"] = f"django_iam_dbauth.aws.{_vendor}"
    _db["OPTIONS"].update({"use_iam_auth": True, "region_name": env("AWS_REGION") or None})
    _ssl_ca = env("DATABASE_SSL_CA")
    if not _ssl_ca and not DEBUG:
        # The token is a credential: without the CA the connection is encrypted but
        # the server unverified, and the token could go to whoever answers.
        raise ImproperlyConfigured(
            "DATABASE_IAM_AUTH needs DATABASE_SSL_CA (the RDS CA bundle, shipped in the image at "
            "/etc/ssl/certs/rds-ca-bundle.pem) when DEBUG is off"
        )
    if _vendor == "postgresql":
        _db["OPTIONS"]["sslmode"] = "verify-full" if _ssl_ca else "require"
        if _ssl_ca:
            _db["OPTIONS"]["sslrootcert"] = _ssl_ca
    else:
        _db["OPTIONS"]["ssl"] = {"ca": _ssl_ca} if _ssl_ca else {}
        _db["OPTIONS"]["ssl_mode"] = "VERIFY_IDENTITY" if _ssl_ca else "REQUIRED"

DATABASES = {"default": _db}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Caches -------------------------------------------------------------------

# "default" is per process on purpose: the salon's time zone, announcements and
# probe results are cheap to recompute and must not depend on another server.
# "ratelimit" holds the rate-limit counters, which every pod must share: Redis
# (ElastiCache/Valkey) when REDIS_URL is set, whose INCR is atomic, unlike
# DatabaseCache's read-then-write. Without it the counters are per process,
# which is fine on one machine; with DEBUG off, django_ratelimit.E003 then stops
# `check --deploy` and `migrate` (see docs/security.md).
REDIS_URL = env("REDIS_URL")
# The AUTH token (ElastiCache's AuthToken), kept out of the URL so that the URL can
# live in one secret and the token in another that ElastiCache reads (docs/aws.md,
# "Redis AUTH token"). Empty: no AUTH, as on a local Redis.
REDIS_PASSWORD = env("REDIS_PASSWORD")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
        "LOCATION": "chairtime",
    },
    "ratelimit": (
        {
            # Falls back to counting in the process while Redis is unreachable:
            # bookings go on, limited per pod (chairtime.ops.security).
            "BACKEND": "chairtime.ops.security.FailSoftRedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": env("REDIS_KEY_PREFIX", "chairtime"),
            "OPTIONS": {
                "socket_connect_timeout": envfloat("REDIS_TIMEOUT", "0.25"),
                "socket_timeout": envfloat("REDIS_TIMEOUT", "0.25"),
                **({"password": REDIS_PASSWORD} if REDIS_PASSWORD else {}),
            },
        }
        if REDIS_URL
        else {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "chairtime-ratelimit"}
    ),
}

# --- Auth, sessions, security -----------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "admin:login"

SECURE_SSL = envbool("SECURE_SSL", "false")
if SECURE_SSL:
    # Behind the ALB, TLS ends at the load balancer, which sets X-Forwarded-Proto.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = True
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", "31536000", minimum=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # __Host-: the browser only accepts them over HTTPS, for Path=/ and without a
    # Domain, so no sibling subdomain or plain-HTTP page can plant or overwrite them.
    SESSION_COOKIE_NAME = "__Host-sessionid"
    CSRF_COOKIE_NAME = "__Host-csrftoken"
# Preloading commits the whole registrable domain to HTTPS for browsers' built-in
# lists: the domain owner's decision, not the app's (docs/security.md).
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", "false")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
# No script of ours reads the CSRF cookie: forms carry the token in a field.
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
# Flash messages in the session, not in a cookie of their own without a prefix.
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Content-Security-Policy (django-csp 4; Django 5.2 has none built in). No inline
# script or style anywhere: pages load only their own static files.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [NONE],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "manifest-src": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        "base-uri": [NONE],
        "object-src": [NONE],
        "upgrade-insecure-requests": SECURE_SSL,
    }
}

# The client's address. The ALB appends the address it saw to X-Forwarded-For;
# with N proxies of ours in front, the N-th entry from the right is the client
# and anything left of it is whatever the client sent (chairtime.ops.security).
TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", "1" if SECURE_SSL else "0", minimum=0)

# How long a process may answer the same availability question from memory
# (booking/microcache.py): a booking elsewhere shows there within this many
# seconds, in this process as soon as it commits. 0 switches it off.
AVAILABILITY_CACHE_SECONDS = envfloat("AVAILABILITY_CACHE_SECONDS", "2")

# Rate limits per client address ("count/period", period s, m, h or d).
BOOKING_RATE_LIMIT = envrate("BOOKING_RATE_LIMIT", "10/m")
CANCEL_RATE_LIMIT = envrate("CANCEL_RATE_LIMIT", "10/m")
RATELIMIT_USE_CACHE = "ratelimit"
RATELIMIT_IP_META_KEY = "chairtime.ops.security.client_ip"
# A counter that cannot be read or written lets the request through: the
# booking itself is guarded by the database, not by this counter.
RATELIMIT_FAIL_OPEN = True

# Brute-force protection of the back-office login (django-axes): after
# LOGIN_FAILURE_LIMIT failures for one username from one address, that pair is
# refused, even with the right password, for LOGIN_COOLOFF_MINUTES. Attempts are
# kept in the database, which every pod shares.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = envint("LOGIN_FAILURE_LIMIT", "5", minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=envint("LOGIN_COOLOFF_MINUTES", "15", minimum=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "chairtime.ops.security.client_ip"

SILENCED_SYSTEM_CHECKS = [
    # django-ratelimit lists django-redis but not Django's own RedisCache, whose
    # add (SET NX) and incr (INCR) are the atomic operations it needs.
    "django_ratelimit.W001",
]
if DEBUG:
    # Locally and in tests the counters may be per process (no REDIS_URL).
    SILENCED_SYSTEM_CHECKS.append("django_ratelimit.E003")
if not SECURE_HSTS_PRELOAD:
    SILENCED_SYSTEM_CHECKS.append("security.W021")

# --- Internationalisation -----------------------------------------------------

# docs/languages.md. The pages, e-mails and the front desk speak these three; the
# catalogs are the locale/ folder of each app (and chairtime/locale for the
# project's own templates), written with `make messages`.
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français"), ("es", "Español")]
LOCALE_PATHS = [BASE_DIR / "chairtime" / "locale"]
# Dates and times as each language writes them (chairtime/formats/<lang>/formats.py),
# including the project's own named formats such as DAY_FORMAT.
FORMAT_MODULE_PATH = ["chairtime.formats"]
# The switch's choice outlives the session, for a year, on this site only.
LANGUAGE_COOKIE_NAME = "chairtime_language"
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_SECURE = not DEBUG
LANGUAGE_COOKIE_HTTPONLY = True
TIME_ZONE = "UTC"  # stored and processed in UTC; shown in the salon's own zone
USE_I18N = True
USE_TZ = True

# --- Static files ---------------------------------------------------------------

STATIC_URL = "/static/"
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "chairtime" / "static"]
# Development serves straight from the app folders; production from STATIC_ROOT,
# filled by collectstatic when the image is built.
WHITENOISE_USE_FINDERS = DEBUG
WHITENOISE_AUTOREFRESH = DEBUG
# The image keeps only the hashed copies collectstatic makes (templates always
# refer to those), which halves the static files' share of the image.
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}

# --- Booking ----------------------------------------------------------------------

# How long a customer's private view/cancel link stays valid after it is issued.
MANAGE_LINK_MAX_AGE_DAYS = envint("MANAGE_LINK_MAX_AGE_DAYS", "180", minimum=1)

# --- Messages (chairtime/messages; docs/messages.md) -----------------------------------

# The site's address as customers reach it, for the links in e-mails (no trailing slash).
SITE_URL = env("SITE_URL", f"http://127.0.0.1:{env('PORT', '8080')}").rstrip("/")

# Where e-mail goes (EMAIL_BACKEND_KIND): "ses", Amazon SES's API with the process's
# AWS credentials (in EKS the pod's role; no SMTP password); "smtp", the server
# EMAIL_HOST; "file", files in EMAIL_FILE_PATH, one per message, that anyone can read
# (README). Unset: smtp with EMAIL_HOST, else file.
EMAIL_HOST = env("EMAIL_HOST")
EMAIL_PORT = envint("EMAIL_PORT", "25", minimum=1)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", "false")
EMAIL_USE_SSL = envbool("EMAIL_USE_SSL", "false")
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are exclusive: set one of them")
# A server that accepts the connection and then says nothing must not hold a worker.
EMAIL_TIMEOUT = envint("EMAIL_TIMEOUT", "20", minimum=1)
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Chairtime <bookings@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_FILE_PATH = env("EMAIL_FILE_PATH", str(BASE_DIR / "var" / "mail"))
EMAIL_BACKENDS = {
    "ses": "django_ses.SESBackend",
    "smtp": "django.core.mail.backends.smtp.EmailBackend",
    "file": "django.core.mail.backends.filebased.EmailBackend",
}
EMAIL_BACKEND_KIND = env("EMAIL_BACKEND_KIND", "smtp" if EMAIL_HOST else "file")
if EMAIL_BACKEND_KIND not in EMAIL_BACKENDS:
    raise ImproperlyConfigured(
        f"EMAIL_BACKEND_KIND={EMAIL_BACKEND_KIND!r}: use one of {', '.join(EMAIL_BACKENDS)}"
    )
if EMAIL_BACKEND_KIND == "smtp" and not EMAIL_HOST:
    raise ImproperlyConfigured("EMAIL_BACKEND_KIND=smtp needs EMAIL_HOST")
EMAIL_BACKEND = EMAIL_BACKENDS[EMAIL_BACKEND_KIND]
# django-ses (ses): SES API v1's SendRawEmail (the .ics attachment needs a raw
# message), in the app's region, with boto3's default credentials (Pod Identity in
# EKS) since no AWS_SES_ACCESS_KEY_ID is set. The pod's role may send from the
# verified identity and nothing else (docs/aws.md, "E-mail"), so no automatic
# throttling: it would call GetSendQuota, and SES's own throttling error is a failed
# attempt that the messages' back-off retries. botocore's timeouts follow
# EMAIL_TIMEOUT, so an attempt ends within the worker's grace period.
if EMAIL_BACKEND_KIND == "ses":
    from botocore.config import Config as _BotocoreConfig

    if not DEBUG and DEFAULT_FROM_EMAIL.rstrip(">").endswith("@localhost"):
        raise ImproperlyConfigured(
            "EMAIL_BACKEND_KIND=ses needs DEFAULT_FROM_EMAIL at the SES identity the stack verified"
        )
    AWS_SES_REGION_NAME = env(
        "AWS_SES_REGION_NAME", env("AWS_REGION", env("AWS_DEFAULT_REGION", "us-east-1"))
    )
    # AWS_ENDPOINT_URL_SES is boto3's own name for an SES endpoint (tests: moto).
    AWS_SES_REGION_ENDPOINT_URL = env(
        "AWS_ENDPOINT_URL_SES", f"https://email.{AWS_SES_REGION_NAME}.amazonaws.com"
    )
    AWS_SES_AUTO_THROTTLE = None
    USE_SES_V2 = False
    AWS_SES_CONFIG = _BotocoreConfig(
        connect_timeout=EMAIL_TIMEOUT,
        read_timeout=EMAIL_TIMEOUT,
        retries={"mode": "standard", "max_attempts": 2},
    )

# The queue: django-tasks' database backend, so a message's task is a row
# written in the booking's own transaction.
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default", "messages"]}}
# A failed attempt is tried again after MESSAGES_RETRY_SECONDS, doubling up to
# MESSAGES_RETRY_MAX_SECONDS; after MESSAGES_MAX_ATTEMPTS attempts the message is given up.
MESSAGES_RETRY_SECONDS = envint("MESSAGES_RETRY_SECONDS", "30", minimum=0)
MESSAGES_RETRY_MAX_SECONDS = envint("MESSAGES_RETRY_MAX_SECONDS", "3600", minimum=0)
MESSAGES_MAX_ATTEMPTS = envint("MESSAGES_MAX_ATTEMPTS", "12", minimum=1)
# How long a worker may take to send one message before another may (a worker
# killed mid-send), how often the sweep looks for messages left without a task,
# and how long a due message may wait for its task before the sweep gives it one.
MESSAGES_CLAIM_SECONDS = envint("MESSAGES_CLAIM_SECONDS", "300", minimum=1)
MESSAGES_SWEEP_SECONDS = envint("MESSAGES_SWEEP_SECONDS", "60", minimum=1)
MESSAGES_STRANDED_SECONDS = envint("MESSAGES_STRANDED_SECONDS", "300", minimum=1)
# The worker's daily prune (and `manage.py messages_prune`) deletes finished messages
# older than MESSAGES_KEEP_DAYS and the queue's finished task rows older than
# MESSAGES_TASK_RESULTS_KEEP_DAYS.
MESSAGES_KEEP_DAYS = envint("MESSAGES_KEEP_DAYS", "365", minimum=1)
MESSAGES_TASK_RESULTS_KEEP_DAYS = envint("MESSAGES_TASK_RESULTS_KEEP_DAYS", "7", minimum=1)

# --- Announcements (DynamoDB) ---------------------------------------------------------

ANNOUNCEMENTS_TABLE = env("ANNOUNCEMENTS_TABLE", "chairtime-announcements")
ANNOUNCEMENTS_CACHE_SECONDS = envint("ANNOUNCEMENTS_CACHE_SECONDS", "30", minimum=0)
# DynamoDB must never hold a page hostage: short timeouts, one retry, then the
# page renders without announcements.
DYNAMODB_CONNECT_TIMEOUT = envfloat("DYNAMODB_CONNECT_TIMEOUT", "0.5")
DYNAMODB_READ_TIMEOUT = envfloat("DYNAMODB_READ_TIMEOUT", "1.0")
AWS_REGION = env("AWS_REGION", env("AWS_DEFAULT_REGION", "us-east-1"))
# boto3 itself reads AWS_ENDPOINT_URL_DYNAMODB; it is named here only so that
# /readyz can say where it looks.
AWS_ENDPOINT_URL_DYNAMODB = env("AWS_ENDPOINT_URL_DYNAMODB")

# --- Metrics (CloudWatch embedded metric format; chairtime/ops/metrics.py) -------------

# udp://host:port of the CloudWatch agent's EMF input; empty: no metrics are sent.
# On EKS: udp://cloudwatch-agent.amazon-cloudwatch:25888 (the observability add-on's agent).
METRICS_EMF_ENDPOINT = env("METRICS_EMF_ENDPOINT", "")
METRICS_EMF_NAMESPACE = env("METRICS_EMF_NAMESPACE", "Chairtime")
# The log group the agent writes the events to; empty: the agent's default.
METRICS_EMF_LOG_GROUP = env("METRICS_EMF_LOG_GROUP", "")
if METRICS_EMF_ENDPOINT:
    from chairtime.ops.metrics import parse_endpoint

    parse_endpoint(METRICS_EMF_ENDPOINT)  # a bad value fails at start, not on the first request

# --- Logging --------------------------------------------------------------------------

LOG_LEVEL = env("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "django_guid.log_filters.CorrelationId", "correlation_id_field": "request_id"},
        # Manage tokens and query strings out of the paths Django's own loggers
        # write (runserver's request lines, django.request, django.security).
        "redact_paths": {"()": "chairtime.ops.logging.RedactPaths"},
    },
    "formatters": {
        # time, level, logger, message, request_id, then the record's extra fields.
        "json": {"()": "chairtime.ops.logging.JsonFormatter"},
    },
    "handlers": {
        "stdout": {
            "class": "chairtime.ops.logging.StdoutHandler",
            "formatter": "json",
            "filters": ["request_id", "redact_paths"],
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # Django's default configuration gives the "django" logger handlers of its
        # own: a plain-text stderr console with DEBUG on (so every django.* line
        # printed twice under `make run`, once without redaction) and mail_admins
        # (no ADMINS here). Everything goes through the JSON handler instead.
        "django": {"handlers": []},
        # The access log middleware writes one line per request; Django's own
        # request logger would repeat 4xx lines, and its server logger the same.
        # django.server (runserver, so `make run`) gets the JSON handler, and with
        # it the redaction, explicitly: Django's default configuration leaves it
        # unpropagated, and without a handler of its own its 4xx request lines
        # (query string and token included) went to logging's last-resort stderr.
        "django.server": {"level": "WARNING", "handlers": ["stdout"], "propagate": False},
        "django.request": {"level": "ERROR"},
        "botocore": {"level": "WARNING"},
        "boto3": {"level": "WARNING"},
        # Whatever LOG_LEVEL says: at DEBUG these write template contexts (manage
        # tokens, appointments) and SQL parameters (e-mail addresses, phone numbers).
        "django.template": {"level": "INFO"},
        "django.db.backends": {"level": "INFO"},
    },
}
