"""The production processes of Procfile.production, each started on its own as docs/deploy.md
says (gunicorn, one beat, a worker), on RabbitMQ and PostgreSQL, run a checker end to end.

The processes share the test database, so this test commits its data and needs PostgreSQL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from checkers.models import Checker, CheckRun
from malleable.settings import BASE_DIR
from tests.checkers.test_celery_e2e import database_url, postgres_database  # noqa: F401

WAIT_S = 90


def procfile() -> dict[str, str]:
    lines = (BASE_DIR / "Procfile.production").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line and not line.startswith("#"))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def get(url: str, cookie: str = "") -> tuple[int, str]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - our own server
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""
    except urllib.error.URLError:
        return 0, ""  # not listening yet


@pytest.fixture
def production(rabbitmq_service, postgres_database, shop, tmp_path):  # noqa: F811
    """web, beat and worker, each its own process group, started from the production Procfile."""
    port = free_port()
    env = os.environ | {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "DEBUG": "false",
        "ALLOWED_HOSTS": "127.0.0.1",
        "SITE_URL": f"http://127.0.0.1:{port}",
        "DATABASE_URL": database_url(),
        "CELERY_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//",
        "MALLEABLE_TASK_QUEUE": f"deploy-{uuid.uuid4().hex}",
        "MALLEABLE_DATASOURCE_SQLITE_DIR": str(shop.path.parent.parent),
        "MALLEABLE_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "CELERY_WORKER_CONCURRENCY": "1",
        "MALLEABLE_BEAT_SCHEDULE": str(tmp_path / "beat-schedule"),
    }
    processes = {}
    for name, command in procfile().items():
        log = open(tmp_path / f"{name}.log", "w")  # noqa: SIM115 - read back after the process ends
        processes[name] = subprocess.Popen(
            ["/bin/sh", "-c", f"exec {command}"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    yield f"http://127.0.0.1:{port}", processes
    for process in processes.values():
        os.killpg(process.pid, signal.SIGTERM)
    for name, process in processes.items():
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        print(f"--- {name}\n" + (tmp_path / f"{name}.log").read_text()[-3000:])


def test_procfile_names_web_beat_and_worker_with_gunicorn():
    processes = procfile()
    assert set(processes) == {"web", "beat", "worker"}
    assert processes["web"].startswith("gunicorn malleable.wsgi ")
    assert " beat " in processes["beat"] and "--beat" not in processes["worker"]


@pytest.mark.django_db(transaction=True)
def test_gunicorn_beat_and_worker_run_a_checker_seen_over_http(production, seed, shop, personas, client):
    site, processes = production
    rule = seed[0]
    shop.set_null_emails(50)
    client.force_login(personas.owner)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    deadline = time.monotonic() + WAIT_S
    while get(f"{site}/accounts/login/")[0] != 200:
        assert all(p.poll() is None for p in processes.values()), "a process died"
        assert time.monotonic() < deadline, "gunicorn never answered"
        time.sleep(0.5)
    status, css = get(f"{site}/static/css/malleable.css")
    assert status == 200 and css, "static files are served"

    Checker.objects.filter(pk=rule.pk).update(next_run_at=timezone.now() - timedelta(seconds=1))
    finished = CheckRun.objects.filter(checker=rule, trigger="schedule").exclude(finished=None)
    while not finished.exists():
        assert all(p.poll() is None for p in processes.values()), "a process died"
        assert time.monotonic() < deadline, "the checker never ran"
        time.sleep(0.5)
    assert finished.get().status == "red"

    status, page = get(f"{site}/n/{rule.namespace.slug}/checkers/{rule.slug}/", cookie)
    assert status == 200
    assert "Last run " in page and "(schedule," in page
    status, page = get(f"{site}/n/{rule.namespace.slug}/checkers/{rule.slug}/")
    assert status == 200 and 'name="password"' in page and "(schedule," not in page, "signed out: sign in"
