"""The first line of defence: a dataset's SQL must be exactly one statement that only reads.

Parsing cannot prove a query harmless (a function may write, a dialect may surprise), so
this only turns the obvious mistakes and attacks into clear errors before any connection
is made. What really protects a production database is the session each engine opens:
read-only, time-boxed, row-capped (see the engine modules and their attack tests).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokenizer_core import Token, TokenType

from checkers.datasources.errors import SqlRejected

# Statements and clauses that write, lock, change the session or run something else.
_FORBIDDEN_NODES: tuple[type[exp.Expr], ...] = tuple(
    node
    for node in (
        exp.DML, exp.DDL, exp.Drop, exp.Alter, exp.TruncateTable, exp.Set, exp.Pragma, exp.Attach,
        exp.Detach, exp.Use, exp.Transaction, exp.Commit, exp.Rollback, exp.Grant, exp.Into, exp.Lock,
        exp.Command, exp.LoadData, exp.Kill, exp.Analyze, exp.Execute, exp.Describe, exp.Cache,
        exp.Uncache, exp.Refresh,
    )
)  # fmt: skip

# Functions that write, lock, signal, change settings, touch server files or run SQL text.
_FORBIDDEN_FUNCTIONS = frozenset(
    {
        "set_config", "nextval", "setval", "txid_current", "pg_current_xact_id", "pg_notify",
        "pg_terminate_backend", "pg_cancel_backend", "pg_reload_conf", "pg_rotate_logfile",
        "pg_switch_wal", "pg_promote", "pg_stat_file", "pg_log_backend_memory_contexts",
        "pg_backup_start", "pg_backup_stop", "get_lock", "release_lock", "release_all_locks",
        "load_file", "load_extension", "readfile", "writefile", "fts3_tokenizer",
    }
)  # fmt: skip
_FORBIDDEN_PREFIXES = (
    "pg_advisory", "pg_try_advisory", "lo_", "pg_ls_", "pg_read_", "pg_file_", "dblink", "pg_replication_",
    "pg_logical_", "pg_stat_reset", "pg_create_", "pg_drop_", "query_to_xml",
)  # fmt: skip

_EXCERPT = 60


def check_statement(sql: str, dialect: str, *, allow_show: bool = False) -> str:
    """One read statement, returned without its trailing semicolons; else ``SqlRejected``.

    Reads are SELECT (with WITH, UNION/INTERSECT/EXCEPT, PostgreSQL's ``TABLE t``) and
    VALUES; with ``allow_show``, MySQL's SHOW too (replication checks have no SELECT form).
    """
    tokens = _tokens(sql, dialect)
    statements = _split(tokens)
    if not statements:
        raise SqlRejected("dataset SQL is empty")
    if len(statements) > 1:
        second = statements[1][0]
        raise SqlRejected(
            f"dataset SQL must be one statement; found {len(statements)} "
            f"(the second starts at line {second.line}: {_excerpt(sql, second.start)})"
        )
    text = sql[: statements[0][-1].end + 1].strip()
    _check_tree(_parse(text, dialect), allow_show)
    return text


def _tokens(sql: str, dialect: str) -> list[Token]:
    try:
        return Dialect.get_or_raise(dialect).tokenize(sql)
    except TokenError as exc:
        raise SqlRejected(
            f"dataset SQL cannot be read: {exc} (an unterminated string, identifier or comment?)"
        ) from None


def _split(tokens: list[Token]) -> list[list[Token]]:
    """Tokens grouped by statement; empty statements (``;;``) do not count."""
    statements: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            statements.append([])
        else:
            statements[-1].append(token)
    return [statement for statement in statements if statement]


def _excerpt(sql: str, start: int) -> str:
    line = sql[start:].splitlines()[0].strip().rstrip(";").rstrip()
    return line if len(line) <= _EXCERPT else line[: _EXCERPT - 3] + "..."


def _parse(text: str, dialect: str) -> exp.Expr:
    try:
        tree = sqlglot.parse_one(text, read=dialect)
    except ParseError as exc:
        error = exc.errors[0] if exc.errors else {}
        where = f" at line {error.get('line')}, column {error.get('col')}" if error else ""
        near = f" near {error.get('highlight')!r}" if error.get("highlight") else ""
        reason = error.get("description", str(exc))
        raise SqlRejected(f"dataset SQL does not parse{where}{near}: {reason}") from None
    return tree


def _check_tree(tree: exp.Expr, allow_show: bool) -> None:
    if not isinstance(tree, exp.Query | exp.Values) and not (allow_show and isinstance(tree, exp.Show)):
        allowed = "SELECT, WITH ... SELECT, VALUES" + (" or SHOW" if allow_show else "")
        raise SqlRejected(f"dataset SQL must be a read ({allowed}); this is {_describe(tree)}")
    for node in tree.walk():
        if isinstance(node, _FORBIDDEN_NODES):
            raise SqlRejected(f"dataset SQL may only read; it contains {_describe(node)}")
        if isinstance(node, exp.Func) and _forbidden_function(node):
            raise SqlRejected(
                f"dataset SQL may only read; it calls {_function_name(node)}(), which changes the server "
                "or its session, or reaches outside the database"
            )


def _function_name(node: exp.Func) -> str:
    return (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()


def _forbidden_function(node: exp.Func) -> bool:
    name = _function_name(node)
    return name in _FORBIDDEN_FUNCTIONS or name.startswith(_FORBIDDEN_PREFIXES)


def _describe(node: exp.Expr) -> str:
    """A few words a person recognises: the node's leading SQL, not sqlglot's class name."""
    if isinstance(node, exp.Lock):
        return "a locking clause (FOR UPDATE / FOR SHARE)"
    if isinstance(node, exp.Into):
        return "SELECT ... INTO"
    keyword = (node.sql().split() or ["empty"])[0].upper()
    article = "an" if keyword[0] in "AEIOU" else "a"
    return f"{article} {keyword} statement"
