"""Claiming due checkers in batches, and recovering the runs a dead worker left behind.

A batch is one transaction of three statements whatever its size: lock the due checkers
(skipping rows another dispatcher holds), move each one's next run forward, insert one run
per checker. Two dispatchers, or a beat tick twice, never claim one slot twice: a locked row
is skipped, and a committed one is no longer due; should a slot come due again all the same
(a checker's next run set back by hand), the database's unique constraint skips its insert.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import QuerySet
from django.db.models.constants import OnConflict

from checkers.models import Checker, CheckerKind, CheckRun, Dataset, RunStatus, Trigger
from checkers.sandbox import ErrorKind

# Seconds a worker may take beyond the run's own budgets before Celery kills the task.
TIME_LIMIT_MARGIN_S = 10
# Celery's hard limit is this much past the soft one, where the run records its own timeout.
HARD_LIMIT_EXTRA_S = 5
# What a dispatcher reads of a checker: never its source or module, which can be megabytes.
HEAVY_FIELDS = ("source", "wasm_module", "description", "params")


@dataclass(frozen=True)
class Claimed:
    """A queued run and the worker time limit (soft, in seconds) its task is sent with."""

    run: CheckRun
    time_limit: int


def claim_due(now: datetime, limit: int) -> list[Claimed]:
    """Queue one run of up to ``limit`` due checkers, in one transaction of three statements."""
    with transaction.atomic():
        due = list(_locked(Checker.objects.due(now)).order_by("next_run_at")[:limit])
        if not due:
            return []
        slots = [checker.next_run_at or now for checker in due]  # due() has only those with a time
        for checker, due_at in zip(due, slots, strict=True):
            checker.next_run_at = following(checker, due_at, now)
        Checker.objects.bulk_update(due, ["next_run_at"])
        runs = [
            CheckRun(checker=checker, trigger=Trigger.SCHEDULE, scheduled_for=due_at, queued=now)
            for checker, due_at in zip(due, slots, strict=True)
        ]
        queued = _insert(runs)
    limits = time_limits(due)
    return [Claimed(run, limits[run.checker_id]) for run in queued]


def _insert(runs: list[CheckRun]) -> list[CheckRun]:
    """Insert the runs, skipping a slot that has its run already (the unique constraint
    ``one_run_per_scheduled_slot``): the runs inserted, with their ids.

    ``bulk_create(ignore_conflicts=True)`` gives no ids back, and a task needs its run's id, so
    this is the insert it makes (``QuerySet._insert``, Django's private API; the tests of this
    module pin what it returns) asking for the ids of the rows inserted, where reading them
    back would cost a batch a fourth statement. MySQL returns no rows from an insert: there the
    batch's rows are read back (a skipped slot's run was queued before this batch).
    """
    if not runs:
        return []
    if not connection.features.can_return_rows_from_bulk_insert:
        CheckRun.objects.bulk_create(runs, ignore_conflicts=True)
        made = CheckRun.objects.filter(checker_id__in=[run.checker_id for run in runs], queued=runs[0].queued)
        return _adopt(runs, {checker_id: pk for pk, checker_id in made.values_list("pk", "checker_id")})
    meta = CheckRun._meta
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    returned = CheckRun.objects._insert(  # type: ignore[attr-defined]
        runs, fields, returning_fields=[meta.pk, meta.get_field("checker")], on_conflict=OnConflict.IGNORE
    )
    # A single run skipped comes back as None (Django fetches one row for one object).
    return _adopt(runs, {checker_id: pk for pk, checker_id in filter(None, returned)})


def _adopt(runs: list[CheckRun], ids: dict[int, int]) -> list[CheckRun]:
    """The runs that were inserted, given their ids (by checker: a batch has one run a checker)."""
    inserted = [run for run in runs if run.checker_id in ids]
    for run in inserted:
        run.pk = ids[run.checker_id]
        run._state.adding, run._state.db = False, CheckRun.objects.db
    return inserted


def _locked(checkers: QuerySet[Checker]) -> QuerySet[Checker]:
    """Lock the rows for this transaction, skipping those another dispatcher holds."""
    checkers = checkers.select_related("namespace").defer(*HEAVY_FIELDS)
    features = connection.features
    if not features.has_select_for_update:
        return checkers  # SQLite: the transaction takes the write lock up front (settings)
    return checkers.select_for_update(
        skip_locked=features.has_select_for_update_skip_locked,
        of=("self",) if features.has_select_for_update_of else (),
    )


def following(checker: Checker, due_at: datetime, now: datetime) -> datetime | None:
    """The checker's next slot after the one being claimed; None unschedules a schedule that
    can never fire (``Checker.compute_next_run`` says why)."""
    try:
        schedule = checker.schedule
        return schedule.following(due_at, now, checker.zone) if schedule else None
    except ValueError:
        return None


def time_limits(checkers: Iterable[Checker]) -> dict[int, int]:
    """Each checker's worker time limit: its dataset queries' budgets, then the sandbox's, plus
    a margin. Two queries for any number of checkers (rule checkers' datasets, code checkers')."""
    checkers = list(checkers)
    rule_ids = [c.pk for c in checkers if c.kind == CheckerKind.RULE]
    code_ids = [c.pk for c in checkers if c.kind != CheckerKind.RULE]
    rows: list[tuple[int, int, float]] = []
    if rule_ids:
        reads = Dataset.objects.filter(rules__checker__in=rule_ids)
        rows += reads.values_list("rules__checker", "pk", "datasource__statement_timeout")
    if code_ids:
        reads = Dataset.objects.filter(checkers__in=code_ids)
        rows += reads.values_list("checkers", "pk", "datasource__statement_timeout")
    budgets: dict[int, dict[int, float]] = defaultdict(dict)
    for checker_id, dataset_id, seconds in rows:
        budgets[checker_id][dataset_id] = seconds
    return {c.pk: budget(c, budgets[c.pk].values()) for c in checkers}


def budget(checker: Checker, statement_timeouts: Iterable[float]) -> int:
    """Every dataset query's budget, compiling a module the cache lacks, the sandbox's, a margin."""
    compiling = settings.COMPILE_TIMEOUT_S if checker.kind == CheckerKind.WASM else 0
    return int(sum(statement_timeouts) + compiling + checker.limits().timeout_s + TIME_LIMIT_MARGIN_S)


# --- Recovery --------------------------------------------------------------------------------


@dataclass
class Stale:
    """What the sweep found: runs to send again, and runs to record as ``worker_lost``."""

    requeue: list[CheckRun]
    lost: list[CheckRun]


def stale_runs(now: datetime, limit: int = 500) -> Stale:
    """Runs a dead worker left behind.

    - ``running`` past its hard time limit plus ``RUN_LOST_GRACE_S``: Celery would have ended
      the task by then, so its worker died (SIGKILL, out of memory, machine lost).
    - ``queued`` for ``RUN_QUEUED_LOST_S`` and never started: its message may be lost, so it is
      sent again, once; still not started that long after, it is lost too.
    """
    grace = timedelta(seconds=settings.RUN_LOST_GRACE_S)
    waited = now - timedelta(seconds=settings.RUN_QUEUED_LOST_S)
    runs = CheckRun.objects.select_related("checker__namespace").defer(
        *(f"checker__{name}" for name in HEAVY_FIELDS)
    )
    running = list(runs.filter(status=RunStatus.RUNNING, started__lt=now - grace).order_by("pk")[:limit])
    limits = time_limits({run.checker_id: run.checker for run in running}.values())
    hard = {pk: timedelta(seconds=seconds + HARD_LIMIT_EXTRA_S) for pk, seconds in limits.items()}
    queued = runs.filter(status=RunStatus.QUEUED, queued__lt=waited).order_by("pk")
    return Stale(
        requeue=list(queued.filter(requeued=None)[:limit]),
        lost=[run for run in running if (run.started or now) < now - grace - hard[run.checker_id]]
        + list(queued.filter(requeued__lt=waited)[:limit]),
    )


def mark_requeued(run: CheckRun, now: datetime) -> bool:
    """Whether this sweep is the one that sends the run again (a conditional UPDATE)."""
    run.requeued = now
    return bool(
        CheckRun.objects.filter(pk=run.pk, status=RunStatus.QUEUED, requeued=None).update(requeued=now)
    )


def take_lost(run: CheckRun) -> bool:
    """Whether this sweep is the one that records the lost run: it is still as the sweep saw
    it (a late worker cannot start it now, and a second sweep finds it taken)."""
    still = CheckRun.objects.filter(pk=run.pk, status=run.status, started=run.started)
    return bool(still.update(status=RunStatus.ERROR))


def lost_detail(run: CheckRun, now: datetime) -> str:
    """The error's detail: what happened to the run, and what to look at."""
    if run.started is None:
        return (
            f"{ErrorKind.WORKER_LOST}: no worker started this run: queued at {run.queued:%H:%M:%S} "
            f"UTC, sent again at {run.requeued:%H:%M:%S} UTC; are the workers running?"
        )
    seconds = round((now - run.started).total_seconds())
    return (
        f"{ErrorKind.WORKER_LOST}: the worker running this run since {run.started:%H:%M:%S} UTC "
        f"({seconds} s ago, past its time limit) stopped without recording it: killed, out of "
        "memory, or its machine lost"
    )
