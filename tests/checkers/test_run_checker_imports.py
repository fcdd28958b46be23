"""A cron-style ``run_checker`` of a rule loads only what a rule needs (issue 9, item 6).

Each run is a fresh ``manage.py run_checker NS/CHECKER --json`` process on its own SQLite
database (migrated, then loaded with ``import_config``), wrapped by a probe that writes the
names in ``sys.modules`` when the process exits. Speed is never asserted: what a process
imports is what makes it slow and large, and that is stable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from malleable.settings import BASE_DIR
from tests.shop import SEED_MESSAGE, Shop

CONFIG = """\
namespaces:
  - slug: cron
    name: Cron
    datasources:
      - slug: shop
        engine: sqlite
        url: {url}
    datasets:
      - slug: users_with_email_null
        datasource: shop
        sql: SELECT username FROM users WHERE email IS NULL
    checkers:
      - slug: rule
        schedule: {{every: 300}}
        rule: {{dataset: users_with_email_null, metric: row_count, op: "<", value: 42,
               message: "{message}"}}
      - slug: python
        schedule: {{every: 300}}
        datasets: [users_with_email_null]
        python: |
          CheckerCase().assertLessThan(datasets['users_with_email_null'], 42, '{message}')
"""

# Runs manage.py as the command line does, then writes every loaded module's name to argv[1],
# whatever the exit status.
PROBE = """\
import atexit, json, runpy, sys
out = sys.argv.pop(1)
atexit.register(lambda: open(out, "w").write(json.dumps(sorted(sys.modules))))
sys.argv[0] = "manage.py"
runpy.run_path("manage.py", run_name="__main__")
"""

# Loaded by a task queue, the sandbox, alarm channels, pages or another engine (this one is
# SQLite on SQLite), never by a rule's run.
NOT_FOR_A_RULE = [
    "celery", "kombu", "amqp", "billiard", "django_celery_beat", "apprise", "markdown", "nh3",
    "pymysql", "psycopg",
]  # fmt: skip


@dataclass
class Installation:
    env: dict[str, str]
    folder: Path

    def run(self, *args: str) -> tuple[subprocess.CompletedProcess, set[str]]:
        modules = self.folder / "modules.json"
        modules.unlink(missing_ok=True)
        done = subprocess.run(
            [sys.executable, "-c", PROBE, str(modules), *args],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        return done, set(json.loads(modules.read_text()))

    def manage(self, *args: str) -> None:
        subprocess.run(
            [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=self.env, check=True, capture_output=True
        )


@pytest.fixture(scope="module")
def installation(tmp_path_factory) -> Installation:
    """A Malleable of its own (SQLite), with the seed's rule and Python checker on a shop."""
    folder = tmp_path_factory.mktemp("cron")
    shop = Shop(folder / "shop.sqlite3")
    shop.set_null_emails(10)
    (folder / "config.yaml").write_text(CONFIG.format(url=shop.url, message=SEED_MESSAGE))
    env = os.environ | {
        "DATABASE_URL": f"sqlite:///{folder / 'malleable.sqlite3'}",
        "MALLEABLE_DATASOURCE_SQLITE_DIR": str(folder),
    }
    installation = Installation(env, folder)
    installation.manage("migrate", "--verbosity", "0")
    installation.manage("import_config", str(folder / "config.yaml"))
    return installation


@pytest.fixture(scope="module")
def rule_run(installation) -> tuple[subprocess.CompletedProcess, set[str]]:
    return installation.run("run_checker", "cron/rule", "--json")


def test_a_rule_run_from_cron_is_recorded_green(rule_run):
    done, _ = rule_run
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["status"], report["state"]) == ("green", "green")
    assert report["run_id"]
    assert report["messages"][0]["text"].startswith(SEED_MESSAGE)


@pytest.mark.parametrize("module", NOT_FOR_A_RULE)
def test_a_rule_run_does_not_import(rule_run, module):
    _, modules = rule_run
    assert module not in modules


def test_a_rule_run_does_not_import_wasmtime(rule_run):
    _, modules = rule_run
    assert "wasmtime" not in modules


def test_a_python_checker_runs_through_the_same_command(installation):
    done, modules = installation.run("run_checker", "cron/python", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["status"], report["state"]) == ("green", "green")
    assert report["fuel_used"] > 0
    assert "wasmtime" in modules
    assert "celery" not in modules
