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
  A worker process asks the database at most once a second per namespace (``FRESH``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import croniter
from django.conf import settings
from django.db import connection
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


# A run's ``finished`` is set just before its recording's short transaction commits (a test
# run's, just before its autocommitted save), so a row finished more than SETTLE ago, by the
# clocks of the workers, is committed and will not change: its duration can be remembered.
# Retention never prunes the current hour; a deleted checker's remembered runs stay spent.
SETTLE = timedelta(seconds=60)

# How long a process answers from its last sum for a namespace before it asks the database
# again. At 1,000 runs a minute each sum reads a minute of runs, about 1,000 rows, so asking on
# every run cost each run a millisecond of the database's time. A process runs one run at a
# time, so the runs it starts on a stale answer take the namespace past its budget by at most
# this much of each process's time, on an hourly budget.
FRESH = timedelta(seconds=1)

# Per process (a forked worker inherits sums that stay true): namespace id -> its hour's start,
# the watermark, the milliseconds of its runs and test runs finished from the hour's start to
# the watermark, when it last asked and the seconds it found. One tuple, replaced whole, so
# threads can only lose each other's progress.
_settled: dict[int, tuple[datetime, datetime, float, datetime | None, float]] = {}


def forget() -> None:
    """Drop the remembered sums (between tests, where a rolled-back namespace's id comes back)."""
    _settled.clear()


def worker_seconds_used(namespace: Namespace, since: datetime, now: datetime) -> float:
    """Its runs' time and its test runs' since the hour's start (test runs are kept an hour).

    The last answer while it is ``FRESH``; else one query, as every run asks before it starts,
    over the rows finished since this process's last watermark only: SETTLE of runs and the
    time since its last query, however far into the hour. The first check of an hour in a
    process sums the hour so far.
    """
    start, watermark, settled_ms, asked, used = _settled.get(namespace.pk, (since, since, 0.0, None, 0.0))
    if start != since:
        watermark, settled_ms, asked = since, 0.0, None
    if asked is not None and asked <= now < asked + FRESH:
        return used
    newer = max(watermark, now - SETTLE)
    fresh_ms, settling_ms = _durations(namespace, watermark, newer)
    used = (settled_ms + fresh_ms) / 1000
    _settled[namespace.pk] = (since, newer, settled_ms + settling_ms, now, used)
    return used


# Both tables' rows finished from a time on, and the part of their time before a later one.
# Plain SQL: the ORM took longer to build this statement (two subqueries) than the database
# to run it. ``CASE`` rather than ``FILTER``, which MySQL lacks.
DURATIONS_SQL = """
SELECT COALESCE(SUM(duration_ms), 0), COALESCE(SUM(CASE WHEN finished < %s THEN duration_ms END), 0)
FROM (
    SELECT run.finished, run.duration_ms FROM checkers_checkrun run
    JOIN checkers_checker checker ON checker.id = run.checker_id
    WHERE checker.namespace_id = %s AND run.finished >= %s
    UNION ALL
    SELECT finished, duration_ms FROM checkers_testrun WHERE namespace_id = %s AND finished >= %s
) AS finished_rows
"""


def _durations(namespace: Namespace, since: datetime, before: datetime) -> tuple[float, float]:
    """Milliseconds of the rows finished from ``since`` on, and of those of them before ``before``."""
    since_value, before_value = (connection.ops.adapt_datetimefield_value(at) for at in (since, before))
    with connection.cursor() as cursor:
        cursor.execute(DURATIONS_SQL, [before_value, namespace.pk, since_value, namespace.pk, since_value])
        fresh_ms, settling_ms = cursor.fetchone()
    return float(fresh_ms), float(settling_ms)


def budget_spent(namespace: Namespace, now: datetime | None = None) -> str | None:
    """Why a run of this namespace is skipped now, or None while its hour's budget lasts."""
    now = now or timezone.now()
    budget = settings.QUOTA_WORKER_SECONDS
    start = hour_start(namespace, now)
    if worker_seconds_used(namespace, start, now) < budget:
        return None
    next_hour = start + timedelta(hours=1)
    return (
        f"skipped: namespace {namespace.slug} used its {budget:,.0f} worker-seconds for this hour; "
        f"next budget at {next_hour:%H:%M}"
    )
