"""Rule checkers: figures of datasets, measured by the database, compared with bounds.

A rule is what a form can say: "the row count of users_with_email_null is < 42". A rule
checker holds one or more of them (a suite). The figures are asked of the database as
aggregates wrapped around each dataset's statement (``checkers.datasources.aggregates``): all
the rules on one dataset are one query that returns one row, so a rule is as right on a
billion rows as on ten, and the row cap never cuts what it measures. ``scalar`` reads the
first cell of the first row, fetched with a cap of one row.

A figure keeps the database's own type: a NUMERIC stays a ``Decimal`` and is compared
exactly with the bound. Any failing rule makes the run red; each rule says ok or fail in a
message that names its figure. A rule whose figure cannot be computed or compared (a
column that is not there, the average of no values, a text compared with a number) makes
the run an error, ``rule_error``, never red or green.

``Rule.as_python()`` writes the Python checker that says the same thing, for a team that
wants to take a rule further in code.
"""

from __future__ import annotations

import datetime
import decimal
import json
import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.db import models

from checkers.datasources import Measure
from checkers.sandbox.outcome import ErrorKind, Level, Message, SandboxError


class Metric(models.TextChoices):
    ROW_COUNT = "row_count", "Row count"
    SCALAR = "scalar", "First cell (scalar)"
    SUM = "sum", "Sum of a column"
    MIN = "min", "Minimum of a column"
    MAX = "max", "Maximum of a column"
    AVG = "avg", "Average of a column"
    NULL_COUNT = "null_count", "Nulls in a column"
    DISTINCT_COUNT = "distinct_count", "Distinct values in a column"
    DUPLICATE_COUNT = "duplicate_count", "Repeated values in a column"
    FRESHNESS = "freshness", "Seconds since a column's newest time"

    @property
    def needs_column(self) -> bool:
        return self not in (Metric.ROW_COUNT, Metric.SCALAR)

    @property
    def noun(self) -> str:
        """The metric in a sentence: "the null count of email in users"."""
        return NOUNS[self]


NOUNS = {
    Metric.ROW_COUNT: "row count",
    Metric.SCALAR: "first cell",
    Metric.SUM: "sum",
    Metric.MIN: "minimum",
    Metric.MAX: "maximum",
    Metric.AVG: "average",
    Metric.NULL_COUNT: "null count",
    Metric.DISTINCT_COUNT: "distinct count",
    Metric.DUPLICATE_COUNT: "repeated values",
    Metric.FRESHNESS: "seconds since the newest",
}


class Operator(models.TextChoices):
    LT = "<", "<"
    LE = "<=", "<="
    GT = ">", ">"
    GE = ">=", ">="
    EQ = "==", "=="
    NE = "!=", "!="
    BETWEEN = "between", "between"


class Compare(models.TextChoices):
    """What a rule's figure is held against: a fixed bound, or its own past (``checkers.history``)."""

    VALUE = "", "a fixed bound"
    CHANGE = "change", "its change since the previous run"
    CHANGE_PCT = "change_pct", "its change in % since the previous run"
    BAND = "band", "an anomaly band of its history"


# A band's width and window when the rule does not say.
DEFAULT_K = 3.0
DEFAULT_RUNS = 30


class Band(models.TextChoices):
    STDDEV = "", "mean ± k standard deviations"
    MAD = "mad", "median ± k MADs (robust)"


class Season(models.TextChoices):
    NONE = "", "every run"
    WEEKDAY = "weekday", "the same weekday"
    HOUR = "hour", "the same hour of day"
    WEEKDAY_HOUR = "weekday_hour", "the same weekday and hour"


class Days(models.TextChoices):
    """Which days a rule holds on, by the namespace's business calendar (``checkers.calendars``)."""

    EVERY = "", "every day"
    BUSINESS = "business", "business days only"
    BOUND = "bound", "another bound outside business days"


# The CheckerCase assertion each operator is, and how it compares.
ASSERTIONS: dict[Operator, tuple[str, Callable[[Any, Any], bool]]] = {
    Operator.LT: ("assertLessThan", operator.lt),
    Operator.LE: ("assertLessEqual", operator.le),
    Operator.GT: ("assertGreaterThan", operator.gt),
    Operator.GE: ("assertGreaterEqual", operator.ge),
    Operator.EQ: ("assertEqual", operator.eq),
    Operator.NE: ("assertNotEqual", operator.ne),
}

