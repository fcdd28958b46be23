"""A real Celery worker with embedded beat, on RabbitMQ and PostgreSQL, runs due checkers.

The worker is a separate process that shares the test database, so this test commits its
data (``transaction=True``) and needs the suite to run on PostgreSQL, as CI does.
"""

import os
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from checkers.models import Checker, CheckRun
from malleable.settings import BASE_DIR
from tests.services import services_required

WAIT_S = 90


def database_url() -> str:
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return (
        f"postgresql://{db['USER']}{password}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    )


@pytest.fixture
def postgres_database():
    if connection.vendor != "postgresql":
        message = "the worker must share the test database: run the suite with DATABASE_URL=postgresql://..."
        if services_required():
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def worker(rabbitmq_service, postgres_database, shop, tmp_path):
    env = os.environ | {
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
        "MALLEABLE_TASK_QUEUE": f"e2e-{uuid.uuid4().hex}",
        "MALLEABLE_DISPATCH_INTERVAL": "1",
        "MALLEABLE_DATASOURCE_SQLITE_DIR": str(shop.path.parent.parent),
    }
    log = open(tmp_path / "worker.log", "w+")  # noqa: SIM115 - read back after the process ends
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "--app",
            "malleable",
            "worker",
            "--beat",
            "--loglevel",
            "INFO",
            "--concurrency",
            "2",
            "--schedule",
            str(tmp_path / "beat-schedule"),
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield process
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    log.seek(0)
    print(log.read()[-5000:])


def sessions() -> int:
    """The sessions opened on the test database so far (PostgreSQL's statistics)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def finished_runs(checker: Checker) -> list[CheckRun]:
    return list(CheckRun.objects.filter(checker=checker).exclude(finished=None).order_by("finished"))


@pytest.mark.django_db(transaction=True)
def test_worker_and_beat_run_due_checkers_once_each(seed, shop, worker):
    rule, python = seed
    shop.set_null_emails(50)
    Checker.objects.filter(pk__in=[rule.pk, python.pk]).update(schedule_cron="", schedule_every=10)
    Checker.objects.update(next_run_at=timezone.now() - timedelta(seconds=1))
    sessions_before, started = sessions(), time.monotonic()
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and not (len(finished_runs(rule)) >= 2 and finished_runs(python)):
        assert worker.poll() is None, "the worker died"
        time.sleep(0.5)
    rule_runs, python_runs = finished_runs(rule), finished_runs(python)
    assert len(rule_runs) >= 2, f"rule runs: {rule_runs}"
    assert python_runs, "the Python checker never ran"
    assert {run.status for run in rule_runs + python_runs} == {"red"}
    assert all(run.trigger == "schedule" for run in rule_runs + python_runs)
    # The worker keeps its database connections between tasks (malleable.celery): its processes
    # connect once each, not for each of the dispatcher's ticks (one a second) and each run.
    time.sleep(1.5)  # a backend reports its session to the statistics within a second
    tasks = len(CheckRun.objects.all()) + (time.monotonic() - started)
    assert sessions() - sessions_before <= 5 < tasks, "the worker connected anew for each task"
    per_slot = Counter((run.checker_id, run.scheduled_for) for run in CheckRun.objects.all())
    assert max(per_slot.values()) == 1, "a scheduled slot ran twice"
    assert not CheckRun.objects.filter(
        status__in=["queued", "running"], queued__lt=timezone.now() - timedelta(seconds=30)
    ).exists()
