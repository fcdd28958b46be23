"""Rules are measured by the database: true figures past the row cap, on every engine.

Expected figures are pinned by hand from how ``tests/checkers/orders.py`` builds the table,
never computed by the code under test.
"""

from __future__ import annotations

import re

import pytest

from checkers import runs
from checkers.datasources.base import Engine
from checkers.models import Checker, CheckerKind, CheckerRule, Dataset, Datasource
from checkers.rules import Metric, Operator, Rule
from checkers.sandbox import Limits, Program, Status, get_sandbox
from tests.checkers.orders import (  # noqa: F401
    SQL,
    mariadb_orders,
    orders_count,
    pg_orders,
    sqlite_orders,
)

ENGINES = ["sqlite_orders", "pg_orders", "mariadb_orders"]


@pytest.fixture(params=ENGINES)
def orders(request, settings):
    orders = request.getfixturevalue(request.param)
    if orders.sqlite_dir:
        settings.DATASOURCE_SQLITE_DIR = orders.sqlite_dir
    return orders


@pytest.fixture
def make_checker(personas, orders):
    """A rule checker over ``orders`` (20,000 rows, row cap 10,000) with the given rules."""
    source = Datasource.objects.create(
        namespace=personas.a, slug="shop", engine=orders.engine, url=orders.url
    )
    assert source.row_cap == 10_000

    def make(*rules: dict, sql: str = SQL) -> Checker:
        dataset, _ = Dataset.objects.update_or_create(
            namespace=personas.a, slug="orders", defaults={"datasource": source, "sql": sql}
        )
        checker = Checker.objects.create(
            namespace=personas.a,
            slug=f"rules-{Checker.objects.count()}",
            name="Rules",
            kind=CheckerKind.RULE,
            schedule_every=300,
        )
        for position, rule in enumerate(rules):
            CheckerRule.objects.create(checker=checker, dataset=dataset, position=position, **rule)
        return checker

    return make


def rule(metric: str, op: str, value: float, column: str = "", high: float | None = None, message: str = ""):
    return {"metric": metric, "op": op, "value": value, "column": column, "high": high, "message": message}


# (rule, level, message): the false greens first, then every metric's true figure.
SUITE = [
    (rule("row_count", "<", 15000, message="rows"), "fail", "rows (20000, expected < 15000)"),
    (rule("null_count", "<", 1500, "email"), "fail", "null count of email in orders (2000, expected < 1500)"),
    (rule("max", "<", 15000, "id"), "fail", "maximum of id in orders (20000, expected < 15000)"),
    (rule("sum", "==", 995000, "amount"), "ok", "sum of amount in orders (995000 == 995000)"),
    (rule("min", ">=", 0.25, "amount"), "ok", "minimum of amount in orders (0.25 >= 0.25)"),
    (
        rule("max", "between", 99, "amount", high=99.25),
        "ok",
        "maximum of amount in orders (99.25 is between 99 and 99.25)",
    ),
    (rule("avg", "==", 49.75, "amount"), "ok", "average of amount in orders (49.75 == 49.75)"),
    (rule("distinct_count", "==", 4, "status"), "ok", "distinct count of status in orders (4 == 4)"),
    (
        rule("distinct_count", "==", 15000, "user_id"),
        "ok",
        "distinct count of user_id in orders (15000 == 15000)",
    ),
    (
        rule("duplicate_count", "==", 5000, "user_id"),
        "ok",
        "repeated values of user_id in orders (5000 == 5000)",
    ),
    (rule("scalar", "==", 1, message="first id"), "ok", "first id (1 == 1)"),
]


def test_every_metric_gives_the_true_figure_past_the_row_cap(make_checker):
    checker = make_checker(*(spec for spec, _, _ in SUITE))
    run = runs.execute(checker)
    assert run.status == "red", run.error_detail
    assert [(m["level"], m["text"]) for m in run.messages] == [(level, text) for _, level, text in SUITE]
    assert run.dataset_stats["orders"]["truncated"] is False


