"""The JSON a guest receives: written fast from the driver's rows, yet exactly the encoding
table, and numbers no float holds still compare as numbers in a Python checker."""

from __future__ import annotations

import datetime
import decimal
import json
import math
import uuid
import zoneinfo

import pytest
from django.conf import settings

from checkers.datasources import fetch
from checkers.datasources.values import JsonRows
from checkers.sandbox import Limits, Program, Status, get_sandbox

AMOUNTS_SQL = {
    "postgresql": "SELECT 12345678901234567890.123::numeric AS amount,"
    " 0.1000000000000000000001::numeric AS tiny, 1047.29::numeric AS plain,"
    " 123456789012345678901234567890::numeric AS whole",
    "mysql": "SELECT CAST(12345678901234567890.123 AS DECIMAL(30, 3)) AS amount,"
    " CAST(0.1000000000000000000001 AS DECIMAL(30, 22)) AS tiny, CAST(1047.29 AS DECIMAL(10, 2)) AS plain,"
    " CAST(123456789012345678901234567890 AS DECIMAL(30, 0)) AS whole",
}

AMOUNTS_CHECKER = """
from decimal import Decimal

amounts = datasets["amounts"]
row = amounts.rows[0]
check = CheckerCase()
check.assertLessThan(row.amount, 10**20, "amount < 1e20")
check.assertGreaterThan(row.amount, 12345678901234567890, "amount > its integer part")
check.assertEqual(row.amount, Decimal("12345678901234567890.123"), "amount exact")
check.assertTrue(type(row.amount) is Decimal, "amount is a Decimal")
check.assertGreaterThan(row.tiny, Decimal("0.1"), "tiny > 0.1")
check.assertTrue(type(row.plain) is float and row.plain == 1047.29, "plain is the float 1047.29")
check.assertTrue(type(row.whole) is int and row.whole == 123456789012345678901234567890, "whole is an int")
check.assertEqual(amounts.scalar(), Decimal("12345678901234567890.123"), "scalar exact")
check.assertLessThan(row.amount, 10**19, "amount < 1e19")
"""


@pytest.mark.parametrize("server", ["pg_shop", "mariadb_shop"])
def test_decimals_beyond_a_float_compare_in_a_python_checker(request, server):
    shop = request.getfixturevalue(server)
    result = fetch(shop.spec(), AMOUNTS_SQL[shop.engine], policy=shop.policy)
    assert result.values[0][0] == decimal.Decimal("12345678901234567890.123")
    assert b'"rows":[[12345678901234567890.123,0.1000000000000000000001,1047.29,' in result.to_json()
    sandbox = get_sandbox(settings.SANDBOX_CACHE_DIR)
    outcome = sandbox.run(
        Program.from_python(AMOUNTS_CHECKER), {"amounts": result.to_dataset()}, Limits(timeout_s=30)
    )
    assert outcome.error is None, outcome.to_dict()
    assert [(m.level, m.text.split(" (")[0]) for m in outcome.messages] == [
        ("ok", "amount < 1e20"),
        ("ok", "amount > its integer part"),
        ("ok", "amount exact"),
        ("ok", "amount is a Decimal"),
        ("ok", "tiny > 0.1"),
        ("ok", "plain is the float 1047.29"),
        ("ok", "whole is an int"),
        ("ok", "scalar exact"),
        ("fail", "amount < 1e19"),
    ]
    assert outcome.status == Status.RED


ORDERS_SQL = """
SELECT g AS id, (g * 7919) % 5000 AS user_id,
       ((g::bigint * 104729) % 1000000 / 100.0)::numeric(12, 2) AS amount,
       (ARRAY['new', 'paid', 'shipped', 'refunded'])[1 + g % 4] AS status,
       CASE WHEN g % 20 = 0 THEN NULL ELSE 'user' || g || '@example.com' END AS email,
       timestamptz '2025-01-01 00:00:00+00' + g * interval '37 seconds' AS created_at,
       (g / 8.0)::float8 AS ratio,
       CASE WHEN g = 3 THEN 12345678901234567890.123 ELSE g END::numeric AS big,
       CASE WHEN g % 3 = 0 THEN ARRAY[g, g + 1] END AS pair,
       '2f1c7a4e-8d3b-4c5a-9e6f-0a1b2c3d4e5f'::uuid AS ref, '\\x0001ff'::bytea AS raw
  FROM generate_series(1, 100000) AS g ORDER BY g
"""


