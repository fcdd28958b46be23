"""Model instances from a statement whose SQL is written once: the run loop's reads.

The run loop claims a run and reads its checker with the namespace, rules, datasets and
datasources on every run. ``select_related`` builds and compiles that five-table query each
time, and doing so cost the worker more than the database spent running it
(``docs/performance.md``, "Per-run cost"). A ``ModelRows`` writes the column list once per
process from the models' fields, then turns each row into one instance of each model with the
converters a queryset applies and ``Model.from_db``, so the instances are those a queryset
would give.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.db import connection, models
from django.db.models.expressions import Col

Converter = Callable[[Any, Col, Any], Any]


@dataclass(frozen=True)
class _Columns:
    """Where one model's columns sit in a row, and the converters of those that have any."""

    model: type[models.Model]
    names: list[str]
    start: int
    converters: list[tuple[int, list[Converter], Col]]

    def instance(self, row: Sequence[Any]) -> models.Model | None:
        """The model's instance in ``row``; None where an outer join found no row."""
        values = list(row[self.start : self.start + len(self.names)])
        if values[0] is None:  # the primary key, first among the concrete fields
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
    """

    def __init__(self, tables: Sequence[tuple[type[models.Model], str]], sql: str) -> None:
        self.tables = tables
        self.sql = sql

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
            layout.append(_Columns(model, [field.attname for field in fields], len(columns), converters))
            prefix = f"{alias}." if alias else ""
            columns += [prefix + connection.ops.quote_name(field.column) for field in fields]
        return self.sql.format(columns=", ".join(columns)), layout

    def fetch(self, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        sql, layout = self._plan
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            fetched = cursor.fetchall()
        return [tuple(columns.instance(row) for columns in layout) for row in fetched]
