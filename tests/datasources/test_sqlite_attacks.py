"""Attacks on a SQLite datasource: writes refused, no file outside the operator's directory,
and a query that never ends is cut at the timeout."""

from __future__ import annotations

import sqlite3
import time

import pytest

from checkers.datasources import (
    ConnectFailed,
    ConnectionSpec,
    QueryFailed,
    QueryTimeout,
    SqlRejected,
    TargetPolicy,
    TargetRefused,
    check_target,
    engine_for,
    fetch,
)
from tests.datasources.shops import USERS

ATTACKS = {
    "insert": "INSERT INTO users VALUES (99, 'mallory', NULL)",
    "update": "UPDATE users SET email = NULL",
    "delete": "DELETE FROM users",
    "drop": "DROP TABLE users",
    "create": "CREATE TABLE planted (id INTEGER)",
    "second statement": "SELECT 1; DELETE FROM users",
    "writable CTE": "WITH d AS (SELECT 1) DELETE FROM users",
    "query_only off": "PRAGMA query_only = OFF",
    "attach": "ATTACH DATABASE '/etc/passwd' AS stolen",
    "vacuum into": "VACUUM INTO '/tmp/malleable-copy.sqlite3'",
    "load extension": "SELECT load_extension('/tmp/evil.so')",
    "begin": "BEGIN IMMEDIATE",
}


@pytest.fixture(autouse=True)
def _data_unchanged(sqlite_shop):
    yield
    assert sqlite_shop.users() == sorted(USERS)


@pytest.mark.parametrize("sql", ATTACKS.values(), ids=ATTACKS.keys())
def test_fetch_refuses_every_write(sqlite_shop, sql):
    with pytest.raises(SqlRejected):
        fetch(sqlite_shop.spec(), sql, policy=sqlite_shop.policy)


@pytest.mark.parametrize("sql", ATTACKS.values(), ids=ATTACKS.keys())
def test_the_session_refuses_every_write_without_the_sql_check(sqlite_shop, sql):
    engine = sqlite_shop.engine_for()
    with pytest.raises(QueryFailed), engine.session() as session:
        engine.read(session, sql, 10)


def test_the_file_is_read_only_even_without_the_authorizer(sqlite_shop):
    """mode=ro is the operating-system layer: with the authorizer and query_only gone, still no write."""
    with sqlite_shop.engine_for().session() as session:
        session.set_authorizer(None)
        session.execute("PRAGMA query_only = OFF")
        with pytest.raises(sqlite3.OperationalError, match="readonly database"):
            session.execute("DELETE FROM users")


def test_a_query_that_never_ends_is_cut(sqlite_shop):
    started = time.monotonic()
    with pytest.raises(QueryTimeout) as caught:
        fetch(
            sqlite_shop.spec(),
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
            policy=sqlite_shop.policy,
        )
    assert time.monotonic() - started < 60  # it never ends by itself; the bound is loose on purpose
    assert not caught.value.permanent


def _spec(url: str) -> ConnectionSpec:
    return ConnectionSpec("sqlite", url)


def test_a_relative_name_is_inside_the_directory(sqlite_shop):
    result = fetch(_spec("sqlite:shop.sqlite3"), "SELECT count(*) FROM users", policy=sqlite_shop.policy)
    assert result.rows == [[len(USERS)]]


def test_dot_dot_that_stays_inside_is_allowed(sqlite_shop):
    inside = sqlite_shop.path.parent
    url = f"sqlite:///{inside}/../{inside.name}/shop.sqlite3"
    check_target(_spec(url), [], None, inside)


@pytest.fixture
def outside(tmp_path):
    """A real SQLite file outside the operator's directory, worth stealing."""
    path = tmp_path / "secrets.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE secrets (value TEXT)")
    db.close()
    return path


def test_an_absolute_path_outside_is_refused(sqlite_shop, outside):
    with pytest.raises(TargetRefused, match="outside the directory"):
        fetch(_spec(f"sqlite:///{outside}"), "SELECT * FROM secrets", policy=sqlite_shop.policy)


def test_dot_dot_out_is_refused(sqlite_shop, outside):
    inside = sqlite_shop.path.parent
    escape = "../" * len(inside.parts) + str(outside).lstrip("/")
    with pytest.raises(TargetRefused, match="outside the directory"):
        fetch(_spec(f"sqlite:{escape}"), "SELECT * FROM secrets", policy=sqlite_shop.policy)


def test_a_symlink_out_is_refused(sqlite_shop, outside):
    link = sqlite_shop.path.parent / "innocent.sqlite3"
    link.symlink_to(outside)
    try:
        with pytest.raises(TargetRefused, match="symbolic links"):
            fetch(_spec("sqlite:innocent.sqlite3"), "SELECT * FROM secrets", policy=sqlite_shop.policy)
    finally:
        link.unlink()


def test_a_symlink_that_stays_inside_opens_the_resolved_file(sqlite_shop):
    link = sqlite_shop.path.parent / "alias.sqlite3"
    link.symlink_to(sqlite_shop.path)
    try:
        engine = engine_for(_spec("sqlite:alias.sqlite3"), sqlite_shop.policy)
        assert engine.target.path == sqlite_shop.path.resolve()
    finally:
        link.unlink()


def test_the_directory_itself_is_refused(sqlite_shop):
    with pytest.raises(TargetRefused):
        check_target(_spec(f"sqlite:///{sqlite_shop.path.parent}/."), [], None, sqlite_shop.path.parent)


def test_sqlite_is_refused_entirely_without_a_directory(sqlite_shop):
    with pytest.raises(TargetRefused, match="SQLite datasources are disabled"):
        fetch(sqlite_shop.spec(), "SELECT 1", policy=TargetPolicy())


def test_malleables_own_sqlite_database_is_refused_even_inside_the_directory(sqlite_shop):
    own = [{"ENGINE": "django.db.backends.sqlite3", "NAME": str(sqlite_shop.path)}]
    policy = TargetPolicy(own_databases=own, sqlite_dir=sqlite_shop.path.parent)
    with pytest.raises(TargetRefused, match="Malleable's own database"):
        fetch(_spec("sqlite:shop.sqlite3"), "SELECT 1", policy=policy)


def test_a_missing_file_is_a_connect_error_and_is_not_created(sqlite_shop):
    with pytest.raises(ConnectFailed, match="unable to open database file"):
        fetch(_spec("sqlite:absent.sqlite3"), "SELECT 1", policy=sqlite_shop.policy)
    assert not (sqlite_shop.path.parent / "absent.sqlite3").exists()


@pytest.mark.parametrize("url", ["sqlite://host/shop.sqlite3", "sqlite:", "sqlite:///tmp/"])
def test_a_url_that_names_no_file_is_invalid(url):
    with pytest.raises(Exception, match="a SQLite URL names a file"):
        _spec(url)
