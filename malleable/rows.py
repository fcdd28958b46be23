"""The run loop's statements, with SQL written once: reads that give model instances, a row's
update, and statements sent together.

The run loop claims a run and reads its checker with the namespace, rules, datasets and
datasources on every run. ``select_related`` builds and compiles that five-table query each
time, and doing so cost the worker more than the database spent running it
(``docs/performance.md``, "Per-run cost"). A ``ModelRows`` writes the column list once per
process from the models' fields, then turns each row into one instance of each model with the
converters a queryset applies and ``Model.from_db``, so the instances are those a queryset
would give. ``update_row`` and ``pipelined`` let the recording send ``BEGIN`` and its first
statements in one round trip.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache, cached_property
from typing import Any

from django.db import ProgrammingError, connection, models
from django.db.models.expressions import Col

Converter = Callable[[Any, Col, Any], Any]


@dataclass(frozen=True)
class _Columns:
    """Where one model's columns sit in a row, and the converters of those that have any."""

    model: type[models.Model]
    names: list[str]
    start: int
    key: int  # where the primary key is among them
    converters: list[tuple[int, list[Converter], Col]]

    def instance(self, row: Sequence[Any]) -> models.Model | None:
        """The model's instance in ``row``; None where an outer join found no row."""
        values = list(row[self.start : self.start + len(self.names)])
        if values[self.key] is None:
            return None
        for index, converters, column in self.converters:
            for convert in converters:
                values[index] = convert(values[index], column, connection)
        return self.model.from_db(connection.alias, self.names, values)


class ModelRows:
    """``sql`` with ``{columns}`` standing for every concrete field of each ``(model, alias)`` in
    ``tables`` (unqualified where the alias is empty), and ``%s`` for the parameters.

    ``fetch`` gives one tuple of instances per row, in the order of ``tables``, with None for a
    model an outer join did not find. Relations between them are the caller's to set.

    ``prepared`` names the statement on PostgreSQL, which then parses, analyses and plans it
    once per connection (``PREPARE``) rather than on every call (``EXECUTE``): for the run
    loop's six-table read of a hundred columns, that was four fifths of the server's time.
    """

    def __init__(
        self, tables: Sequence[tuple[type[models.Model], str]], sql: str, prepared: str = ""
    ) -> None:
        self.tables = tables
        self.sql = sql
        self.prepared = prepared

    @cached_property
    def _plan(self) -> tuple[str, list[_Columns]]:
        columns: list[str] = []
        layout = []
        for model, alias in self.tables:
            fields = model._meta.concrete_fields
            converters = []
            for index, field in enumerate(fields):
                column = field.get_col(alias or model._meta.db_table)
                found = connection.ops.get_db_converters(column) + column.get_db_converters(connection)
                if found:
                    converters.append((index, found, column))
            names = [field.attname for field in fields]
            key = names.index(model._meta.pk.attname)
            layout.append(_Columns(model, names, len(columns), key, converters))
            prefix = f"{alias}." if alias else ""
            columns += [prefix + connection.ops.quote_name(field.column) for field in fields]
        return self.sql.format(columns=", ".join(columns)), layout

    def fetch(self, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        sql, layout = self._plan
        with connection.cursor() as cursor:
            if self.prepared and connection.vendor == "postgresql":
                _execute_prepared(cursor, self.prepared, sql, params)
            else:
                cursor.execute(sql, params)
            fetched = cursor.fetchall()
        return [tuple(columns.instance(row) for columns in layout) for row in fetched]


# The statements prepared on each of Django's psycopg connections, by name. A connection that
# Django closes and opens again is a new object, with none.
_prepared: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()


def _execute_prepared(cursor: Any, name: str, sql: str, params: Sequence[Any]) -> None:
    """``EXECUTE name(params)``, preparing ``sql`` as ``name`` first on a connection that has not.

    The statement lives as long as the session, so Malleable's own database is reached directly
    or through a pool that keeps sessions (docs/deploy.md), as its advisory locks need too. Were
    it gone all the same (someone said ``DEALLOCATE``), it is prepared again, once.
    """
    import psycopg  # here: SQLite and MySQL load no PostgreSQL driver

    done = _prepared.setdefault(connection.connection, set())
    for attempt in (1, 2):
        if name not in done:
            pieces = sql.split("%s")  # the parameters, numbered as PREPARE wants them
            numbered = "".join(f"{piece}${index}" for index, piece in enumerate(pieces[:-1], 1))
            cursor.execute(f"PREPARE {name} AS {numbered}{pieces[-1]}")
            done.add(name)
        try:
            cursor.execute(f"EXECUTE {name}({', '.join(['%s'] * len(params))})", params)
            return
        except ProgrammingError as exc:
            if attempt == 2 or not isinstance(exc.__cause__, psycopg.errors.InvalidSqlStatementName):
                raise
            done.discard(name)


@cache
def _update(model: type[models.Model], names: tuple[str, ...]) -> tuple[str, list[models.Field[Any, Any]]]:
    """The UPDATE of ``names`` of one row of ``model``, and those fields, in order."""
    by_name = {field.name: field for field in model._meta.concrete_fields}
    fields = [by_name[name] for name in names]
    quote = connection.ops.quote_name
    columns = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    table, key = quote(model._meta.db_table), quote(by_name[model._meta.pk.name].column)
    return f"UPDATE {table} SET {columns} WHERE {key} = %s", fields  # noqa: S608 - the model's own names


def update_statement(instance: models.Model, names: tuple[str, ...]) -> tuple[str, list[Any]]:
    """The UPDATE that ``instance.save(update_fields=names)`` would send, and its parameters: SQL
    written once per model and fields, ending with ``WHERE <pk> = %s`` so a caller may add to it."""
    sql, fields = _update(type(instance), names)
    values = [field.get_db_prep_save(getattr(instance, field.attname), connection) for field in fields]
    return sql, [*values, instance.pk]


def update_row(instance: models.Model, names: tuple[str, ...]) -> None:
    """``instance.save(update_fields=names)`` as one UPDATE (``update_statement``), with no
    signals and no row count read: what psycopg's pipeline mode allows (``pipelined``)."""
    with connection.cursor() as cursor:
        cursor.execute(*update_statement(instance, names))


def pipelined() -> contextlib.AbstractContextManager[Any]:
    """Statements whose results nobody reads sent together, with the transaction's BEGIN, in one
    round trip: psycopg's pipeline mode on PostgreSQL; elsewhere one by one, as always. A
    statement that fails raises when the block ends, inside the caller's transaction."""
    if connection.vendor != "postgresql":
        return contextlib.nullcontext()
    import psycopg  # here: a run on SQLite or MySQL loads no PostgreSQL driver

    if not psycopg.Pipeline.is_supported():  # libpq 14 and later
        return contextlib.nullcontext()
    connection.ensure_connection()
    return connection.connection.pipeline()
