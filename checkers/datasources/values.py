"""How database values become JSON, so every checker language sees the same dataset.

A dataset is ``{"columns": [...], "rows": [[...], ...]}`` in UTF-8 JSON, with no NaN. Each
value is encoded by the Python type its driver returns (written as Markdown, to copy into
docs/):

- **NULL** (`None`) → `null`.
- **boolean** (`bool`) → `true` / `false`. MySQL's BOOLEAN is TINYINT and arrives as `0`/`1`.
- **integer** (`int`) → a number. JavaScript and some JSON parsers lose precision past 2**53.
- **float** (`float`) → a number; NaN, +Infinity and -Infinity become the strings `"NaN"`,
  `"Infinity"` and `"-Infinity"` (valid JSON, and Python's `float()` reads them back).
- **numeric/decimal** (`Decimal`) → an integer when integral and below 10**18 in magnitude
  (`SUM(int)` on PostgreSQL gives `42`, not `42.0`); else a number when the float's shortest
  form is the same value (`12.50` → `12.5`, `0.1` → `0.1`); else a number with every digit
  of the exact decimal (`12345678901234567890.123`, `1.00000000000000000001`), which a
  Python checker reads as a `decimal.Decimal` and other languages with their own JSON
  parser (usually as the nearest double). NaN and ±Infinity as for floats.
- **timestamp with time zone** (aware `datetime`) → ISO 8601 with its offset,
  `"2025-01-31T21:59:59.500000+00:00"` (PostgreSQL gives it in the session's time zone).
- **timestamp without time zone** (naive `datetime`) → ISO 8601 without an offset, as
  stored: `"2025-01-31T23:59:59"`. MySQL DATETIME and TIMESTAMP both arrive naive.
- **date** → `"2025-01-31"`.
- **time** (`time`) → `"23:59:59"`, with its offset when it has one (`"12:00:00+02:00"`).
- **interval** (`timedelta`) → seconds as a number: `interval '1 day'` → `86400.0`. MySQL
  TIME columns arrive as durations too (`'12:30:00'` → `45000.0`); PostgreSQL counts a
  month as 30 days.
- **uuid** (`UUID`) → the canonical string `"2f1c7a4e-8d3b-4c5a-9e6f-0a1b2c3d4e5f"`.
- **bytea/blob/binary/bit** (`bytes`) → standard base64 with padding: `"AAH/"`.
- **array** (`list`) → a list, each element encoded by these rules.
- **json/jsonb** (`dict`, `list`) → the same JSON (keys as strings, values by these rules).
  MySQL/MariaDB JSON columns arrive as text and stay strings.
- **anything else** (inet, ranges, money, ...) → its text form, `str(value)`: `"10.0.0.1"`,
  `"[1, 5)"`.

In Python, ``to_json_value`` gives each value as a checker sees it: JSON's types, and a
``Decimal`` for a number no float holds. ``JsonRows`` keeps the driver's rows and encodes
them only when asked, straight to JSON bytes with orjson (its C encoder writes ints,
strings, floats and datetimes itself; ``default`` handles the rest). That is five to ten
times the speed of converting every cell in Python first (``bench/fetch.py``), and it runs
after the database session and the datasource's lease are over. Where orjson would differ from the table (NaN
as ``null``, an offset with seconds, a time with a zone, an int past 64 bits) the rows are
converted cell by cell first.
"""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import math
import operator
import uuid
import zoneinfo
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import orjson

JsonValue = None | bool | int | float | str | decimal.Decimal | list[Any] | dict[str, Any]

_INT_LIMIT = decimal.Decimal(10) ** 18


