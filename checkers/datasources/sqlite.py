"""SQLite datasources (the standard library's sqlite3).

The file is opened through a ``file:...?mode=ro`` URI, so the operating system refuses
writes; ``PRAGMA query_only`` refuses them in SQLite; and an authorizer allows nothing but
reading tables and calling harmless functions (no ATTACH, PRAGMA, writes or transactions),
so a query cannot reach a file outside the vetted one. A progress handler interrupts a
query at the statement timeout, which also stops a recursive CTE that never ends.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator

from checkers.datasources.base import Engine, Location, Rows
from checkers.datasources.errors import ConnectFailed, DatasourceError, InvalidSpec, TargetRefused

_ALLOWED_ACTIONS = frozenset(
    {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_FUNCTION, sqlite3.SQLITE_RECURSIVE}
)
_FORBIDDEN_FUNCTIONS = frozenset({"load_extension", "readfile", "writefile", "edit", "fts3_tokenizer"})
# How many SQLite virtual machine instructions run between two looks at the clock.
_PROGRESS_STEPS = 10_000


def _authorize(action: int, arg1: str | None, arg2: str | None, *_where: str | None) -> int:
    """SQLite's authorizer callback: reading tables and calling harmless functions only."""
    if action not in _ALLOWED_ACTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in _FORBIDDEN_FUNCTIONS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def _lossy_text(raw: bytes) -> str:
    """Text that is not valid UTF-8 still reads, with replacement characters."""
    return raw.decode("utf-8", errors="replace")


class SQLite(Engine):
    name = "sqlite"
    label = "SQLite"
    dialect = "sqlite"
    schemes = ("sqlite",)
    django_backends = frozenset({"sqlite3", "spatialite"})
    typed_columns = False

    @classmethod
    def validate_location(cls, location: Location) -> None:
        if location.host or not location.path or location.path.endswith("/"):
            raise InvalidSpec(
                "a SQLite URL names a file: sqlite:///absolute/path/shop.sqlite3, or sqlite:shop.sqlite3 "
                "inside the namespace's SQLite directory"
            )

    @contextlib.contextmanager
    def session(self) -> Iterator[sqlite3.Connection]:
        if self.target.path is None:
            raise TargetRefused("a SQLite session opens only a path the policy vetted")
        uri = f"{self.target.path.as_uri()}?mode=ro"
        with self.translating(connecting=True):
            connection = sqlite3.connect(uri, uri=True, timeout=self.timeout_s, isolation_level=None)
            connection.execute("PRAGMA query_only = ON")
        deadline = time.monotonic() + self.timeout_s
        connection.text_factory = _lossy_text
        connection.set_authorizer(_authorize)
        connection.set_progress_handler(lambda: time.monotonic() > deadline, _PROGRESS_STEPS)
        try:
            yield connection
        finally:
            connection.close()

    def _read(self, session: sqlite3.Connection, sql: str, limit: int) -> Rows:
        cursor = session.execute(sql)
        columns = [column[0] for column in cursor.description or ()]
        return columns, self.collect(cursor.fetchmany, limit)

    def describe(self) -> str:
        with self.session() as session, self.translating():
            (tables,) = session.execute("SELECT count(*) FROM sqlite_master WHERE type = 'table'").fetchone()
        name = self.target.path.name if self.target.path else self.location.path
        return f"Opened SQLite {sqlite3.sqlite_version} file {name} ({tables} tables); read-only session OK"

    def classify(self, exc: Exception, *, connecting: bool = False) -> DatasourceError | None:
        if not isinstance(exc, sqlite3.Error):
            return None
        message = str(exc)
        if message == "interrupted":
            return self.timed_out(exc)
        if "database is locked" in message:
            return self.timed_out(exc, "locked by a writer")
        if connecting:
            return self.failed(exc, permanent=False, kind=ConnectFailed)
        if "not authorized" in message:
            return self.failed(exc, permanent=True, prefix="only reading tables is allowed")
        return self.failed(exc, permanent=isinstance(exc, sqlite3.DatabaseError))
