"""Attacks on a PostgreSQL datasource: every write is refused and the data stays as it was.

Each attack goes in twice: through ``fetch`` (the SQL check first, then the session) and
straight into the engine's session with the SQL check skipped, so the read-only
transaction and the server-side cursor are shown to hold on their own, for the reader role
and for a superuser alike.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import errors

from checkers.datasources import DatasourceError, QueryFailed, QueryTimeout, SqlRejected, fetch
from tests.datasources.shops import USERS

ROLES = ["reader", "superuser"]
# A statement that would run far past any cut; tests bound time loosely by half of it.
LONG_S = 120
PWNED = Path(f"/tmp/malleable-pwned-{uuid.uuid4().hex}")

ATTACKS = {
    "writable CTE": "WITH d AS (DELETE FROM users RETURNING *) SELECT * FROM d",
    "second statement": "SELECT 1; DELETE FROM users",
    "select for update": "SELECT * FROM users FOR UPDATE",
    "nextval": "SELECT nextval('s')",
    "copy to program": f"COPY (SELECT 1) TO PROGRAM 'touch {PWNED}'",
    "select into": "SELECT * INTO stolen FROM users",
    "insert": "INSERT INTO users VALUES (99, 'mallory', NULL)",
    "update": "UPDATE users SET email = NULL",
    "delete": "DELETE FROM users",
    "truncate": "TRUNCATE users",
    "drop": "DROP TABLE users",
    "create": "CREATE TABLE planted (id int)",
    "do block": "DO $$ BEGIN DELETE FROM users; END $$",
    "set read write": "SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE; DELETE FROM users",
}


@pytest.fixture(autouse=True)
def _data_unchanged(pg_shop):
    """After every test here the table is exactly as created and nothing ran on the server."""
    yield
    assert pg_shop.users() == sorted(USERS)
    assert not PWNED.exists(), "COPY ... TO PROGRAM ran on the database server"


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("sql", ATTACKS.values(), ids=ATTACKS.keys())
def test_fetch_refuses_every_write(pg_shop, role, sql):
    with pytest.raises(SqlRejected):
        fetch(pg_shop.spec(role), sql, policy=pg_shop.policy)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("sql", ATTACKS.values(), ids=ATTACKS.keys())
def test_the_session_refuses_every_write_without_the_sql_check(pg_shop, role, sql):
    engine = pg_shop.engine_for(role)
    with pytest.raises(QueryFailed) as caught, engine.session() as session:
        engine.read(session, sql, 10)
    assert caught.value.message.startswith("PostgreSQL")


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "sql",
    [
        "INSERT INTO users VALUES (99, 'mallory', NULL)",
        "UPDATE users SET email = NULL",
        "DELETE FROM users",
        "SELECT nextval('s')",
        "SELECT * FROM users FOR UPDATE",
        "WITH d AS (DELETE FROM users RETURNING *) SELECT * FROM d",
        "CREATE TABLE planted (id int)",
    ],
)
def test_the_transaction_itself_is_read_only_even_for_a_superuser(pg_shop, role, sql):
    """Plain statements on the session's connection, no cursor tricks: the transaction refuses."""
    with pg_shop.engine_for(role).session() as connection, pytest.raises(errors.ReadOnlySqlTransaction):
        connection.execute(sql)


def test_a_superuser_cannot_run_copy_to_program_through_the_session(pg_shop):
    """A read-only transaction alone lets a superuser COPY TO PROGRAM; the cursor does not."""
    engine = pg_shop.engine_for("superuser")
    with pytest.raises(QueryFailed, match="syntax error"), engine.session() as session:
        engine.read(session, f"COPY (SELECT 1) TO PROGRAM 'touch {PWNED}'", 10)


def test_set_config_cannot_make_the_session_writable(pg_shop):
    """set_config is allowed in a read-only transaction, so even if it got past the SQL check
    it could not make the running transaction writable, and the next session starts clean."""
    engine = pg_shop.engine_for("superuser")
    with engine.session() as session:
        assert engine.read(session, "SELECT set_config('default_transaction_read_only', 'off', false)", 1)
        assert session.execute("SHOW transaction_read_only").fetchone() == ("on",)
        with pytest.raises(errors.ReadOnlySqlTransaction):
            session.execute("DELETE FROM users")
    with engine.session() as session, pytest.raises(QueryFailed, match="read-write mode"):
        engine.read(session, "SELECT set_config('transaction_read_only', 'off', false)", 1)
    with engine.session() as session:
        assert engine.read(session, "SELECT current_setting('transaction_read_only')", 1)[1] == [("on",)]


def test_the_session_has_every_timeout_and_names_itself(pg_shop):
    with pg_shop.engine_for("reader").session() as session:
        settings = session.execute(
            "SELECT current_setting('transaction_read_only'), current_setting('statement_timeout'),"
            " current_setting('lock_timeout'), current_setting('idle_in_transaction_session_timeout'),"
            " current_setting('application_name')"
        ).fetchone()
    assert settings == ("on", "1s", "500ms", "1s", "malleable")


@pytest.mark.parametrize("role", ROLES)
def test_pg_sleep_past_the_timeout_is_cut(pg_shop, role):
    # The server's own error says the statement timeout cut it; the sleep is far longer than the
    # loose bound, which only tells a cut from a finished sleep on a loaded machine.
    started = time.monotonic()
    with pytest.raises(QueryTimeout) as caught:
        fetch(pg_shop.spec(role), f"SELECT pg_sleep({LONG_S})", policy=pg_shop.policy)
    assert time.monotonic() - started < LONG_S / 2
    assert not caught.value.permanent
    assert "canceling statement due to statement timeout" in str(caught.value)


def test_a_lock_wait_is_cut_by_lock_timeout(pg_shop):
    with psycopg.connect(
        host=pg_shop.host, port=pg_shop.port, user="postgres", dbname=pg_shop.database
    ) as other:
        other.execute("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        with pytest.raises(QueryTimeout, match="lock timeout"):
            fetch(pg_shop.spec("reader"), "SELECT count(*) FROM users", policy=pg_shop.policy)
        assert time.monotonic() - started < 60  # the lock is never released; the message says why
        other.rollback()


def test_a_huge_result_is_capped_on_the_server(pg_shop):
    """A hundred million rows with a cap of 5 and a 1 s statement timeout: one FETCH of 6.

    The rows are made lazily (a join of two small series), so only a server that stopped
    after the sixth row answers before the timeout; reading them all would be a QueryTimeout.
    """
    sql = "SELECT a.g * 10000 + b.g FROM generate_series(0, 9999) a(g), generate_series(1, 10000) b(g)"
    result = fetch(pg_shop.spec(row_cap=5), sql, policy=pg_shop.policy)
    assert len(result.rows) == 5
    assert result.truncated


def test_a_dataset_error_is_typed_and_names_the_database_message(pg_shop):
    with pytest.raises(DatasourceError) as caught:
        fetch(pg_shop.spec("reader"), "SELECT * FROM no_such_table", policy=pg_shop.policy)
    assert isinstance(caught.value, QueryFailed)
    assert caught.value.permanent
    assert 'relation "no_such_table" does not exist' in str(caught.value)
