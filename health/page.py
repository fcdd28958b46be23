"""The health page's figures, read for superusers: the installation, not any one namespace."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from alarms.models import Channel, Notification
from checkers.models import CheckRun, RunStatus
from health import late, status
from health.models import Heartbeat

# A run still "running" this long after it started outlived every worker time limit.
STUCK_AFTER = timedelta(minutes=15)


@dataclass
class Snapshot:
    now: datetime
    report: status.Report
    dispatcher: Heartbeat | None
    workers: list[Heartbeat]
    queue: dict[str, int]
    outbox: dict[str, int]
    oldest_waiting: datetime | None
    disabled_channels: list[Channel]
    stuck_runs: list[CheckRun]
    late: list[late.Late]
    cache: dict[str, int] = field(default_factory=dict)


def module_cache(folder: Path) -> dict[str, int]:
    files = [path for path in folder.rglob("*") if path.is_file()] if folder.is_dir() else []
    return {"files": len(files), "bytes": sum(path.stat().st_size for path in files)}


def snapshot(now: datetime | None = None) -> Snapshot:
    now = now or timezone.now()
    since = now - timedelta(seconds=settings.HEALTH_WORKER_MAX_AGE_S * 5)
    waiting = Notification.objects.exclude(status=Notification.Status.DELIVERED)
    return Snapshot(
        now=now,
        report=status.watchdog(now),
        dispatcher=Heartbeat.last(Heartbeat.Kind.DISPATCHER),
        workers=list(Heartbeat.objects.filter(kind=Heartbeat.Kind.WORKER, seen__gte=since).order_by("-seen")),
        queue=dict(
            CheckRun.objects.filter(status__in=[RunStatus.QUEUED, RunStatus.RUNNING])
            .values_list("status")
            .annotate(n=Count("pk"))
            .order_by()
        ),
        outbox=dict(waiting.values_list("status").annotate(n=Count("pk")).order_by()),
        oldest_waiting=waiting.exclude(status=Notification.Status.HELD)
        .order_by("created")
        .values_list("created", flat=True)
        .first(),
        disabled_channels=list(Channel.objects.filter(enabled=False).select_related("namespace")),
        stuck_runs=list(
            CheckRun.objects.filter(status=RunStatus.RUNNING, started__lt=now - STUCK_AFTER)
            .select_related("checker__namespace")
            .order_by("started")[:50]
        ),
        late=late.late_checkers(now),
        cache=module_cache(settings.SANDBOX_CACHE_DIR),
    )
