"""examples/demo.yaml imports, and on the demo shop's data four checkers are green and two red.

``make_demo_shop`` is the data ``load_demo`` is asked to write (see the file's header). The
verdicts come from the run pipeline (``runs.evaluate``, what ``run_checker`` does), recording
nothing.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from django.conf import settings

from checkers import config, runs
from checkers.models import Checker, CheckerKind
from checkers.sandbox import Status
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


def verdict(checker: Checker) -> tuple[Status, list[str]]:
    outcome = runs.evaluate(checker).outcome
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
