"""Throwaway "shop" databases with a ``users`` table, one per test module and engine.

Each lives under a random ``malleable_ds_*`` name (never ``malleable`` or Django's
``test_malleable``) and is dropped afterwards. PostgreSQL and MariaDB also get a reader
account that may only SELECT, so attacks are tried both as that reader and as the
superuser: the read-only session must hold even when privileges would not. Their policy
therefore opts in to privileged roles (``allow_privileged_roles``), as an operator may;
``test_privileged_roles`` shows that without it a superuser never gets a session.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pymysql
import pytest
from django.conf import settings
from psycopg import sql

from checkers.datasources import TargetPolicy
from tests.datasources.shops import READER_PASSWORD, THIS_MACHINE, USERS, Shop
from tests.services import Service, mariadb_service, postgres_service  # noqa: F401


def _own_databases() -> list[dict[str, Any]]:
    return list(settings.DATABASES.values())


def _local_policy() -> TargetPolicy:
    """The shops run on this machine: listed, as an operator running them there would; and the
    operator's opt-in to superuser roles, so attacks can be tried as the superuser too."""
    return TargetPolicy(
        own_databases=_own_databases(), allowed_hosts=THIS_MACHINE, allow_privileged_roles=True
    )


def _name() -> str:
    return f"malleable_ds_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def pg_shop(postgres_service: Service) -> Iterator[Shop]:  # noqa: F811
    name, reader = _name(), f"malleable_reader_{uuid.uuid4().hex[:8]}"
    admin = dict(host=postgres_service.host, port=postgres_service.port, user="postgres")
    with psycopg.connect(**admin, dbname="postgres", autocommit=True) as server:
        server.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        server.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(reader), sql.Literal(READER_PASSWORD)
            )
        )
    with psycopg.connect(**admin, dbname=name, autocommit=True) as db:
        db.execute("CREATE TABLE users (id integer PRIMARY KEY, username text NOT NULL, email text)")
        db.cursor().executemany("INSERT INTO users VALUES (%s, %s, %s)", USERS)
        db.execute("CREATE SEQUENCE s")
        db.execute(sql.SQL("GRANT SELECT ON users TO {0}; GRANT USAGE, UPDATE ON SEQUENCE s TO {0}").format(
            sql.Identifier(reader)
        ))  # fmt: skip

    def read_users() -> list[tuple[Any, ...]]:
        with psycopg.connect(**admin, dbname=name) as db:
            return db.execute("SELECT id, username, email FROM users").fetchall()

    yield Shop(
        "postgresql", name, postgres_service.host, postgres_service.port, "postgres", reader,
        policy=_local_policy(), read_users=read_users,
    )  # fmt: skip
    with psycopg.connect(**admin, dbname="postgres", autocommit=True) as server:
        server.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))
        server.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(reader)))


def _mariadb(service: Service, **kwargs: Any) -> pymysql.Connection:
    return pymysql.connect(host=service.host, port=service.port, user="root", autocommit=True, **kwargs)


@pytest.fixture(scope="module")
def mariadb_shop(mariadb_service: Service) -> Iterator[Shop]:  # noqa: F811
    name, reader = _name(), f"mds_{uuid.uuid4().hex[:8]}"
    with _mariadb(mariadb_service) as server, server.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")
        cursor.execute(f"USE `{name}`")
        cursor.execute(
            "CREATE TABLE users (id INT PRIMARY KEY, username VARCHAR(50) NOT NULL, email VARCHAR(100))"
        )
        cursor.executemany("INSERT INTO users VALUES (%s, %s, %s)", USERS)
        for host in ("127.0.0.1", "localhost"):
            cursor.execute(f"CREATE USER '{reader}'@'{host}' IDENTIFIED BY %s", (READER_PASSWORD,))
            cursor.execute(f"GRANT SELECT ON `{name}`.* TO '{reader}'@'{host}'")

    def read_users() -> list[tuple[Any, ...]]:
        with _mariadb(mariadb_service, database=name) as db, db.cursor() as cursor:
            cursor.execute("SELECT id, username, email FROM users")
            return list(cursor.fetchall())

    yield Shop(
        "mysql", name, mariadb_service.host, mariadb_service.port, "root", reader,
        policy=_local_policy(), read_users=read_users,
    )  # fmt: skip
    with _mariadb(mariadb_service) as server, server.cursor() as cursor:
        cursor.execute(f"DROP DATABASE `{name}`")
        for host in ("127.0.0.1", "localhost"):
            cursor.execute(f"DROP USER '{reader}'@'{host}'")


@pytest.fixture(scope="module")
def sqlite_shop(tmp_path_factory: pytest.TempPathFactory) -> Shop:
    root = tmp_path_factory.mktemp("sqlite-datasources")
    path = root / "shop.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT NOT NULL, email TEXT)")
        db.executemany("INSERT INTO users VALUES (?, ?, ?)", USERS)
    db.close()

    def read_users() -> list[tuple[Any, ...]]:
        with sqlite3.connect(path) as db:
            rows = db.execute("SELECT id, username, email FROM users").fetchall()
        db.close()
        return rows

    policy = TargetPolicy(own_databases=_own_databases(), sqlite_dir=root)
    return Shop("sqlite", path.name, path=path, policy=policy, read_users=read_users)


SHOPS = ["pg_shop", "mariadb_shop", "sqlite_shop"]


@pytest.fixture(params=SHOPS)
def shop(request: pytest.FixtureRequest) -> Shop:
    """Each engine's shop in turn, for the behaviour every engine must share."""
    return request.getfixturevalue(request.param)
