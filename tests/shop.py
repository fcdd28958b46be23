"""The seed's world: a SQLite shop database and the checkers that guard it."""

import sqlite3
from pathlib import Path

SEED_MESSAGE = "There should be less than 42 users in that state"
SEED_PYTHON = f"CheckerCase().assertLessThan(datasets['users_with_email_null'], 42, {SEED_MESSAGE!r})\n"


class Shop:
    """A SQLite 'shop' database a datasource reads, with a knob for the seed's null e-mails."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
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
