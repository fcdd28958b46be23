"""Pooled datasource connections: reused, always read-only with their timeouts, never shared
across datasource settings or processes, and never more idle than the datasource allows."""

from __future__ import annotations

import os
import time
from dataclasses import replace

import psycopg
import pytest

from checkers.datasources import (
    ConnectionSpec,
    QueryFailed,
    QueryTimeout,
    close_idle_connections,
    engine_for,
    fetch,
)
from checkers.datasources.base import Target
from checkers.datasources.pool import IDLE_S, POOLS
from tests.datasources.shops import LOCAL_POLICY, Shop

SERVERS = ["pg_shop", "mariadb_shop"]
# The server's id of the session, whether its transaction is read-only, its statement limit.
SESSION_SQL = {
    "postgresql": "SELECT pg_backend_pid(), current_setting('transaction_read_only'),"
    " current_setting('statement_timeout')",
    "mysql": "SELECT CONNECTION_ID(), @@tx_read_only, @@max_statement_time",
}
READ_ONLY = {"postgresql": ("on", "1s"), "mysql": (1, 1.0)}


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest) -> Shop:
    close_idle_connections()
    return request.getfixturevalue(request.param)


def _session(shop: Shop, **overrides) -> tuple:
    """(server session id, read-only, statement timeout) of one fetch through the pool."""
    result = fetch(shop.spec("reader", **overrides), SESSION_SQL[shop.engine], policy=shop.policy)
    return tuple(result.values[0])


def _sessions_on_server(shop: Shop) -> int:
    """The reader's sessions the server sees, idle ones included."""
    sql = {
        "postgresql": "SELECT count(*) FROM pg_stat_activity WHERE usename = '{user}' AND datname = '{db}'",
        "mysql": "SELECT count(*) FROM information_schema.processlist WHERE user = '{user}' AND db = '{db}'",
    }[shop.engine].format(user=shop.reader, db=shop.database)
    deadline = time.monotonic() + 2
    while True:
        count = fetch(shop.spec(), sql, policy=shop.policy).values[0][0]
        if count == 0 or time.monotonic() > deadline:
            return count
        time.sleep(0.05)


def test_a_second_fetch_reuses_the_connection(server):
    first, second = _session(server), _session(server)
    assert first[0] == second[0]
    assert first[1:] == second[1:] == READ_ONLY[server.engine]


def test_after_a_timeout_the_reused_connection_is_read_only_with_its_timeout(server):
    before = _session(server)
    sleep = {"postgresql": "SELECT pg_sleep(5)", "mysql": "SELECT SLEEP(5)"}[server.engine]
    with pytest.raises(QueryTimeout):
        fetch(server.spec("reader"), sleep, policy=server.policy)
    after = _session(server)
    assert after[0] == before[0]
    assert after[1:] == READ_ONLY[server.engine]


def test_after_a_failed_statement_the_reused_connection_is_read_only(server):
    before = _session(server)
    with pytest.raises(QueryFailed):
        fetch(server.spec("reader"), "SELECT * FROM no_such_table", policy=server.policy)
    after = _session(server)
    assert after == before


def test_postgresql_settings_and_locks_a_statement_took_do_not_survive_it(pg_shop):
    close_idle_connections()
    engine = pg_shop.engine_for("superuser")
    with engine.session() as session:
        engine.read(
            session,
            "SELECT set_config('default_transaction_read_only', 'off', false),"
            " set_config('statement_timeout', '0', false), set_config('search_path', 'nowhere', false),"
            " pg_advisory_lock(4242)",
            1,
        )
        pid = session.info.backend_pid
    with engine.session() as session:
        assert session.info.backend_pid == pid
        _, rows = engine.read(
            session,
            "SELECT current_setting('transaction_read_only'), current_setting('statement_timeout'),"
            " current_setting('search_path'),"
            " (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid())",
            1,
        )
    assert rows == [("on", "1s", '"$user", public', 0)]


def test_mariadb_settings_variables_and_locks_a_statement_took_do_not_survive_it(mariadb_shop):
    close_idle_connections()
    engine = mariadb_shop.engine_for("superuser")
    with engine.session() as session:
        for sql in (
            "SET SESSION TRANSACTION READ WRITE",
            "SET SESSION max_statement_time = 0",
            "SET @planted = 1",
            "SELECT GET_LOCK('malleable-test', 0)",
        ):
            engine.read(session, sql, 10)  # a full read: one of the cap closes the connection
        pid = session.thread_id()
    with engine.session() as session:
        assert session.thread_id() == pid
        _, rows = engine.read(
            session,
            "SELECT @@tx_read_only, @@max_statement_time, @planted, IS_USED_LOCK('malleable-test')",
            1,
        )
    assert rows == [(1, 1.0, None, None)]


