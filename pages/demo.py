"""The demo namespace of `make run`: a small shop's SQLite database and its checks as code."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from django.conf import settings

DEMO_CONFIG = settings.BASE_DIR / "examples" / "demo.yaml"
DEMO_NAMESPACE = "demo"


def demo_shop_path() -> Path:
    """In the demo namespace's own SQLite directory, where its ``sqlite:shop.sqlite3`` points."""
    return settings.DATASOURCE_SQLITE_DIR / DEMO_NAMESPACE / "shop.sqlite3"


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
