"""MySQL and MariaDB datasources (PyMySQL).

The session is ``SET SESSION TRANSACTION READ ONLY`` then ``START TRANSACTION READ ONLY``
(rolled back and reset with ``COM_RESET_CONNECTION`` before the connection is pooled),
with the engine's statement time limit (``max_statement_time`` on MariaDB,
``max_execution_time`` on MySQL, detected from the server's version), lock waits bounded by
the same timeout, socket timeouts as a backstop and ``sql_select_limit`` at the cap plus one.
PyMySQL never sets the multi-statement flag and LOCAL INFILE stays off.

A read-only transaction does not stop ``SELECT ... INTO OUTFILE`` (an account with the FILE
privilege writes files on the server) nor what MySQL's executable comments (``/*! ... */``)
hide from a parser, so ``screen`` refuses both before anything runs.
"""

from __future__ import annotations

import math
import re
import socket
import ssl
from typing import Any, ClassVar

import pymysql
from pymysql.cursors import SSCursor

from checkers.datasources.base import Engine, Rows
from checkers.datasources.errors import (
    AuthenticationFailed,
    ConnectFailed,
    DatasetTooLarge,
    DatasourceError,
    SqlRejected,
)

SSL_MODES = ("preferred", "disabled", "required", "verify")
_HIDDEN = re.compile(r"/\*M?!|\b(?:OUTFILE|DUMPFILE)\b", re.IGNORECASE)
# Server errors: statement time limit (MariaDB, MySQL), lock wait timeout, query interrupted.
TIMEOUT_CODES = frozenset({1969, 3024, 1205, 1317})
# Access denied (user, database), unknown database.
DENIED_CODES = frozenset({1044, 1045, 1698})
UNKNOWN_DATABASE = 1049
# The server's own words have codes from 1000; the client's (CR_*: could not connect, lost the
# server, a bad handshake) from 2000.
SERVER_ERRORS, CLIENT_ERRORS = 1000, 2000
# Reset the session's state without reconnecting (MariaDB 10.2.4+, MySQL 5.7.3+).
COM_RESET_CONNECTION = 0x1F
# Global privileges that reach past reading: server files, other sessions, accounts, the
# server itself; and every ``... ADMIN`` privilege SUPER was split into (MariaDB 10.5+, MySQL 8).
PRIVILEGED = frozenset(
    {"ALL PRIVILEGES", "FILE", "SUPER", "PROCESS", "SHUTDOWN", "RELOAD", "CREATE USER", "SET USER"}
)
# The account's own global privileges, as information_schema quotes it.
_USER_PRIVILEGES = """
SELECT PRIVILEGE_TYPE, IS_GRANTABLE FROM information_schema.USER_PRIVILEGES
WHERE GRANTEE = CONCAT("'", SUBSTRING_INDEX(CURRENT_USER(), '@', 1), "'@'",
                       SUBSTRING_INDEX(CURRENT_USER(), '@', -1), "'")
"""
# A role's global grant as SHOW GRANTS prints it: "GRANT FILE, PROCESS ON *.* TO `r`".
_GLOBAL_GRANT = re.compile(r"^GRANT (?P<names>.+?) ON \*\.\* TO .*?(?P<option> WITH GRANT OPTION)?$")
# Statement refused in a read-only transaction, command or column denied.
PERMANENT_CODES = frozenset({1792, 1142, 1143, 1227})