def test_all_rules_on_a_dataset_are_one_query_and_scalar_one_more_in_the_same_session(
    make_checker, monkeypatch
):
    sessions = []
    real_fetch_all = Engine.fetch_all

    def counting_fetch_all(self, statements):
        sessions.append([sql for sql, _ in statements])
        return real_fetch_all(self, statements)

    monkeypatch.setattr(Engine, "fetch_all", counting_fetch_all)
    runs.execute(make_checker(*(spec for spec, _, _ in SUITE)))
    [(aggregate, scalar)] = sessions
    assert re.findall(r" AS m\d+", aggregate) == [f" AS m{i}" for i in range(10)]  # one per figure
    assert scalar == f"SELECT *\nFROM (\n{SQL}\n) AS malleable_dataset\nLIMIT 1"


def test_datasets_on_one_datasource_share_one_session(make_checker, monkeypatch, personas):
    sessions = []
    real_fetch_all = Engine.fetch_all
    monkeypatch.setattr(
        Engine,
        "fetch_all",
        lambda self, statements: sessions.append(len(statements)) or real_fetch_all(self, statements),
    )
    checker = make_checker(rule("row_count", "==", 20000))
    nulls = Dataset.objects.create(
        namespace=personas.a, slug="no-email", datasource=Datasource.objects.get(slug="shop"),
        sql="SELECT id FROM orders WHERE email IS NULL",
    )  # fmt: skip
    checker.rules.create(dataset=nulls, metric="row_count", op="==", value=2000, position=1)
    run = runs.execute(checker)
    assert [m["text"] for m in run.messages] == [
        "row count in orders (20000 == 20000)",
        "row count in no-email (2000 == 2000)",
    ]
    assert sessions == [2]


def test_a_green_suite_is_green_and_says_each_rule(make_checker):
    run = runs.execute(make_checker(rule("row_count", ">", 15000), rule("null_count", "==", 2000, "email")))
    assert run.status == "green"
    assert [m["text"] for m in run.messages] == [
        "row count in orders (20000 > 15000)",
        "null count of email in orders (2000 == 2000)",
    ]


def test_freshness_is_seconds_since_the_newest_value(make_checker):
    run = runs.execute(make_checker(rule("freshness", "between", 7100, "created_at", high=10800)))
    assert run.status == "green", (run.error_detail, run.messages)
    assert run.messages[0]["text"].startswith("seconds since the newest of created_at in orders (72")


# SQLite has no decimal type: its numbers are floats or text.
@pytest.mark.parametrize("orders", ["pg_orders", "mariadb_orders"], indirect=True)
def test_decimals_beyond_float_precision_compare_exactly(make_checker):
    run = runs.execute(
        make_checker(
            rule("max", ">", 12345678901234567000, "big"),
            rule("max", "<", 12345678901234567000, "big"),
            rule("sum", ">", 12345678901234587889, "big"),
        )
    )
    assert [(m["level"], m["text"]) for m in run.messages] == [
        ("ok", "maximum of big in orders (12345678901234567890.1234567891 > 12345678901234567000)"),
        (
            "fail",
            "maximum of big in orders (12345678901234567890.1234567891, expected < 12345678901234567000)",
        ),
        ("fail", "sum of big in orders (12345678901234587889.1234567891, expected > 12345678901234588000)"),
    ]


def test_a_missing_column_is_a_rule_error_naming_the_columns(make_checker):
    run = runs.execute(make_checker(rule("row_count", ">", 0), rule("avg", "<", 1, "amonut")))
    assert (run.status, run.error_kind) == ("error", "rule_error")
    assert "dataset 'orders' has no column 'amonut'; columns are ['id', 'user_id'," in run.error_detail


def test_no_values_to_average_is_a_rule_error_not_a_verdict(make_checker):
    run = runs.execute(
        make_checker(rule("avg", "<", 1, "amount"), sql="SELECT amount FROM orders WHERE id < 0")
    )
    assert (run.status, run.error_kind) == ("error", "rule_error")
    assert "average of amount in orders cannot be computed: the column has no values" in run.error_detail


def test_text_compared_with_a_number_is_a_rule_error(make_checker):
    run = runs.execute(make_checker(rule("min", "<", 1, "status")))
    assert (run.status, run.error_kind) == ("error", "rule_error")
    assert "'new' cannot be compared with 1" in run.error_detail


