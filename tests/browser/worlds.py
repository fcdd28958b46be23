"""Data worth looking at: the demo namespace of ``make run`` with a history behind it.

A fresh import has no runs, and screenshots of empty sparklines and timelines show nothing
of the pages. ``demo_with_history`` records real evaluations (the run pipeline against the demo
shop) backdated one per ``every``, with the shop's data changing on the way, so every checker
has runs, durations and transitions of its own.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.utils import timezone

from checkers import runs
from checkers.models import Checker, Trigger
from checks_as_code import config
from pages.demo import DEMO_CONFIG, make_demo_shop
from tests.personas import PASSWORD

DEMO_USERNAME = "demo"
HISTORY = 30


def _set_shop(path: Path, *, null_emails: int, large_order: bool, orphans: int) -> None:
    """Turn the demo shop's knobs: users without an e-mail, the 1500.00 order, orphan orders."""
    with sqlite3.connect(path) as db:
        db.execute("UPDATE users SET email = 'user' || id || '@example.com'")
        db.execute("UPDATE users SET email = NULL WHERE id > 200 - ?", (null_emails,))
        db.execute("UPDATE orders SET amount = ? WHERE id = 250", (1500.0 if large_order else 99.0,))
        db.execute("UPDATE orders SET user_id = id % 200 + 1 WHERE id > 498")
        db.execute("UPDATE orders SET user_id = 9000 + id WHERE id > 500 - ?", (orphans,))
    db.close()


def _shop_at(step: int) -> dict:
    """Mostly calm; a spell of too many null e-mails, the large order arriving late, orphans on and off."""
    return {
        "null_emails": 48 if 8 <= step < 12 else 10,
        "large_order": step >= HISTORY - 6,
        "orphans": 2 if step % 9 in (0, 1) or step >= HISTORY - 3 else 0,
    }


def demo_with_history(sqlite_dir: Path, every: timedelta = timedelta(minutes=5)) -> Checker:
    """Import examples/demo.yaml over a demo shop in ``sqlite_dir`` and record ``HISTORY`` runs each.

    The user ``demo`` (password ``tests.personas.PASSWORD``) owns the namespace ``demo``.
    Returns the checker the screenshots show (``largest-order``).
    """
    shop = sqlite_dir / "demo" / "shop.sqlite3"
    shop.parent.mkdir(exist_ok=True)
    make_demo_shop(shop)
    get_user_model().objects.create_user(DEMO_USERNAME, "demo@example.com", PASSWORD)
    config.import_file(DEMO_CONFIG, environ={})
    checkers = list(Checker.objects.filter(namespace__slug="demo").order_by("slug"))
    now = timezone.now()
    for step in range(HISTORY):
        _set_shop(shop, **_shop_at(step))
        at = now - every * (HISTORY - step)
        for checker in checkers:
            evaluation = runs.evaluate(checker)
            took = evaluation.finished - evaluation.started
            backdated = replace(evaluation, started=at, finished=at + took)
            runs.record(checker, backdated, Trigger.SCHEDULE)
    return Checker.objects.get(namespace__slug="demo", slug="largest-order")
