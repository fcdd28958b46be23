"""Tenant quotas: what one namespace may take of a shared installation (docs/production.md,
"Tenant quotas"). The operator sets them (``MALLEABLE_QUOTA_*``); this module alone decides,
and the pages' forms, the admin, checks as code and the API all ask it (through the models'
``clean()`` where the model can tell, directly where only the caller knows, as for the
datasets a checker is about to read).

- Checkers per namespace, and the shortest interval between runs (a cron included).
- A datasource's statement timeout, and the datasets one checker reads: together they bound
  how long one run can hold a worker.
- Worker-seconds per namespace per clock hour: once a namespace's runs used them, its
  further runs that hour are recorded as ``skipped`` (the alarm state does not move), so one
  namespace's heavy checkers cannot starve the others. Test runs count, and are skipped, too.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from django.conf import settings
from django.db.models import Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from namespaces.models import Namespace

# Cron firings looked at to find a schedule's shortest gap: a day of every-minute firings,
# and years of monthly ones; every pattern repeats well within it.
CRON_FIRINGS_EXAMINED = 1500


def shortest_gap_s(cron: str) -> float:
    """The shortest time between two firings of a valid cron expression, in seconds."""
    firings = croniter(cron, datetime(2000, 1, 1, tzinfo=ZoneInfo("UTC")))
    previous = firings.get_next(datetime)
    shortest = float("inf")
    for _ in range(CRON_FIRINGS_EXAMINED):
        current = firings.get_next(datetime)
        shortest = min(shortest, (current - previous).total_seconds())
        if shortest <= 60:
            break
        previous = current
    return shortest


def interval_error(cron: str, every: int | None) -> str | None:
    """A schedule more frequent than the operator allows, said in its own terms."""
    floor = settings.QUOTA_MIN_INTERVAL_S
    if every is not None and every < floor:
        return f"Every {every} s is more often than this installation allows: at least {floor:,} s."
    if cron and shortest_gap_s(cron) < floor:
        return (
            f"{cron!r} fires more often than this installation allows (every "
            f"{shortest_gap_s(cron):,.0f} s at times): at least {floor:,} s between runs."
        )
    return None


def checkers_error(namespace_id: int | None) -> str | None:
    """A new checker past the namespace's number of checkers."""
    from checkers.models import Checker

    limit = settings.QUOTA_CHECKERS
    if namespace_id is not None and Checker.objects.filter(namespace_id=namespace_id).count() >= limit:
        return (
            f"This namespace has its {limit:,} checkers, the most this installation allows: delete one first."
        )
    return None


def datasets_error(count: int) -> str | None:
    """A checker reading more datasets than the operator allows."""
    limit = settings.QUOTA_DATASETS_PER_CHECKER
    if count > limit:
        return f"A checker reads at most {limit:,} datasets on this installation; this one reads {count:,}."
    return None


def statement_timeout_error(seconds: float | None) -> str | None:
    limit = settings.QUOTA_STATEMENT_TIMEOUT_S
    if seconds is not None and seconds > limit:
        return f"At most {limit:g} s on this installation."
    return None


def hour_start(namespace: Namespace, now: datetime) -> datetime:
    """The start of the namespace's current clock hour (a half-hour zone's hours included)."""
    local = now.astimezone(ZoneInfo(namespace.timezone))
    return local.replace(minute=0, second=0, microsecond=0)


def worker_seconds_used(namespace: Namespace, since: datetime) -> float:
    """Its runs' time and its test runs' (kept an hour, so a clock hour's are all there)."""
    from checkers.models import CheckRun, TestRun

    tests = TestRun.objects.filter(namespace=namespace, finished__gte=since).values("namespace")
    tested = Coalesce(Subquery(tests.annotate(ms=Sum("duration_ms")).values("ms")), 0.0)
    runs = CheckRun.objects.filter(checker__namespace=namespace, finished__gte=since)
    # One query, as every run asks it before it starts.
    return runs.aggregate(ms=Coalesce(Sum("duration_ms"), 0.0) + tested)["ms"] / 1000


def budget_spent(namespace: Namespace, now: datetime | None = None) -> str | None:
    """Why a run of this namespace is skipped now, or None while its hour's budget lasts."""
    now = now or timezone.now()
    budget = settings.QUOTA_WORKER_SECONDS
    start = hour_start(namespace, now)
    if worker_seconds_used(namespace, start) < budget:
        return None
    next_hour = start + timedelta(hours=1)
    return (
        f"skipped: namespace {namespace.slug} used its {budget:,.0f} worker-seconds for this hour; "
        f"next budget at {next_hour:%H:%M}"
    )
