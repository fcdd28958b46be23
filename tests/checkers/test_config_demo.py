"""examples/demo.yaml imports, and on the demo shop's data four checkers are green and two red.

``make_demo_shop`` is the data ``load_demo`` is asked to write (see the file's header). The
verdicts are computed from the datasource layer and the sandbox directly, so they say
whether the demo file and its data agree, whatever the state of the run pipeline.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from django.conf import settings

from checkers import config, datasources
from checkers.models import Checker, CheckerKind
from checkers.rules import Rule
from checkers.sandbox import Limits, Status, get_sandbox
from checkers.sandbox.host import RunState
from tests.personas import make_user

pytestmark = pytest.mark.django_db

DEMO = Path(settings.BASE_DIR) / "examples" / "demo.yaml"
VERDICTS = {
    "few-null-emails": Status.GREEN,
    "few-null-emails-rule": Status.GREEN,
    "order-count": Status.GREEN,
    "average-order-amount": Status.GREEN,
    "largest-order": Status.RED,
    "no-orphan-orders": Status.RED,
}


def make_demo_shop(path: Path) -> None:
    """200 users (10 without an e-mail); 500 orders, one of 1500.00, two of unknown users."""
    with sqlite3.connect(path) as db:
        db.executescript(
            "CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL, email TEXT, created TEXT);"
            "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, amount REAL, status TEXT,"
            " created TEXT);"
        )
        db.executemany(
            "INSERT INTO users VALUES (?, ?, ?, ?)",
            [
                (i, f"user{i:03d}", None if i > 190 else f"user{i:03d}@example.com", "2026-01-01")
                for i in range(1, 201)
            ],
        )
        db.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?, ?)",
            [
                (
                    i,
                    9000 + i if i > 498 else i % 200 + 1,
                    1500.0 if i == 250 else round(5 + i * 37 % 100 + 0.99, 2),
                    ("paid", "shipped", "delivered", "failed")[i % 4],
                    "2026-01-02",
                )
                for i in range(1, 501)
            ],
        )
    db.close()


@pytest.fixture
def demo(settings, tmp_path):
    settings.DATASOURCE_SQLITE_DIR = tmp_path
    shop = tmp_path / "demo-shop.sqlite3"
    make_demo_shop(shop)
    make_user("demo")
    return config.import_file(DEMO, environ={"MALLEABLE_DEMO_SHOP_DB": str(shop)})


def fetch(checker: Checker) -> dict[str, dict]:
    policy = datasources.TargetPolicy(
        own_databases=list(settings.DATABASES.values()),
        allowed_hosts=None,
        sqlite_dir=settings.DATASOURCE_SQLITE_DIR,
    )
    wanted = [checker.rule_dataset] if checker.kind == CheckerKind.RULE else list(checker.datasets.all())
    return {
        dataset.slug: datasources.fetch(
            dataset.datasource.connection_spec(), dataset.sql, policy=policy
        ).to_dataset()
        for dataset in wanted
    }


def verdict(checker: Checker) -> tuple[Status, list[str]]:
    data = fetch(checker)
    if checker.kind == CheckerKind.RULE:
        state = RunState(data, Limits())
        Rule.evaluate(checker.rule(), state)
        outcome = state.outcome(0, 0)
    else:
        outcome = get_sandbox().run(checker.program(), data, Limits(timeout_s=10))
    return outcome.status, [message.text for message in outcome.messages if message.level != "log"]


def test_demo_imports_with_a_checker_of_each_kind(demo):
    assert demo.counts()["checker"] == {"created": 6, "updated": 0, "unchanged": 0}
    kinds = dict(Checker.objects.values_list("slug", "kind"))
    assert kinds["few-null-emails"] == CheckerKind.PYTHON
    assert kinds["no-orphan-orders"] == CheckerKind.WASM
    assert all(
        (checker.schedule_cron, checker.schedule_every) in {("* * * * *", None), ("", 60)}
        for checker in Checker.objects.all()
    )


def test_demo_checkers_are_some_green_some_red(demo):
    verdicts = {checker.slug: verdict(checker) for checker in Checker.objects.all()}

    assert {slug: status for slug, (status, _) in verdicts.items()} == VERDICTS
    assert verdicts["few-null-emails"][1][0].startswith(
        "There should be less than 42 users in that state (10 "
    )
    assert verdicts["largest-order"][1] == ["Largest order amount (1500.0, expected <= 1000)"]
    assert verdicts["no-orphan-orders"][1] == ["Every order belongs to a known user"]
