"""Never a verdict from cut data, on real SQLite, PostgreSQL and MariaDB datasources.

Each database holds 25 orders and the datasource's row cap is 10. The checker asserts
"fewer than 15 orders": judged on the 10 rows the cap lets through it would be green, which
is the false green this guards against. Without ``sample`` the run is a
``dataset_truncated`` error; with it the checker is judged on the first 10 rows and knows
they were cut.
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

from checkers import runs
from checkers.models import Checker, CheckerKind, Dataset, Datasource
from tests.services import (
    Service,
    create_mariadb_reader,
    create_pg_reader,
    drop_mariadb_reader,
    drop_pg_reader,
)

ORDERS = [(n, n * 10) for n in range(1, 26)]
ROW_CAP = 10
FEWER_THAN_15 = "CheckerCase().assertLessThan(datasets['orders'], 15, 'fewer than 15 orders')\n"
TRUNCATED_DETAIL = (
    "dataset_truncated: dataset orders: 10 rows fetched and more were left (the row cap of datasource "
    "shop); aggregate or filter in the dataset's SQL, raise the datasource's row cap, or mark the "
    "dataset as a sample"
)
# Logs "cut" when dataset_truncated says the orders were cut, "whole" otherwise.
WAT_TRUNCATED = """(module
  (import "malleable" "dataset_truncated" (func $truncated (param i32 i32) (result i32)))
  (import "malleable" "log" (func $log (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "orders")
  (data (i32.const 16) "cut")
  (data (i32.const 32) "whole")
  (func (export "check")
    (if (call $truncated (i32.const 0) (i32.const 6))
      (then (call $log (i32.const 16) (i32.const 3)))
      (else (call $log (i32.const 32) (i32.const 5))))))
"""


@dataclass(frozen=True)
class OrdersDatabase:
    engine: str
    url: str
    sqlite_dir: Path | None = None


def _name() -> str:
    return f"malleable_cut_{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def postgresql_orders(postgres_service: Service) -> Iterator[OrdersDatabase]:
    name = _name()
    server = f"postgresql://postgres@{postgres_service.host}:{postgres_service.port}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(f"{server}/{name}") as db:
        db.execute("CREATE TABLE orders (id integer PRIMARY KEY, amount integer NOT NULL)")
        db.cursor().executemany("INSERT INTO orders VALUES (%s, %s)", ORDERS)
    reader = create_pg_reader(postgres_service, name)
    yield OrdersDatabase(
        "postgresql", f"postgresql://{reader}@{postgres_service.host}:{postgres_service.port}/{name}"
    )
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    drop_pg_reader(postgres_service, reader)


@pytest.fixture(scope="module")
def mysql_orders(mariadb_service: Service) -> Iterator[OrdersDatabase]:
    name = _name()

    def connect(database: str | None = None) -> pymysql.Connection:
        host, port = mariadb_service.host, mariadb_service.port
        return pymysql.connect(host=host, port=port, user="root", database=database, autocommit=True)

    with connect() as admin:
        admin.cursor().execute(f"CREATE DATABASE `{name}`")
    with connect(name) as db:
        db.cursor().execute("CREATE TABLE orders (id int PRIMARY KEY, amount int NOT NULL)")
        db.cursor().executemany("INSERT INTO orders VALUES (%s, %s)", ORDERS)
    reader = create_mariadb_reader(mariadb_service, name)
    url = f"mysql://{reader}@{mariadb_service.host}:{mariadb_service.port}/{name}?ssl=disabled"
    yield OrdersDatabase("mysql", url)
    with connect() as admin:
        admin.cursor().execute(f"DROP DATABASE `{name}`")
    drop_mariadb_reader(mariadb_service, reader)


@pytest.fixture(scope="module")
def sqlite_orders(tmp_path_factory: pytest.TempPathFactory) -> OrdersDatabase:
    folder = tmp_path_factory.mktemp("cut-datasources")
    (folder / "alpha").mkdir()
    path = folder / "alpha" / "shop.sqlite3"  # in namespace A's (alpha) own directory
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL)")
        db.executemany("INSERT INTO orders VALUES (?, ?)", ORDERS)
    db.close()
    return OrdersDatabase("sqlite", f"sqlite:///{path}", folder)


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def orders(request, personas, settings) -> Dataset:
    """The ``orders`` dataset of namespace A on one engine, behind a row cap of 10."""
    database: OrdersDatabase = request.getfixturevalue(f"{request.param}_orders")
    if database.sqlite_dir:
        settings.DATASOURCE_SQLITE_DIR = database.sqlite_dir
    source = Datasource.objects.create(
        namespace=personas.a, slug="shop", engine=database.engine, url=database.url, row_cap=ROW_CAP
    )
    return Dataset.objects.create(
        namespace=personas.a,
        slug="orders",
        datasource=source,
        sql="SELECT id, amount FROM orders ORDER BY id",
    )


def code_checker(dataset: Dataset, source: str, kind: str = CheckerKind.PYTHON) -> Checker:
    checker = Checker.objects.create(
        namespace=dataset.namespace, slug="orders-check", name="Orders", kind=kind, source=source,
        schedule_every=300,
    )  # fmt: skip
    checker.datasets.add(dataset)
    return checker


def test_a_cut_dataset_is_an_error_naming_the_dataset_and_the_cap(orders):
    run = runs.execute(code_checker(orders, FEWER_THAN_15))

    assert (run.status, run.error_kind) == ("error", "dataset_truncated")
    assert run.error_detail == TRUNCATED_DETAIL
    assert run.messages == []
    stats = run.dataset_stats["orders"]
    assert (stats["rows"], stats["truncated"], stats["sample"]) == (10, True, False)


def test_a_cut_sample_is_judged_on_its_first_rows_and_knows_it_was_cut(orders):
    orders.sample = True
    orders.save()
    source = "print(datasets['orders'].truncated, len(datasets['orders']))\n" + FEWER_THAN_15

    run = runs.execute(code_checker(orders, source))

    assert (run.status, run.error_kind, run.error_detail) == ("green", "", "")
    assert run.messages == [{"level": "ok", "text": "fewer than 15 orders (10 rows in orders < 15)"}]
    assert run.logs == "True 10\n"
    stats = run.dataset_stats["orders"]
    assert (stats["rows"], stats["truncated"], stats["sample"]) == (10, True, True)


def test_a_cut_sample_goes_red_when_its_assertions_fail(orders):
    orders.sample = True
    orders.save()
    source = "CheckerCase().assertGreaterThan(datasets['orders'], 20, 'more than 20 orders')\n"

    run = runs.execute(code_checker(orders, source))

    assert run.status == "red"
    assert run.messages == [
        {"level": "fail", "text": "more than 20 orders (10 rows in orders, expected > 20)"}
    ]


def test_a_dataset_under_the_cap_is_whole_and_judged_on_every_row(orders):
    Datasource.objects.filter(pk=orders.datasource_id).update(row_cap=25)
    orders.refresh_from_db()
    source = "print(datasets['orders'].truncated, len(datasets['orders']))\n" + FEWER_THAN_15

    run = runs.execute(code_checker(orders, source))

    assert run.status == "red"
    assert run.messages == [
        {"level": "fail", "text": "fewer than 15 orders (25 rows in orders, expected < 15)"}
    ]
    assert run.logs == "False 25\n"
    assert run.dataset_stats["orders"]["truncated"] is False


@pytest.mark.parametrize(("sample", "seen"), [(True, "cut"), (False, None)], ids=["sample", "not-sample"])
def test_a_wat_checker_reads_dataset_truncated(orders, sample, seen):
    orders.sample = sample
    orders.save()

    run = runs.execute(code_checker(orders, WAT_TRUNCATED, kind=CheckerKind.WASM))

    if seen:
        assert (run.status, run.messages) == ("green", [{"level": "log", "text": seen}])
    else:
        assert (run.status, run.error_kind, run.error_detail) == (
            "error",
            "dataset_truncated",
            TRUNCATED_DETAIL,
        )


def test_the_editors_test_run_of_a_cut_dataset_is_the_same_error(orders):
    checker = Checker(namespace=orders.namespace, kind=CheckerKind.PYTHON, source=FEWER_THAN_15)

    evaluation = runs.evaluate(checker, declared=[orders])

    assert evaluation.outcome.to_dict()["error"] == {"kind": "dataset_truncated", "detail": TRUNCATED_DETAIL}