def test_the_json_of_a_100k_row_fetch_is_the_per_cell_encoding(pg_shop):
    result = fetch(pg_shop.spec(row_cap=100_000, statement_timeout_s=30), ORDERS_SQL, policy=pg_shop.policy)
    assert len(result.values) == 100_000 and not result.truncated
    fast = json.loads(result.to_json(), parse_float=decimal.Decimal)
    assert result.json_rows._rows is None, "the rows were converted cell by cell: the fast path was not taken"
    assert fast["rows"] == [_as_parsed(row) for row in result.rows]
    assert fast["rows"][2] == [
        3, 3757, decimal.Decimal("3141.87"), "refunded", "user3@example.com", "2025-01-01T00:01:51+00:00",
        decimal.Decimal("0.375"), decimal.Decimal("12345678901234567890.123"), [3, 4],
        "2f1c7a4e-8d3b-4c5a-9e6f-0a1b2c3d4e5f", "AAH/",
    ]  # fmt: skip
    assert fast["rows"][19][4] is None
    assert fast["rows"][3][8] is None


def _as_parsed(value):
    """A per-cell encoded value as JSON parsed with Decimal for fractions reads it back."""
    if isinstance(value, list):
        return [_as_parsed(item) for item in value]
    return decimal.Decimal(repr(value)) if isinstance(value, float) else value


def _json(values: list, columns: tuple[str, ...] = ("v",)) -> bytes:
    return JsonRows(values).to_json(list(columns))


AMSTERDAM = zoneinfo.ZoneInfo("Europe/Amsterdam")


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ([(1.5,), (math.nan,), (None,)], b'[[1.5],["NaN"],[null]]'),
        ([(1,), (math.inf,)], b'[[1],["Infinity"]]'),
        ([("null",), (None,)], b'[["null"],[null]]'),
        ([(datetime.datetime(1900, 1, 1, tzinfo=AMSTERDAM),)], b'[["1900-01-01T00:00:00+00:19:32"]]'),
        (
            [(datetime.datetime(2025, 1, 31, 23, 59, 59, 500000, tzinfo=datetime.UTC),)],
            b'[["2025-01-31T23:59:59.500000+00:00"]]',
        ),
        (
            [(datetime.time(12, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),)],
            b'[["12:00:00+02:00"]]',
        ),
        ([([decimal.Decimal("2.5"), math.nan, None],)], b'[[[2.5,"NaN",null]]]'),
        ([({"big": 2**70},)], b'[[{"big":1180591620717411303424}]]'),
        (
            [(decimal.Decimal("1E+30"),), (decimal.Decimal("0.1000000000000000000001"),)],
            b"[[1e+30],[0.1000000000000000000001]]",
        ),
        ([(datetime.timedelta(days=1, seconds=1.5),), (b"\x00\x01\xff",)], b'[[86401.5],["AAH/"]]'),
        (
            [(uuid.UUID("2f1c7a4e-8d3b-4c5a-9e6f-0a1b2c3d4e5f"),)],
            b'[["2f1c7a4e-8d3b-4c5a-9e6f-0a1b2c3d4e5f"]]',
        ),
    ],
    ids=[
        "nan",
        "sqlite infinity",
        "null string",
        "seconds offset",
        "utc",
        "time with zone",
        "array",
        "big int",
        "exact decimals",
        "interval and bytes",
        "uuid",
    ],
)
def test_edge_values_are_written_by_the_table(values, expected):
    assert _json(values) == b'{"columns":["v"],"rows":' + expected + b"}"
