"""Malleable's one settings module, driven by environment variables.

A fresh checkout runs on embedded defaults: SQLite under ``var/`` and an in-process broker.
Production sets ``DATABASE_URL``, ``CELERY_BROKER_URL``, ``SECRET_KEY``, ``ALLOWED_HOSTS`` and
``SITE_URL``. A malformed value stops start-up with the variable's name.
"""

import base64
import contextlib
import ipaddress
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

import django_stubs_ext
import environ
from cryptography.fernet import Fernet
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from checkers.sandbox.compiler import CompileLimits
from checkers.sandbox.outcome import Limits as SandboxLimits

# Lets classes the type stubs call generic be subscripted at run time too (ModelAdmin[Namespace]).
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"
VAR_DIR.mkdir(exist_ok=True)

env = environ.Env()
BOOLEANS = {
    "1": True,
    "true": True,
    "yes": True,
    "on": True,
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


def _typed(name: str, cast: type[Any], default: Any) -> Any:
    """Read ``name`` with ``cast``; a value that does not parse names the variable."""
    raw = env.str(name, default=None)
    if raw is None:
        return default
    if cast is bool:
        if raw.strip().lower() not in BOOLEANS:
            raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean: use one of {', '.join(BOOLEANS)}")
        return BOOLEANS[raw.strip().lower()]
    try:
        return cast(raw)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a valid {cast.__name__}: {exc}") from exc


DEBUG = _typed("DEBUG", bool, False)


def _local_secret_key() -> str:
    """A key made once per checkout, so a fresh clone needs no secret and ships none."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


SECRET_KEY = env.str("SECRET_KEY", default="") or _local_secret_key()

# --- Credentials at rest (malleable/encryption.py) -----------------------------------------
# Fernet keys, comma-separated: the first encrypts, all decrypt, so rotation is "add the new
# key first, run `manage.py rotate_encryption_keys`, drop the old key". Unset, a key is made
# once per checkout in var/encryption_key: back it up, or the stored secrets are lost.


def _local_encryption_key() -> str:
    """Made atomically (link, not write-in-place), so two processes starting agree on one key."""
    path = VAR_DIR / "encryption_key"
    if not path.exists():
        draft = VAR_DIR / f".encryption_key.{secrets.token_hex(8)}"
        draft.touch(mode=0o600)
        draft.write_text(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode())
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    return path.read_text().strip()


def _encryption_keys(name: str = "MALLEABLE_ENCRYPTION_KEYS") -> list[str]:
    """The keys, each checked now: a bad key stops start-up naming the variable, never the key."""
    keys = [key.strip() for key in env.str(name, default="").split(",") if key.strip()]
    source = name if keys else "var/encryption_key"
    keys = keys or [_local_encryption_key()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise ImproperlyConfigured(
                f"{source}: key {position} of {len(keys)} is not a Fernet key (32 bytes in url-safe "
                'base64; make one with python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())")'
            ) from None
    return keys


ENCRYPTION_KEYS = _encryption_keys()
# --- end of credentials at rest -------------------------------------------------------------
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "testserver"])
SITE_URL = env.str("SITE_URL", default="http://127.0.0.1:8000").rstrip("/")
if not SITE_URL.startswith(("http://", "https://")):
    raise ImproperlyConfigured(f"SITE_URL={SITE_URL!r} must start with http:// or https://")

INSTALLED_APPS = [
    "namespaces.apps.MalleableAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "axes",
    "namespaces",
    "checkers",
    "runbooks",
    "alarms",
    "checks_as_code",
    "pages",
    "health",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes asks: it turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "malleable.urls"
WSGI_APPLICATION = "malleable.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "namespaces.context_processors.namespaces",
                "health.context_processors.health",
            ],
        },
    },
]

try:
    DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'malleable.sqlite3'}")}
except (ValueError, KeyError, environ.ImproperlyConfigured) as exc:
    raise ImproperlyConfigured(f"DATABASE_URL is not a database URL Malleable understands: {exc}") from exc
DATABASE_ENGINES = {f"django.db.backends.{name}" for name in ("sqlite3", "postgresql", "mysql")}
if DATABASES["default"]["ENGINE"] not in DATABASE_ENGINES:
    raise ImproperlyConfigured(
        f"DATABASE_URL names engine {DATABASES['default']['ENGINE']!r}; "
        "use a sqlite://, postgresql:// or mysql:// URL"
    )
if DATABASES["default"]["ENGINE"] == "django.db.backends.mysql":
    import pymysql

    pymysql.install_as_MySQLdb()
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share the file: wait for a lock rather than fail, and take the
    # write lock up front so two writers never deadlock upgrading a read lock.
    DATABASES["default"].setdefault("OPTIONS", {}).update({"timeout": 20, "transaction_mode": "IMMEDIATE"})
# Connections to Malleable's own database are kept between requests and between tasks, checked
# before reuse, and closed after an error or once this many seconds old: a worker would
# otherwise start a PostgreSQL backend for each run, and lose the session's prepared statement.
# DATABASE_URL's ?conn_max_age= wins.
DATABASES["default"].setdefault("CONN_MAX_AGE", 300)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Axes' backend first: it refuses a locked-out client before any password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env.path("STATIC_ROOT", default=VAR_DIR / "static"))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
# Served by WhiteNoise straight from the apps' folders, so no collectstatic step is needed.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

# Celery. Embedded mode: kombu's filesystem transport under var/broker, so `make run` needs
# no broker; production sets amqp:// (RabbitMQ) or redis://.
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    BROKER_DIR = VAR_DIR / "broker"
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
# No worker at all (checkers run from cron): tasks run in the process that sends them, so a
# test run is evaluated in the web request again and alarm deliveries are made there.
CELERY_TASK_ALWAYS_EAGER = _typed("CELERY_TASK_ALWAYS_EAGER", bool, False)
# Installations (or test runs) sharing one broker keep apart by queue name.
CELERY_TASK_DEFAULT_QUEUE = env.str("MALLEABLE_TASK_QUEUE", default="malleable")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Celery's Django fixup closes every database connection before and after each task unless it
# may reuse them for this many tasks; the worker closes them as Django does between requests
# instead (``malleable.celery``), so this only keeps the fixup from doing it.
CELERY_DB_REUSE_MAX = 2**31
CELERY_WORKER_CONCURRENCY = _typed("CELERY_WORKER_CONCURRENCY", int, 2)
# Beat's entries are the fixed ones below (checkers keep their own schedules in their rows), so
# Celery's file scheduler is enough: no scheduler app whose models every process would load.
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_TIMEZONE = TIME_ZONE

# The checker sandbox.
SANDBOX_CACHE_DIR = Path(env.path("MALLEABLE_SANDBOX_CACHE_DIR", default=VAR_DIR / "wasm-cache"))
# The sandbox's own defaults (checkers/sandbox/outcome.py Limits) unless the operator lowers them.
SANDBOX_TIMEOUT_S = _typed("MALLEABLE_SANDBOX_TIMEOUT", float, SandboxLimits.timeout_s)
SANDBOX_MEMORY_MB = _typed("MALLEABLE_SANDBOX_MEMORY_MB", int, SandboxLimits.memory_bytes // 2**20)
SANDBOX_FUEL = _typed("MALLEABLE_SANDBOX_FUEL", int, SandboxLimits.fuel)
# A checker's module compiles once, when it is saved, in a child process bounded by these
# (checkers/sandbox/compiler.py); a module that passes them is refused at save (compile_limit).
COMPILE_TIMEOUT_S = _typed("MALLEABLE_COMPILE_TIMEOUT", float, CompileLimits.timeout_s)
COMPILE_MEMORY_MB = _typed("MALLEABLE_COMPILE_MEMORY_MB", int, CompileLimits.memory_bytes // 2**20)
if COMPILE_TIMEOUT_S <= 0 or COMPILE_MEMORY_MB < 128:
    raise ImproperlyConfigured(
        "MALLEABLE_COMPILE_TIMEOUT must be positive and MALLEABLE_COMPILE_MEMORY_MB at least 128 "
        "(the compiler's own process needs about 60 MB)"
    )

# Tenant quotas (checkers/quotas.py, docs/production.md "Tenant quotas"): what one namespace
# may take of the installation. Refused at save, except the worker-seconds, which skip runs.
QUOTA_CHECKERS = _typed("MALLEABLE_QUOTA_CHECKERS", int, 500)
QUOTA_MIN_INTERVAL_S = _typed("MALLEABLE_QUOTA_MIN_INTERVAL", int, 60)
QUOTA_STATEMENT_TIMEOUT_S = _typed("MALLEABLE_QUOTA_STATEMENT_TIMEOUT", float, 60.0)
QUOTA_DATASETS_PER_CHECKER = _typed("MALLEABLE_QUOTA_DATASETS_PER_CHECKER", int, 10)
QUOTA_WORKER_SECONDS = _typed("MALLEABLE_QUOTA_WORKER_SECONDS", float, 3600.0)
# A test run goes to a worker; the page waits this long for its result, then polls.
TEST_RUN_WAIT_S = _typed("MALLEABLE_TEST_RUN_WAIT", float, 10.0)
if TEST_RUN_WAIT_S < 0:
    raise ImproperlyConfigured(f"MALLEABLE_TEST_RUN_WAIT={TEST_RUN_WAIT_S:g} must be 0 or more seconds")

# Tests that need PostgreSQL, MariaDB, RabbitMQ or Redis fail instead of skipping when set.
REQUIRE_SERVICES = _typed("MALLEABLE_REQUIRE_SERVICES", bool, False)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # The dispatcher ticks every second: Celery's lines about it show at DEBUG only, and the
    # dispatcher logs a tick that queued runs itself (checkers/tasks.py).
    "filters": {
        "quiet_ticks": {"()": "malleable.logs.QuietTicks", "tasks": ["checkers.tasks.dispatch_due_checkers"]}
    },
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        name: {"filters": ["quiet_ticks"]}
        for name in ("celery.beat", "celery.worker.strategy", "celery.app.trace")
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
}

# `make run` signs this password onto the demo owner; it only ever guards local demo data.
DEMO_PASSWORD = env.str("MALLEABLE_DEMO_PASSWORD", default="malleable-demo")


def _host_list(name: str) -> list[str]:
    """Host names, addresses and CIDR networks (malleable/outbound.py); a bad network names the variable."""
    entries = [entry.strip() for entry in env.list(name, default=[]) if entry.strip()]
    for entry in entries:
        if "/" in entry:
            try:
                ipaddress.ip_network(entry.strip("[]"), strict=False)
            except ValueError as exc:
                raise ImproperlyConfigured(f"{name}: {entry!r} is not a network ({exc})") from None
    return entries


# Outbound connections (malleable/outbound.py): loopback, link-local, multicast and Malleable's own
# services are refused unless listed; private ranges only when this is set.
REFUSE_PRIVATE_ADDRESSES = _typed("MALLEABLE_REFUSE_PRIVATE_ADDRESSES", bool, False)
# Datasources: where checkers may read. Never Malleable's own database.
DATASOURCE_ALLOWED_HOSTS = _host_list("MALLEABLE_DATASOURCE_ALLOWED_HOSTS")
# Each namespace reads only its own subdirectory, named after its slug.
DATASOURCE_SQLITE_DIR = Path(env.path("MALLEABLE_DATASOURCE_SQLITE_DIR", default=VAR_DIR / "datasources"))
# A role that could do more than read (superuser, server files, other sessions) is refused
# unless the operator says otherwise; the SQL screen alone cannot stop a superuser.
DATASOURCE_ALLOW_PRIVILEGED_ROLES = _typed("MALLEABLE_DATASOURCE_ALLOW_PRIVILEGED_ROLES", bool, False)

# Bytes of rows one dataset may bring into a worker or a page (about its JSON size); past it
# the fetch stops and a code checker's run is a dataset_truncated error.
DATASET_MAX_BYTES = _typed("MALLEABLE_DATASET_MAX_BYTES", int, 64 * 1024 * 1024)
if DATASET_MAX_BYTES < 1:
    raise ImproperlyConfigured(f"MALLEABLE_DATASET_MAX_BYTES={DATASET_MAX_BYTES} must be at least 1")

# Scheduling (docs/deploy.md): beat sends the dispatcher every tick on a queue of its own, so
# a backlog of runs never delays it; it claims every due checker, DISPATCH_BATCH per transaction.
# A worker consumes both queues unless started with -Q naming one.
DISPATCH_INTERVAL_S = _typed("MALLEABLE_DISPATCH_INTERVAL", float, 1.0)
DISPATCH_BATCH = _typed("MALLEABLE_DISPATCH_BATCH", int, 500)
if DISPATCH_BATCH < 1:
    raise ImproperlyConfigured(f"MALLEABLE_DISPATCH_BATCH={DISPATCH_BATCH} must be at least 1")
DISPATCH_QUEUE = env.str("MALLEABLE_DISPATCH_QUEUE", default=f"{CELERY_TASK_DEFAULT_QUEUE}.dispatch")
# Names and options rather than kombu's Queue: a cron-style run_checker never imports kombu.
CELERY_TASK_QUEUES = {
    name: {"exchange": name, "routing_key": name} for name in (CELERY_TASK_DEFAULT_QUEUE, DISPATCH_QUEUE)
}
CELERY_TASK_ROUTES = {
    "checkers.tasks.dispatch_due_checkers": {"queue": DISPATCH_QUEUE, "routing_key": DISPATCH_QUEUE},
    "checkers.tasks.recover_lost_runs": {"queue": DISPATCH_QUEUE, "routing_key": DISPATCH_QUEUE},
}
# Recovery: a run still `running` this long past its hard time limit lost its worker; one
# `queued` this long was never started (sent again once, then recorded as worker_lost).
RUN_LOST_GRACE_S = _typed("MALLEABLE_RUN_LOST_GRACE", float, 30.0)
RUN_QUEUED_LOST_S = _typed("MALLEABLE_RUN_QUEUED_LOST", float, 600.0)
RECOVERY_INTERVAL_S = _typed("MALLEABLE_RECOVERY_INTERVAL", float, 30.0)
CELERY_BEAT_SCHEDULE = {
    "dispatch-due-checkers": {
        "task": "checkers.tasks.dispatch_due_checkers",
        "schedule": DISPATCH_INTERVAL_S,
        # A tick nobody took in time is dropped: the next one claims the same checkers.
        "options": {"expires": max(DISPATCH_INTERVAL_S * 5, 10)},
    },
    "recover-lost-runs": {"task": "checkers.tasks.recover_lost_runs", "schedule": RECOVERY_INTERVAL_S},
    # Runs past their namespace's retention (docs/checkers.md, "Retention"), in batches.
    "prune-history": {"task": "checkers.tasks.prune_history", "schedule": 3600.0},
}

# --- Alarms (alarms/, docs/alarms.md) -------------------------------------------------------
# Where `queue` channels without a URL of their own publish; empty: CELERY_BROKER_URL.
ALARM_BROKER_URL = env.str("MALLEABLE_ALARM_BROKER_URL", default="")
# The only brokers a `queue` channel may name in its URL, besides the default one above.
ALARM_BROKERS = env.list("MALLEABLE_ALARM_BROKERS", default=[])
for _broker in ALARM_BROKERS:
    if "://" not in _broker:
        raise ImproperlyConfigured(
            f"MALLEABLE_ALARM_BROKERS: {_broker!r} is not a broker URL (amqp://host:port/vhost)"
        )
# Hosts webhook and apprise channels may reach although the outbound policy refuses them.
CHANNEL_ALLOWED_HOSTS = _host_list("MALLEABLE_CHANNEL_ALLOWED_HOSTS")
# Tries a delivery makes at once (the first phase); the rest are the sweep's, with backoff.
ALARM_QUICK_TRIES = _typed("MALLEABLE_ALARM_QUICK_TRIES", int, 3)
if ALARM_QUICK_TRIES < 1:
    raise ImproperlyConfigured(f"MALLEABLE_ALARM_QUICK_TRIES={ALARM_QUICK_TRIES} must be at least 1")
ALARM_QUICK_DELAY_S = _typed("MALLEABLE_ALARM_QUICK_DELAY", float, 0.5)
ALARM_RETRY_BASE_S = _typed("MALLEABLE_ALARM_RETRY_BASE", float, 30.0)
ALARM_RETRY_MAX_S = _typed("MALLEABLE_ALARM_RETRY_MAX", float, 3600.0)
# Seconds a claimed delivery belongs to one worker; after that the sweep may take it over.
ALARM_CLAIM_S = _typed("MALLEABLE_ALARM_CLAIM", float, 120.0)
ALARM_TIMEOUT_S = _typed("MALLEABLE_ALARM_TIMEOUT", float, 10.0)
ALARM_SWEEP_INTERVAL_S = _typed("MALLEABLE_ALARM_SWEEP_INTERVAL", float, 30.0)
ALARM_SWEEP_BATCH = _typed("MALLEABLE_ALARM_SWEEP_BATCH", int, 200)
# A channel whose alarms all wait out their backoff is still probed (with its oldest) this often,
# so alarms held through an outage go out within a probe of the channel's return.
ALARM_PROBE_S = _typed("MALLEABLE_ALARM_PROBE", float, ALARM_SWEEP_INTERVAL_S)
# E-mail channels: EMAIL_URL such as smtp+tls://user:password@mail.example.com:587.
globals().update(env.email_url("EMAIL_URL", default="smtp://localhost:25"))
DEFAULT_FROM_EMAIL = env.str("MALLEABLE_ALARM_FROM_EMAIL", default="malleable@localhost")
CELERY_BEAT_SCHEDULE |= {
    "alarms-sweep": {"task": "alarms.tasks.sweep_notifications", "schedule": ALARM_SWEEP_INTERVAL_S},
    "alarms-repeat": {"task": "alarms.tasks.announce_due_alarms", "schedule": ALARM_SWEEP_INTERVAL_S},
}
# --- end of alarms --------------------------------------------------------------------------

# --- Accounts and transport (README "Production") -------------------------------------------
# Sign-in throttling (django-axes) on the pages' and the admin's login: after this many failures
# for one username from one address, every try is refused, the right password too, until the
# cool-off has passed without a try; a successful sign-in clears the count.
AXES_FAILURE_LIMIT = _typed("MALLEABLE_LOGIN_FAILURE_LIMIT", int, 10)
if AXES_FAILURE_LIMIT < 1:
    raise ImproperlyConfigured(f"MALLEABLE_LOGIN_FAILURE_LIMIT={AXES_FAILURE_LIMIT} must be at least 1")
LOGIN_COOLOFF_MINUTES = _typed("MALLEABLE_LOGIN_COOLOFF_MINUTES", int, 15)
if LOGIN_COOLOFF_MINUTES < 1:
    raise ImproperlyConfigured(f"MALLEABLE_LOGIN_COOLOFF_MINUTES={LOGIN_COOLOFF_MINUTES} must be at least 1")
AXES_COOLOFF_TIME = timedelta(minutes=LOGIN_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "namespaces.accounts.locked_out"
AXES_CLIENT_IP_CALLABLE = "namespaces.accounts.client_ip"
AXES_VERBOSE = False

# A reverse proxy in front terminates TLS: trust its X-Forwarded-Proto for "is this https" and
# the address it appends last to X-Forwarded-For as the client's (for throttling). Only set it
# when the proxy overwrites X-Forwarded-Proto, or any client could claim https.
BEHIND_PROXY = _typed("MALLEABLE_BEHIND_PROXY", bool, False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

# An https SITE_URL means the site is only served over https: cookies only travel encrypted,
# plain http is redirected, and browsers are told (HSTS) to use nothing else for a year.
HTTPS = SITE_URL.startswith("https://")
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_SSL_REDIRECT = _typed("MALLEABLE_SSL_REDIRECT", bool, HTTPS)
SECURE_HSTS_SECONDS = _typed("MALLEABLE_HSTS_SECONDS", int, 31_536_000) if HTTPS else 0
# includeSubDomains and preload commit every other host of the domain to https as well, which
# only the domain's owner can promise: off unless the operator says so. Django's deploy check
# warns about each while off (W005, W021); that is this decision, so those two stay silent.
SECURE_HSTS_INCLUDE_SUBDOMAINS = _typed("MALLEABLE_HSTS_INCLUDE_SUBDOMAINS", bool, False)
SECURE_HSTS_PRELOAD = _typed("MALLEABLE_HSTS_PRELOAD", bool, False)
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]

# Content-Security-Policy on every response, http or https: scripts and styles only from this
# site's static files, so neither an inline <script>, an event-handler attribute nor a style
# attribute slipped into a page runs. Images may also be data: URIs (Bootstrap's icons) and
# https: (pictures a runbook links to).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:", "https:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    },
}
# --- end of accounts and transport ----------------------------------------------------------

# --- Watching the watcher (health/, docs/health.md) -------------------------------------------
# A checker whose due run has not started within the larger of this and one interval is late.
LATE_GRACE_S = _typed("MALLEABLE_LATE_GRACE", float, 120.0)
HEARTBEAT_INTERVAL_S = _typed("MALLEABLE_HEARTBEAT_INTERVAL", float, 15.0)
# Unhealthy past these: no dispatcher tick, no worker heartbeat, an alarm waiting in the outbox.
HEALTH_DISPATCHER_MAX_AGE_S = _typed(
    "MALLEABLE_HEALTH_DISPATCHER_MAX_AGE", float, max(120.0, 6 * DISPATCH_INTERVAL_S)
)
HEALTH_WORKER_MAX_AGE_S = _typed(
    "MALLEABLE_HEALTH_WORKER_MAX_AGE", float, max(120.0, 4 * HEARTBEAT_INTERVAL_S)
)
HEALTH_OUTBOX_MAX_AGE_S = _typed("MALLEABLE_HEALTH_OUTBOX_MAX_AGE", float, 600.0)
HEALTH_BROKER_TIMEOUT_S = _typed("MALLEABLE_HEALTH_BROKER_TIMEOUT", float, 3.0)
# /metrics answers only a request bearing this token; unset, /metrics is 404.
METRICS_TOKEN = env.str("MALLEABLE_METRICS_TOKEN", default="")
# Where the watchdog tells operators: apprise and webhook URLs, separated by spaces; webhooks are
# signed with the secret below. Validated as channels are (health/operator.py, `manage.py check`).
OPERATOR_CHANNELS = env.str("MALLEABLE_OPERATOR_CHANNELS", default="").split()
OPERATOR_WEBHOOK_SECRET = env.str("MALLEABLE_OPERATOR_WEBHOOK_SECRET", default="")
# What the watchdog last told operators, so a problem is said once and its recovery once.
WATCHDOG_STATE_FILE = Path(env.path("MALLEABLE_WATCHDOG_STATE", default=VAR_DIR / "watchdog-state.json"))
# /readyz also tells the operator channels (through the watchdog's memory) when this is on.
READYZ_NOTIFIES = _typed("MALLEABLE_READYZ_NOTIFIES", bool, False)
CELERY_BEAT_SCHEDULE |= {
    "health-late": {"task": "health.tasks.sweep_late_checkers", "schedule": ALARM_SWEEP_INTERVAL_S},
}
# --- end of watching the watcher ------------------------------------------------------------

# --- the HTTP API (docs/api.md) -------------------------------------------------------------
# Personal bearer tokens, or the session for the browsable schema; every error is one JSON
# shape. The sandbox service is throttled per token (or per user) at MALLEABLE_API_SANDBOX_RATE,
# every other call at MALLEABLE_API_RATE: "N/second", "N/minute", "N/hour" or "N/day".
API_MAX_BODY_BYTES = _typed("MALLEABLE_API_MAX_BODY_BYTES", int, 48 * 1024 * 1024)
if API_MAX_BODY_BYTES < 1024:
    raise ImproperlyConfigured(f"MALLEABLE_API_MAX_BODY_BYTES={API_MAX_BODY_BYTES} must be at least 1024")
DATA_UPLOAD_MAX_MEMORY_SIZE = max(2_621_440, API_MAX_BODY_BYTES)
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": [
        "rest_framework.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_THROTTLE_CLASSES": ["api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "api": env.str("MALLEABLE_API_RATE", default="1200/minute"),
        "sandbox": env.str("MALLEABLE_API_SANDBOX_RATE", default="30/minute"),
    },
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Malleable API",
    "DESCRIPTION": "Namespaces, checkers, runs, alarms and the sandbox service (docs/api.md).",
    "VERSION": "1",
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "ENUM_NAME_OVERRIDES": {
        "AlarmStateEnum": "alarms.models.State",
        "RunStatusEnum": "checkers.models.RunStatus",
        "CheckerKindEnum": "checkers.models.CheckerKind",
        "SeverityEnum": "checkers.models.Severity",
        "RoleEnum": "namespaces.models.Role",
    },
}
# --- end of the HTTP API --------------------------------------------------------------------