def _float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _decimal(value: decimal.Decimal) -> int | float | str | decimal.Decimal:
    text = str(value)
    # The common cases read from the text: no exponent, and at most 15 digits, which a
    # float always holds, or an integer of at most 18 (NaN and Infinity have neither form).
    if "." in text:
        if len(text) <= 16 and "E" not in text:
            return float(text)
    elif len(text) <= 18 and text.lstrip("-").isdigit():
        return int(text)
    if not value.is_finite():
        return "NaN" if value.is_nan() else ("Infinity" if value > 0 else "-Infinity")
    exponent = value.as_tuple().exponent  # a number, not "n" or "F": the value is finite
    if (
        abs(value) < _INT_LIMIT
        and value == value.to_integral_value()
        and isinstance(exponent, int)
        and exponent >= 0
    ):
        return int(value)
    as_float = float(value)
    if math.isfinite(as_float) and decimal.Decimal(repr(as_float)) == value:
        return as_float
    return value


def _bytes(value: bytes | bytearray | memoryview) -> str:
    return base64.b64encode(bytes(value)).decode("ascii")


def _sequence(value: Sequence[Any]) -> list[JsonValue]:
    return [to_json_value(item) for item in value]


def _mapping(value: dict[Any, Any]) -> dict[str, JsonValue]:
    return {str(key): to_json_value(item) for key, item in value.items()}


def _identity(value: Any) -> Any:
    return value


_ENCODERS: dict[type, Callable[[Any], JsonValue]] = {
    type(None): _identity,
    bool: _identity,
    int: _identity,
    str: _identity,
    float: _float,
    decimal.Decimal: _decimal,
    datetime.datetime: datetime.datetime.isoformat,
    datetime.date: datetime.date.isoformat,
    datetime.time: datetime.time.isoformat,
    datetime.timedelta: datetime.timedelta.total_seconds,
    uuid.UUID: str,
    bytes: _bytes,
    bytearray: _bytes,
    memoryview: _bytes,
    list: _sequence,
    tuple: _sequence,
    dict: _mapping,
}


def _encoder_for(kind: type) -> Callable[[Any], JsonValue]:
    """The encoder of the nearest registered base class (a driver's ``str`` subclass is a str)."""
    for base in kind.__mro__[1:]:
        if base in _ENCODERS and base is not object:
            encoder = _ENCODERS[base]
            break
    else:
        encoder = str
    _ENCODERS[kind] = encoder
    return encoder


def to_json_value(value: Any) -> JsonValue:
    """One value as a checker sees it, by the table above (a ``Decimal`` when no float holds it)."""
    kind = type(value)
    encoder = _ENCODERS.get(kind) or _encoder_for(kind)
    return encoder(value)


def to_json_row(row: Sequence[Any]) -> list[JsonValue]:
    """A row encoded cell by cell; the common plain types skip the lookup."""
    return [value if type(value) in _PLAIN else to_json_value(value) for value in row]


_PLAIN = frozenset({type(None), bool, int, str})


def dumps(value: Any) -> bytes:
    """JSON of values already encoded by ``to_json_value`` (or of plain JSON values)."""
    try:
        return orjson.dumps(value, default=_orjson_default)
    except orjson.JSONEncodeError:
        # An int past 64 bits (from a json column): orjson refuses, the standard library does not.
        return _dumps_slowly(value).encode("utf-8")


def _orjson_default(value: Any) -> Any:
    """What orjson cannot write itself: by the table, and an exact decimal as its digits."""
    encoded = _decimal(value) if type(value) is decimal.Decimal else to_json_value(value)
    if type(encoded) is decimal.Decimal:
        return orjson.Fragment(str(encoded))
    return encoded


def _dumps_slowly(value: Any) -> str:
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_dumps_slowly(item) for item in value) + "]"
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(
                f"{json.dumps(str(k), ensure_ascii=False)}:{_dumps_slowly(v)}" for k, v in value.items()
            )
            + "}"
        )
    return json.dumps(value, ensure_ascii=False, allow_nan=False)


# Aware datetimes orjson writes as the table says: offsets in whole minutes.
_UTC_NAMES = frozenset({"UTC", "Etc/UTC", "Etc/UCT", "UCT", "Etc/Universal", "Universal", "Etc/Zulu", "Zulu"})


