"""The Python checker API (docs/contracts.md), as user source sees it inside the sandbox.

Everything here runs in CPython compiled to wasm; the host is reached only through the
``wit_world`` imports. Datasets are fetched lazily: counting rows or reading a scalar
copies nothing, and the JSON of a dataset crosses the boundary at most once per run.
"""

from __future__ import annotations

import json
import reprlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import wit_world

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _number(text: str) -> float | Decimal:
    """A JSON number with a fraction or an exponent: a float when one holds it, else a Decimal.

    The host writes a float's shortest form, and every digit of a decimal no float holds, so
    up to 15 digits without an exponent is always a float (the common case, decided from
    the length alone).
    """
    value = float(text)
    if len(text) <= 16 and "e" not in text and "E" not in text:
        return value
    if repr(value) == text:
        return value
    exact = Decimal(text)
    return value if value == value and abs(value) != float("inf") and Decimal(repr(value)) == exact else exact


def _parse(text: str) -> Any:
    return json.loads(text, parse_float=_number)


def ok(message: object) -> None:
    """Record an assertion that held."""
    wit_world.ok(str(message))


def fail(message: object) -> None:
    """Record an assertion that failed: the run is red, and keeps going."""
    wit_world.fail(str(message))


def now() -> datetime:
    """The host's wall clock as an aware UTC datetime: the guest has no clock of its own."""
    return _EPOCH + timedelta(milliseconds=wit_world.now_ms())