class MySQL(Engine):
    name = "mysql"
    label = "MySQL/MariaDB"
    dialect = "mysql"
    schemes = ("mysql", "mariadb")
    default_port: ClassVar[int] = 3306
    params = frozenset({"ssl"})
    django_backends = frozenset({"mysql"})
    # One server's databases can read one another (db.table), so its whole server is off limits.
    server_scoped = True
    allow_show = True
    tls_param = "ssl"
    tls_modes = SSL_MODES
    tls_default = "preferred"

    @classmethod
    def screen(cls, sql: str) -> None:
        found = _HIDDEN.search(sql)
        if found:
            raise SqlRejected(
                f"dataset SQL may only read; {found.group(0)!r} writes server files or hides SQL in a "
                "MySQL executable comment"
            )

    def _tls(self) -> dict[str, Any]:
        mode = self.tls_mode(self.location)
        if mode == "disabled":
            return {"ssl_disabled": True}
        if mode == "verify":
            return {"ssl": ssl.create_default_context()}
        if mode == "required":
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return {"ssl": context}
        return {}

    @property
    def connect_timeout_s(self) -> int:
        return max(1, math.ceil(self.timeout_s))

    @property
    def port(self) -> int:
        return self.location.port or self.default_port

    def _connect(self) -> pymysql.Connection:
        """Connect to the first vetted address that answers, keeping the name for TLS."""
        seconds = self.connect_timeout_s
        connection = pymysql.connect(
            host=self.location.host,
            port=self.port,
            user=self.location.user,
            password=self.password,
            database=self.location.database,
            charset="utf8mb4",
            connect_timeout=seconds,
            read_timeout=seconds + 5,
            write_timeout=seconds + 5,
            autocommit=False,
            local_infile=False,
            defer_connect=True,
            program_name="malleable",
            **self._tls(),
        )
        for address in self.addresses:
            try:
                sock = socket.create_connection((address, self.port), timeout=seconds)
            except OSError:
                continue
            connection.connect(sock)
            return connection
        raise self.unreachable(seconds) from None

    def privileges(self, connection: pymysql.Connection) -> list[str]:
        """The account's global privileges and those of every role it may switch to (SET ROLE),
        which information_schema does not list for it: read with SHOW GRANTS FOR the role."""
        with connection.cursor() as cursor:
            cursor.execute(_USER_PRIVILEGES)
            held = [(name, grantable == "YES") for name, grantable in cursor.fetchall()]
            cursor.execute("SELECT CURRENT_ROLE()")
            row = cursor.fetchone()
            active = row[0] if row else None
            for role in _applicable_roles(cursor):
                held += _role_grants(cursor, role)
            restore = "NONE" if not active or active == "NONE" else active
            cursor.execute(f"SET ROLE {restore if restore.startswith(('`', 'NONE')) else _quote(restore)}")
        connection.rollback()
        names = sorted({name for name, _ in held if name in PRIVILEGED or name.endswith(("ADMIN", "_ADMIN"))})
        found = [f"holds {', '.join(names)}"] if names else []
        if any(grantable for _, grantable in held):
            found.append("holds GRANT OPTION")
        return found

    def _begin(self, connection: pymysql.Connection) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SET SESSION TRANSACTION READ ONLY")
            cursor.execute(f"SET {self._limits(connection)}")
            cursor.execute("START TRANSACTION READ ONLY")

    def _reset(self, connection: pymysql.Connection) -> bool:
        """Roll back, then COM_RESET_CONNECTION: variables, named locks, temporary tables.

        A result left half-read cannot be rolled back without reading it all, so ``_read``
        closes such a connection instead (the server rolls back), and it is not kept.
        """
        if not connection.open:
            return False
        try:
            connection.rollback()
            # PyMySQL has no call for it; the command is one byte and its answer an OK packet.
            connection._execute_command(COM_RESET_CONNECTION, b"")  # type: ignore[attr-defined]  # private, not in the stubs
            connection._read_ok_packet()  # type: ignore[attr-defined]  # private, not in the stubs
        except (pymysql.MySQLError, OSError):
            return False
        return connection.open

    def _limits(self, connection: pymysql.Connection) -> str:
        seconds = max(1, math.ceil(self.timeout_s))
        if "mariadb" in connection.get_server_info().lower():
            statement = f"max_statement_time = {self.timeout_s:.3f}"
        else:
            statement = f"max_execution_time = {max(1, round(self.timeout_s * 1000))}"
        # The reset restores the server's character set on MySQL: set PyMySQL's again.
        return (
            f"NAMES utf8mb4 COLLATE utf8mb4_general_ci, SESSION {statement},"
            f" SESSION sql_select_limit = {self.row_cap + 1},"
            f" SESSION lock_wait_timeout = {seconds}, SESSION innodb_lock_wait_timeout = {seconds}"
        )

    def _read(self, session: pymysql.Connection, sql: str, limit: int) -> Rows:
        cursor = session.cursor(SSCursor)
        cursor.execute(sql)
        if cursor.description is None:
            return [], []
        columns = [column[0] for column in cursor.description]
        try:
            rows = self.collect(cursor.fetchmany, limit)
        except DatasetTooLarge:
            _abandon(cursor, session)
            raise
        if len(rows) == limit:
            _abandon(cursor, session)
        return columns, rows

    def describe(self) -> str:
        with self.session() as session, self.translating(), session.cursor() as cursor:
            cursor.execute("SELECT VERSION(), CURRENT_USER()")
            version, user = cursor.fetchone()
            mariadb = "mariadb" in version.lower()
            cursor.execute(f"SELECT @@session.{'tx_read_only' if mariadb else 'transaction_read_only'}")
            (read_only,) = cursor.fetchone()
        server = "MariaDB" if mariadb else "MySQL"
        line = f"Connected to {server} {version.split('-')[0]} as {user}"
        return line + ("; read-only session OK" if read_only else "; the session is NOT read-only")

    def message(self, exc: Exception) -> str:
        """PyMySQL's ``(1969, 'Query execution was interrupted')`` as words first, code after."""
        if len(exc.args) == 2 and isinstance(exc.args[0], int):
            return f"{exc.args[1]} (error {exc.args[0]})"
        return str(exc)

    def classify(self, exc: Exception, *, connecting: bool = False) -> DatasourceError | None:
        code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
        if connecting and not (isinstance(exc, pymysql.MySQLError) and SERVER_ERRORS <= code < CLIENT_ERRORS):
            return self.unreachable(self.connect_timeout_s)
        if not isinstance(exc, pymysql.MySQLError):
            return None
        if code in TIMEOUT_CODES:
            return self.timed_out(exc)
        if connecting or code == UNKNOWN_DATABASE:
            if code in DENIED_CODES:
                return self.failed(exc, permanent=True, kind=AuthenticationFailed)
            return self.failed(exc, permanent=code == UNKNOWN_DATABASE, kind=ConnectFailed)
        permanent = isinstance(exc, pymysql.ProgrammingError) or code in PERMANENT_CODES | DENIED_CODES
        return self.failed(exc, permanent=permanent)


