"""What every engine shares: the parsed URL, the vetted target, the result and the base class."""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import KW_ONLY, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote, urlsplit

from checkers.datasources.errors import (
    ConnectFailed,
    DatasetTooLarge,
    DatasourceError,
    InvalidSpec,
    PrivilegedRole,
    QueryFailed,
    QueryTimeout,
    TargetRefused,
)
from checkers.datasources.pool import POOLS, Pool
from checkers.datasources.values import JsonRows, JsonValue
from malleable import outbound

# Column names and raw driver rows, before encoding.
Rows = tuple[list[str], list[Sequence[Any]]]

# The default byte cap of one dataset (``MALLEABLE_DATASET_MAX_BYTES``).
DEFAULT_BYTE_CAP = 64 * 1024 * 1024
# Rows asked of the driver at once, at most: few round trips for small rows, while the next
# chunk is sized from the rows so far so that it cannot run far past the byte cap.
CHUNK_ROWS = 1000


@dataclass(frozen=True)
class Location:
    """A datasource URL taken apart. ``password`` is the one from the URL, if any."""

    scheme: str
    host: str = ""
    port: int | None = None
    database: str = ""
    user: str = ""
    password: str = field(default="", repr=False)
    params: dict[str, str] = field(default_factory=dict)
    path: str = ""


@dataclass(frozen=True)
class Target:
    """Where a session really connects once the policy has vetted it.

    ``addresses`` pins the IPs that were checked, so a DNS answer that changes between the check
    and the connection cannot redirect the session (at Malleable's own database, say).
    ``path`` is the resolved SQLite file, opened instead of the name that was checked.
    """

    addresses: tuple[str, ...] = ()
    path: Path | None = None


@dataclass(frozen=True)
class FetchResult:
    """A dataset as fetched, capped, with what the cap cut.

    ``values`` are the driver's rows as it returned them (a ``Decimal`` stays a ``Decimal``,
    an int an int), for whoever needs exact figures. ``rows`` are the same rows encoded by
    the table in ``checkers.datasources.values``, converted on first use; ``to_json()`` is the
    dataset as guests receive it. Neither conversion happens while the session is open.
    """

    columns: list[str]
    values: list[Sequence[Any]]
    truncated: bool
    duration_ms: float
    # True when the driver gives each column a single type (see ``JsonRows``).
    typed_columns: bool = False

    @cached_property
    def json_rows(self) -> JsonRows:
        return JsonRows(self.values, typed_columns=self.typed_columns)

    @property
    def rows(self) -> list[list[JsonValue]]:
        return self.json_rows.as_list()

    def to_json(self) -> bytes:
        """``{"columns": [...], "rows": [[...], ...]}`` as UTF-8 JSON (the guest ABI's shape)."""
        return self.json_rows.to_json(self.columns)

    def to_dataset(self) -> dict[str, Any]:
        """The dataset in the guest ABI's shape (docs/contracts.md), for ``RunState``.

        ``rows`` is a ``JsonRows``: a sequence of encoded rows whose ``to_json(columns)``
        ``RunState.dataset_json`` uses, so a code checker's rows are never converted in Python.
        """
        return {"columns": self.columns, "rows": self.json_rows}


def parse_url(url: str, engine: type[Engine], secrets: Sequence[str] = ()) -> Location:
    """Split a datasource URL, refusing anything the engine does not understand.

    A URL that does not parse is not quoted back: its password cannot be told apart then
    (an unencoded ``/`` or ``@`` in it is the usual cause, and the parser's message would
    show part of it).
    """
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise InvalidSpec(
            "the URL is malformed: check the host and port, and percent-encode any '/', '@', ':' or '#' "
            "in the user or password (or give the password separately)"
        ) from None
    if parts.scheme.lower() not in engine.schemes:
        raise InvalidSpec(
            f"a {engine.label} URL starts with {engine.schemes[0]}://, not {parts.scheme or '(nothing)'}://",
            secrets=secrets,
        )
    params = dict(parse_qsl(parts.query, keep_blank_values=True))
    unknown = sorted(set(params) - engine.params)
    if unknown:
        allowed = ", ".join(sorted(engine.params)) or "none"
        raise InvalidSpec(f"unsupported URL parameter {unknown[0]!r} (allowed: {allowed})", secrets=secrets)
    return Location(
        scheme=parts.scheme.lower(),
        host=(parts.hostname or "").rstrip("."),
        port=port,
        database=unquote(parts.path.lstrip("/")),
        user=unquote(parts.username or ""),
        password=unquote(parts.password or ""),
        params=params,
        path=_file_path(parts.path) if not parts.netloc else "",
    )


