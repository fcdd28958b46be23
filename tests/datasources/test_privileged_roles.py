"""A datasource role that could do more than read is refused before its first query.

The SQL screen refuses ``pg_read_file`` by name, but a superuser reaches it through
Unicode-escaped identifiers and functions that read files on their own; a denylist cannot win
against a superuser, so a privileged role never gets a session unless the operator opts in
(``TargetPolicy.allow_privileged_roles``, ``MALLEABLE_DATASOURCE_ALLOW_PRIVILEGED_ROLES``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import psycopg
import pymysql
import pytest
from psycopg import sql

from checkers.datasources import PrivilegedRole, check_role, close_idle_connections, fetch, test_connection
from checkers.datasources.mysql import MySQL
from checkers.datasources.postgresql import PostgreSQL
from tests.datasources.shops import Shop
from tests.services import Service

FIX = (
    "A datasource role must only be able to read: connect as a role that may only SELECT the tables "
    "the checks read (or ask the operator to set MALLEABLE_DATASOURCE_ALLOW_PRIVILEGED_ROLES)"
)


def strict(shop: Shop) -> Shop:
    """The shop under the default policy: privileged roles refused."""
    return replace(shop, policy=replace(shop.policy, allow_privileged_roles=False))


@pytest.fixture(autouse=True)
def _fresh_pools() -> Iterator[None]:
    close_idle_connections()
    yield
    close_idle_connections()


# --- PostgreSQL -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "attack",
    [
        "SELECT U&\"pg\\005fread_file\"('/etc/passwd')",
        "SELECT * FROM ts_stat('SELECT to_tsvector(pg_read_file(''/etc/passwd''))')",
        "SELECT U&\"pg\\005fls\\005fdir\"('.')",
    ],
)
def test_a_superuser_cannot_read_server_files_without_the_opt_in(pg_shop, attack):
    with pytest.raises(PrivilegedRole) as refused:
        fetch(pg_shop.spec("superuser"), attack, policy=strict(pg_shop).policy)
    assert str(refused.value) == f"PostgreSQL: the role 'postgres' is a superuser. {FIX}"
    assert refused.value.permanent


@pytest.fixture
def victim(postgres_service: Service) -> Iterator[psycopg.Connection]:
    """Another session on the server, the kind pg_terminate_backend would kill."""
    with psycopg.connect(
        host=postgres_service.host, port=postgres_service.port, user="postgres", dbname="postgres"
    ) as connection:
        yield connection


def test_a_superuser_cannot_terminate_other_sessions_without_the_opt_in(pg_shop, victim):
    pid = victim.info.backend_pid
    with pytest.raises(PrivilegedRole):
        fetch(
            pg_shop.spec("superuser"),
            f'SELECT U&"pg\\005fterminate\\005fbackend"({pid})',
            policy=strict(pg_shop).policy,
        )
    assert victim.execute("SELECT 42").fetchone() == (42,)  # the query never ran


def test_the_operators_opt_in_lets_a_superuser_connect(pg_shop):
    assert test_connection(pg_shop.spec("superuser"), policy=pg_shop.policy).startswith(
        "Connected to PostgreSQL"
    )


def test_test_connection_refuses_a_superuser(pg_shop):
    with pytest.raises(PrivilegedRole):
        test_connection(pg_shop.spec("superuser"), policy=strict(pg_shop).policy)
    with pytest.raises(PrivilegedRole):
        check_role(pg_shop.spec("superuser"), policy=strict(pg_shop).policy)


def test_a_role_that_may_only_select_is_accepted(pg_shop):
    result = fetch(pg_shop.spec("reader"), "SELECT count(*) FROM users", policy=strict(pg_shop).policy)
    assert result.rows == [[25]]


@pytest.fixture
def pg_role(postgres_service: Service, pg_shop) -> Iterator[tuple[str, list[str]]]:
    """A login role of the shop; the test grants it more. Dropped afterwards with its helpers."""
    name = f"malleable_priv_{uuid.uuid4().hex[:8]}"
    made = [name]
    admin = dict(host=postgres_service.host, port=postgres_service.port, user="postgres")
    with psycopg.connect(**admin, dbname=pg_shop.database, autocommit=True) as db:
        db.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
        db.execute(sql.SQL("GRANT SELECT ON users TO {}").format(sql.Identifier(name)))
    yield name, made
    close_idle_connections()
    with psycopg.connect(**admin, dbname=pg_shop.database, autocommit=True) as db:
        for role in reversed(made):
            db.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
            db.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def _pg(postgres_service: Service, statement: sql.Composable) -> None:
    admin = dict(host=postgres_service.host, port=postgres_service.port, user="postgres")
    with psycopg.connect(**admin, dbname="postgres", autocommit=True) as db:
        db.execute(statement)


def _spec(shop: Shop, user: str):
    return replace(
        shop.spec("reader"), url=shop.url("reader").replace(f"{shop.reader}@", f"{user}@"), password=""
    )


@pytest.mark.parametrize(
    "granted",
    ["pg_read_server_files", "pg_write_server_files", "pg_execute_server_program", "pg_signal_backend"],
)
def test_a_member_of_a_server_role_is_refused(postgres_service, pg_shop, pg_role, granted):
    name, _ = pg_role
    _pg(postgres_service, sql.SQL("GRANT {} TO {}").format(sql.Identifier(granted), sql.Identifier(name)))
    with pytest.raises(PrivilegedRole) as refused:
        fetch(_spec(pg_shop, name), "SELECT 1", policy=strict(pg_shop).policy)
    assert str(refused.value) == f"PostgreSQL: the role '{name}' is a member of {granted}. {FIX}"


def test_membership_through_a_noinherit_chain_is_refused(postgres_service, pg_shop, pg_role):
    """SET ROLE reaches what NOINHERIT hides, so any membership counts, however indirect."""
    name, made = pg_role
    middle = f"{name}_middle"
    made.insert(0, middle)
    _pg(postgres_service, sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(middle)))
    _pg(postgres_service, sql.SQL("GRANT pg_read_server_files TO {}").format(sql.Identifier(middle)))
    _pg(postgres_service, sql.SQL("ALTER ROLE {} NOINHERIT").format(sql.Identifier(name)))
    _pg(postgres_service, sql.SQL("GRANT {} TO {}").format(sql.Identifier(middle), sql.Identifier(name)))
    with pytest.raises(PrivilegedRole) as refused:
        fetch(_spec(pg_shop, name), "SELECT 1", policy=strict(pg_shop).policy)
    assert "is a member of pg_read_server_files" in str(refused.value)


def test_pg_read_all_data_is_allowed(postgres_service, pg_shop, pg_role):
    """It reads this server's tables, which is the job; it reaches no file and no session."""
    name, _ = pg_role
    _pg(postgres_service, sql.SQL("GRANT pg_read_all_data TO {}").format(sql.Identifier(name)))
    result = fetch(_spec(pg_shop, name), "SELECT count(*) FROM users", policy=strict(pg_shop).policy)
    assert result.rows == [[25]]


