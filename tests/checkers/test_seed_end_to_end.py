"""The seed's example, end to end on real PostgreSQL and MariaDB datasources.

A `users_with_email_null` dataset, the seed's
`CheckerCase().assertLessThan(datasets['users_with_email_null'], 42, ...)` as a Python checker
and the same condition as a rule, loaded with `import_config` and run with `run_checker`:
red with 50 null e-mails, green with 10.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import psycopg
import pymysql
import pytest
from django.core.management import call_command

from checkers.models import CheckRun
from tests.services import create_mariadb_reader, create_pg_reader, drop_mariadb_reader, drop_pg_reader
from tests.shop import SEED_MESSAGE

SEED_YAML = """\
namespaces:
  - slug: growth
    name: Growth team
    datasources:
      - slug: shop
        engine: {engine}
        url: {url}
{password}
    datasets:
      - slug: users_with_email_null
        datasource: shop
        sql: SELECT username FROM users WHERE email IS NULL
    checkers:
      - slug: few-null-emails
        schedule: "*/5 * * * *"
        datasets: [users_with_email_null]
        python: |
          CheckerCase().assertLessThan(datasets['users_with_email_null'], 42,
                                       '{message}')
      - slug: few-null-emails-rule
        schedule: {{every: 300}}
        rule: {{dataset: users_with_email_null, metric: row_count, op: "<", value: 42,
               message: "{message}"}}
"""


@dataclass
class SeedDatabase:
    engine: str
    url: str
    password_line: str
    execute: Callable[[str, list[tuple] | None], None]

    def set_null_emails(self, count: int) -> None:
        self.execute("DELETE FROM users", None)
        rows = [(f"null{i}", None) for i in range(count)] + [
            (f"user{i}", f"u{i}@example.com") for i in range(7)
        ]
        self.execute("INSERT INTO users (username, email) VALUES (%s, %s)", rows)


def _name() -> str:
    return f"malleable_seed_{uuid.uuid4().hex[:8]}"


@pytest.fixture
def postgresql_seed(postgres_service) -> Iterator[SeedDatabase]:
    name = _name()
    server = f"postgresql://postgres@{postgres_service.host}:{postgres_service.port}"
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')

    def execute(sql: str, rows: list[tuple] | None) -> None:
        with psycopg.connect(f"{server}/{name}") as db:
            db.cursor().executemany(sql, rows) if rows else db.execute(sql)

    execute("CREATE TABLE users (id serial PRIMARY KEY, username text NOT NULL, email text)", None)
    reader = create_pg_reader(postgres_service, name)
    url = f"postgresql://{reader}@{postgres_service.host}:{postgres_service.port}/{name}"
    yield SeedDatabase("postgresql", url, "        password: ${SEED_DB_PASSWORD}", execute)
    with psycopg.connect(f"{server}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
    drop_pg_reader(postgres_service, reader)


@pytest.fixture
def mysql_seed(mariadb_service) -> Iterator[SeedDatabase]:
    name = _name()

    def connect(database: str | None = None) -> pymysql.Connection:
        return pymysql.connect(
            host=mariadb_service.host,
            port=mariadb_service.port,
            user="root",
            database=database,
            autocommit=True,
        )

    with connect() as admin:
        admin.cursor().execute(f"CREATE DATABASE `{name}`")

    def execute(sql: str, rows: list[tuple] | None) -> None:
        with connect(name) as db:
            db.cursor().executemany(sql, rows) if rows else db.cursor().execute(sql)

    execute(
        "CREATE TABLE users (id int AUTO_INCREMENT PRIMARY KEY, username text NOT NULL, email text)", None
    )
    reader = create_mariadb_reader(mariadb_service, name)
    url = f"mysql://{reader}@{mariadb_service.host}:{mariadb_service.port}/{name}?ssl=disabled"
    yield SeedDatabase("mysql", url, "", execute)
    with connect() as admin:
        admin.cursor().execute(f"DROP DATABASE `{name}`")
    drop_mariadb_reader(mariadb_service, reader)


def run(reference: str, capsys) -> tuple[int, dict]:
    try:
        call_command("run_checker", reference, "--json")
        code = 0
    except SystemExit as exited:
        code = exited.code
    return code, json.loads(capsys.readouterr().out)


@pytest.mark.services
@pytest.mark.parametrize("engine", ["postgresql", "mysql"])
def test_the_seed_goes_red_with_50_and_green_with_10(engine, request, tmp_path, monkeypatch, capsys, db):
    seed = request.getfixturevalue(f"{engine}_seed")
    monkeypatch.setenv("SEED_DB_PASSWORD", "unused-with-trust-auth")
    config = tmp_path / "growth.yaml"
    config.write_text(
        SEED_YAML.format(engine=engine, url=seed.url, password=seed.password_line, message=SEED_MESSAGE)
    )
    call_command("import_config", str(config))
    capsys.readouterr()
    for slug in ("few-null-emails", "few-null-emails-rule"):
        seed.set_null_emails(50)
        code, report = run(f"growth/{slug}", capsys)
        assert (code, report["state"]) == (1, "red"), report
        assert report["messages"][0]["level"] == "fail"
        assert report["messages"][0]["text"].startswith(SEED_MESSAGE)
        seed.set_null_emails(10)
        code, report = run(f"growth/{slug}", capsys)
        assert (code, report["state"]) == (0, "green"), report
    assert CheckRun.objects.filter(checker__namespace__slug="growth").count() == 4