def _file_path(path: str) -> str:
    """``sqlite:////abs`` and ``sqlite:///abs`` both mean ``/abs`` (POSIX keeps ``//`` otherwise)."""
    path = unquote(path)
    return "/" + path.lstrip("/") if path.startswith("/") else path


@dataclass(eq=False, repr=False)
class Engine:
    """One database engine: how to open a read-only, time-boxed session and read from it.

    Subclasses open the session (``session``), say what failed (``classify``) and describe
    the server (``describe``); reading, capping and encoding rows is shared here.
    """

    name: ClassVar[str]
    label: ClassVar[str]
    dialect: ClassVar[str]
    schemes: ClassVar[tuple[str, ...]]
    default_port: ClassVar[int | None] = None
    params: ClassVar[frozenset[str]] = frozenset()
    # The last part of the Django ENGINE paths that are this engine (GIS ones included).
    django_backends: ClassVar[frozenset[str]]
    # True when any database on the same server can read any other (MySQL schemas), so a
    # datasource on Malleable's own server is refused whatever database it names.
    server_scoped: ClassVar[bool] = False
    # MySQL's SHOW has no SELECT form for some server state (replication), so it may read it.
    allow_show: ClassVar[bool] = False
    # Every value of a column has the column's type (or is NULL); not so in SQLite.
    typed_columns: ClassVar[bool] = True
    # The URL parameter that chooses TLS (none for SQLite), the modes it takes, and the one it
    # means when absent.
    tls_param: ClassVar[str] = ""
    tls_modes: ClassVar[tuple[str, ...]] = ()
    tls_default: ClassVar[str] = ""

    location: Location
    target: Target
    _: KW_ONLY
    password: str
    timeout_s: float
    row_cap: int
    max_idle: int = 4
    identity: str = ""
    allow_privileged: bool = False
    byte_cap: int = DEFAULT_BYTE_CAP
    # What a message must never show: the datasource's password and the URL's.
    secrets: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.secrets = [secret for secret in (self.password, self.location.password) if secret]

    @property
    def pool_key(self) -> str:
        """A digest of everything a session depends on, so a changed datasource never reuses one."""
        location = self.location
        parts = (
            self.name,
            location.scheme,
            location.host,
            self.port,
            location.database,
            location.user,
            location.password,
            sorted(location.params.items()),
            location.path,
            self.target.addresses,
            str(self.target.path),
            self.password,
            self.timeout_s,
            self.row_cap,
            self.max_idle,
            self.allow_privileged,
        )
        return hashlib.sha256(repr(parts).encode("utf-8")).hexdigest()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.location.user}@{self.location.host or self.location.path}>"

    @classmethod
    def validate_location(cls, location: Location) -> None:
        """Refuse a URL that parses but cannot name a database of this engine."""
        if not location.host:
            raise InvalidSpec(f"a {cls.label} URL needs a host: {cls.schemes[0]}://user@host:port/database")
        if "," in location.host:
            raise InvalidSpec("a datasource URL names one host, not a list")
        if not location.database or "/" in location.database:
            raise InvalidSpec(f"a {cls.label} URL ends with the database name: .../database")
        if not location.user:
            raise InvalidSpec(f"a {cls.label} URL names its user: {cls.schemes[0]}://user@host/database")
        mode = cls.tls_mode(location)
        if cls.tls_param and mode not in cls.tls_modes:
            raise InvalidSpec(f"{cls.tls_param}={mode!r} is not one of {', '.join(cls.tls_modes)}")

    @classmethod
    def tls_mode(cls, location: Location) -> str:
        return location.params.get(cls.tls_param, cls.tls_default)

    @classmethod
    def screen(cls, sql: str) -> None:
        """Refuse what this engine would run although the parser cannot see it (none by default)."""

    @property
    def port(self) -> int | None:
        return self.location.port or self.default_port

    @property
    def addresses(self) -> tuple[str, ...]:
        """The vetted IPs; never none, which drivers would read as "the local socket"."""
        if not self.target.addresses:
            raise TargetRefused(f"a {self.label} session connects only to addresses the policy vetted")
        return self.target.addresses

    def fetch(self, sql: str) -> FetchResult:
        """Run one already-validated read statement and keep at most ``row_cap`` rows."""
        return self.fetch_all([(sql, self.row_cap)])[0]

    def fetch_all(self, statements: Sequence[tuple[str, int]]) -> list[FetchResult]:
        """Run already-validated read statements in one session, each keeping at most its own
        limit of rows (never more than ``row_cap``): a rule checker's queries on one datasource
        cost one lease, one connection checkout and one read-only transaction.

        A failure names the statement that failed in ``DatasourceError.statement``.
        """
        results = []
        with self.session() as session:
            for index, (sql, limit) in enumerate(statements):
                cap = min(limit, self.row_cap)
                started = time.perf_counter()
                try:
                    columns, raw = self.read(session, sql, cap + 1)
                except DatasourceError as exc:
                    exc.statement = index
                    raise
                truncated = len(raw) > cap
                results.append(
                    FetchResult(
                        columns=columns,
                        values=raw[:cap] if truncated else raw,
                        truncated=truncated,
                        duration_ms=(time.perf_counter() - started) * 1000,
                        typed_columns=self.typed_columns,
                    )
                )
        return results

    @contextlib.contextmanager
    def session(self) -> Iterator[Any]:
        """A connection in a read-only transaction with the timeouts set; rolled back after.

        The connection comes from this process's pool for the datasource when one is idle,
        and goes back to it only when the engine could reset it; one that fails to start
        its transaction (the server closed it while idle) is dropped for a fresh one.
        """
        pool = POOLS.get(self.pool_key, identity=self.identity, max_idle=self.max_idle, close=self._close)
        connection = self._checkout(pool)
        clean = False
        try:
            yield connection
            clean = True
        except Exception:
            clean = True  # the statement failed, not the process: the reset decides
            raise
        finally:
            if clean and self._reset(connection):
                pool.give(connection)
            else:
                self._close(connection)

    def _checkout(self, pool: Pool) -> Any:
        while (connection := pool.take()) is not None:
            try:
                with self.translating():
                    self._begin(connection)
            except DatasourceError:
                self._close(connection)
            else:
                return connection
        with self.translating(connecting=True):
            connection = self._connect()
        try:
            with self.translating():
                self._refuse_privileged(connection)
                self._begin(connection)
        except BaseException:
            self._close(connection)
            raise
        return connection

    def _connect(self) -> Any:
        """A new connection to the vetted target."""
        raise NotImplementedError

    def _refuse_privileged(self, connection: Any) -> None:
        """``PrivilegedRole`` before a new connection's first query, unless the operator opted in.

        Checked once per connection, when it is opened: privileges are the server's, so a
        pooled connection keeps what it had, and a changed datasource gets a new pool.
        """
        if self.allow_privileged:
            return
        found = self.privileges(connection)
        if found:
            raise PrivilegedRole(
                f"{self.label}: the role {self.location.user!r} {'; '.join(found)}. A datasource role "
                "must only be able to read: connect as a role that may only SELECT the tables the "
                "checks read (or ask the operator to set MALLEABLE_DATASOURCE_ALLOW_PRIVILEGED_ROLES)",
                secrets=self.secrets,
            )

    def privileges(self, connection: Any) -> list[str]:
        """What the connection's role may do beyond reading, in words; empty when nothing."""
        return []

    def _begin(self, connection: Any) -> None:
        """Start a read-only transaction with the statement and lock timeouts."""
        raise NotImplementedError

    def _reset(self, connection: Any) -> bool:
        """End the transaction and clear the session; False when the connection is not fit to keep."""
        raise NotImplementedError

    @staticmethod
    def _close(connection: Any) -> None:
        with contextlib.suppress(Exception):
            connection.close()

    def read(self, session: Any, sql: str, limit: int) -> Rows:
        """Column names and up to ``limit`` rows of ``sql``, run in ``session``."""
        self.screen(sql)
        with self.translating():
            return self._read(session, sql, limit)

    def _read(self, session: Any, sql: str, limit: int) -> Rows:
        raise NotImplementedError

    def collect(self, fetchmany: Callable[[int], Sequence[Sequence[Any]]], limit: int) -> list[Sequence[Any]]:
        """Up to ``limit`` rows from the driver, in chunks, counting their bytes as they come.

        Past ``byte_cap`` it stops with ``DatasetTooLarge``: a result of 200 MB is never held
        whole, only the rows up to the cap and one chunk sized to fit what was left of it. The
        first chunk is one row, so the size of the next is known before it is asked for.
        """
        rows: list[Sequence[Any]] = []
        size = 0
        while len(rows) < limit:
            average = size // len(rows) if rows else 0
            room = max(self.byte_cap - size, 0)
            want = min(limit - len(rows), CHUNK_ROWS, max(1, room // average) if average else 1)
            chunk = fetchmany(want)
            size += sum(map(row_bytes, chunk))
            rows.extend(chunk)
            if size > self.byte_cap:
                raise DatasetTooLarge(
                    f"the rows came to more than the {self.byte_cap:,}-byte cap of a dataset after "
                    f"{len(rows):,} rows",
                    fetched=len(rows),
                    cap=self.byte_cap,
                )
            if len(chunk) < want:
                break
        return rows

    def describe(self) -> str:
        """A short line for "test connection": server, version, user, read-only state."""
        raise NotImplementedError

    def classify(self, exc: Exception, *, connecting: bool = False) -> DatasourceError | None:
        """The typed, scrubbed error for a driver exception, or None when it is not the driver's."""
        raise NotImplementedError

    @contextlib.contextmanager
    def translating(self, *, connecting: bool = False) -> Iterator[None]:
        """Turn the driver's exceptions into scrubbed ``DatasourceError``s.

        The original is dropped (``from None``) on purpose: its message, arguments and
        traceback locals may carry the password, and a logged chain would print them.
        """
        try:
            yield
        except DatasourceError:
            raise
        except Exception as exc:
            error = self.classify(exc, connecting=connecting)
            if error is None:
                raise
            raise error from None

    def failed(
        self, exc: Exception, *, permanent: bool, kind: type[DatasourceError] = QueryFailed, prefix: str = ""
    ) -> DatasourceError:
        """The driver's own message, after the engine's name and what it means for the run."""
        lead = f"{self.label} ({prefix})" if prefix else self.label
        return kind(f"{lead}: {_first_lines(self.message(exc))}", secrets=self.secrets, permanent=permanent)

    def message(self, exc: Exception) -> str:
        """The driver's words for ``exc``, unscrubbed (``failed`` scrubs them)."""
        return str(exc)

    def unreachable(self, connect_timeout_s: float) -> ConnectFailed:
        """A connection that never reached a database server: one message whatever the port did
        (closed, filtered, reset, another protocol, a TLS failure), so no port map comes of it."""
        where = f"{self.label} at {self.location.host}:{self.port}"
        return ConnectFailed(outbound.unreachable(where, connect_timeout_s), secrets=self.secrets)

    def timed_out(self, exc: Exception, why: str = "") -> DatasourceError:
        return self.failed(
            exc, permanent=False, kind=QueryTimeout, prefix=why or f"stopped after {self.timeout_s:g} s"
        )


def row_bytes(row: Sequence[Any]) -> int:
    """About the bytes a row takes once encoded: text and binary by their length, the rest 8."""
    return sum(map(_value_bytes, row))


def _value_bytes(value: Any) -> int:
    kind = type(value)
    if kind is str:
        return len(value) if value.isascii() else len(value.encode("utf-8", "replace"))
    if kind is bytes or kind is bytearray or kind is memoryview:
        return len(value) * 4 // 3  # base64
    if kind is list or kind is tuple:
        return 2 + sum(map(_value_bytes, value))
    if kind is dict:
        return 2 + sum(_value_bytes(str(key)) + _value_bytes(item) for key, item in value.items())
    return 8


def _first_lines(message: str, limit: int = 5) -> str:
    """The driver's message without the long context some servers append."""
    return "\n".join(line.rstrip() for line in message.strip().splitlines()[:limit])
