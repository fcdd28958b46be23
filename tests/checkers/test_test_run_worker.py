"""A test run on a real Celery worker, over RabbitMQ and PostgreSQL, while its dataset sleeps.

The editor answers "still running" once its bound has passed, long before the dataset's query
(``pg_sleep``) ends; the test run's own URL then shows the result, and nothing is recorded.
Like ``test_celery_e2e``, the worker is a separate process sharing the test database, so the
data is committed (``transaction=True``) and the suite must run on PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from django.db import connection

from checkers.models import Checker, CheckRun, Dataset, Datasource, TestRun
from malleable.celery import app
from malleable.settings import BASE_DIR
from tests.checkers.test_celery_e2e import database_url
from tests.pages.test_editor import NEW, code_form
from tests.services import Service, create_pg_reader, drop_pg_reader, services_required

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"
SLEEP_S = 4
WAIT_S = 90
SOURCE = "rows = datasets['slow_users']\nfail(f'{len(rows)} users, read slowly')\n"


@pytest.fixture
def slow_database(postgres_service: Service) -> Iterator[str]:
    """A database of its own with three users, and the URL of a role that may only read them."""
    name = f"malleable_slow_{uuid.uuid4().hex[:8]}"
    server = f"postgresql://postgres@{postgres_service.host}:{postgres_service.port}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(f"{server}/{name}") as db:
        db.execute("CREATE TABLE users (id integer PRIMARY KEY, email text)")
        db.execute("INSERT INTO users VALUES (1, NULL), (2, NULL), (3, 'c@example.com')")
    reader = create_pg_reader(postgres_service, name)
    yield f"postgresql://{reader}@{postgres_service.host}:{postgres_service.port}/{name}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    drop_pg_reader(postgres_service, reader)


@pytest.fixture
def broker(rabbitmq_service, settings) -> Iterator[str]:
    """This process sends its tasks to RabbitMQ, on a queue of this test's own."""
    queue = f"test-run-{uuid.uuid4().hex}"
    settings.CELERY_BROKER_URL, settings.CELERY_TASK_DEFAULT_QUEUE = RABBITMQ_URL, queue
    _forget_celery_connections()
    yield queue
    _forget_celery_connections()


def _forget_celery_connections() -> None:
    """Celery keeps the broker connection and the queues it first made; make them again."""
    app._pool = None
    app.__dict__.pop("amqp", None)


@pytest.fixture
def worker(broker, tmp_path) -> Iterator[subprocess.Popen]:
    if connection.vendor != "postgresql":
        message = "the worker must share the test database: run the suite with DATABASE_URL=postgresql://..."
        if services_required():
            pytest.fail(message)
        pytest.skip(message)
    env = os.environ | {
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": RABBITMQ_URL,
        "MALLEABLE_TASK_QUEUE": broker,
        "MALLEABLE_DATASOURCE_ALLOWED_HOSTS": "127.0.0.1",
    }
    log = open(tmp_path / "worker.log", "w+")  # noqa: SIM115 - read back after the process ends
    process = subprocess.Popen(
        # A node name of its own: another worker on this RabbitMQ (another test run) holds the default's.
        [
            sys.executable,
            "-m",
            "celery",
            "--app=malleable",
            "worker",
            f"--hostname={broker}@%h",
            "--concurrency=1",
        ],
        cwd=BASE_DIR,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield process
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
    log.seek(0)
    print(log.read()[-5000:])


@pytest.mark.django_db(transaction=True)
def test_the_page_says_still_running_within_its_bound_then_shows_the_workers_result(
    personas, login, slow_database, worker, settings
):
    settings.TEST_RUN_WAIT_S = 1
    source = Datasource.objects.create(
        namespace=personas.a, slug="slow", engine="postgresql", url=slow_database, statement_timeout=30
    )
    dataset = Dataset.objects.create(
        namespace=personas.a,
        slug="slow_users",
        datasource=source,
        sql=f"SELECT id, email FROM users, pg_sleep({SLEEP_S}) ORDER BY id",  # noqa: S608 - a constant
    )
    editor = login(personas.editor)

    response = editor.post(NEW, code_form(dataset, "python", SOURCE, action="test"), HTTP_HX_REQUEST="true")

    test_run = TestRun.objects.get()
    answered = TestRun.objects.values_list("finished", flat=True).get()
    assert answered is None, "the page waited for the result instead of its bound"
    content = response.content.decode()
    assert 'data-testid="test-running"' in content
    assert f'hx-get="/n/alpha/test-runs/{test_run.uuid}/"' in content

    deadline = time.monotonic() + WAIT_S
    polled = content
    while 'data-testid="test-running"' in polled and time.monotonic() < deadline:
        assert worker.poll() is None, "the worker died"
        time.sleep(1)
        polled = editor.get(test_run.get_absolute_url(), HTTP_HX_REQUEST="true").content.decode()
    assert 'data-state="red"' in polled
    assert "3 users, read slowly" in polled
    assert "Nothing was recorded and nobody was alarmed." in polled
    test_run.refresh_from_db()
    assert test_run.duration_ms >= SLEEP_S * 1000
    assert test_run.result["dataset_stats"]["slow_users"]["rows"] == 3
    assert not CheckRun.objects.exists()
    assert not Checker.objects.exists()
    assert login(personas.outsider).get(test_run.get_absolute_url()).status_code == 404
    assert login(personas.outsider).get(f"/n/beta/test-runs/{test_run.uuid}/").status_code == 404
