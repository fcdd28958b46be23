"""No self-targeting, only allowed hosts, and the session goes where the check looked."""

from __future__ import annotations

import socket

import pytest
from django.conf import settings
from django.db import connection

from checkers.datasources import (
    ENGINES,
    ConnectFailed,
    ConnectionSpec,
    TargetPolicy,
    TargetRefused,
    check_target,
    engine_for,
    fetch,
)
from checkers.datasources.base import Target

PG_OWN = {"ENGINE": "django.db.backends.postgresql", "HOST": "", "PORT": "", "NAME": "malleable", "TEST": {}}
MYSQL_OWN = {"ENGINE": "django.db.backends.mysql", "HOST": "localhost", "PORT": "3306", "NAME": "malleable"}


def _pg(host: str, database: str = "malleable", port: int = 5432) -> ConnectionSpec:
    return ConnectionSpec("postgresql", f"postgresql://reader@{host}:{port}/{database}")


# The operator allows every address, so only the own-database rule is at work.
ANYWHERE = ["0.0.0.0/0", "::/0"]


def _refused(spec: ConnectionSpec, own: list[dict]) -> bool:
    try:
        check_target(spec, own, ANYWHERE, None)
    except TargetRefused as exc:
        assert "Malleable's own" in str(exc)
        return True
    return False


def test_the_running_test_database_is_refused(db):
    """The real DATABASES entries, with the name Django gave the test database, under every
    name this machine answers to."""
    own = list(settings.DATABASES.values())
    if connection.vendor != "postgresql":
        pytest.skip(f"the test database is {connection.vendor}; CI runs this on PostgreSQL")
    running = connection.settings_dict
    assert running["NAME"].startswith("test_")
    port = int(running["PORT"] or 5432)
    for host in {"localhost", "127.0.0.1", "[::1]", socket.gethostname(), running["HOST"] or "localhost"}:
        with pytest.raises(TargetRefused, match="Malleable's own PostgreSQL database"):
            check_target(_pg(host, running["NAME"], port), own, None, None)


@pytest.mark.parametrize(
    "host", ["localhost", "127.0.0.1", "[::1]", "127.0.0.2", "LOCALHOST", socket.gethostname()]
)
@pytest.mark.parametrize("database", ["malleable", "test_malleable"])
def test_every_name_for_this_machine_is_the_same_server(host, database):
    assert _refused(_pg(host, database), [PG_OWN])


@pytest.mark.parametrize(
    ("host", "database", "port"), [("127.0.0.1", "shop", 5432), ("127.0.0.1", "malleable", 5433)]
)
def test_another_database_or_port_is_allowed(host, database, port):
    assert not _refused(_pg(host, database, port), [PG_OWN])


def test_an_explicit_test_name_is_refused():
    own = [{**PG_OWN, "TEST": {"NAME": "malleable_ci"}}]
    assert _refused(_pg("localhost", "malleable_ci"), own)


def test_any_database_on_malleables_mysql_server_is_refused():
    """MySQL databases on one server can read each other (db.table), so the server is off limits."""
    spec = ConnectionSpec("mysql", "mysql://reader@127.0.0.1:3306/shop")
    with pytest.raises(TargetRefused, match="Malleable's own MySQL/MariaDB server"):
        check_target(spec, [MYSQL_OWN], None, None)


def test_an_engine_only_matches_its_own_kind():
    assert not _refused(ConnectionSpec("mysql", "mysql://reader@127.0.0.1:5432/malleable"), [PG_OWN])


def test_an_own_host_that_does_not_resolve_does_not_break_the_check():
    own = [{**PG_OWN, "HOST": "db.invalid"}]
    assert not _refused(_pg("127.0.0.1"), own)


def test_fetch_refuses_before_connecting():
    """Nothing listens on this port: a TargetRefused (not a ConnectFailed) proves no connection was tried."""
    own = [{**PG_OWN, "PORT": "1"}]
    with pytest.raises(TargetRefused, match="Malleable's own"):
        fetch(
            _pg("127.0.0.1", port=1),
            "SELECT 1",
            policy=TargetPolicy(own_databases=own, allowed_hosts=ANYWHERE),
        )


@pytest.mark.parametrize(
    ("allowed", "host", "ok"),
    [
        ([], "127.0.0.1", False),
        (["localhost"], "localhost", True),
        (["LOCALHOST."], "localhost", True),
        (["localhost"], "127.0.0.1", False),
        (["127.0.0.0/8"], "localhost", True),
        (["10.0.0.0/8", "db.internal"], "localhost", False),
        (["::1", "127.0.0.1"], "127.0.0.1", True),
    ],
)
def test_only_allowed_hosts_when_the_list_is_set(allowed, host, ok):
    spec = _pg(host, "shop")
    if ok:
        check_target(spec, [], allowed, None)
    else:
        with pytest.raises(TargetRefused, match="not one of the operator's allowed datasource hosts"):
            check_target(spec, [], allowed, None)


def test_a_host_that_does_not_resolve_is_a_transient_connect_error():
    with pytest.raises(ConnectFailed, match="cannot be resolved") as caught:
        check_target(_pg("no-such-host.invalid"), [], None, None)
    assert not caught.value.permanent


def test_the_session_connects_to_the_addresses_that_were_checked():
    """The name is resolved once; libpq gets the checked IPs (hostaddr) and keeps the name for TLS."""
    engine = engine_for(_pg("localhost", "shop"), TargetPolicy(allowed_hosts=["localhost"]))
    assert "127.0.0.1" in engine.target.addresses
    info = engine.conninfo()
    assert info["hostaddr"] == ",".join(engine.target.addresses)
    assert set(info["host"].split(",")) == {"localhost"}
    assert info["passfile"].startswith("/dev/null/")


@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_an_engine_that_was_not_vetted_never_falls_back_to_the_local_socket(engine):
    spec = ConnectionSpec(engine, f"{engine}://reader@127.0.0.1/shop")
    unvetted = ENGINES[engine](spec.location, Target(), password="", timeout_s=1, row_cap=1)
    with pytest.raises(TargetRefused, match="only to addresses the policy vetted"), unvetted.session():
        pass