# Metrics whose figure is NULL when the column has no values: nothing to compare then.
_NEEDS_VALUES = frozenset({Metric.MIN, Metric.MAX, Metric.AVG, Metric.FRESHNESS})

# What ``as_python`` computes for each column metric, over ``values`` (the column's non-null
# values) or ``column`` (all of them).
PYTHON: dict[Metric, str] = {
    Metric.SUM: "sum(values)",
    Metric.MIN: "min(values)",
    Metric.MAX: "max(values)",
    Metric.AVG: "sum(values) / len(values)",
    Metric.NULL_COUNT: "len(column) - len(values)",
    Metric.DISTINCT_COUNT: "len(set(values))",
    Metric.DUPLICATE_COUNT: "len(values) - len(set(values))",
    Metric.FRESHNESS: "(now() - max(datetime.fromisoformat(v) for v in values)).total_seconds()",
}


def number(value: float | None) -> int | float | None:
    """Form values are floats; 42.0 reads and prints as 42."""
    if value is not None and float(value).is_integer():
        return int(value)
    return value


def figure(value: Any) -> str:
    """A figure as a person reads it: 20000, 12.5, 1234567890.123456789, '2025-01-31T09:00:00'."""
    if isinstance(value, decimal.Decimal) and value.is_finite():
        if value == value.to_integral_value():
            return str(int(value))
        return format(value, "f").rstrip("0")
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime.date | datetime.time):
        return repr(value.isoformat())
    return repr(value)


def _comparable(bound: float | None, measured: Any) -> Any:
    """The bound in the figure's own terms: 0.1 against a Decimal is Decimal('0.1'), not the float."""
    if bound is not None and isinstance(measured, decimal.Decimal):
        return decimal.Decimal(repr(float(bound)))
    return number(bound)


NO_ROWS_ONLY = "A key column is for a rule that no rows may match: row count == 0."


