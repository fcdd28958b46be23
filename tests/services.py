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