def metric(name: object, value: Any) -> None:
    """Keep a named number with the run, charted over runs on the checker's page."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        raise TypeError(f"metric() takes a number, not {type(value).__name__}")
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ValueError(f"metric() takes a finite number, not {value!r}")
    wit_world.metric(str(name), number)


# The keys of at most this many failing rows cross to the host; the count says how many in all.
FAILING_KEYS_CAP = 1000


def fail_rows(dataset: Any, rows: Any, message: object = "", key: str | None = None) -> bool:
    """Report a dataset's failing rows by their keys: a fail message "message (12 failing rows
    in orders)" (ok when ``rows`` is empty), and the keys kept with the run, so the next run
    can say which are new. ``rows`` are rows of the dataset (their ``key`` column, or their
    first column) or the keys themselves; whole rows never leave the sandbox. Returns whether
    none failed."""
    name = dataset.name if isinstance(dataset, Dataset) else str(dataset)
    rows = list(rows)
    keys = [_key(row, key) for row in rows[:FAILING_KEYS_CAP]]
    wit_world.fail_rows(name, keys, len(rows), "" if message is None else str(message))
    return not rows


def _key(row: Any, column: str | None) -> str:
    if isinstance(row, Row | Mapping):
        value = row[column] if column is not None else next(iter(row.values()), None)
    elif isinstance(row, list | tuple):
        value = row[0] if row else None
    else:
        value = row
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value)


def business_day(date: Any = None) -> bool:
    """Whether ``date`` (a date, a datetime or "YYYY-MM-DD"; None: today in the checker's time
    zone) is a business day of the namespace's calendar: a weekday that is neither a public
    holiday of its country nor one of its own days off."""
    if date is None:
        return bool(wit_world.business_day(""))
    if isinstance(date, datetime):
        date = date.date()
    if isinstance(date, str):
        try:
            date = datetime.fromisoformat(date).date()
        except ValueError:
            raise ValueError(f"business_day() takes a date as 'YYYY-MM-DD', not {date!r}") from None
    if not hasattr(date, "isoformat") or not hasattr(date, "weekday"):
        raise TypeError(f"business_day() takes a date, a datetime or 'YYYY-MM-DD', not {type(date).__name__}")
    return bool(wit_world.business_day(date.isoformat()))


class Row:
    """One row: ``row["col"]``, ``row.col`` and ``row[0]``; iterates over its values."""

    __slots__ = ("_index", "_values")

    def __init__(self, values: list[Any], index: dict[str, int]) -> None:
        self._values = values
        self._index = index

    def __getitem__(self, key: str | int | slice) -> Any:
        if isinstance(key, str):
            try:
                return self._values[self._index[key]]
            except KeyError:
                raise KeyError(f"no column {key!r}; columns are {list(self._index)}") from None
        return self._values[key]

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[self._index[name]]
        except KeyError:
            raise AttributeError(f"no column {name!r}; columns are {list(self._index)}") from None

    def __iter__(self) -> Iterator[Any]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Row):
            return self._values == other._values
        if isinstance(other, list | tuple):
            return self._values == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def keys(self) -> list[str]:
        return list(self._index)

    def values(self) -> list[Any]:
        return list(self._values)

    def items(self) -> list[tuple[str, Any]]:
        return list(zip(self._index, self._values, strict=False))

    def get(self, column: str, default: Any = None) -> Any:
        position = self._index.get(column)
        return default if position is None else self._values[position]

    def asdict(self) -> dict[str, Any]:
        return dict(self.items())

    def __repr__(self) -> str:
        return f"Row({self.asdict()!r})"


class Dataset:
    """A named dataset of this run. Compared with a number, it compares by its row count."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._columns: list[str] | None = None
        self._data: list[list[Any]] | None = None
        self._rows: list[Row] | None = None
        self._count: int | None = None
        self._truncated: bool | None = None

    def _load(self) -> list[list[Any]]:
        if self._data is None:
            payload = _parse(wit_world.dataset(self.name))
            self._columns = [str(column) for column in payload.get("columns", [])]
            self._data = payload.get("rows", [])
            self._count = len(self._data)
        return self._data

    @property
    def columns(self) -> list[str]:
        self._load()
        return list(self._columns or [])

    @property
    def rows(self) -> list[Row]:
        if self._rows is None:
            data = self._load()
            index = {column: position for position, column in enumerate(self._columns or [])}
            self._rows = [Row(values, index) for values in data]
        return self._rows

    def column(self, name: str) -> list[Any]:
        """Every value of one column, in row order."""
        data = self._load()
        columns = self._columns or []
        if name not in columns:
            raise KeyError(f"dataset {self.name!r} has no column {name!r}; columns are {columns}")
        position = columns.index(name)
        return [values[position] for values in data]

    @property
    def truncated(self) -> bool:
        """Whether the rows were cut at the datasource's row cap: only ever for a sample dataset."""
        if self._truncated is None:
            self._truncated = bool(wit_world.dataset_truncated(self.name))
        return self._truncated

    def scalar(self) -> Any:
        """The first cell of the first row (``None`` when there is none), without copying the rest."""
        if self._data is not None:
            return self._data[0][0] if self._data and self._data[0] else None
        return _parse(wit_world.dataset_scalar(self.name))

    def __len__(self) -> int:
        if self._count is None:
            self._count = wit_world.dataset_rows(self.name)
        return self._count

    def __iter__(self) -> Iterator[Row]:
        return iter(self.rows)

    def __getitem__(self, position: int) -> Row:
        return self.rows[position]

    def __bool__(self) -> bool:
        return len(self) > 0

    def __int__(self) -> int:
        return len(self)

    def __float__(self) -> float:
        return float(len(self))

    def __lt__(self, other: object) -> bool:
        number = _operand(other)
        return NotImplemented if number is None else len(self) < number

    def __le__(self, other: object) -> bool:
        number = _operand(other)
        return NotImplemented if number is None else len(self) <= number

    def __gt__(self, other: object) -> bool:
        number = _operand(other)
        return NotImplemented if number is None else len(self) > number

    def __ge__(self, other: object) -> bool:
        number = _operand(other)
        return NotImplemented if number is None else len(self) >= number

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Dataset):
            return self.name == other.name
        number = _operand(other)
        return NotImplemented if number is None else len(self) == number

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<Dataset {self.name!r}: {len(self)} rows>"


def _operand(other: object) -> int | float | None:
    """What a dataset compares with by its row count: numbers (not booleans); anything else is not."""
    if isinstance(other, int | float) and not isinstance(other, bool):
        return other
    return None


