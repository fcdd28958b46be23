"""The tables every tool checks: a seeded generator, rebuilt on each run of the benchmark.

``orders`` (1,000 rows) and ``orders_100k`` (100,000 rows) in the database ``malleable_peers``:
id (primary key), user_id, amount numeric(12,2) between 1 and 5,000, status (five values),
email with about 5 % NULL, created_at within the last 30 days. The values come from a fixed
seed; created_at is an offset from the moment of generation, so the freshness check (the
newest row is less than a day old) holds whenever the tables were built by this run.

The tools read through ``malleable_peers_reader``, a login role that may only SELECT and whose
sessions are read-only by default (trust auth on this machine, so no password).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import psycopg

SERVER = "postgresql://postgres@127.0.0.1:5432"
DATABASE = "malleable_peers"
READER = "malleable_peers_reader"
READER_URL = f"postgresql://{READER}@127.0.0.1:5432/{DATABASE}"
TABLES = {"orders": 1_000, "orders_100k": 100_000}
SEED = 20261206
STATUSES = ("paid", "shipped", "delivered", "refunded", "cancelled")
STATUS_WEIGHTS = (40, 25, 20, 10, 5)


def ensure_database() -> None:
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
            admin.execute(f'CREATE DATABASE "{DATABASE}"')
        if not admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (READER,)).fetchone():
            admin.execute(f'CREATE ROLE "{READER}" LOGIN')
        admin.execute(f'ALTER ROLE "{READER}" SET default_transaction_read_only = on')


def rows(count: int, now: datetime) -> list[tuple]:
    rng = random.Random(f"{SEED}-{count}")
    statuses = rng.choices(STATUSES, weights=STATUS_WEIGHTS, k=count)
    out = []
    for i in range(1, count + 1):
        user_id = rng.randint(1, max(1, count // 10))
        amount = Decimal(rng.randint(100, 500_000)) / 100
        email = None if rng.random() < 0.05 else f"user{user_id}@example.com"
        created_at = now - timedelta(seconds=rng.randint(0, 30 * 86400))
        out.append((i, user_id, amount, statuses[i - 1], email, created_at))
    return out


def build_table(conn: psycopg.Connection, table: str, count: int, now: datetime) -> None:
    conn.execute(f"DROP TABLE IF EXISTS {table}")
    conn.execute(
        f"CREATE TABLE {table} (id int PRIMARY KEY, user_id int NOT NULL, amount numeric(12,2),"
        " status text NOT NULL, email text, created_at timestamptz NOT NULL)"
    )
    with conn.cursor().copy(
        f"COPY {table} (id, user_id, amount, status, email, created_at) FROM STDIN"
    ) as copy:
        for row in rows(count, now):
            copy.write_row(row)
    conn.execute(f'GRANT SELECT ON {table} TO "{READER}"')


def build() -> dict[str, int]:
    """(Re)build both tables; returns each table's row count as the database sees it."""
    ensure_database()
    now = datetime.now(UTC)
    with psycopg.connect(f"{SERVER}/{DATABASE}") as conn:
        conn.execute(f'GRANT USAGE ON SCHEMA public TO "{READER}"')
        for table, count in TABLES.items():
            build_table(conn, table, count, now)
        conn.commit()
        conn.autocommit = True
        for table in TABLES:
            conn.execute(f"VACUUM ANALYZE {table}")
        count = "SELECT count(*) FROM {}"  # the names are this module's constants
        return {t: conn.execute(count.format(t)).fetchone()[0] for t in TABLES}


if __name__ == "__main__":
    print(build())