@dataclass(frozen=True)
class Rule:
    dataset: str
    metric: Metric
    op: Operator
    value: float | None
    column: str = ""
    high: float | None = None
    message: str = ""
    # Its own past (docs/checkers.md, "Rules on history"); the defaults are a fixed bound.
    compare: Compare = Compare.VALUE
    band: Band = Band.STDDEV
    k: float | None = None
    history_runs: int | None = None
    history_days: int | None = None
    seasonal: Season = Season.NONE
    min_history: int | None = None
    # The namespace's business calendar (docs/checkers.md, "Business days").
    days: Days = Days.EVERY
    off_value: float | None = None
    off_high: float | None = None
    # The column naming a row: a rule that no rows may match keeps the failing rows' keys.
    key_column: str = ""

    def validate(self) -> None:
        """Raise ``ValueError`` saying what is missing, in the words of the form."""
        if not self.dataset:
            raise ValueError("A rule checks one dataset: pick it.")
        if self.key_column and not self.no_rows:
            raise ValueError(NO_ROWS_ONLY)
        if self.metric.needs_column and not self.column:
            raise ValueError(f"The {self.metric.label.lower()} needs a column name.")
        if self.compare == Compare.BAND:
            if self.k is not None and self.k <= 0:
                raise ValueError("k, the band's width, must be more than 0.")
            if self.days == Days.BOUND:
                raise ValueError("A band has no bound to change outside business days: use days: business.")
            return
        if self.value is None:
            raise ValueError("A rule compares with a value: set it.")
        if self.op == Operator.BETWEEN and (self.high is None or self.high < self.value):
            raise ValueError("Between needs an upper bound at least as large as the value.")
        if self.days == Days.BOUND:
            if self.off_value is None:
                raise ValueError("Another bound outside business days needs its value (off_value).")
            if self.op == Operator.BETWEEN and (self.off_high is None or self.off_high < self.off_value):
                raise ValueError("Between needs an upper bound outside business days too (off_high).")

    def off_days(self) -> Rule:
        """The rule as it holds outside business days: its other bound, when it has one."""
        if self.days != Days.BOUND:
            return self
        return replace(self, value=self.off_value, high=self.off_high, days=Days.EVERY)

    @property
    def no_rows(self) -> bool:
        """Whether the rule says that no rows may match: its row count == 0 (or <= 0, or < 1)."""
        return (
            self.metric == Metric.ROW_COUNT
            and self.compare == Compare.VALUE
            and self.days != Days.BOUND
            and (self.op, self.value) in {(Operator.EQ, 0), (Operator.LE, 0), (Operator.LT, 1)}
        )

    @property
    def on_history(self) -> bool:
        return self.compare != Compare.VALUE

    @property
    def measure(self) -> Measure | None:
        """What the database computes for this rule; None for ``scalar``, which is read, not computed."""
        if self.metric == Metric.SCALAR:
            return None
        return Measure(str(self.metric), self.column if self.metric.needs_column else "")

    def describe(self) -> str:
        """The figure in words: "null count of email in users"."""
        column = f" of {self.column}" if self.metric.needs_column else ""
        return f"{self.metric.noun}{column} in {self.dataset}"

    @property
    def bounds(self) -> list[float | None]:
        """The value, and the upper bound when the rule is a between (none on history: its
        bounds move with every run)."""
        if self.on_history:
            return []
        return [self.value, self.high] if self.op == Operator.BETWEEN else [self.value]

    def claim(self, *bounds: Any) -> str:
        """What the figure must be, with ``bounds`` as they are to be shown: "< 42", "between 1 and 2"."""
        if self.op == Operator.BETWEEN:
            return f"between {figure(bounds[0])} and {figure(bounds[1])}"
        return f"{self.op} {figure(bounds[0])}"

    def sentence(self) -> str:
        """The rule in words, for pages: "null count of email in orders < 100"."""
        if self.days == Days.BUSINESS:
            return f"{replace(self, days=Days.EVERY).sentence()} on business days"
        if self.days == Days.BOUND:
            other = self.off_days()
            claim = other.claim(number(other.value), number(other.high))
            return f"{replace(self, days=Days.EVERY).sentence()} on business days, {claim} on other days"
        if self.compare == Compare.BAND:
            return f"{self.describe()} within {self.band_words()} {self.history_words()}"
        if self.on_history:
            unit = " %" if self.compare == Compare.CHANGE_PCT else ""
            low, high = (f"{figure(number(bound))}{unit}" for bound in (self.value, self.high))
            claim = f"between {low} and {high}" if self.op == Operator.BETWEEN else f"{self.op} {low}"
            return f"{self.describe()}: change since the previous run {claim}"
        return f"{self.describe()} {self.claim(*map(number, self.bounds))}"

    def band_words(self) -> str:
        """ "mean ± 3 sd", "median ± 2.5 MAD"."""
        k = figure(number(self.k if self.k is not None else DEFAULT_K))
        return f"median ± {k} MAD" if self.band == Band.MAD else f"mean ± {k} sd"

    def history_words(self) -> str:
        """Which past the band is drawn from: "of the last 4 runs on the same weekday and hour"."""
        parts = []
        if self.history_runs:
            parts.append(f"the last {self.history_runs} run{'s' if self.history_runs != 1 else ''}")
        if self.history_days:
            parts.append(f"the last {self.history_days} day{'s' if self.history_days != 1 else ''}")
        if not parts:
            parts.append(f"the last {DEFAULT_RUNS} runs")
        season = f" on {self.seasonal.label}" if self.seasonal else ""
        return f"of {' within '.join(parts)}{season}"

    def judge(self, measured: Any) -> Message:
        """Ok or fail, in words that name the figure; ``rule_error`` when it cannot be compared."""
        if measured is None and self.metric == Metric.SUM:
            measured = 0
        if measured is None and self.metric in _NEEDS_VALUES:
            raise self.error(f"the {self.describe()} cannot be computed: the column has no values")
        bounds = [_comparable(self.value, measured)]
        try:
            bounds += [_comparable(bound, measured) for bound in self.bounds[1:]]
            if self.op == Operator.BETWEEN:
                held = bounds[0] <= measured <= bounds[1]
            else:
                held = ASSERTIONS[self.op][1](measured, bounds[0])
        except TypeError:
            raise self.error(f"{figure(measured)} cannot be compared with {figure(bounds[0])}") from None
        joiner = " is " if self.op == Operator.BETWEEN else " "
        shown, claim = figure(measured), self.claim(*bounds)
        text = f"{shown}{joiner}{claim}" if held else f"{shown}, expected {claim}"
        return Message(Level.OK if held else Level.FAIL, f"{self.message or self.describe()} ({text})")

    def error(self, detail: str) -> SandboxError:
        return SandboxError(ErrorKind.RULE_ERROR, f"rule on {self.dataset}: {detail}")

    def as_python(self) -> str:
        """The Python checker that says what this rule says (figures as the sandbox computes them)."""
        name = json.dumps(self.dataset)
        lines = []
        if self.metric == Metric.ROW_COUNT:
            lines.append(f"value = len(datasets[{name}])")
        elif self.metric == Metric.SCALAR:
            lines.append(f"value = datasets[{name}].scalar()")
        else:
            if self.metric == Metric.FRESHNESS:
                lines.append("import datetime")
            lines.append(f"column = datasets[{name}].column({json.dumps(self.column)})")
            lines.append("values = [v for v in column if v is not None]")
            lines.append(f"value = {PYTHON[self.metric]}")
        message = json.dumps(self.message or self.describe())
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
            op=Operator(spec.get("op", Operator.LT)),
            value=spec.get("value"),
            column=spec.get("column", ""),
            high=spec.get("high"),
            message=spec.get("message", ""),
            compare=Compare(spec.get("compare") or Compare.VALUE),
            band=Band(spec.get("band") or Band.STDDEV),
            k=spec.get("k"),
            history_runs=spec.get("history_runs"),
            history_days=spec.get("history_days"),
            seasonal=Season(spec.get("seasonal") or Season.NONE),
            min_history=spec.get("min_history"),
            days=Days(spec.get("days") or Days.EVERY),
            off_value=spec.get("off_value"),
            off_high=spec.get("off_high"),
            key_column=spec.get("key_column") or "",
        )


