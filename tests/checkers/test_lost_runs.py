"""Nothing stays stuck: the sweep records a run whose worker died as ``worker_lost``, and sends
again, once, a run no worker started.

The first test kills a real Celery worker (SIGKILL, on RabbitMQ and PostgreSQL) while its run
waits on ``pg_sleep``; like test_celery_e2e it commits its data and needs PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from alarms.models import AlarmPolicy, AlarmState
from checkers import tasks
from checkers.models import Checker, CheckRun, Dataset, Datasource
from malleable.settings import BASE_DIR
from tests.checkers.test_celery_e2e import database_url, postgres_database  # noqa: F401

SLEEP_S = 20
STATEMENT_TIMEOUT_S = 30
# The run's hard limit (30 s of query, 5 s of sandbox, 10 s margin, 5 s past the soft limit)
# and the 30 s grace: a run started longer ago than this has lost its worker.
LOST_AFTER_S = 30 + 5 + 10 + 5 + 30


@pytest.fixture
def sleepy(personas, settings):
    """A rule checker whose dataset query sleeps, on a PostgreSQL database that is not Malleable's."""
    settings.DATASOURCE_ALLOW_PRIVILEGED_ROLES = True
    source = Datasource.objects.create(
        namespace=personas.a,
        slug="slow",
        engine="postgresql",
        url="postgresql://postgres@127.0.0.1:5432/postgres",
        statement_timeout=STATEMENT_TIMEOUT_S,
    )
    dataset = Dataset.objects.create(
        namespace=personas.a, slug="sleeps", datasource=source, sql=f"SELECT pg_sleep({SLEEP_S}) AS slept"
    )
    checker = Checker.objects.create(
        namespace=personas.a, slug="sleepy", name="Sleepy", kind="rule", schedule_every=3600
    )
    checker.rules.create(dataset=dataset, metric="row_count", op="<", value=42)
    return checker


def start_worker(tmp_path) -> subprocess.Popen:
    """A worker with its beat, on a queue of its own; the caller kills it."""
    queue = f"lost-{uuid.uuid4().hex}"
    env = os.environ | {
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
        "MALLEABLE_TASK_QUEUE": queue,
        "MALLEABLE_DISPATCH_INTERVAL": "1",
        "MALLEABLE_DATASOURCE_ALLOWED_HOSTS": "127.0.0.1",
        "MALLEABLE_DATASOURCE_ALLOW_PRIVILEGED_ROLES": "true",
    }
    command = [sys.executable, "-m", "celery", "--app", "malleable", "worker", "--beat"]
    command += ["--concurrency", "1", "--schedule", str(tmp_path / "beat-schedule")]
    log = open(tmp_path / "worker.log", "w")  # noqa: SIM115 - the worker writes it until killed
    return subprocess.Popen(
        command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def wait_for(condition, what: str, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_worker_was_killed_is_recorded_as_worker_lost(
    sleepy,
    tmp_path,
    rabbitmq_service,
    postgres_database,  # noqa: F811
):
    worker = start_worker(tmp_path)
    try:
        Checker.objects.filter(pk=sleepy.pk).update(next_run_at=timezone.now())
        wait_for(lambda: CheckRun.objects.filter(checker=sleepy, status="running").exists(), "the run")
        time.sleep(1)  # inside pg_sleep
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    run = CheckRun.objects.get(checker=sleepy)
    assert run.status == "running"
    assert tasks.recover_lost_runs() == {"requeued": 0, "lost": 0}, "too early: it may still be running"

    CheckRun.objects.filter(pk=run.pk).update(started=run.started - timedelta(seconds=LOST_AFTER_S))
    assert tasks.recover_lost_runs() == {"requeued": 0, "lost": 1}
    assert tasks.recover_lost_runs() == {"requeued": 0, "lost": 0}, "recorded once"
    run.refresh_from_db()
    assert (run.status, run.error_kind) == ("error", "worker_lost")
    assert run.error_detail.startswith("worker_lost: the worker running this run since ")
    assert run.finished is not None
    # The default policy (on_error: alarm) makes it the checker's state.
    assert AlarmState.objects.get(checker=sleepy).state == "error"


def backdate(run: CheckRun, seconds: float, **fields) -> None:
    moment = timezone.now() - timedelta(seconds=seconds)
    CheckRun.objects.filter(pk=run.pk).update(**{name: moment for name in fields})


def test_a_queued_run_never_started_is_sent_again_once_then_recorded(
    seed, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.RUN_QUEUED_LOST_S = 600
    sent = []
    monkeypatch.setattr(tasks.run_checker, "apply_async", lambda args, **kw: sent.append(args[0]))
    run = CheckRun.objects.create(checker=seed[0], trigger="schedule")
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.recover_lost_runs() == {"requeued": 0, "lost": 0}
        backdate(run, 601, queued=True)
        assert tasks.recover_lost_runs() == {"requeued": 1, "lost": 0}
        assert tasks.recover_lost_runs() == {"requeued": 0, "lost": 0}, "sent again once"
    assert sent == [run.pk]
    run.refresh_from_db()
    assert run.status == "queued"
    assert run.requeued is not None

    backdate(run, 601, requeued=True)
    assert tasks.recover_lost_runs() == {"requeued": 0, "lost": 1}
    run.refresh_from_db()
    assert (run.status, run.error_kind) == ("error", "worker_lost")
    assert run.error_detail.startswith("worker_lost: no worker started this run: queued at ")


def test_a_lost_run_follows_on_error_keep(seed, shop):
    checker = seed[0]
    shop.set_null_emails(1)
    tasks.runs.execute(checker)
    assert AlarmState.objects.get(checker=checker).state == "green"
    AlarmPolicy.objects.create(checker=checker, on_error="keep")
    run = CheckRun.objects.create(checker=checker, trigger="schedule", status="running")
    backdate(run, 3600, started=True)
    assert tasks.recover_lost_runs() == {"requeued": 0, "lost": 1}
    run.refresh_from_db()
    assert run.error_kind == "worker_lost"
    assert AlarmState.objects.get(checker=checker).state == "green"
