"""``POST .../run?wait=S`` end to end: the API server and a Celery worker are two real
processes on RabbitMQ and the test's PostgreSQL database, and the answer carries the outcome
the worker recorded.

Both processes share the test database, so this test commits its data (``transaction=True``).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from api.models import ApiToken
from checkers.models import CheckRun
from malleable.settings import BASE_DIR
from tests.checkers.test_celery_e2e import database_url, postgres_database  # noqa: F401 - a fixture
from tests.shop import SEED_MESSAGE

STARTUP_S = 60


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen, log: Path) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
    print(log.read_text()[-3000:])


def wait_for(log: Path, process: subprocess.Popen, text: str) -> None:
    deadline = time.monotonic() + STARTUP_S
    while text not in log.read_text():
        assert process.poll() is None, f"{log.name} ended: {log.read_text()[-2000:]}"
        assert time.monotonic() < deadline, f"{text!r} never appeared in {log.name}"
        time.sleep(0.2)


@pytest.fixture
def api_and_worker(rabbitmq_service, postgres_database, shop, tmp_path) -> Iterator[str]:  # noqa: F811
    port = free_port()
    env = os.environ | {
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
        "MALLEABLE_TASK_QUEUE": f"api-e2e-{uuid.uuid4().hex}",
        "MALLEABLE_DATASOURCE_SQLITE_DIR": str(shop.path.parent.parent),
    }
    worker_log, server_log = tmp_path / "worker.log", tmp_path / "server.log"
    worker = start(
        ["-m", "celery", "--app", "malleable", "worker", "--loglevel", "INFO", "--concurrency", "1"],
        env,
        worker_log,
    )
    server = start(["manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"], env, server_log)
    try:
        wait_for(worker_log, worker, "ready.")
        wait_for(server_log, server, "Quit the server")
        yield f"http://127.0.0.1:{port}/api/v1"
    finally:
        stop(server, server_log)
        stop(worker, worker_log)


@pytest.mark.django_db(transaction=True)
def test_run_with_wait_answers_with_the_outcome_the_worker_recorded(seed, shop, personas, api_and_worker):
    shop.set_null_emails(50)
    token = ApiToken.issue(personas.editor, "ci", namespace=personas.a)[1]
    response = requests.post(
        f"{api_and_worker}/namespaces/alpha/checkers/few-null-emails/run?wait=60",
        headers={"Authorization": f"Bearer {token}"},
        timeout=90,
    )
    status, body = response.status_code, response.json()
    print(f"run?wait answered in {response.elapsed.total_seconds():.2f} s")
    assert status == 200, body
    assert (body["checker"], body["trigger"], body["status"]) == ("few-null-emails", "api", "red")
    assert body["messages"][-1] == {
        "level": "fail",
        "text": f"{SEED_MESSAGE} (50, expected < 42)",
    }
    run = CheckRun.objects.get(uuid=body["id"])
    assert run.status == "red" and run.finished is not None
