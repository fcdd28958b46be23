"""Scheduling: one beat entry claims due checkers; one task per run, idempotent per run id."""

from __future__ import annotations

import logging

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from checkers import quotas, runs, testruns
from checkers.models import Checker, CheckerKind, CheckerRule, CheckRun, Dataset, TestRun
from checkers.sandbox import ErrorKind
from malleable.celery import app
from namespaces.models import AnyUser

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


def time_limit(checker: Checker, datasets: list[Dataset] | None = None) -> int:
    """The run's budgets (every dataset query, compiling a module the cache lacks, then the
    sandbox) plus a margin. ``datasets``: what a test run's draft reads instead of the saved ones."""
    read = checker.read_datasets() if datasets is None else datasets
    queries = sum(dataset.datasource.statement_timeout for dataset in read)
    compiling = settings.COMPILE_TIMEOUT_S if checker.kind == CheckerKind.WASM else 0
    return int(queries + compiling + checker.limits().timeout_s + TIME_LIMIT_MARGIN_S)


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
        detail = f"timeout: the run passed its worker time limit of {time_limit(run.checker)} s"
        return runs.record_error(run, ErrorKind.TIMEOUT, detail).status


def start_test_run(
    checker: Checker,
    user: AnyUser,
    declared: list[Dataset] | None = None,
    rules: list[CheckerRule] | None = None,
) -> TestRun:
    """Send a test run to a worker (``checkers/testruns.py``); the page then waits for its row.

    Sent at once rather than on commit: the pages run in autocommit, so the row is already
    committed, and under ``CELERY_TASK_ALWAYS_EAGER`` the test run finishes here, in this call.
    """
    test_run = testruns.create(checker, user, declared, rules)
    if test_run.finished is None:
        limit = time_limit(checker, testruns.read_datasets(checker, declared, rules))
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
        checker, declared, rules = testruns.rebuild(test_run)
        limit = time_limit(checker, testruns.read_datasets(checker, declared, rules))
        detail = f"timeout: the test run passed its worker time limit of {limit} s"
        testruns.give_up(test_run, ErrorKind.TIMEOUT, detail)