class Datasets(Mapping[str, Dataset]):
    """``datasets["name"]``: the run's datasets by name, each fetched on first use."""

    def __init__(self) -> None:
        self._cache: dict[str, Dataset] = {}
        self._names: list[str] | None = None

    def _known(self) -> list[str]:
        if self._names is None:
            self._names = list(wit_world.dataset_names())
        return self._names

    def __getitem__(self, name: str) -> Dataset:
        """An unknown name still goes to the host, which ends the run as ``unknown_dataset``."""
        if name not in self._cache:
            self._cache[name] = Dataset(str(name))
        return self._cache[name]

    def __contains__(self, name: object) -> bool:
        return name in self._known()

    def __iter__(self) -> Iterator[str]:
        return iter(self._known())

    def __len__(self) -> int:
        return len(self._known())


# Set one by one: Repr's keyword arguments are Python 3.12's, and the host's checker of this module is 3.11.
_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxlist = _REPR.maxtuple = _REPR.maxset = _REPR.maxdict = 10
_REPR.maxstring = _REPR.maxother = 80


def _describe(value: object) -> str:
    """Short enough for a message: the row count of a dataset, a clipped repr of anything else."""
    if isinstance(value, Dataset):
        return f"{len(value)} rows in {value.name}"
    return _REPR.repr(value)


class CheckerCase:
    """Assertions in the unittest style that record ``ok``/``fail`` and never stop the run.

    Each returns whether it held, so a checker can branch on the result. The message says
    what was compared, after the checker's own text when it gave one.
    """

    def _record(self, held: bool, msg: str | None, subject: object, claim: str, joiner: str = " ") -> bool:
        text = f"{_describe(subject)}{joiner}{claim}" if held else f"{_describe(subject)}, expected {claim}"
        (ok if held else fail)(f"{msg} ({text})" if msg else text)
        return held

    def assertLessThan(self, a: Any, b: Any, msg: str | None = None) -> bool:
        return self._record(bool(a < b), msg, a, f"< {_describe(b)}")

    def assertLessEqual(self, a: Any, b: Any, msg: str | None = None) -> bool:
        return self._record(bool(a <= b), msg, a, f"<= {_describe(b)}")

    def assertGreaterThan(self, a: Any, b: Any, msg: str | None = None) -> bool:
        return self._record(bool(a > b), msg, a, f"> {_describe(b)}")

    def assertGreaterEqual(self, a: Any, b: Any, msg: str | None = None) -> bool:
        return self._record(bool(a >= b), msg, a, f">= {_describe(b)}")

    def assertEqual(self, a: Any, b: Any, msg: str | None = None) -> bool:
        return self._record(bool(a == b), msg, a, f"== {_describe(b)}")

    def assertNotEqual(self, a: Any, b: Any, msg: str | None = None) -> bool:
        return self._record(bool(a != b), msg, a, f"!= {_describe(b)}")

    def assertBetween(self, a: Any, lo: Any, hi: Any, msg: str | None = None) -> bool:
        """Inclusive at both ends, like SQL's BETWEEN."""
        claim = f"between {_describe(lo)} and {_describe(hi)}"
        return self._record(bool(lo <= a <= hi), msg, a, claim, " is ")

    def assertTrue(self, value: Any, msg: str | None = None) -> bool:
        return self._record(bool(value), msg, value, "true", " is ")

    def assertFalse(self, value: Any, msg: str | None = None) -> bool:
        return self._record(not value, msg, value, "false", " is ")

    def assertEmpty(self, value: Any, msg: str | None = None) -> bool:
        return self._record(len(value) == 0, msg, value, "empty", " is ")

    def assertNotEmpty(self, value: Any, msg: str | None = None) -> bool:
        return self._record(len(value) > 0, msg, value, "not empty", " is ")

    def assertIn(self, member: Any, container: Any, msg: str | None = None) -> bool:
        return self._record(member in container, msg, member, f"in {_describe(container)}")

    def assertNotIn(self, member: Any, container: Any, msg: str | None = None) -> bool:
        return self._record(member not in container, msg, member, f"not in {_describe(container)}")
