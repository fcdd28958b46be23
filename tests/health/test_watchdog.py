"""A real Celery worker writes heartbeats; SIGKILLed, the watchdog exits non-zero and tells the
operators' webhook "no worker", once; a worker back makes it say "recovered", once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from django.core.management import call_command

from health.models import Heartbeat
from malleable.settings import BASE_DIR
from tests.checkers.test_celery_e2e import database_url

pytestmark = pytest.mark.services
WAIT_S = 90


@pytest.fixture
def worker(rabbitmq_service, postgres_service, tmp_path):
    from django.db import connection

    assert connection.vendor == "postgresql", "the worker must share the test database"
    env = os.environ | {
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
        "MALLEABLE_TASK_QUEUE": f"watchdog-{uuid.uuid4().hex}",
        "MALLEABLE_HEARTBEAT_INTERVAL": "1",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "--app",
            "malleable",
            "worker",
            "--concurrency",
            "1",
            "-n",
            "killme@%h",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


def watchdog() -> tuple[int, dict]:
    from io import StringIO

    out = StringIO()
    try:
        call_command("watchdog", "--json", stdout=out)
        code = 0
    except SystemExit as exited:
        code = exited.code
    return code, json.loads(out.getvalue())


@pytest.mark.django_db(transaction=True)
def test_killed_workers_make_the_watchdog_fail_and_tell_the_operator(worker, webhook, settings, tmp_path):
    settings.OPERATOR_CHANNELS = [webhook.url]
    settings.OPERATOR_WEBHOOK_SECRET = "operator-key"
    settings.WATCHDOG_STATE_FILE = tmp_path / "watchdog.json"
    settings.HEALTH_WORKER_MAX_AGE_S = 3
    Heartbeat.beat(Heartbeat.Kind.DISPATCHER, "dispatcher")
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline and not Heartbeat.objects.filter(kind="worker").exists():
        assert worker.poll() is None, "the worker died on its own"
        time.sleep(0.5)
    beat = Heartbeat.objects.get(kind="worker")
    assert beat.name.startswith("killme@")
    assert beat.detail["concurrency"] == 1 and "load_1m" in beat.detail
    assert watchdog()[0] == 0
    assert webhook.requests == []

    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=20)
    time.sleep(settings.HEALTH_WORKER_MAX_AGE_S + 1)
    Heartbeat.beat(Heartbeat.Kind.DISPATCHER, "dispatcher")
    code, report = watchdog()
    assert code == 1
    assert report["checks"]["workers"]["ok"] is False
    assert report["checks"]["workers"]["detail"].startswith("no worker for ")
    (request,) = webhook.requests
    body = json.loads(request["body"])
    assert body["event"] == "operator" and body["namespace"] == "malleable" and body["checker"] == "workers"
    assert body["messages"][0]["text"].startswith("no worker for ")
    assert request["headers"]["X-Malleable-Signature-256"].startswith("sha256=")

    assert watchdog()[0] == 1
    assert len(webhook.requests) == 1, "not repeated every minute"

    Heartbeat.beat(Heartbeat.Kind.WORKER, "celery@back")
    assert watchdog()[0] == 0
    assert [json.loads(r["body"])["event"] for r in webhook.requests] == ["operator", "recovered"]
    assert json.loads(webhook.requests[1]["body"])["messages"][0]["text"].startswith("recovered: workers")


def test_operator_channels_are_validated_as_channels_are(settings):
    from health.operator import problems_with_channels

    settings.OPERATOR_CHANNELS = ["https://hooks.example.com/x", "not-a-service://x"]
    settings.OPERATOR_WEBHOOK_SECRET = ""
    problems = problems_with_channels()
    assert problems == [
        "operator-1 (https://hooks.example.com): A webhook signs every message: set a secret.",
        "operator-2 (not-a-service://…): apprise does not understand this URL.",
    ]
