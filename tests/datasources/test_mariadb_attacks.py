"""Attacks on a MariaDB datasource: every write is refused and the data stays as it was.

As for PostgreSQL, each attack goes in through ``fetch`` and straight into the engine's
session with the SQL check skipped, as the reader and as root.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pymysql
import pytest

from checkers.datasources import (
    ConnectFailed,
    ConnectionSpec,
    QueryFailed,
    QueryTimeout,
    SqlRejected,
    close_idle_connections,
    fetch,
)
from tests.datasources.shops import USERS

ROLES = ["reader", "superuser"]
# A statement that would run far past any cut; tests bound time loosely by half of it.
LONG_S = 120
PWNED = Path(f"/tmp/malleable-pwned-{uuid.uuid4().hex}")

ATTACKS = {
    "second statement": "SELECT 1; DELETE FROM users",
    "insert": "INSERT INTO users VALUES (99, 'mallory', NULL)",
    "insert select": "INSERT INTO users SELECT id + 100, username, email FROM users",
    "replace": "REPLACE INTO users VALUES (1, 'mallory', NULL)",
    "update": "UPDATE users SET email = NULL",
    "delete": "DELETE FROM users",
    "truncate": "TRUNCATE users",
    "drop": "DROP TABLE users",
    "create": "CREATE TABLE planted (id INT)",
    "temporary table": "CREATE TEMPORARY TABLE planted (id INT)",
    "select for update": "SELECT * FROM users FOR UPDATE",
    "lock tables": "LOCK TABLES users WRITE",
    "into outfile": f"SELECT * FROM users INTO OUTFILE '{PWNED}'",  # noqa: S608 (the attack)
    "into dumpfile": f"SELECT 'x' INTO DUMPFILE '{PWNED}'",
    "executable comment": f"SELECT 1 /*! INTO OUTFILE '{PWNED}' */ FROM users",  # noqa: S608 (the attack)
    "smuggled read write": "SET SESSION TRANSACTION READ WRITE; COMMIT; DELETE FROM users",
}


@pytest.fixture(autouse=True)
def _data_unchanged(mariadb_shop):
    yield
    assert mariadb_shop.users() == sorted(USERS)
    assert not PWNED.exists(), "the database server wrote a file"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("sql", ATTACKS.values(), ids=ATTACKS.keys())
def test_fetch_refuses_every_write(mariadb_shop, role, sql):
    with pytest.raises(SqlRejected):
        fetch(mariadb_shop.spec(role), sql, policy=mariadb_shop.policy)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("sql", ATTACKS.values(), ids=ATTACKS.keys())
def test_the_session_refuses_every_write_without_the_sql_check(mariadb_shop, role, sql):
    engine = mariadb_shop.engine_for(role)
    with pytest.raises((QueryFailed, SqlRejected)), engine.session() as session:
        engine.read(session, sql, 10)


def test_root_is_refused_by_the_read_only_transaction_itself(mariadb_shop):
    """Not privileges: root may write anything, and error 1792 is the transaction refusing."""
    engine = mariadb_shop.engine_for("superuser")
    for sql in ("DELETE FROM users", "UPDATE users SET email = NULL", "SELECT * FROM users FOR UPDATE"):
        with (
            pytest.raises(QueryFailed, match=r"READ ONLY transaction \(error 1792\)"),
            engine.session() as session,
        ):
            engine.read(session, sql, 10)


def test_set_session_read_write_cannot_be_smuggled_in(mariadb_shop):
    """It changes only the next transaction; the running one stays read-only, and a pooled
    connection is reset and made read-only again before its next transaction (test_pool)."""
    engine = mariadb_shop.engine_for("superuser")
    with engine.session() as session:
        assert engine.read(session, "SET SESSION TRANSACTION READ WRITE", 10) == ([], [])
        with pytest.raises(QueryFailed, match="error 1792"):
            engine.read(session, "DELETE FROM users", 10)
    with engine.session() as session, pytest.raises(QueryFailed, match="error 1568"):
        engine.read(session, "SET TRANSACTION READ WRITE", 10)
    with engine.session() as session:
        assert engine.read(session, "SELECT @@session.tx_read_only", 1)[1] == [(1,)]


def test_the_session_has_its_limits(mariadb_shop):
    engine = mariadb_shop.engine_for("reader", row_cap=7)
    with engine.session() as session:
        _, rows = engine.read(
            session, "SELECT @@tx_read_only, @@max_statement_time, @@sql_select_limit, @@lock_wait_timeout", 1
        )
    assert rows == [(1, 1.0, 8, 1)]


@pytest.mark.parametrize("role", ROLES)
def test_sleep_past_the_timeout_is_cut(mariadb_shop, role):
    # The server's own error says the statement timeout cut it; the sleep is far longer than the
    # loose bound, which only tells a cut from a finished sleep on a loaded machine.
    started = time.monotonic()
    with pytest.raises(QueryTimeout, match="max_statement_time exceeded") as caught:
        fetch(mariadb_shop.spec(role), f"SELECT SLEEP({LONG_S})", policy=mariadb_shop.policy)
    assert time.monotonic() - started < LONG_S / 2
    assert not caught.value.permanent


def test_a_huge_result_with_its_own_limit_is_still_capped(mariadb_shop):
    """An explicit LIMIT overrides sql_select_limit; the engine stops reading at the cap instead."""
    started = time.monotonic()
    result = fetch(
        mariadb_shop.spec(row_cap=5),
        "SELECT seq FROM seq_1_to_10000000000 LIMIT 10000000000",
        policy=mariadb_shop.policy,
    )
    assert result.rows == [[1], [2], [3], [4], [5]]
    assert result.truncated
    assert time.monotonic() - started < LONG_S / 2  # reading ten billion rows takes hours


def test_the_reader_cannot_read_other_databases_either(mariadb_shop):
    with pytest.raises(QueryFailed, match="denied") as caught:
        fetch(mariadb_shop.spec("reader"), "SELECT * FROM mysql.user", policy=mariadb_shop.policy)
    assert caught.value.permanent


def test_an_unknown_database_is_a_permanent_connect_error(mariadb_shop):
    url = mariadb_shop.url().replace(mariadb_shop.database, "malleable_ds_absent")
    with pytest.raises(ConnectFailed, match="Unknown database") as caught:
        fetch(ConnectionSpec("mysql", url), "SELECT 1", policy=mariadb_shop.policy)
    assert caught.value.permanent


def test_an_abandoned_result_closes_its_connection(mariadb_shop):
    """A capped read closes its connection rather than draining it (or pooling it), and
    leaves no session behind."""
    close_idle_connections()
    sql = "SELECT seq FROM seq_1_to_1000000 LIMIT 1000000"
    fetch(mariadb_shop.spec("reader", row_cap=1), sql, policy=mariadb_shop.policy)
    with pymysql.connect(host=mariadb_shop.host, port=mariadb_shop.port, user="root") as admin:
        assert _sessions_of(admin, mariadb_shop.reader) == 0


def _sessions_of(admin: pymysql.Connection, user: str, wait_s: float = 2.0) -> int:
    deadline = time.monotonic() + wait_s
    with admin.cursor() as cursor:
        while True:
            cursor.execute("SELECT count(*) FROM information_schema.processlist WHERE user = %s", (user,))
            (count,) = cursor.fetchone()
            if count == 0 or time.monotonic() > deadline:
                return count
            time.sleep(0.05)
