"""Datasources: read-only, time-boxed, row-capped queries on production databases.

A plug-in registry (``ENGINES``) of one small class per engine, and four calls:

- ``validate_sql(sql, engine)``: one read statement, or ``SqlRejected`` saying what and where;
- ``check_target(spec, own_databases, allowed_hosts, sqlite_dir)``: ``TargetRefused`` for
  Malleable's own database, a host the outbound policy refuses (``malleable.outbound``) or
  outside the allowed list, a SQLite file outside the operator's directory;
- ``fetch(spec, sql, policy=...)``: both checks, then the query in a read-only session, as a
  ``FetchResult``: the driver's exact ``values``, and ``rows`` and ``to_json()`` encoded by the
  table in ``checkers.datasources.values`` when first asked for, after the session;
- ``test_connection(spec, policy=...)``: a one-line description of the server and session;
- ``check_role(spec, policy=...)``: ``PrivilegedRole`` when the role could do more than read.

Every new connection is checked for a privileged role (a PostgreSQL superuser or member of
the server-file and signal roles, a MariaDB/MySQL account with FILE, SUPER, PROCESS and the
like) before its first query, unless ``TargetPolicy.allow_privileged_roles``: the SQL screen
is a first line, and a role that may only read is what it cannot be talked past.

Sessions reuse this process's idle connections to the same datasource (``pool``): at most
``max_concurrency`` wait, each for a minute at most, and each use is a fresh read-only
transaction on a reset session. ``close_idle_connections()`` closes them all.

Every failure is a ``DatasourceError`` whose message is scrubbed of the password, with
``permanent`` saying whether a retry can help. Nothing here reads Django settings or
models: callers pass the spec and the operator's policy, so it is testable alone.

Passwords: ``ConnectionSpec.password`` is used when set; otherwise a password in the URL's
userinfo (``postgresql://reader:secret@host/db``) is. Both are scrubbed from every message.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from checkers.datasources.aggregates import KeySample, Measure, aggregate_sql, first_row_sql, key_sample_sql
from checkers.datasources.base import DEFAULT_BYTE_CAP, Engine, FetchResult, Location, Target, parse_url
from checkers.datasources.errors import (
    AuthenticationFailed,
    ConnectFailed,
    DatasetTooLarge,
    DatasourceError,
    InvalidSpec,
    PrivilegedRole,
    QueryFailed,
    QueryTimeout,
    SqlRejected,
    TargetRefused,
    scrub,
)
from checkers.datasources.pool import POOLS
from checkers.datasources.sql import check_statement
from checkers.datasources.target import TargetPolicy, vet
from checkers.datasources.values import to_json_value
from malleable.outbound import OwnService

__all__ = [
    "ENGINES",
    "ENGINE_CHOICES",
    "AuthenticationFailed",
    "ConnectFailed",
    "ConnectionSpec",
    "DatasetTooLarge",
    "DatasourceError",
    "Engine",
    "FetchResult",
    "InvalidSpec",
    "KeySample",
    "Measure",
    "PrivilegedRole",
    "QueryFailed",
    "QueryTimeout",
    "Question",
    "SqlRejected",
    "TargetPolicy",
    "TargetRefused",
    "check_role",
    "check_target",
    "close_idle_connections",
    "credential_target",
    "describe_target",
    "engine_for",
    "fetch",
    "measure",
    "scrub",
    "test_connection",
    "to_json_value",
    "validate_sql",
]


class _Engines(Mapping[str, type[Engine]]):
    """The engines by name, each module imported on first use: a cron run of a PostgreSQL rule
    loads neither PyMySQL nor anything else another engine needs (2.5 MB and a dozen modules)."""

    # name: (module, class, label)
    PLUGINS = {
        "postgresql": ("postgresql", "PostgreSQL", "PostgreSQL"),
        "mysql": ("mysql", "MySQL", "MySQL/MariaDB"),
        "sqlite": ("sqlite", "SQLite", "SQLite"),
    }

    def __getitem__(self, name: str) -> type[Engine]:
        module, cls, _ = self.PLUGINS[name]
        return getattr(importlib.import_module(f"checkers.datasources.{module}"), cls)

    def __iter__(self) -> Iterator[str]:
        return iter(self.PLUGINS)

    def __len__(self) -> int:
        return len(self.PLUGINS)


ENGINES = _Engines()
ENGINE_CHOICES: list[tuple[str, str]] = [(name, label) for name, (_, _, label) in _Engines.PLUGINS.items()]


def _engine(name: str) -> type[Engine]:
    try:
        return ENGINES[name]
    except KeyError:
        raise InvalidSpec(f"unknown engine {name!r}; use one of {', '.join(ENGINES)}") from None


@dataclass(frozen=True)
class ConnectionSpec:
    """How to reach one datasource. Validated when made, so a form can show the error at once.

    The password never appears in ``repr``, ``str`` or any error, and neither does one
    written into the URL.
    """

    engine: str
    url: str
    password: str = ""
    statement_timeout_s: float = 10.0
    row_cap: int = 10_000
    # Idle connections this process keeps for the datasource (its max_concurrency).
    max_concurrency: int = 4
    # Bytes of rows per dataset at most (MALLEABLE_DATASET_MAX_BYTES): past it, ``DatasetTooLarge``.
    byte_cap: int = DEFAULT_BYTE_CAP
    # What stays the same when the datasource is edited (Django passes its primary key), so
    # the pool of its previous settings is closed at once; empty for a one-off spec.
    identity: str = ""

    def __post_init__(self) -> None:
        timeout = self.statement_timeout_s
        if not isinstance(timeout, int | float) or not math.isfinite(timeout) or timeout <= 0:
            raise InvalidSpec("the statement timeout must be a number of seconds above 0")
        if isinstance(self.row_cap, bool) or not isinstance(self.row_cap, int) or self.row_cap < 1:
            raise InvalidSpec("the row cap must be a whole number of at least 1")
        if isinstance(self.byte_cap, bool) or not isinstance(self.byte_cap, int) or self.byte_cap < 1:
            raise InvalidSpec("the byte cap must be a whole number of at least 1")
        concurrency = self.max_concurrency
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1:
            raise InvalidSpec("the maximum concurrency must be a whole number of at least 1")
        _ = self.location

    @cached_property
    def location(self) -> Location:
        """The URL taken apart, or ``InvalidSpec`` saying what is wrong with it."""
        engine = _engine(self.engine)
        location = parse_url(self.url, engine, secrets=[self.password])
        engine.validate_location(location)
        return location

    @property
    def effective_password(self) -> str:
        return self.password or self.location.password

    @property
    def secrets(self) -> list[str]:
        return [secret for secret in (self.password, self.location.password) if secret]

    def __repr__(self) -> str:
        return (
            f"ConnectionSpec(engine={self.engine!r}, url={scrub(self.url, self.secrets)!r}, "
            f"password={'***' if self.password else ''!r}, statement_timeout_s={self.statement_timeout_s!r}, "
            f"row_cap={self.row_cap!r}, byte_cap={self.byte_cap!r}, "
            f"max_concurrency={self.max_concurrency!r}, identity={self.identity!r})"
        )

    __str__ = __repr__


def describe_target(url: str) -> str:
    """``host:port/database`` or the SQLite file name, with no user or password, for lists."""
    try:
        parts = urlsplit(url.strip())
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(malformed URL)"
    if not parts.netloc:
        return Path(unquote(parts.path)).name or "(no file)"
    return f"{parts.hostname or ''}{port}/{unquote(parts.path.lstrip('/'))}"


def credential_target(engine: str, url: str) -> dict[str, Any]:
    """Where a password is sent: the engine, host, port, database and user of ``url``.

    Empty when the URL does not parse, which matches no stored target.
    """
    try:
        engine_class = _engine(engine)
        location = parse_url(url, engine_class)
    except InvalidSpec:
        return {}
    return {
        "engine": engine_class.name,
        "host": location.host.lower(),
        "port": location.port or engine_class.default_port,
        "database": location.database or location.path,
        "user": location.user,
    }


@lru_cache(maxsize=1024)
def validate_sql(sql: str, engine: str) -> str:
    """The statement to run: exactly one read, without trailing semicolons.

    A first line of defence that turns mistakes and obvious attacks into clear errors;
    the read-only session is what protects the database. Cached: a scheduled checker sends
    the same text every run, and parsing it is most of a small rule's cost.
    """
    engine_class = _engine(engine)
    engine_class.screen(sql)
    return check_statement(sql, engine_class.dialect, allow_show=engine_class.allow_show)


def check_target(
    spec: ConnectionSpec,
    own_databases: Sequence[Mapping[str, Any]],
    allowed_hosts: Sequence[str] | None,
    sqlite_dir: Path | None,
    *,
    own_services: Sequence[OwnService] = (),
    refuse_private: bool = False,
) -> None:
    """Raise ``TargetRefused`` unless the operator's rules allow the datasource's target.

    ``own_databases`` are Django ``DATABASES`` values (use the running ones, so the test
    database's name is included). ``fetch`` and ``test_connection`` apply the same rules
    themselves; this is for saying so early, in a form or an import.
    """
    policy = TargetPolicy(
        own_databases=own_databases,
        allowed_hosts=allowed_hosts,
        sqlite_dir=sqlite_dir,
        own_services=own_services,
        refuse_private=refuse_private,
    )
    vet(_engine(spec.engine), spec.location, policy)


def engine_for(spec: ConnectionSpec, policy: TargetPolicy) -> Engine:
    """The engine for ``spec``, pinned to the target that ``policy`` allowed."""
    engine = _engine(spec.engine)
    target: Target = vet(engine, spec.location, policy)
    return engine(
        spec.location,
        target,
        password=spec.effective_password,
        timeout_s=spec.statement_timeout_s,
        row_cap=spec.row_cap,
        max_idle=spec.max_concurrency,
        identity=spec.identity,
        allow_privileged=policy.allow_privileged_roles,
        byte_cap=spec.byte_cap,
    )


def fetch(spec: ConnectionSpec, sql: str, *, policy: TargetPolicy) -> FetchResult:
    """Run a dataset's SQL: validated, on an allowed target, read-only, timed out, capped."""
    statement = validate_sql(sql, spec.engine)
    return engine_for(spec, policy).fetch(statement)


# A dataset's statement and what to ask of it: its measures, the keys of its rows, or None
# for its first row.
Question = tuple[str, Sequence[Measure] | KeySample | None]


def measure(
    spec: ConnectionSpec, questions: Sequence[Question], *, policy: TargetPolicy
) -> list[FetchResult]:
    """Each question's one row, exactly as the driver returns it, all in one session.

    Measures become one aggregate query around the dataset's statement; ``None`` asks for the
    first row, which the server stops after. One row comes back whatever the dataset's size,
    so the row cap never cuts a measure. A ``KeySample`` reads one column, at most its limit
    of rows. A failure names its question in ``.statement``.
    """
    engine_class = _engine(spec.engine)
    statements = []
    for sql, measures in questions:
        statement = validate_sql(sql, spec.engine)
        if engine_class.allow_show and statement.lstrip()[:4].upper() == "SHOW":
            raise SqlRejected(
                "a rule cannot measure a SHOW statement: check it with a Python checker instead"
            )
        if isinstance(measures, KeySample):
            asked, rows = key_sample_sql(statement, measures, engine_class.dialect), measures.limit
        elif measures is None:
            asked, rows = first_row_sql(statement), 1
        else:
            asked, rows = aggregate_sql(statement, measures, engine_class.dialect), 1
        statements.append((validate_sql(asked, spec.engine), rows))
    return engine_for(spec, policy).fetch_all(statements)


def test_connection(spec: ConnectionSpec, *, policy: TargetPolicy) -> str:
    """A short line such as "Connected to PostgreSQL 15.20 as reader; read-only session OK"."""
    return engine_for(spec, policy).describe()


def check_role(spec: ConnectionSpec, *, policy: TargetPolicy) -> None:
    """``PrivilegedRole`` when the datasource's role may do more than read; for saying so at
    save. A server that cannot be reached raises ``ConnectFailed``: the caller decides."""
    with engine_for(spec, policy).session():
        pass


def close_idle_connections() -> None:
    """Close this process's pooled datasource connections (a worker shutting down, tests)."""
    POOLS.close()


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a pytest test when imported
