"""Scheduling: beat sends the dispatcher (on its own queue) every tick; one task per run,
idempotent per run id; a periodic sweep recovers the runs a dead worker left behind."""

from __future__ import annotations

import logging

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from checkers import dispatch, quotas, retention, runs, testruns
from checkers.models import CheckRun, TestRun
from checkers.sandbox import ErrorKind
from malleable.celery import app

log = logging.getLogger(__name__)


@app.task(acks_late=True, ignore_result=True)
def dispatch_due_checkers() -> int:
    """Queue a run of every due checker, batch after batch until none is left: no due checker
    waits for a later tick. Beat ticking twice, or two dispatchers, queue each slot once."""
    now = timezone.now()
    queued = 0
    while True:
        batch = dispatch.claim_due(now, settings.DISPATCH_BATCH)  # committed: sent at once
        for claimed in batch:
            enqueue(claimed.run, claimed.time_limit)
        queued += len(batch)
        if len(batch) < settings.DISPATCH_BATCH:
            return queued


def enqueue(run: CheckRun, limit: int) -> None:
    """Send the run to a worker once the row that names it is committed."""
    transaction.on_commit(
        lambda: run_checker.apply_async(
            (run.pk,), time_limit=limit + dispatch.HARD_LIMIT_EXTRA_S, soft_time_limit=limit
        )
    )


def time_limit(test_run: TestRun) -> int:
    """A test run's worker time limit: what its draft reads instead of the saved datasets."""
    checker, declared, rules = testruns.rebuild(test_run)
    datasets = testruns.read_datasets(checker, declared, rules)
    return dispatch.budget(checker, (dataset.datasource.statement_timeout for dataset in datasets))


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
    spent = quotas.budget_spent(run.checker.namespace)
    if spent is not None:
        return runs.record_skipped(run, spent).status
    try:
        return runs.execute(run.checker, run.trigger, run=run).status
    except SoftTimeLimitExceeded:
        limit = dispatch.time_limits([run.checker])[run.checker_id]
        detail = f"timeout: the run passed its worker time limit of {limit} s"
        return runs.record_error(run, ErrorKind.TIMEOUT, detail).status


def start_test_run(test_run: TestRun) -> TestRun:
    """Send a test run (``testruns.create``) to a worker; the page then waits for its row.

    Sent at once rather than on commit: the pages run in autocommit, so the row is already
    committed, and under ``CELERY_TASK_ALWAYS_EAGER`` the test run finishes here, in this call.
    """
    if test_run.finished is None:
        limit = time_limit(test_run)
        run_test.apply_async((test_run.pk,), time_limit=limit + 5, soft_time_limit=limit)
    return test_run


@app.task(acks_late=True, ignore_result=True)
def run_test(test_run_id: int) -> None:
    """Evaluate one test run and keep its result for the page; a duplicate delivery does nothing."""
    test_run = testruns.claim(test_run_id)
    if test_run is None:
        log.info("test run %s is taken; skipping a duplicate delivery", test_run_id)
        return
    try:
        testruns.execute(test_run)
    except SoftTimeLimitExceeded:
        limit = time_limit(test_run)
        detail = f"timeout: the test run passed its worker time limit of {limit} s"
        testruns.give_up(test_run, ErrorKind.TIMEOUT, detail)


@app.task(acks_late=True, ignore_result=True)
def recover_lost_runs() -> dict[str, int]:
    """Send again the runs no worker took; record as ``worker_lost`` those a dead worker held."""
    now = timezone.now()
    stale = dispatch.stale_runs(now)
    limits = dispatch.time_limits({run.checker_id: run.checker for run in stale.requeue}.values())
    requeued = lost = 0
    for run in stale.requeue:
        with transaction.atomic():
            if dispatch.mark_requeued(run, now):
                enqueue(run, limits[run.checker_id])
                requeued += 1
    for run in stale.lost:
        with transaction.atomic():
            if dispatch.take_lost(run):
                runs.record_error(run, ErrorKind.WORKER_LOST, dispatch.lost_detail(run, now))
                lost += 1
    if requeued or lost:
        log.warning("recovered runs: %s sent again, %s recorded as worker_lost", requeued, lost)
    return {"requeued": requeued, "lost": lost}