def _whole_minutes(zone: datetime.tzinfo) -> bool:
    if isinstance(zone, zoneinfo.ZoneInfo):
        return zone.key in _UTC_NAMES
    if isinstance(zone, datetime.timezone):
        offset = zone.utcoffset(None)
        return offset is not None and offset.seconds % 60 == 0 and not offset.microseconds
    return False


class JsonRows(Sequence[list[JsonValue]]):
    """A fetch's rows as the encoding table says, from the driver's rows, converted when read.

    ``len()`` costs nothing, ``rows[0]`` converts one row, and ``to_json`` writes the
    dataset's JSON without converting rows in Python at all. Not a list on purpose:
    ``json.dumps`` refuses it rather than writing something else than the table.

    ``typed_columns``: the driver gives each column one type (PostgreSQL, MySQL), so a
    column whose first value is not a float holds no NaN; SQLite's columns may mix types.
    """

    def __init__(self, values: Sequence[Sequence[Any]], *, typed_columns: bool = False) -> None:
        self.values = values
        self.typed_columns = typed_columns
        self._rows: list[list[JsonValue]] | None = None

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index: Any) -> Any:
        if self._rows is not None:
            return self._rows[index]
        if isinstance(index, slice):
            return [to_json_row(row) for row in self.values[index]]
        return to_json_row(self.values[index])

    def __iter__(self) -> Iterator[list[JsonValue]]:
        return iter(self.as_list())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, JsonRows | list | tuple):
            return self.as_list() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<JsonRows: {len(self)} rows>"

    def as_list(self) -> list[list[JsonValue]]:
        """Every row converted, once."""
        if self._rows is None:
            self._rows = [to_json_row(row) for row in self.values]
        return self._rows

    def to_json(self, columns: Sequence[str]) -> bytes:
        """``{"columns": [...], "rows": [...]}`` as UTF-8 JSON, by the encoding table."""
        if self._rows is None and self.values:
            samples = _samples(self.values)
            rows = _convert_risky_columns(self.values, samples)
            try:
                encoded = orjson.dumps({"columns": list(columns), "rows": rows}, default=_orjson_default)
            except orjson.JSONEncodeError:
                encoded = None
            # orjson writes NaN and ±Infinity as null: where a float may be, more nulls than
            # NULLs mean some were not NULLs (or a string holds "null"): take the safe path.
            floats = not self.typed_columns or any(type(sample) is float for sample in samples)
            if encoded is not None and (not floats or _no_other_nulls(encoded, rows, columns)):
                return encoded
        return dumps({"columns": list(columns), "rows": self.as_list()})


def _no_other_nulls(encoded: bytes, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> bool:
    nulls = encoded.count(b"null")
    if not nulls:
        return True
    names = sum(column.count("null") for column in columns)
    return nulls == sum(map(_count_none, rows)) + names


_count_none = operator.methodcaller("count", None)


def _samples(values: Sequence[Sequence[Any]]) -> list[Any]:
    """Each column's first non-NULL value, which gives its type (but in SQLite)."""
    return [
        next((row[position] for row in values if row[position] is not None), None)
        for position in range(len(values[0]))
    ]


def _convert_risky_columns(values: Sequence[Sequence[Any]], samples: list[Any]) -> Sequence[Sequence[Any]]:
    """The rows, with the columns orjson would not write by the table converted in Python."""
    risky = [position for position, sample in enumerate(samples) if _risky(sample, values, position)]
    if not risky:
        return values
    rows = [list(row) for row in values]
    for row in rows:
        for position in risky:
            row[position] = to_json_value(row[position])
    return rows


def _risky(sample: Any, values: Sequence[Sequence[Any]], position: int) -> bool:
    """Aware times and datetimes orjson would round to the minute, and arrays (of anything)."""
    kind = type(sample)
    if kind is datetime.datetime and sample.tzinfo is not None:
        zone = sample.tzinfo
        return not _whole_minutes(zone) or any(
            row[position] is not None and row[position].tzinfo is not zone for row in values
        )
    if kind is datetime.time:
        return sample.tzinfo is not None
    return kind is list or kind is tuple