def measures_by_dataset(rules: Iterable[Rule]) -> dict[str, list[Measure]]:
    """Each dataset's measures, once each, in the rules' order: one aggregate query per dataset."""
    plan: dict[str, list[Measure]] = {}
    for rule in rules:
        measures = plan.setdefault(rule.dataset, [])
        if rule.measure is not None and rule.measure not in measures:
            measures.append(rule.measure)
    return plan


def judge_all(
    rules: Sequence[Rule],
    figures: Callable[[Rule], Any],
    judge: Callable[[Rule, Any], Message] | None = None,
) -> tuple[list[Message], SandboxError | None]:
    """Every rule's message, in order; the first rule that cannot be judged is the run's error.

    ``figures(rule)`` gives the rule's measured figure or raises the ``SandboxError`` that
    keeps it from being measured. ``judge`` stands in for ``Rule.judge`` (rules on history
    are judged with their past).
    """
    messages: list[Message] = []
    first_error: SandboxError | None = None
    for rule in rules:
        try:
            messages.append(judge(rule, figures(rule)) if judge else rule.judge(figures(rule)))
        except SandboxError as error:
            first_error = first_error or error
    return messages, first_error


def numbers(figures: Mapping[str, Any]) -> dict[str, float]:
    """The figures that are finite numbers, as floats, for history and charts (a Decimal past a
    float's precision is rounded here; the verdict was made on the exact value)."""
    kept = {}
    for name, value in figures.items():
        if isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool):
            number_ = float(value)
            if math.isfinite(number_):
                kept[name] = number_
    return kept


def metric_names(runs: Iterable[Any]) -> list[tuple[str, list[float]]]:
    """The metrics a code checker's runs recorded (``metric(name, value)``), once each, by name,
    with no bounds: what its page charts."""
    return [(name, []) for name in sorted({name for run in runs for name in (run.figures or {})})]


def bounds_by_figure(rules: Iterable[Rule]) -> list[tuple[str, list[float]]]:
    """Each figure the rules measure, once, with every bound a rule draws on it, for charts."""
    found: dict[str, list[float]] = {}
    for rule in rules:
        bounds = found.setdefault(rule.describe(), [])
        for drawn in (rule, rule.off_days()):
            bounds += [bound for bound in drawn.bounds if bound is not None and bound not in bounds]
    return list(found.items())
