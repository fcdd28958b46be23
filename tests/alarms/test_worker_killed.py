"""A worker SIGKILLed in the middle of a delivery loses nothing: its claim expires and the
sweep delivers again (a duplicate, with the same dedup_key, when it had already published).

The worker is a real process (tests/alarms/worker.py) over a scratch SQLite database, so
this runs the same whatever database the rest of the suite uses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import uuid

import pytest

from malleable.settings import BASE_DIR
from tests.alarms.conftest import RABBITMQ_URL, Consumer

pytestmark = pytest.mark.services
CLAIM_S = 60


@pytest.fixture
def scratch(tmp_path, rabbitmq_service):
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'alarms.sqlite3'}",
        "CELERY_BROKER_URL": "memory://",
        "MALLEABLE_DATASOURCE_SQLITE_DIR": str(tmp_path),
        "MALLEABLE_ALARM_CLAIM": str(CLAIM_S),
        "MALLEABLE_ALARM_QUICK_DELAY": "0",
        "MALLEABLE_ALARM_BROKERS": RABBITMQ_URL,
    }
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert migrate.returncode == 0, migrate.stderr
    return env


def worker(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "tests.alarms.worker", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def output(process: subprocess.CompletedProcess) -> dict:
    assert process.returncode == 0, process.stderr
    return json.loads(process.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(("moment", "copies"), [("before", 1), ("after", 2)])
def test_a_worker_killed_mid_delivery_loses_nothing(scratch, tmp_path, moment, copies):
    namespace = f"killed-{uuid.uuid4().hex[:8]}"
    consumer = Consumer(f"{namespace}.#")
    try:
        made = output(worker(scratch, "setup", namespace, RABBITMQ_URL, str(tmp_path)))
        notification = str(made["notification"])
        killed = worker(scratch, "deliver-and-die", notification, moment)
        assert killed.returncode == -signal.SIGKILL
        assert output(worker(scratch, "inspect", notification)) == {
            "status": "delivering",
            "attempts": 1,
            "rows": [{"ok": None, "finished": False}],
        }
        assert output(worker(scratch, "sweep")) == {"delivered": 0}, "the dead worker's claim still holds"
        assert output(worker(scratch, "sweep", str(CLAIM_S + 1))) == {"delivered": 1}
        assert output(worker(scratch, "inspect", notification)) == {
            "status": "delivered",
            "attempts": 2,
            "rows": [{"ok": None, "finished": False}, {"ok": True, "finished": True}],
        }
        received = consumer.drain(expect=copies)
        assert [m.body["dedup_key"] for m in received] == [made["dedup_key"]] * copies
        assert [m.body["event"] for m in received] == ["fired"] * copies
        assert consumer.drain(wait_s=0.5) == []
    finally:
        consumer.close()