@pytest.mark.parametrize(
    "column",
    [
        'email") FROM orders; DELETE FROM orders; --',
        "email`) FROM orders; DELETE FROM orders; -- ",
        "email'); DELETE FROM orders; --",
        "email\n) AS x; DROP TABLE orders; --",
    ],
)
def test_a_column_name_cannot_break_out_of_its_identifier(make_checker, orders, column):
    run = runs.execute(make_checker(rule("null_count", "<", 1, column)))
    assert (run.status, run.error_kind) == ("error", "rule_error"), run.error_detail
    assert "has no column" in run.error_detail
    assert orders_count(orders) == 20000


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM orders) AS x; DELETE FROM orders; SELECT (1",
        "SELECT count(*) FROM orders; DELETE FROM orders",
        "SELECT * FROM orders /* never closed",
        "WITH gone AS (DELETE FROM orders RETURNING *) SELECT * FROM gone",
        "DELETE FROM orders",
    ],
)
def test_a_dataset_cannot_turn_the_aggregate_into_a_write(make_checker, orders, sql):
    run = runs.execute(make_checker(rule("row_count", ">", 0), sql=sql))
    assert (run.status, run.error_kind) == ("error", "dataset_error")
    assert orders_count(orders) == 20000


@pytest.mark.parametrize("sql", ["SELECT id FROM orders -- a trailing comment", "SELECT id FROM orders;"])
def test_a_trailing_comment_or_semicolon_is_still_one_statement(make_checker, sql):
    run = runs.execute(make_checker(rule("row_count", "==", 20000), sql=sql))
    assert [m["text"] for m in run.messages] == ["row count in orders (20000 == 20000)"], run.error_detail


def test_a_checker_without_rules_is_an_error(make_checker):
    run = runs.execute(make_checker())
    assert (run.status, run.error_kind) == ("error", "rule_error")
    assert "has no rules" in run.error_detail


# --- The Python translation, run in the sandbox on a small dataset ---------------------------

ORDERS = {
    "columns": ["id", "amount", "country"],
    "rows": [[1, 10.5, "DE"], [2, None, "FR"], [3, 4, "DE"], [4, 30, None], [5, 4, "PT"]],
}
TRANSLATIONS = [
    (Rule("orders", Metric.ROW_COUNT, Operator.LT, 42.0, message="few"), "ok", "few (5 < 42)"),
    (
        Rule("orders", Metric.SUM, Operator.LE, 48.5, column="amount"),
        "ok",
        "sum of amount in orders (48.5 <= 48.5)",
    ),
    (
        Rule("orders", Metric.MIN, Operator.GT, 4, column="amount"),
        "fail",
        "minimum of amount in orders (4, expected > 4)",
    ),
    (
        Rule("orders", Metric.AVG, Operator.EQ, 12.125, column="amount"),
        "ok",
        "average of amount in orders (12.125 == 12.125)",
    ),
    (
        Rule("orders", Metric.NULL_COUNT, Operator.EQ, 1, column="country"),
        "ok",
        "null count of country in orders (1 == 1)",
    ),
    (
        Rule("orders", Metric.DISTINCT_COUNT, Operator.NE, 3, column="country"),
        "fail",
        "distinct count of country in orders (3, expected != 3)",
    ),
    (
        Rule("orders", Metric.DUPLICATE_COUNT, Operator.EQ, 1, column="amount"),
        "ok",
        "repeated values of amount in orders (1 == 1)",
    ),
    (
        Rule("orders", Metric.SCALAR, Operator.BETWEEN, 1, high=2),
        "ok",
        "first cell in orders (1 is between 1 and 2)",
    ),
]


@pytest.mark.parametrize(("rule_", "level", "text"), TRANSLATIONS, ids=lambda x: getattr(x, "metric", None))
def test_a_rules_python_translation_says_the_same_in_the_sandbox(rule_, level, text):
    program = Program.from_python(rule_.as_python())
    outcome = get_sandbox().run(program, {"orders": ORDERS}, Limits(timeout_s=10))
    assert outcome.status == (Status.GREEN if level == "ok" else Status.RED), outcome.error
    assert [(m.level, m.text) for m in outcome.messages] == [(level, text)]


@pytest.mark.parametrize(
    ("rule_", "message"),
    [
        (Rule("", Metric.ROW_COUNT, Operator.LT, 1), "pick it"),
        (Rule("d", Metric.SUM, Operator.LT, 1), "needs a column"),
        (Rule("d", Metric.ROW_COUNT, Operator.LT, None), "set it"),
        (Rule("d", Metric.ROW_COUNT, Operator.BETWEEN, 5, high=1), "upper bound"),
    ],
)
def test_incomplete_rules_say_what_is_missing(rule_, message):
    with pytest.raises(ValueError, match=message):
        rule_.validate()