def _applicable_roles(cursor: pymysql.cursors.Cursor) -> list[str]:
    """The roles the account may use, quoted for SHOW GRANTS (MySQL's have a host, MariaDB's not)."""
    cursor.execute("SELECT * FROM information_schema.APPLICABLE_ROLES")
    columns = [column[0].upper() for column in cursor.description or ()]
    roles = []
    for values in cursor.fetchall():
        role = dict(zip(columns, values, strict=True))
        quoted = _quote(role["ROLE_NAME"])
        roles.append(f"{quoted}@{_quote(role['ROLE_HOST'])}" if role.get("ROLE_HOST") else quoted)
    return roles


def _role_grants(cursor: pymysql.cursors.Cursor, role: str) -> list[tuple[str, bool]]:
    """A role's global grants, roles granted to it included; the server shows them only while
    the role is active. A role reached only through another is read with that one."""
    try:
        cursor.execute(f"SET ROLE {role}")
        cursor.execute(f"SHOW GRANTS FOR {role}")
    except pymysql.MySQLError:
        return []
    return [grant for (line,) in cursor.fetchall() for grant in _global_grants(line)]


def _quote(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


def _global_grants(line: str) -> list[tuple[str, bool]]:
    found = _GLOBAL_GRANT.match(line)
    if found is None:
        return []
    option = found.group("option") is not None
    return [(name.strip().upper(), option) for name in found.group("names").split(",")]


def _abandon(cursor: SSCursor, session: pymysql.Connection) -> None:
    """Stop reading a result that may go on: close the connection instead of draining it.

    PyMySQL has no public way to drop an unbuffered result; without clearing its flag, the
    cursor would try to read the rest from the closed socket when it is collected. The
    server rolls the transaction back when the connection closes.
    """
    result = getattr(cursor, "_result", None)
    if result is not None:
        result.unbuffered_active = False
    session.close()
