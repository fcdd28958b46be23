"""An ``orders`` table of 20,000 rows, twice the default row cap, on each engine.

Every figure a rule can measure is known by construction, so the tests pin it by hand:

| figure | value | why |
|---|---|---|
| row count | 20000 | ids 1..20000 |
| null count of email | 2000 | email is NULL when id % 10 = 0 |
| distinct status | 4 | new, paid, sent, void by id % 4 |
| sum of amount | 995000.00 | amount = id % 100 + 0.25: 200 x (0+...+99) + 20000 x 0.25 |
| min / max / avg amount | 0.25 / 99.25 / 49.75 | |
| distinct / repeated user_id | 15000 / 5000 | user_id = id % 15000 |
| max of big | 12345678901234567890.1234567891 | only id 1; the rest are 1 (more digits than a float) |
| newest created_at | 2 hours ago | ``now - (id + 7200) s``, by the database's own clock |
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pymysql
import pytest

from tests.services import (  # noqa: F401
    Service,
    create_mariadb_reader,
    create_pg_reader,
    drop_mariadb_reader,
    drop_pg_reader,
    mariadb_service,
    postgres_service,
)

SQL = "SELECT id, user_id, status, amount, email, big, created_at FROM orders ORDER BY id"

_PG = """
CREATE TABLE orders (id integer PRIMARY KEY, user_id integer, status text, amount numeric(12, 2),
                     email text, big numeric(30, 10), created_at timestamptz);
INSERT INTO orders
SELECT n, n % 15000, (ARRAY['new', 'paid', 'sent', 'void'])[n % 4 + 1], n % 100 + 0.25,
       CASE WHEN n % 10 = 0 THEN NULL ELSE 'user' || n || '@example.com' END,
       CASE WHEN n = 1 THEN 12345678901234567890.1234567891 ELSE 1 END,
       now() - make_interval(secs => n + 7200)
FROM generate_series(1, 20000) AS n;
"""
_MARIADB = """
INSERT INTO orders
SELECT seq, seq % 15000, ELT(seq % 4 + 1, 'new', 'paid', 'sent', 'void'), seq % 100 + 0.25,
       IF(seq % 10 = 0, NULL, CONCAT('user', seq, '@example.com')),
       IF(seq = 1, 12345678901234567890.1234567891, 1), NOW(6) - INTERVAL (seq + 7200) SECOND
FROM seq_1_to_20000
"""
_SQLITE = """
CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, status TEXT, amount REAL, email TEXT,
                     big TEXT, created_at TEXT);
WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 20000)
INSERT INTO orders
SELECT v, v % 15000, CASE v % 4 WHEN 0 THEN 'new' WHEN 1 THEN 'paid' WHEN 2 THEN 'sent' ELSE 'void' END,
       v % 100 + 0.25, CASE WHEN v % 10 = 0 THEN NULL ELSE 'user' || v || '@example.com' END,
       CASE WHEN v = 1 THEN '12345678901234567890.1234567891' ELSE '1' END,
       strftime('%Y-%m-%d %H:%M:%f', 'now', '-' || (v + 7200) || ' seconds')
FROM n;
"""


@dataclass(frozen=True)
class Orders:
    """``url`` reads as a role that may only SELECT; ``superuser_url`` is the server's superuser,
    for attacks tried with the operator's opt-in to privileged roles (and to count the rows)."""

    engine: str
    url: str
    sqlite_dir: Path | None = None
    superuser_url: str = ""


def _name() -> str:
    return f"malleable_orders_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="session")
def pg_orders(postgres_service: Service) -> Iterator[Orders]:  # noqa: F811
    name = _name()
    admin = dict(host=postgres_service.host, port=postgres_service.port, user="postgres", autocommit=True)
    with psycopg.connect(**admin, dbname="postgres") as server:
        server.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(**admin, dbname=name) as db:
        db.execute(_PG)
    reader = create_pg_reader(postgres_service, name)
    server = f"{postgres_service.host}:{postgres_service.port}/{name}"
    yield Orders(
        "postgresql", f"postgresql://{reader}@{server}", superuser_url=f"postgresql://postgres@{server}"
    )
    with psycopg.connect(**admin, dbname="postgres") as server:
        server.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    drop_pg_reader(postgres_service, reader)


@pytest.fixture(scope="session")
def mariadb_orders(mariadb_service: Service) -> Iterator[Orders]:  # noqa: F811
    name = _name()
    server = pymysql.connect(
        host=mariadb_service.host, port=mariadb_service.port, user="root", autocommit=True
    )
    with server.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}`")
        cursor.execute(f"USE `{name}`")
        cursor.execute(
            "CREATE TABLE orders (id INT PRIMARY KEY, user_id INT, status VARCHAR(8), amount DECIMAL(12, 2),"
            " email VARCHAR(100), big DECIMAL(30, 10), created_at DATETIME(6))"
        )
        cursor.execute(_MARIADB)
    reader = create_mariadb_reader(mariadb_service, name)
    where = f"{mariadb_service.host}:{mariadb_service.port}/{name}"
    yield Orders("mysql", f"mysql://{reader}@{where}", superuser_url=f"mysql://root@{where}")
    with server.cursor() as cursor:
        cursor.execute(f"DROP DATABASE `{name}`")
    server.close()
    drop_mariadb_reader(mariadb_service, reader)


@pytest.fixture(scope="session")
def sqlite_orders(tmp_path_factory: pytest.TempPathFactory) -> Orders:
    folder = tmp_path_factory.mktemp("orders")
    (folder / "alpha").mkdir()
    path = folder / "alpha" / "orders.sqlite3"  # in namespace A's (alpha) own directory
    db = sqlite3.connect(path)
    db.executescript(_SQLITE)
    db.close()
    return Orders("sqlite", f"sqlite:///{path}", sqlite_dir=folder)


def orders_count(orders: Orders) -> int:
    """Read with a connection of the test's own, to show an attack changed nothing."""
    if orders.engine == "sqlite":
        db = sqlite3.connect(orders.url.removeprefix("sqlite:///"))
        (count,) = db.execute("SELECT count(*) FROM orders").fetchone()
        db.close()
        return count
    if orders.engine == "postgresql":
        with psycopg.connect(orders.superuser_url) as db:
            return db.execute("SELECT count(*) FROM orders").fetchone()[0]
    host_port, database = orders.superuser_url.removeprefix("mysql://root@").split("/")
    host, port = host_port.split(":")
    db = pymysql.connect(host=host, port=int(port), user="root", database=database)
    with db.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM orders")
        (count,) = cursor.fetchone()
    db.close()
    return count
