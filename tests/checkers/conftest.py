import sqlite3
from pathlib import Path

import pytest

from checkers.models import Checker, CheckerKind, Dataset, Datasource

SEED_MESSAGE = "There should be less than 42 users in that state"
SEED_PYTHON = f"CheckerCase().assertLessThan(datasets['users_with_email_null'], 42, {SEED_MESSAGE!r})\n"


class Shop:
    """A SQLite 'shop' database a datasource reads, with a knob for the seed's null e-mails."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with self.connect() as db:
            db.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, username TEXT, email TEXT)")

    def connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path)

    def set_null_emails(self, count: int, with_email: int = 5) -> None:
        with self.connect() as db:
            db.execute("DELETE FROM users")
            db.executemany(
                "INSERT INTO users (username, email) VALUES (?, ?)",
                [(f"null{i}", None) for i in range(count)]
                + [(f"user{i}", f"user{i}@example.com") for i in range(with_email)],
            )

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"


@pytest.fixture
def shop(tmp_path, settings) -> Shop:
    settings.DATASOURCE_SQLITE_DIR = tmp_path
    return Shop(tmp_path / "shop.sqlite3")


@pytest.fixture
def seed(personas, shop):
    """The seed's example in namespace A: a dataset, a rule checker and a Python checker."""
    source = Datasource.objects.create(namespace=personas.a, slug="shop", engine="sqlite", url=shop.url)
    dataset = Dataset.objects.create(
        namespace=personas.a,
        slug="users_with_email_null",
        datasource=source,
        sql="SELECT username FROM users WHERE email IS NULL",
    )
    rule = Checker.objects.create(
        namespace=personas.a,
        slug="few-null-emails",
        name="Few null e-mails",
        kind=CheckerKind.RULE,
        rule_dataset=dataset,
        rule_metric="row_count",
        rule_op="<",
        rule_value=42,
        rule_message=SEED_MESSAGE,
        schedule_cron="*/5 * * * *",
    )
    python = Checker.objects.create(
        namespace=personas.a,
        slug="few-null-emails-py",
        name="Few null e-mails (Python)",
        kind=CheckerKind.PYTHON,
        source=SEED_PYTHON,
        schedule_every=300,
    )
    python.datasets.add(dataset)
    return rule, python
