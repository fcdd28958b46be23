"""Measures asked of the database: one aggregate query around a dataset's own statement.

A rule measures a dataset (its row count, a column's nulls, ...). Fetching every row to
count them in Python is slow and, past the row cap, wrong; so the measures of all rules on
one dataset become one query that returns one row whatever the table's size:

    SELECT COUNT(*) AS m0, COUNT(*) - COUNT("email") AS m1
    FROM (
    <the dataset's statement>
    ) AS malleable_dataset

The dataset's statement is the one ``validate_sql`` accepted, placed on lines of its own so
that a trailing ``--`` comment cannot swallow the closing parenthesis. Column names are
quoted identifiers in the engine's dialect (sqlglot doubles any quote inside them; SQLite's are
backquoted), and the
wrapped statement is validated again as a whole, so nothing in a dataset's SQL or a rule's
column can make it a second statement or a write. It then runs in the same read-only,
time-boxed session as any dataset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from sqlglot import exp

from checkers.datasources.errors import SqlRejected

ALIAS = "malleable_dataset"


@dataclass(frozen=True)
class Measure:
    """One figure of a dataset: a metric, of a column for the column metrics."""

    metric: str
    column: str = ""


# Seconds from a column's newest value to the database's clock, in the database's own terms.
_FRESHNESS_SQL = {
    "postgres": "EXTRACT(EPOCH FROM (CURRENT_TIMESTAMP - MAX({c})))",
    "mysql": "TIMESTAMPDIFF(MICROSECOND, MAX({c}), CURRENT_TIMESTAMP(6)) / 1000000",
    "sqlite": "(julianday('now') - julianday(MAX({c}))) * 86400.0",
}
# Metric → SQL over the quoted column. ``row_count`` needs none; ``scalar`` is no aggregate
# (it is the first cell, read with a one-row cap).
_COLUMN_SQL: dict[str, str] = {
    "null_count": "COUNT(*) - COUNT({c})",
    "distinct_count": "COUNT(DISTINCT {c})",
    "duplicate_count": "COUNT({c}) - COUNT(DISTINCT {c})",
    "sum": "SUM({c})",
    "min": "MIN({c})",
    "max": "MAX({c})",
    "avg": "AVG({c})",
}
METRICS = frozenset({"row_count", "freshness", *_COLUMN_SQL})


@lru_cache(maxsize=1024)
def projection(measure: Measure, dialect: str) -> str:
    """The measure as an expression over the dataset's rows; remembered, as every run asks."""
    if measure.metric == "row_count":
        return "COUNT(*)"
    if measure.metric not in METRICS:
        raise SqlRejected(f"{measure.metric!r} is not a measure the database can compute")
    if not measure.column:
        raise SqlRejected(f"the {measure.metric} of a dataset needs a column")
    # SQLite reads a double-quoted name that matches no column as a string literal (so a typo
    # would count a constant); a backquoted name is always an identifier there.
    quoting = "mysql" if dialect == "sqlite" else dialect
    column = exp.to_identifier(measure.column, quoted=True).sql(dialect=quoting)
    template = _FRESHNESS_SQL[dialect] if measure.metric == "freshness" else _COLUMN_SQL[measure.metric]
    return template.format(c=column)


def aggregate_sql(statement: str, measures: Sequence[Measure], dialect: str) -> str:
    """One query computing every measure over ``statement``, as columns ``m0``, ``m1``, ..."""
    if not measures:
        raise SqlRejected("an aggregate query needs at least one measure")
    columns = ", ".join(f"{projection(measure, dialect)} AS m{i}" for i, measure in enumerate(measures))
    return f"SELECT {columns}\nFROM (\n{statement}\n) AS {ALIAS}"


@dataclass(frozen=True)
class KeySample:
    """The keys of a dataset's rows: its ``column``, the first ``limit`` in order, nothing else."""

    column: str
    limit: int


def key_sample_sql(statement: str, sample: KeySample, dialect: str) -> str:
    """``SELECT key FROM (statement) ORDER BY key LIMIT n``: only the key column leaves the
    database, and the order makes the sample the same from run to run when there are more."""
    quoting = "mysql" if dialect == "sqlite" else dialect
    column = exp.to_identifier(sample.column, quoted=True).sql(dialect=quoting)
    return f"SELECT {column}\nFROM (\n{statement}\n) AS {ALIAS}\nORDER BY {column}\nLIMIT {int(sample.limit)}"


def first_row_sql(statement: str) -> str:
    """``statement`` limited to its first row by the server (standard in all three engines)."""
    return f"SELECT *\nFROM (\n{statement}\n) AS {ALIAS}\nLIMIT 1"
