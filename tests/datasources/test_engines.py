"""What every engine does alike: the seed's dataset, row caps, column names, test connection."""

from __future__ import annotations

import json

import pytest

from checkers.datasources import ENGINE_CHOICES, ENGINES, describe_target, fetch, test_connection
from tests.datasources.shops import USERS

NULL_EMAILS = [[username] for _, username, email in USERS if email is None]


def test_the_registry_has_one_class_per_engine():
    assert set(ENGINES) == {"postgresql", "mysql", "sqlite"}
    assert all(ENGINES[name].name == name for name in ENGINES)
    assert dict(ENGINE_CHOICES)["mysql"] == "MySQL/MariaDB"
    assert all(dict(ENGINE_CHOICES)[name] == ENGINES[name].label for name in ENGINES)


def test_the_seed_dataset(shop):
    result = fetch(
        shop.spec("reader"), "SELECT username FROM users WHERE email IS NULL ORDER BY id", policy=shop.policy
    )
    assert result.to_dataset() == {"columns": ["username"], "rows": NULL_EMAILS}
    assert not result.truncated
    assert result.duration_ms > 0
    assert json.loads(result.to_json()) == {"columns": ["username"], "rows": NULL_EMAILS}


@pytest.mark.parametrize(
    ("cap", "truncated"), [(1, True), (24, True), (25, False), (26, False), (10_000, False)]
)
def test_the_row_cap_keeps_the_first_rows_and_says_when_it_cut(shop, cap, truncated):
    result = fetch(shop.spec(row_cap=cap), "SELECT id FROM users ORDER BY id", policy=shop.policy)
    assert result.rows == [[n] for n in range(1, min(cap, 25) + 1)]
    assert result.truncated is truncated


def test_an_empty_result_still_has_its_columns(shop):
    result = fetch(shop.spec(), "SELECT id, email AS address FROM users WHERE 1 = 0", policy=shop.policy)
    assert result.to_dataset() == {"columns": ["id", "address"], "rows": []}
    assert not result.truncated


def test_test_connection_says_what_it_reached(shop):
    line = test_connection(shop.spec("reader"), policy=shop.policy)
    assert line.endswith("read-only session OK")
    assert {
        "postgresql": "Connected to PostgreSQL",
        "mysql": "Connected to MariaDB",
        "sqlite": "Opened SQLite",
    }[shop.engine] in line


def test_test_connection_warns_about_a_postgresql_superuser(pg_shop):
    assert "warning: a superuser" in test_connection(pg_shop.spec("superuser"), policy=pg_shop.policy)
    assert "superuser" not in test_connection(pg_shop.spec("reader"), policy=pg_shop.policy)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://reader:secret@db.internal:5432/shop", "db.internal:5432/shop"),
        ("mysql://reader@db.internal/shop", "db.internal/shop"),
        ("sqlite:///srv/data/shop.sqlite3", "shop.sqlite3"),
        ("postgresql://reader:secret@db:bad/shop", "(malformed URL)"),
    ],
)
def test_describe_target_shows_where_without_credentials(url, shown):
    assert describe_target(url) == shown