def test_the_role_is_checked_when_a_connection_opens_not_on_every_checkout(pg_shop, monkeypatch):
    checks = []
    original = PostgreSQL.privileges
    monkeypatch.setattr(PostgreSQL, "privileges", lambda self, c: checks.append(1) or original(self, c))
    for _ in range(3):
        fetch(pg_shop.spec("reader"), "SELECT 1", policy=strict(pg_shop).policy)
    assert len(checks) == 1


# --- MariaDB ----------------------------------------------------------------------------------


def test_root_is_refused_on_mariadb(mariadb_shop):
    with pytest.raises(PrivilegedRole) as refused:
        fetch(mariadb_shop.spec("superuser"), "SELECT 1", policy=strict(mariadb_shop).policy)
    message = str(refused.value)
    assert message.startswith("MySQL/MariaDB: the role 'root' holds ")
    for privilege in ("FILE", "SUPER", "PROCESS", "SHUTDOWN", "RELOAD", "CREATE USER", "CONNECTION ADMIN"):
        assert privilege in message
    assert message.endswith(f"; holds GRANT OPTION. {FIX}")


def test_a_mariadb_account_that_may_only_select_is_accepted(mariadb_shop):
    result = fetch(
        mariadb_shop.spec("reader"), "SELECT count(*) FROM users", policy=strict(mariadb_shop).policy
    )
    assert result.rows == [[25]]


