"""PostgreSQL datasources (psycopg 3).

The session is a READ ONLY transaction with ``statement_timeout``, ``lock_timeout`` (half of
it, so a blocked query says so) and ``idle_in_transaction_session_timeout`` set inside it,
always rolled back, then cleared as ``DISCARD ALL`` would before the connection waits in the
pool. The query runs through a server-side cursor (``DECLARE ... CURSOR FOR``), which
PostgreSQL accepts only for one SELECT or VALUES without data-modifying WITH clauses: that
refuses ``COPY ... TO PROGRAM`` and other statements a read-only transaction alone would let a
superuser run. Rows are fetched in chunks of ``FETCH`` up to the cap plus one, counting
their bytes, so a huge result never crosses the network.

A single row arrives whole (the protocol has no smaller unit), so the statement is wrapped
in a guard the server evaluates per row: a row larger than the byte cap fails on the server
(``SELECT repeat('x', 200000000)``) before a byte of it is sent.
"""

from __future__ import annotations

import math
import re
from typing import Any

import psycopg
from psycopg import errors, pq

from checkers.datasources.base import Engine, Rows
from checkers.datasources.errors import (
    AuthenticationFailed,
    ConnectFailed,
    DatasetTooLarge,
    DatasourceError,
)

SSL_MODES = ("allow", "disable", "prefer", "require", "verify-ca", "verify-full")
# A path that cannot exist, so libpq never reads the worker's ~/.pgpass for a tenant.
NO_PASSFILE = "/dev/null/malleable-no-passfile"
# SQLSTATE classes that will fail the same way next time: authorization, syntax and
# access, invalid transaction state (read-only), unsupported feature, data exception.
PERMANENT_CLASSES = ("28", "3D", "42", "25", "0A", "22")
_DENIED = re.compile(
    r'authentication failed|role ".*" does not exist|no pg_hba\.conf entry|permission denied for database|'
    r"authentication method requirement",
)
_NO_DATABASE = re.compile(r'database ".*" does not exist')
# Predefined roles that reach past the database: server files, programs, other sessions.
# pg_read_all_data is not among them: it reads this server's tables, which is the job.
PRIVILEGED_ROLES = (
    "pg_execute_server_program",
    "pg_read_server_files",
    "pg_signal_backend",
    "pg_write_server_files",
)
# Membership of any kind counts: with NOINHERIT a member still gets the rights by SET ROLE.
_PRIVILEGES = """
SELECT r.rolsuper, r.rolcreaterole,
       ARRAY(SELECT p.rolname::text FROM pg_roles p
             WHERE p.rolname = ANY(%(roles)s) AND pg_has_role(r.oid, p.oid, 'MEMBER')
             ORDER BY p.rolname)
FROM pg_roles r WHERE r.rolname = session_user
"""
# ``DISCARD ALL`` as PostgreSQL documents it, after the ROLLBACK in the same round trip:
# ``DISCARD ALL`` itself cannot run in the transaction block that several statements make.
RESET_SESSION = (
    "ROLLBACK; CLOSE ALL; SET SESSION AUTHORIZATION DEFAULT; RESET ALL; DEALLOCATE ALL; UNLISTEN *;"
    " SELECT pg_advisory_unlock_all(); DISCARD PLANS; DISCARD TEMP; DISCARD SEQUENCES"
)
# The value the row guard fails to cast, so its error can be told from the query's own.
ROW_GUARD = "malleable_row_over_byte_cap"


