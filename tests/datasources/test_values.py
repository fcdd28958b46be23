"""Every value a driver returns becomes JSON that ``json.dumps`` takes as it is (no NaN either)."""

from __future__ import annotations

import datetime
import decimal
import ipaddress
import json
import uuid

import pytest

from checkers.datasources import fetch, to_json_value
from checkers.datasources.values import dumps

UTC = datetime.UTC
PLUS_TWO = datetime.timezone(datetime.timedelta(hours=2))


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (None, None),
        (True, True),
        (2**62, 2**62),
        ("é", "é"),
        (1.5, 1.5),
        (float("nan"), "NaN"),
        (float("inf"), "Infinity"),
        (float("-inf"), "-Infinity"),
        (decimal.Decimal("42"), 42),
        (decimal.Decimal("1E+3"), 1000),
        (decimal.Decimal("12.50"), 12.5),
        (decimal.Decimal("0.1"), 0.1),
        (decimal.Decimal("42.00"), 42.0),
        (decimal.Decimal("12345678901234567890.123"), decimal.Decimal("12345678901234567890.123")),
        (decimal.Decimal("1E+30"), 1e30),
        (decimal.Decimal("1.00000000000000000001"), decimal.Decimal("1.00000000000000000001")),
        (decimal.Decimal("12345678901234567890"), decimal.Decimal("12345678901234567890")),
        (decimal.Decimal("-1047.29"), -1047.29),
        (decimal.Decimal("123456789012345678"), 123456789012345678),
        (decimal.Decimal("0.30000000000000004"), 0.30000000000000004),
        (decimal.Decimal("NaN"), "NaN"),
        (decimal.Decimal("-Infinity"), "-Infinity"),
        (datetime.datetime(2025, 1, 31, 23, 59, 59, 500000, tzinfo=UTC), "2025-01-31T23:59:59.500000+00:00"),
        (datetime.datetime(2025, 1, 31, 23, 59, 59), "2025-01-31T23:59:59"),
        (datetime.date(2025, 1, 31), "2025-01-31"),
        (datetime.time(23, 59, 59), "23:59:59"),
        (datetime.time(12, 0, tzinfo=PLUS_TWO), "12:00:00+02:00"),
        (datetime.timedelta(days=1, seconds=1.5), 86401.5),
        (uuid.UUID("2f1c7a4e-8d3b-4c5a-9e6f-0a1b2c3d4e5f"), "2f1c7a4e-8d3b-4c5a-9e6f-0a1b2c3d4e5f"),
        (b"\x00\x01\xff", "AAH/"),
        (memoryview(b"x"), "eA=="),
        (bytearray(b"x"), "eA=="),
        ([1, decimal.Decimal("2.5"), None], [1, 2.5, None]),
        ((1, 2), [1, 2]),
        ({"a": {"b": [float("nan")]}, 3: "x"}, {"a": {"b": ["NaN"]}, "3": "x"}),
        (ipaddress.ip_address("10.0.0.1"), "10.0.0.1"),
    ],
    ids=repr,
)
def test_each_type_has_its_documented_encoding(value, encoded):
    result = to_json_value(value)
    assert result == encoded
    assert type(result) is type(encoded)
    json.loads(dumps(result), parse_constant=_refuse)


def _refuse(constant: str) -> None:
    raise AssertionError(f"{constant} is not JSON")


def _round_trip(shop, sql: str) -> list:
    """The first row as a Python checker reads it (numbers beyond a float as Decimals)."""
    result = fetch(shop.spec(), sql, policy=shop.policy)
    text = result.to_json()
    assert text == dumps({"columns": result.columns, "rows": result.rows})
    return json.loads(text, parse_float=_number, parse_constant=_refuse)["rows"][0]


def _number(text: str) -> float | decimal.Decimal:
    """More digits than a float's 17 can only be an exact decimal."""
    return decimal.Decimal(text) if len(text.replace(".", "").lstrip("-0")) > 17 else float(text)


def test_postgresql_types_round_trip(pg_shop):
    row = _round_trip(
        pg_shop,
        """SELECT 42::bigint, 1.5::float8, 'NaN'::float8, '-Infinity'::float4, 12.50::numeric,
                  sum(x)::numeric, 12345678901234567890.123::numeric, 'NaN'::numeric,
                  true, NULL::int, 'é'::text,
                  '2025-01-31 23:59:59.5+02'::timestamptz, '2025-01-31 23:59:59'::timestamp,
                  '2025-01-31'::date, '23:59:59'::time, '12:00+02'::timetz, '1 day 1.5 seconds'::interval,
                  '2f1c7a4e-8d3b-4c5a-9e6f-0a1b2c3d4e5f'::uuid, '\\x0001ff'::bytea,
                  ARRAY[1, 2, NULL], ARRAY[[1.5, 2.5]]::numeric[], '{"a": [1, {"b": null}]}'::jsonb,
                  '{"n": 1.5}'::json, '10.0.0.1'::inet, '[1,5)'::int4range
           FROM (VALUES (20), (22)) AS v(x)""",
    )
    assert row == [
        42, 1.5, "NaN", "-Infinity", 12.5,
        42, decimal.Decimal("12345678901234567890.123"), "NaN",
        True, None, "é",
        "2025-01-31T21:59:59.500000+00:00", "2025-01-31T23:59:59",
        "2025-01-31", "23:59:59", "12:00:00+02:00", 86401.5,
        "2f1c7a4e-8d3b-4c5a-9e6f-0a1b2c3d4e5f", "AAH/",
        [1, 2, None], [[1.5, 2.5]], {"a": [1, {"b": None}]},
        {"n": 1.5}, "10.0.0.1", "[1, 5)",
    ]  # fmt: skip


def test_mariadb_types_round_trip(mariadb_shop):
    row = _round_trip(
        mariadb_shop,
        """SELECT CAST(42 AS SIGNED), CAST(1.5 AS DOUBLE), CAST(12.50 AS DECIMAL(10, 2)),
                  CAST(12345678901234567890.123 AS DECIMAL(30, 3)), NULL, 'é',
                  CAST('2025-01-31 23:59:59.5' AS DATETIME(1)), CAST('2025-01-31' AS DATE),
                  CAST('12:30:00' AS TIME), UNHEX('0001FF'), b'101', JSON_OBJECT('a', 1), 1 = 1""",
    )
    assert row == [
        42, 1.5, 12.5,
        decimal.Decimal("12345678901234567890.123"), None, "é",
        "2025-01-31T23:59:59.500000", "2025-01-31",
        45000.0, "AAH/", "BQ==", '{"a": 1}', 1,
    ]  # fmt: skip


def test_sqlite_types_round_trip(sqlite_shop):
    row = _round_trip(sqlite_shop, "SELECT 42, 1.5, 9e999, -9e999, NULL, 'é', x'0001ff', 0.1 + 0.2")
    assert row == [42, 1.5, "Infinity", "-Infinity", None, "é", "AAH/", 0.30000000000000004]
