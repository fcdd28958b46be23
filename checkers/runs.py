"""The flow of one run: fetch datasets, evaluate, record.

Fetching and evaluating happen outside any transaction (they take seconds and hold
connections to other databases); recording is one short transaction that writes the run
and sends ``run_recorded``, where alarms update their state in the same transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from checkers import datasources
from checkers.models import Checker, CheckerKind, CheckRun, Dataset, RunStatus, Trigger
from checkers.sandbox import ErrorKind, Outcome, SandboxError, get_sandbox
from checkers.sandbox.host import RunState
from checkers.signals import run_recorded

log = logging.getLogger(__name__)


@dataclass
class Evaluation:
    """What a run found, before anything is written."""

    outcome: Outcome
    started: datetime
    finished: datetime
    fetch_ms: float = 0.0
    sandbox_ms: float = 0.0
    dataset_stats: dict[str, dict[str, Any]] = field(default_factory=dict)


def fetch_datasets(
    checker: Checker, stats: dict[str, dict[str, Any]], declared: Iterable[Dataset] | None = None
) -> dict[str, dict[str, Any]]:
    """Every dataset the checker reads; the first failure is a ``dataset_error`` that names it.

    A dataset cut at its datasource's row cap is a ``dataset_truncated`` error unless it is
    marked as a sample: a verdict on the first N rows would say all is well when it is not.
    """
    fetched = {}
    for dataset in checker.read_datasets(declared):
        started = time.perf_counter()
        try:
            result = dataset.fetch()
        except datasources.DatasourceError as exc:
            raise SandboxError(ErrorKind.DATASET_ERROR, f"dataset {dataset.slug}: {exc}") from None
        stats[dataset.slug] = {
            "rows": len(result.rows),
            "ms": round((time.perf_counter() - started) * 1000, 3),
            "query_ms": round(result.duration_ms, 3),
            "truncated": result.truncated,
            "sample": dataset.sample,
        }
        if result.truncated and not dataset.sample:
            raise SandboxError(ErrorKind.DATASET_TRUNCATED, dataset.truncated_error(len(result.rows)))
        fetched[dataset.slug] = result.to_dataset() | ({"truncated": True} if result.truncated else {})
    return fetched


def evaluate_rule(checker: Checker, datasets: dict[str, Any]) -> Outcome:
    state = RunState(datasets, checker.limits(), checker.params)
    started, error = time.perf_counter(), None
    try:
        checker.rule().evaluate(state)
    except SandboxError as err:
        error = err
    return state.outcome((time.perf_counter() - started) * 1000, 0, error)


def evaluate(checker: Checker, declared: Iterable[Dataset] | None = None) -> Evaluation:
    """Fetch and evaluate; never raises for the checker's or the datasource's faults.

    ``declared``: the datasets of a code checker being edited, in place of its saved ones.
    """
    started = timezone.now()
    stats: dict[str, dict[str, Any]] = {}
    clock = time.perf_counter()
    try:
        datasets = fetch_datasets(checker, stats, declared)
    except SandboxError as err:
        fetch_ms = (time.perf_counter() - clock) * 1000
        outcome = RunState({}, checker.limits()).outcome(fetch_ms, 0, err)
        return Evaluation(outcome, started, timezone.now(), fetch_ms=fetch_ms, dataset_stats=stats)
    fetch_ms = (time.perf_counter() - clock) * 1000
    if checker.kind == CheckerKind.RULE:
        outcome = evaluate_rule(checker, datasets)
    else:
        sandbox = get_sandbox(settings.SANDBOX_CACHE_DIR)
        outcome = sandbox.run(checker.program(), datasets, checker.limits(), checker.params)
    return Evaluation(
        outcome,
        started,
        timezone.now(),
        fetch_ms=fetch_ms,
        sandbox_ms=outcome.duration_ms,
        dataset_stats=stats,
    )


def record(checker: Checker, evaluation: Evaluation, trigger: str, run: CheckRun | None = None) -> CheckRun:
    """Write the run and let alarms react, in one transaction."""
    outcome = evaluation.outcome
    run = run or CheckRun(checker=checker, trigger=trigger, queued=evaluation.started)
    run.status = str(outcome.status)
    run.started = run.started or evaluation.started
    run.finished = evaluation.finished
    run.messages = [m.to_dict() for m in outcome.messages]
    run.error_kind = str(outcome.error.kind) if outcome.error else ""
    run.error_detail = outcome.error.detail if outcome.error else ""
    run.logs = outcome.logs[: CheckRun.LOG_CAP]
    run.duration_ms = round((evaluation.finished - evaluation.started).total_seconds() * 1000, 3)
    run.fetch_ms = round(evaluation.fetch_ms, 3)
    run.sandbox_ms = round(evaluation.sandbox_ms, 3)
    run.fuel_used = outcome.fuel_used
    run.dataset_stats = evaluation.dataset_stats
    with transaction.atomic():
        run.save()
        Checker.objects.filter(pk=checker.pk).update(last_run_at=run.finished)
        run_recorded.send(sender=Checker, checker=checker, run=run)
    return run


def record_error(run: CheckRun, kind: ErrorKind, detail: str) -> CheckRun:
    """Record a run the host had to abandon, so it never stays "running"."""
    now = timezone.now()
    outcome = RunState({}, run.checker.limits()).outcome(0.0, 0, SandboxError(kind, detail))
    return record(run.checker, Evaluation(outcome, run.started or now, now), run.trigger, run)


def execute(checker: Checker, trigger: str = Trigger.MANUAL, run: CheckRun | None = None) -> CheckRun:
    """Run a checker now, in this process, and record the run."""
    return record(checker, evaluate(checker), trigger, run)


def claim_queued(run_id: int) -> CheckRun | None:
    """Take a queued run for this worker; a redelivered or duplicate task finds nothing to take."""
    now = timezone.now()
    if not CheckRun.objects.filter(pk=run_id, status=RunStatus.QUEUED).update(
        status=RunStatus.RUNNING, started=now
    ):
        return None
    return CheckRun.objects.select_related("checker__namespace").get(pk=run_id)


def claim_due(checker: Checker, now: datetime) -> CheckRun | None:
    """Move a due checker's next run forward and queue a run, unless another tick already did."""
    due_at = checker.next_run_at
    following = checker.compute_next_run(after=max(now, due_at))
    with transaction.atomic():
        moved = Checker.objects.filter(pk=checker.pk, enabled=True, next_run_at=due_at).update(
            next_run_at=following
        )
        if not moved:
            return None
        return CheckRun.objects.create(
            checker=checker, trigger=Trigger.SCHEDULE, scheduled_for=due_at, queued=now
        )
