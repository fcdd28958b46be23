"""The real services some tests need: skip when one is down here, fail when CI requires it.

``MALLEABLE_REQUIRE_SERVICES=1`` (``settings.REQUIRE_SERVICES``) turns every "not reachable"
skip into a failure, so CI can never pass by silently testing less.

Use ``require_service(name, host, port)`` in a fixture or a test, or one of the session
fixtures below (``postgres_service``, ``mariadb_service``, ``rabbitmq_service``,
``redis_service``). To share the fixtures with every test, ``tests/conftest.py`` can say
``pytest_plugins = ["tests.services"]``.
"""

from __future__ import annotations

import socket
import uuid
from dataclasses import dataclass

import pytest
from django.conf import settings


@dataclass(frozen=True)
class Service:
    name: str
    host: str
    port: int


POSTGRESQL = Service("PostgreSQL", "127.0.0.1", 5432)
MARIADB = Service("MariaDB", "127.0.0.1", 3306)
RABBITMQ = Service("RabbitMQ", "127.0.0.1", 5672)
REDIS = Service("Redis", "127.0.0.1", 6379)


def services_required() -> bool:
    return bool(getattr(settings, "REQUIRE_SERVICES", False))


def require_service(name: str, host: str, port: int, *, timeout_s: float = 2.0) -> Service:
    """The service when something accepts TCP at ``host:port``; else skip, or fail in CI."""
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        message = f"{name} is not reachable at {host}:{port} ({exc})"
        if services_required():
            pytest.fail(f"{message}, and MALLEABLE_REQUIRE_SERVICES is set", pytrace=False)
        pytest.skip(message)
    return Service(name, host, port)


def _up(service: Service) -> Service:
    return require_service(service.name, service.host, service.port)


@pytest.fixture(scope="session")
def postgres_service() -> Service:
    return _up(POSTGRESQL)


@pytest.fixture(scope="session")
def mariadb_service() -> Service:
    return _up(MARIADB)


@pytest.fixture(scope="session")
def rabbitmq_service() -> Service:
    return _up(RABBITMQ)


@pytest.fixture(scope="session")
def redis_service() -> Service:
    return _up(REDIS)


# Datasource roles that may only read. Malleable refuses a superuser datasource (unless the
# operator opts in), so tests about reading connect as one of these; each fixture makes its
# own (the servers are shared) and drops it after its database.


def _reader_name() -> str:
    return f"malleable_r_{uuid.uuid4().hex[:10]}"


def create_pg_reader(service: Service, database: str) -> str:
    """A login role of ``database`` that may SELECT its public tables and nothing else."""
    import psycopg
    from psycopg import sql

    role = _reader_name()
    with psycopg.connect(host=service.host, port=service.port, user="postgres", dbname=database) as db:
        db.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        db.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(sql.Identifier(role)))
    return role


def drop_pg_reader(service: Service, role: str) -> None:
    """After the reader's database is dropped, which took its grants with it."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(host=service.host, port=service.port, user="postgres", dbname="postgres") as db:
        db.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


MARIADB_READER_HOSTS = ("127.0.0.1", "localhost")


def create_mariadb_reader(service: Service, database: str) -> str:
    """An account that may SELECT ``database``'s tables and nothing else."""
    import pymysql

    role = _reader_name()
    server = pymysql.connect(host=service.host, port=service.port, user="root", autocommit=True)
    with server, server.cursor() as cursor:
        for host in MARIADB_READER_HOSTS:
            cursor.execute(f"CREATE USER '{role}'@'{host}'")
            cursor.execute(f"GRANT SELECT ON `{database}`.* TO '{role}'@'{host}'")
    return role


def drop_mariadb_reader(service: Service, role: str) -> None:
    import pymysql

    server = pymysql.connect(host=service.host, port=service.port, user="root", autocommit=True)
    with server, server.cursor() as cursor:
        for host in MARIADB_READER_HOSTS:
            cursor.execute(f"DROP USER IF EXISTS '{role}'@'{host}'")
