"""What is wrong with the installation right now, in words with no tenant data in them.

``/readyz`` reads the database, the broker, the dispatcher's last tick and the outbox; the
watchdog adds the workers. Each check is a name, whether it is fine, and a short sentence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection
from django.utils import timezone

from health.models import Heartbeat


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    # How long it has been wrong, in seconds: operator messages say "for N minutes".
    for_s: float = 0.0


@dataclass(frozen=True)
class Report:
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(check.ok for check in self.checks)

    @property
    def problems(self) -> tuple[Check, ...]:
        return tuple(check for check in self.checks if not check.ok)

    def as_json(self) -> dict:
        return {
            "status": "ok" if self.ok else "unhealthy",
            "checks": {check.name: {"ok": check.ok, "detail": check.detail} for check in self.checks},
        }


def ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    return f"{seconds / 60:.0f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def database() -> Check:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception as exc:
        return Check("database", False, f"the database does not answer ({type(exc).__name__})")
    return Check("database", True, "answers")


def broker() -> Check:
    from kombu import Connection

    try:
        with Connection(settings.CELERY_BROKER_URL, connect_timeout=settings.HEALTH_BROKER_TIMEOUT_S) as conn:
            conn.ensure_connection(max_retries=1, timeout=settings.HEALTH_BROKER_TIMEOUT_S)
    except Exception as exc:
        return Check("broker", False, f"the broker does not answer ({type(exc).__name__})")
    return Check("broker", True, "answers")


def dispatcher(now: datetime) -> Check:
    tick = Heartbeat.last(Heartbeat.Kind.DISPATCHER)
    limit = settings.HEALTH_DISPATCHER_MAX_AGE_S
    if tick is None:
        return Check("dispatcher", True, "never ticked: no beat yet (or a cron-only installation)")
    age = (now - tick.seen).total_seconds()
    if age > limit:
        return Check("dispatcher", False, f"scheduler stopped: no dispatcher tick for {ago(age)}", age)
    return Check("dispatcher", True, f"last tick {ago(age)} ago")


def workers(now: datetime) -> Check:
    limit = settings.HEALTH_WORKER_MAX_AGE_S
    alive = Heartbeat.objects.filter(kind=Heartbeat.Kind.WORKER, seen__gte=now - timedelta(seconds=limit))
    count = alive.count()
    if count:
        return Check("workers", True, f"{count} worker(s) seen in the last {ago(limit)}")
    last = Heartbeat.last(Heartbeat.Kind.WORKER)
    if last is None:
        return Check("workers", True, "none seen yet (a cron-only installation has none)")
    age = (now - last.seen).total_seconds()
    return Check("workers", False, f"no worker for {ago(age)}", age)


def outbox(now: datetime) -> Check:
    """The oldest alarm still waiting on an enabled channel (a disabled one is its owner's to fix)."""
    from alarms.models import Notification

    waiting = Notification.objects.filter(
        status__in=[Notification.Status.PENDING, Notification.Status.DELIVERING], channel__enabled=True
    )
    oldest = waiting.order_by("created").values_list("created", flat=True).first()
    if oldest is None:
        return Check("outbox", True, "nothing waiting")
    age = (now - oldest).total_seconds()
    if age > settings.HEALTH_OUTBOX_MAX_AGE_S:
        return Check("outbox", False, f"alarm outbox stuck for {ago(age)}", age)
    return Check("outbox", True, f"oldest waiting {ago(age)}")


def readiness(now: datetime | None = None) -> Report:
    db = database()
    if not db.ok:
        return Report((db, broker()))
    now = now or timezone.now()
    return Report((db, broker(), dispatcher(now), outbox(now)))


def watchdog(now: datetime | None = None) -> Report:
    db = database()
    if not db.ok:
        return Report((db,))
    now = now or timezone.now()
    return Report((db, dispatcher(now), workers(now), outbox(now)))
