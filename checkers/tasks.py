"""Scheduling: one beat entry claims due checkers; one task per run, idempotent per run id."""

from __future__ import annotations

import logging

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from checkers import retention, runs
from checkers.models import Checker, CheckRun
from checkers.sandbox import ErrorKind
from malleable.celery import app

log = logging.getLogger(__name__)

# Seconds a worker may take beyond the run's own budgets before Celery kills the task.
TIME_LIMIT_MARGIN_S = 10


@app.task(acks_late=True, ignore_result=True)
def dispatch_due_checkers() -> int:
    """Queue a run of every due checker. Beat ticking twice, or two dispatchers, queue each once."""
    now = timezone.now()
    due = Checker.objects.due(now).select_related("namespace").order_by("next_run_at")
    queued = 0
    for checker in due[: settings.DISPATCH_BATCH]:
        run = runs.claim_due(checker, now)
        if run is not None:
            queued += 1
            enqueue(run)
    return queued


def enqueue(run: CheckRun) -> None:
    """Send the run to a worker once the row that names it is committed."""
    limit = time_limit(run.checker)
    transaction.on_commit(
        lambda: run_checker.apply_async((run.pk,), time_limit=limit + 5, soft_time_limit=limit)
    )


def time_limit(checker: Checker) -> int:
    """The run's budgets (every dataset query, then the sandbox) plus a margin."""
    queries = sum(dataset.datasource.statement_timeout for dataset in checker.read_datasets())
    return int(queries + checker.limits().timeout_s + TIME_LIMIT_MARGIN_S)


@app.task(acks_late=True, ignore_result=True)
def prune_history() -> int:
    """Delete the runs past each namespace's retention; a repeated tick finds less to do."""
    deleted = retention.prune()
    log.info("pruned %s runs past their namespace's retention", deleted)
    return deleted


@app.task(acks_late=True, ignore_result=True)
def run_checker(run_id: int) -> str | None:
    """Evaluate and record one queued run; a duplicate delivery finds it taken and does nothing."""
    run = runs.claim_queued(run_id)
    if run is None:
        log.info("run %s is not queued any more; skipping a duplicate delivery", run_id)
        return None
    try:
        return runs.execute(run.checker, run.trigger, run=run).status
    except SoftTimeLimitExceeded:
        detail = f"timeout: the run passed its worker time limit of {time_limit(run.checker)} s"
        return runs.record_error(run, ErrorKind.TIMEOUT, detail).status
