"""How database values become JSON, so every checker language sees the same dataset.

A dataset is ``{"columns": [...], "rows": [[...], ...]}`` and must survive ``json.dumps``
with no ``default=`` and no NaN. Each value is encoded by the Python type its driver
returns (written as Markdown, to copy into docs/):

- **NULL** (`None`) → `null`.
- **boolean** (`bool`) → `true` / `false`. MySQL's BOOLEAN is TINYINT and arrives as `0`/`1`.
- **integer** (`int`) → a number. JavaScript and some JSON parsers lose precision past 2**53.
- **float** (`float`) → a number; NaN, +Infinity and -Infinity become the strings `"NaN"`,
  `"Infinity"` and `"-Infinity"` (valid JSON, and Python's `float()` reads them back).
- **numeric/decimal** (`Decimal`) → an integer when integral and below 10**18 in magnitude
  (`SUM(int)` on PostgreSQL gives `42`, not `"42"`); else a number when the float's shortest
  form is the same value (`12.50` → `12.5`, `0.1` → `0.1`); else the exact decimal as a
  string (`"12345678901234567890.123"`). NaN and ±Infinity as for floats.
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
"""

from __future__ import annotations

import base64
import datetime
import decimal
import math
import uuid
from collections.abc import Callable, Sequence
from typing import Any

JsonValue = None | bool | int | float | str | list[Any] | dict[str, Any]

_INT_LIMIT = decimal.Decimal(10) ** 18


def _float(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _decimal(value: decimal.Decimal) -> int | float | str:
    if not value.is_finite():
        return "NaN" if value.is_nan() else ("Infinity" if value > 0 else "-Infinity")
    if abs(value) < _INT_LIMIT and value == value.to_integral_value() and value.as_tuple().exponent >= 0:
        return int(value)
    as_float = float(value)
    if math.isfinite(as_float) and decimal.Decimal(repr(as_float)) == value:
        return as_float
    return str(value)


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
    """One value encoded by the table above."""
    kind = type(value)
    encoder = _ENCODERS.get(kind) or _encoder_for(kind)
    return encoder(value)


def to_json_row(row: Sequence[Any]) -> list[JsonValue]:
    """A row encoded cell by cell; the common plain types skip the lookup."""
    return [value if type(value) in _PLAIN else to_json_value(value) for value in row]


_PLAIN = frozenset({type(None), bool, int, str})
