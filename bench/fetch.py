"""Fetch benchmark: what a 100,000-row dataset costs between the driver and the guest's JSON.

    .venv/bin/python bench/fetch.py [--rows 100000] [--repeat 7]

Makes a throwaway ``orders`` table (id int, user_id int, amount numeric(12,2), status text,
email text with 5 % NULL, created_at timestamptz; DATETIME on MariaDB) in the databases
``malleable_bench_fetch`` on PostgreSQL 127.0.0.1:5432 (user postgres) and MariaDB
127.0.0.1:3306 (root), then prints medians of:

- **driver**: ``fetch()`` of the whole table, session and query included;
- **old**: the conversion as it was before this benchmark existed, cell by cell in Python
  (``to_json_row`` as it was, copied below), then ``json.dumps`` as ``RunState`` did;
- **new**: ``FetchResult.to_json()``, the bytes a guest receives now;
- the ratio old / new;

and the cost of a one-row query on a new connection against a pooled one. MariaDB is
skipped, with the reason, when it cannot be reached. Needs no Django.
"""

from __future__ import annotations

import argparse
import base64
import datetime
import decimal
import json
import math
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pymysql

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from checkers.datasources import ConnectionSpec, TargetPolicy, close_idle_connections, fetch  # noqa: E402

DATABASE = "malleable_bench_fetch"
PG_URL = f"postgresql://postgres@127.0.0.1:5432/{DATABASE}"
MARIADB_URL = f"mysql://root@127.0.0.1:3306/{DATABASE}"
# The bench reads as the servers' superusers, which datasources refuse without the opt-in.
SUPERUSER_POLICY = TargetPolicy(allowed_hosts=["127.0.0.1"], allow_privileged_roles=True)
SQL = "SELECT id, user_id, amount, status, email, created_at FROM orders ORDER BY id"


def make_postgresql(rows: int) -> None:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        admin.execute(f"CREATE DATABASE {DATABASE}")
    with psycopg.connect(PG_URL) as db:
        db.execute(
            "CREATE TABLE orders (id int PRIMARY KEY, user_id int, amount numeric(12, 2), status text,"
            " email text, created_at timestamptz)"
        )
        db.execute(
            "INSERT INTO orders SELECT g, (g * 7919) %% 5000, ((g::bigint * 104729) %% 1000000) / 100.0,"
            " (ARRAY['new', 'paid', 'shipped', 'refunded'])[1 + g %% 4],"
            " CASE WHEN g %% 20 = 0 THEN NULL ELSE 'user' || g || '@example.com' END,"
            " timestamptz '2025-01-01 00:00:00+00' + g * interval '37 seconds'"
            " FROM generate_series(1, %s) AS g",
            (rows,),
        )


def make_mariadb(rows: int) -> None:
    with pymysql.connect(host="127.0.0.1", user="root", autocommit=True) as admin, admin.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        cursor.execute(f"CREATE DATABASE {DATABASE}")
        cursor.execute(f"USE {DATABASE}")
        cursor.execute(
            f"CREATE TABLE {DATABASE}.orders (id int PRIMARY KEY, user_id int, amount decimal(12, 2),"
            " status varchar(20), email varchar(100), created_at datetime)"
        )
        cursor.execute(
            f"INSERT INTO {DATABASE}.orders"  # noqa: S608 - our own constants and an int
            " SELECT seq, (seq * 7919) % 5000, ((seq * 104729) % 1000000) / 100.0,"
            " ELT(1 + seq % 4, 'new', 'paid', 'shipped', 'refunded'),"
            " IF(seq % 20 = 0, NULL, CONCAT('user', seq, '@example.com')),"
            " TIMESTAMP '2025-01-01 00:00:00' + INTERVAL (seq * 37) SECOND"
            f" FROM seq_1_to_{int(rows)}"
        )


# The per-cell conversion and the encoding as they were before ``JsonRows`` (for "old").


