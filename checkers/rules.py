"""Rule checkers: a metric of one dataset compared with a value, evaluated on the host.

A rule is what a form can say: "the row count of users_with_email_null is < 42". It runs on
the host rather than in the sandbox because it executes no user code, and a run then costs
microseconds instead of a wasm instantiation. Its verdict and messages are exactly those of
the Python checker that ``Rule.as_python()`` writes (``tests/checkers/test_rules.py`` runs
both on the same data), so a rule can be turned into code without changing what it says.

Metrics: ``row_count``; ``scalar`` (the first cell of the first row); and aggregates of one
column: ``sum``, ``min``, ``max``, ``avg`` over the non-null values, ``null_count``, and
``distinct_count`` of the non-null values (SQL's ``COUNT(DISTINCT col)``).
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.db import models

from checkers.sandbox import ErrorKind, SandboxError
from checkers.sandbox.host import RunState


class Metric(models.TextChoices):
    ROW_COUNT = "row_count", "Row count"
    SCALAR = "scalar", "First cell (scalar)"
    SUM = "sum", "Sum of a column"
    MIN = "min", "Minimum of a column"
    MAX = "max", "Maximum of a column"
    AVG = "avg", "Average of a column"
    NULL_COUNT = "null_count", "Nulls in a column"
    DISTINCT_COUNT = "distinct_count", "Distinct values in a column"

    @property
    def needs_column(self) -> bool:
        return self not in (Metric.ROW_COUNT, Metric.SCALAR)


class Operator(models.TextChoices):
    LT = "<", "<"
    LE = "<=", "<="
    GT = ">", ">"
    GE = ">=", ">="
    EQ = "==", "=="
    NE = "!=", "!="
    BETWEEN = "between", "between"


# The CheckerCase assertion each operator is, and how it compares.
ASSERTIONS: dict[Operator, tuple[str, Callable[[Any, Any], bool]]] = {
    Operator.LT: ("assertLessThan", operator.lt),
    Operator.LE: ("assertLessEqual", operator.le),
    Operator.GT: ("assertGreaterThan", operator.gt),
    Operator.GE: ("assertGreaterEqual", operator.ge),
    Operator.EQ: ("assertEqual", operator.eq),
    Operator.NE: ("assertNotEqual", operator.ne),
}

# Python expressions over ``values`` (the column's non-null values) or ``column`` (all of them).
AGGREGATES: dict[Metric, str] = {
    Metric.SUM: "sum(values)",
    Metric.MIN: "min(values)",
    Metric.MAX: "max(values)",
    Metric.AVG: "sum(values) / len(values)",
    Metric.NULL_COUNT: "sum(1 for v in column if v is None)",
    Metric.DISTINCT_COUNT: "len(set(values))",
}


def number(value: float | None) -> int | float | None:
    """Form values are floats; 42.0 reads and prints as 42."""
    if value is not None and float(value).is_integer():
        return int(value)
    return value


@dataclass(frozen=True)
class Rule:
    dataset: str
    metric: Metric
    op: Operator
    value: float | None
    column: str = ""
    high: float | None = None
    message: str = ""

    def validate(self) -> None:
        """Raise ``ValueError`` saying what is missing, in the words of the form."""
        if not self.dataset:
            raise ValueError("A rule checks one dataset: pick it.")
        if self.metric.needs_column and not self.column:
            raise ValueError(f"The {self.metric.label.lower()} needs a column name.")
        if self.value is None:
            raise ValueError("A rule compares with a value: set it.")
        if self.op == Operator.BETWEEN and (self.high is None or self.high < self.value):
            raise ValueError("Between needs an upper bound at least as large as the value.")

    def evaluate(self, state: RunState) -> None:
        """Record ok or fail on ``state``; a metric that cannot be computed is a ``rule_error``."""
        measured = self.measure(state)
        low = number(self.value)
        try:
            if self.op == Operator.BETWEEN:
                high = number(self.high)
                held = low <= measured <= high
                claim, joiner = f"between {low!r} and {high!r}", " is "
            else:
                held = ASSERTIONS[self.op][1](measured, low)
                claim, joiner = f"{self.op} {low!r}", " "
        except TypeError:
            raise self._error(f"{measured!r} cannot be compared with {low!r}") from None
        text = f"{measured!r}{joiner}{claim}" if held else f"{measured!r}, expected {claim}"
        (state.ok if held else state.fail)(f"{self.message} ({text})" if self.message else text)

    def measure(self, state: RunState) -> Any:
        data = state.dataset(self.dataset)
        rows = data.get("rows", [])
        if self.metric == Metric.ROW_COUNT:
            return len(rows)
        if self.metric == Metric.SCALAR:
            return rows[0][0] if rows and rows[0] else None
        columns = list(data.get("columns", []))
        if self.column not in columns:
            raise self._error(
                f"dataset {self.dataset!r} has no column {self.column!r}; columns are {columns}"
            )
        position = columns.index(self.column)
        column = [row[position] for row in rows]
        values = [v for v in column if v is not None]
        try:
            return eval(AGGREGATES[self.metric], {}, {"values": values, "column": column})  # noqa: S307
        except (TypeError, ValueError, ZeroDivisionError) as exc:
            raise self._error(f"the {self.metric.label.lower()} cannot be computed: {exc}") from None

    def _error(self, detail: str) -> SandboxError:
        return SandboxError(ErrorKind.RULE_ERROR, f"rule on {self.dataset}: {detail}")

    def as_python(self) -> str:
        """The Python checker that says exactly what this rule says."""
        name = json.dumps(self.dataset)
        lines = []
        if self.metric == Metric.ROW_COUNT:
            lines.append(f"value = len(datasets[{name}])")
        elif self.metric == Metric.SCALAR:
            lines.append(f"value = datasets[{name}].scalar()")
        else:
            lines.append(f"column = datasets[{name}].column({json.dumps(self.column)})")
            lines.append("values = [v for v in column if v is not None]")
            lines.append(f"value = {AGGREGATES[self.metric]}")
        message = json.dumps(self.message) if self.message else "None"
        if self.op == Operator.BETWEEN:
            args = f"value, {number(self.value)!r}, {number(self.high)!r}, {message}"
            lines.append(f"CheckerCase().assertBetween({args})")
        else:
            assertion = ASSERTIONS[self.op][0]
            lines.append(f"CheckerCase().{assertion}(value, {number(self.value)!r}, {message})")
        return "\n".join(lines) + "\n"

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Rule:
        """The checks-as-code form: ``{dataset, metric, op, value, [column], [high], [message]}``."""
        return cls(
            dataset=spec.get("dataset", ""),
            metric=Metric(spec.get("metric", Metric.ROW_COUNT)),
            op=Operator(spec["op"]),
            value=spec.get("value"),
            column=spec.get("column", ""),
            high=spec.get("high"),
            message=spec.get("message", ""),
        )