@pytest.fixture
def mariadb_account(mariadb_service: Service, mariadb_shop) -> Iterator[str]:
    name = f"mpriv_{uuid.uuid4().hex[:8]}"
    with _root(mariadb_service) as cursor:
        for host in ("127.0.0.1", "localhost"):
            cursor.execute(f"CREATE USER '{name}'@'{host}'")
            cursor.execute(f"GRANT SELECT ON `{mariadb_shop.database}`.* TO '{name}'@'{host}'")
    yield name
    close_idle_connections()
    with _root(mariadb_service) as cursor:
        for host in ("127.0.0.1", "localhost"):
            cursor.execute(f"DROP USER '{name}'@'{host}'")


class _root:
    def __init__(self, service: Service) -> None:
        self.connection = pymysql.connect(host=service.host, port=service.port, user="root", autocommit=True)

    def __enter__(self) -> pymysql.cursors.Cursor:
        return self.connection.cursor()

    def __exit__(self, *_: object) -> None:
        self.connection.close()


@pytest.mark.parametrize(
    ("grant", "named"),
    [
        ("FILE ON *.*", "holds FILE"),
        ("PROCESS ON *.*", "holds PROCESS"),
        ("SUPER ON *.*", "holds SUPER"),
        ("SHUTDOWN ON *.*", "holds SHUTDOWN"),
        ("RELOAD ON *.*", "holds RELOAD"),
        ("CREATE USER ON *.*", "holds CREATE USER"),
        ("CONNECTION ADMIN ON *.*", "holds CONNECTION ADMIN"),
        ("USAGE ON *.*", "holds GRANT OPTION"),
    ],
)
def test_a_mariadb_account_with_a_server_privilege_is_refused(
    mariadb_service, mariadb_shop, mariadb_account, grant, named
):
    option = " WITH GRANT OPTION" if named == "holds GRANT OPTION" else ""
    with _root(mariadb_service) as cursor:
        cursor.execute(f"GRANT {grant} TO '{mariadb_account}'@'127.0.0.1'{option}")
    with pytest.raises(PrivilegedRole) as refused:
        fetch(_spec(mariadb_shop, mariadb_account), "SELECT 1", policy=strict(mariadb_shop).policy)
    assert str(refused.value) == f"MySQL/MariaDB: the role '{mariadb_account}' {named}. {FIX}"


def test_a_mariadb_role_the_account_may_switch_to_counts(mariadb_service, mariadb_shop, mariadb_account):
    """Through a role granted to a role, neither of them active: SET ROLE would reach it."""
    role, inner = f"{mariadb_account}_role", f"{mariadb_account}_inner"
    with _root(mariadb_service) as cursor:
        cursor.execute(f"CREATE ROLE {role}")
        cursor.execute(f"CREATE ROLE {inner}")
        cursor.execute(f"GRANT FILE ON *.* TO {inner}")
        cursor.execute(f"GRANT {inner} TO {role}")
        cursor.execute(f"GRANT {role} TO '{mariadb_account}'@'127.0.0.1'")
    try:
        with pytest.raises(PrivilegedRole) as refused:
            fetch(_spec(mariadb_shop, mariadb_account), "SELECT 1", policy=strict(mariadb_shop).policy)
        assert "holds FILE" in str(refused.value)
    finally:
        with _root(mariadb_service) as cursor:
            cursor.execute(f"DROP ROLE {role}")
            cursor.execute(f"DROP ROLE {inner}")


def test_mysql_privileges_are_checked_once_per_connection(mariadb_shop, monkeypatch):
    checks = []
    original = MySQL.privileges
    monkeypatch.setattr(MySQL, "privileges", lambda self, c: checks.append(1) or original(self, c))
    for _ in range(3):
        fetch(mariadb_shop.spec("reader"), "SELECT 1", policy=strict(mariadb_shop).policy)
    assert len(checks) == 1