def _old_decimal(value: decimal.Decimal) -> Any:
    if not value.is_finite():
        return "NaN" if value.is_nan() else ("Infinity" if value > 0 else "-Infinity")
    if abs(value) < 10**18 and value == value.to_integral_value() and value.as_tuple().exponent >= 0:
        return int(value)
    as_float = float(value)
    if math.isfinite(as_float) and decimal.Decimal(repr(as_float)) == value:
        return as_float
    return str(value)


_OLD_ENCODERS: dict[type, Callable[[Any], Any]] = {
    float: lambda v: v if math.isfinite(v) else str(v),
    decimal.Decimal: _old_decimal,
    datetime.datetime: datetime.datetime.isoformat,
    datetime.date: datetime.date.isoformat,
    datetime.timedelta: datetime.timedelta.total_seconds,
    uuid.UUID: str,
    bytes: lambda v: base64.b64encode(v).decode("ascii"),
}
_PLAIN = frozenset({type(None), bool, int, str})


def old_json(columns: list[str], values: list[Any]) -> bytes:
    rows = [
        [value if type(value) in _PLAIN else _OLD_ENCODERS.get(type(value), str)(value) for value in row]
        for row in values
    ]
    payload = {"columns": columns, "rows": rows}
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def median_ms(work: Callable[[], Any], repeat: int, before: Callable[[], Any] = lambda: None) -> float:
    samples = []
    for _ in range(repeat):
        before()
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def encoding(label: str, spec: ConnectionSpec, repeat: int) -> None:
    policy = SUPERUSER_POLICY
    results = []

    def driver() -> None:
        results.append(fetch(spec, SQL, policy=policy))

    driver_ms = median_ms(driver, repeat)
    result = results[-1]

    def new() -> bytes:
        result.__dict__.pop("json_rows", None)  # a fresh JsonRows each time, as each run gets
        return result.to_json()

    assert json.loads(new()) == json.loads(old_json(result.columns, result.values)), "old and new differ"
    old_ms = median_ms(lambda: old_json(result.columns, result.values), repeat)
    new_ms = median_ms(new, repeat)
    print(
        f"{label:<12} {len(result.values):>8,} rows  driver {driver_ms:7.1f} ms  old {old_ms:7.1f} ms"
        f"  new {new_ms:6.1f} ms  old/new {old_ms / new_ms:4.1f}x"
    )


def connections(label: str, spec: ConnectionSpec, repeat: int) -> None:
    policy = SUPERUSER_POLICY

    def one_row() -> None:
        fetch(spec, "SELECT 1", policy=policy)

    one_row()
    fresh = median_ms(one_row, repeat * 3, before=close_idle_connections)
    pooled = median_ms(one_row, repeat * 3)
    print(f"{label:<12} one-row query: new connection {fresh:5.2f} ms, pooled {pooled:5.2f} ms")


def sqlite_open(repeat: int) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "shop.sqlite3"
        sqlite3.connect(path).close()
        spec = ConnectionSpec("sqlite", f"sqlite:///{path}")
        policy = TargetPolicy(sqlite_dir=Path(directory))
        ms = median_ms(lambda: fetch(spec, "SELECT 1", policy=policy), repeat * 3)
    print(f"{'SQLite':<12} one-row query, file opened per use: {ms:5.2f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    options = {"row_cap": args.rows, "statement_timeout_s": 60.0}
    make_postgresql(args.rows)
    encoding("PostgreSQL", ConnectionSpec("postgresql", PG_URL, **options), args.repeat)
    try:
        make_mariadb(args.rows)
    except pymysql.MySQLError as exc:
        print(f"MariaDB      not run: {exc}")
    else:
        encoding("MariaDB", ConnectionSpec("mysql", MARIADB_URL, **options), args.repeat)
    connections("PostgreSQL", ConnectionSpec("postgresql", PG_URL), args.repeat)
    connections("MariaDB", ConnectionSpec("mysql", MARIADB_URL), args.repeat)
    sqlite_open(args.repeat)
    close_idle_connections()


if __name__ == "__main__":
    main()