class PostgreSQL(Engine):
    name = "postgresql"
    label = "PostgreSQL"
    dialect = "postgres"
    schemes = ("postgresql", "postgres")
    default_port = 5432
    params = frozenset({"sslmode"})
    django_backends = frozenset({"postgresql", "postgis"})
    tls_param = "sslmode"
    tls_modes = SSL_MODES
    tls_default = "prefer"

    def conninfo(self) -> dict[str, Any]:
        """libpq parameters that reach only the vetted addresses and nothing of the worker's."""
        addresses = self.addresses
        info: dict[str, Any] = {
            "host": ",".join([self.location.host] * len(addresses)),
            "hostaddr": ",".join(addresses),
            "port": self.port,
            "dbname": self.location.database,
            "user": self.location.user,
            "password": self.password,
            "connect_timeout": self.connect_timeout_s,
            "application_name": "malleable",
            "sslmode": self.tls_mode(self.location),
            "gssencmode": "disable",
            "passfile": NO_PASSFILE,
        }
        if psycopg.pq.version() >= 160000:
            # Never answer a Kerberos/SSPI challenge with the worker's own tickets, and never
            # send the password in clear text (a server asking for it is not one to trust).
            info["require_auth"] = "!gss,!sspi,!password"
        return info

    @property
    def connect_timeout_s(self) -> int:
        """libpq's, per address: whole seconds, at least 2 (it treats 1 as 2)."""
        return max(2, math.ceil(self.timeout_s))

    def _connect(self) -> psycopg.Connection:
        # Autocommit: ``_begin`` and ``_reset`` say BEGIN and ROLLBACK themselves, each in the one
        # round trip that also sets or clears the session (psycopg would send its own first).
        return psycopg.connect(**self.conninfo(), autocommit=True, prepare_threshold=None)

    def privileges(self, connection: psycopg.Connection) -> list[str]:
        row = connection.execute(_PRIVILEGES, {"roles": list(PRIVILEGED_ROLES)}).fetchone()
        if row is None:
            return []
        superuser, createrole, members_of = row
        if superuser:
            return ["is a superuser"]
        found = []
        if createrole:
            found.append("has CREATEROLE (up to PostgreSQL 15 it can grant itself the roles below)")
        found += [f"is a member of {name}" for name in members_of]
        return found

    def _begin(self, connection: psycopg.Connection) -> None:
        # A lock wait gives up at half the budget, so it is reported as one. The numbers are
        # this method's own integers; several statements need the simple protocol, without
        # parameters.
        ms = max(2, round(self.timeout_s * 1000))
        connection.execute(
            f"BEGIN READ ONLY; SET LOCAL statement_timeout = {ms}; SET LOCAL lock_timeout = {ms // 2};"
            f" SET LOCAL idle_in_transaction_session_timeout = {ms}"
        )

    def _reset(self, connection: psycopg.Connection) -> bool:
        """Roll back, then clear what a session can keep: settings, advisory locks, cursors,
        prepared statements, temporary tables. One round trip (``RESET_SESSION``)."""
        try:
            connection.execute(RESET_SESSION)
        except psycopg.Error:
            return False
        return not connection.broken and connection.info.transaction_status == pq.TransactionStatus.IDLE

    def _read(self, session: psycopg.Connection, sql: str, limit: int) -> Rows:
        with session.cursor(name="malleable_dataset") as cursor:
            cursor.execute(self.guarded(sql))
            columns = [column.name for column in cursor.description or ()]
            return columns, self.collect(cursor.fetchmany, limit)

    def guarded(self, sql: str) -> str:
        """``sql`` with each row's size checked by the server against the byte cap.

        The failing branch is not a constant, so the planner cannot fold it into an error.
        """
        size = "pg_column_size(malleable_rows.*)"
        return (
            f"SELECT malleable_rows.* FROM (\n{sql}\n) AS malleable_rows\n"  # noqa: S608 - validated SQL
            f"WHERE CASE WHEN {size} > {int(self.byte_cap)} "
            f"THEN ('{ROW_GUARD}:' || {size})::int = 0 ELSE true END"
        )

    def describe(self) -> str:
        with self.session() as session, self.translating():
            version, user, read_only, superuser = session.execute(
                "SELECT current_setting('server_version'), current_user,"
                " current_setting('transaction_read_only'), current_setting('is_superuser')"
            ).fetchone()
        line = f"Connected to PostgreSQL {version.split()[0]} as {user}"
        line += "; read-only session OK" if read_only == "on" else "; the session is NOT read-only"
        if superuser == "on":
            line += " (warning: a superuser; give Malleable a role that can only SELECT)"
        return line

    def classify(self, exc: Exception, *, connecting: bool = False) -> DatasourceError | None:
        if not isinstance(exc, psycopg.Error):
            return None
        sqlstate = exc.sqlstate or ""
        if isinstance(exc, errors.InvalidTextRepresentation) and ROW_GUARD in str(exc):
            cap = self.byte_cap
            return DatasetTooLarge(
                f"one row came to more than the {cap:,}-byte cap of a dataset", fetched=0, cap=cap
            )
        if isinstance(exc, errors.QueryCanceled | errors.LockNotAvailable):
            return self.timed_out(exc, f"cancelled after {self.timeout_s:g} s")
        if connecting or (isinstance(exc, psycopg.OperationalError) and not sqlstate):
            # libpq reports start-up failures without a SQLSTATE: read the server's words.
            if sqlstate.startswith("28") or _DENIED.search(str(exc)):
                return self.failed(exc, permanent=True, kind=AuthenticationFailed)
            missing = sqlstate.startswith("3D") or _NO_DATABASE.search(str(exc)) is not None
            if not (missing or "FATAL:" in str(exc)):
                return self.unreachable(self.connect_timeout_s)
            return self.failed(exc, permanent=missing, kind=ConnectFailed)
        return self.failed(exc, permanent=sqlstate.startswith(PERMANENT_CLASSES) or not sqlstate)