@pytest.mark.parametrize(
    "change",
    [{"statement_timeout_s": 2.0}, {"row_cap": 7}, {"max_concurrency": 3}],
    ids=["timeout", "row cap", "max concurrency"],
)
def test_a_changed_datasource_gets_a_new_connection(server, change):
    before = _session(server)
    after = _session(server, **change)
    assert after[0] != before[0]


# MariaDB checks the reader's password, so only PostgreSQL (trust) can connect with another.
@pytest.mark.parametrize("server", ["pg_shop"], indirect=True)
def test_a_changed_password_gets_a_new_connection(server):
    before = _session(server)
    after = _session(server, password="another")
    assert after[0] != before[0]


def test_an_edited_datasource_closes_the_old_pool_at_once(server):
    old = _session(server, identity="datasource:1")
    assert _sessions_on_server(server) == 1
    new = _session(server, identity="datasource:1", statement_timeout_s=2.0)
    assert new[0] != old[0]
    assert _sessions_on_server(server) == 1


def test_a_forked_child_does_not_use_its_parents_connection(server):
    parent = _session(server)
    read, write = os.pipe()
    child = os.fork()
    if child == 0:  # pragma: no cover - the child reports through the pipe
        try:
            os.write(write, str(_session(server)[0]).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(child, 0)
    with os.fdopen(read) as pipe:
        in_child = pipe.read()
    assert in_child and in_child != str(parent[0])
    assert _session(server)[0] == parent[0], "the parent's connection still works after the child exits"


def test_the_pool_keeps_no_more_idle_connections_than_max_concurrency(server):
    engine = server.engine_for("reader", max_concurrency=2)
    sessions = [engine.session() for _ in range(5)]
    ids = {id(session.__enter__()) for session in sessions}
    assert len(ids) == 5
    for session in sessions:
        session.__exit__(None, None, None)
    assert [len(pool) for pool in POOLS.all()] == [2]
    assert _sessions_on_server(server) == 2


def test_idle_connections_are_closed_after_their_idle_time(server):
    _session(server)
    POOLS.expire(now=time.monotonic() + IDLE_S / 2)
    assert _sessions_on_server(server) == 1
    POOLS.expire(now=time.monotonic() + IDLE_S + 1)
    assert _sessions_on_server(server) == 0


def test_a_connection_the_server_closed_while_idle_is_replaced(pg_shop):
    close_idle_connections()
    before = _session(pg_shop)
    admin = {
        "host": pg_shop.host,
        "port": pg_shop.port,
        "user": pg_shop.superuser,
        "dbname": pg_shop.database,
    }
    with psycopg.connect(**admin, autocommit=True) as server:
        server.execute("SELECT pg_terminate_backend(%s)", (before[0],))
    after = _session(pg_shop)
    assert after[0] != before[0]
    assert after[1:] == READ_ONLY["postgresql"]


def test_every_setting_a_session_depends_on_is_in_the_pool_key():
    spec = ConnectionSpec("postgresql", "postgresql://reader@127.0.0.1:5432/shop", password="one")
    base = engine_for(spec, LOCAL_POLICY)
    changed = [
        engine_for(replace(spec, url="postgresql://reader@127.0.0.1:5433/shop"), LOCAL_POLICY),
        engine_for(replace(spec, url="postgresql://reader@127.0.0.1:5432/other"), LOCAL_POLICY),
        engine_for(replace(spec, url="postgresql://writer@127.0.0.1:5432/shop"), LOCAL_POLICY),
        engine_for(
            replace(spec, url="postgresql://reader@127.0.0.1:5432/shop?sslmode=require"), LOCAL_POLICY
        ),
        engine_for(replace(spec, password="two"), LOCAL_POLICY),
        engine_for(replace(spec, statement_timeout_s=11.0), LOCAL_POLICY),
        engine_for(replace(spec, row_cap=5), LOCAL_POLICY),
        engine_for(replace(spec, max_concurrency=5), LOCAL_POLICY),
        type(base)(
            base.location, Target(addresses=("127.0.0.2",)), password="one", timeout_s=10.0, row_cap=10_000
        ),
    ]
    keys = {base.pool_key} | {engine.pool_key for engine in changed}
    assert len(keys) == 1 + len(changed)
    assert engine_for(replace(spec, identity="datasource:9"), LOCAL_POLICY).pool_key == base.pool_key
    assert "one" not in base.pool_key
