"""Rules evaluate on the host, and say exactly what their Python translation says in the sandbox."""

import pytest

from checkers.rules import Metric, Operator, Rule
from checkers.sandbox import Limits, Program, Status, get_sandbox
from checkers.sandbox.host import RunState

SEED_MESSAGE = "There should be less than 42 users in that state"


def users(null_emails: int) -> dict:
    return {"columns": ["username"], "rows": [[f"user{i}"] for i in range(null_emails)]}


ORDERS = {
    "columns": ["id", "amount", "country"],
    "rows": [[1, 10.5, "DE"], [2, None, "FR"], [3, 4, "DE"], [4, 30, None], [5, 4, "PT"]],
}


def host_verdict(rule: Rule, datasets: dict) -> tuple:
    state = RunState(datasets, Limits())
    try:
        rule.evaluate(state)
        outcome = state.outcome(0, 0)
    except Exception as exc:  # a SandboxError: the pipeline turns it into an error outcome
        outcome = state.outcome(0, 0, exc)
    return outcome.status, [(m.level, m.text) for m in outcome.messages]


def sandbox_verdict(rule: Rule, datasets: dict) -> tuple:
    outcome = get_sandbox().run(Program.from_python(rule.as_python()), datasets, Limits(timeout_s=10))
    return outcome.status, [(m.level, m.text) for m in outcome.messages]


SEED = Rule(dataset="users", metric=Metric.ROW_COUNT, op=Operator.LT, value=42.0, message=SEED_MESSAGE)


def test_seed_rule_is_red_with_50_null_emails():
    status, messages = host_verdict(SEED, {"users": users(50)})
    assert status == Status.RED
    assert messages == [("fail", f"{SEED_MESSAGE} (50, expected < 42)")]


def test_seed_rule_is_green_with_10_null_emails():
    status, messages = host_verdict(SEED, {"users": users(10)})
    assert status == Status.GREEN
    assert messages == [("ok", f"{SEED_MESSAGE} (10 < 42)")]


CASES = [
    (SEED, {"users": users(50)}),
    (SEED, {"users": users(10)}),
    (Rule("users", Metric.ROW_COUNT, Operator.BETWEEN, 5, high=20), {"users": users(10)}),
    (Rule("users", Metric.ROW_COUNT, Operator.BETWEEN, 5, high=20), {"users": users(21)}),
    (Rule("orders", Metric.SUM, Operator.LE, 48.5, column="amount"), {"orders": ORDERS}),
    (Rule("orders", Metric.SUM, Operator.LT, 48.5, column="amount"), {"orders": ORDERS}),
    (Rule("orders", Metric.MIN, Operator.GE, 4, column="amount"), {"orders": ORDERS}),
    (Rule("orders", Metric.MAX, Operator.GT, 30, column="amount", message="big order"), {"orders": ORDERS}),
    (Rule("orders", Metric.AVG, Operator.EQ, 12.125, column="amount"), {"orders": ORDERS}),
    (Rule("orders", Metric.NULL_COUNT, Operator.EQ, 0, column="country"), {"orders": ORDERS}),
    (Rule("orders", Metric.DISTINCT_COUNT, Operator.NE, 3, column="country"), {"orders": ORDERS}),
    (Rule("orders", Metric.SCALAR, Operator.GE, 1, message="first id"), {"orders": ORDERS}),
    (Rule("orders", Metric.AVG, Operator.LT, 1, column="missing"), {"orders": ORDERS}),
    (
        Rule("orders", Metric.AVG, Operator.LT, 1, column="amount"),
        {"orders": {"columns": ["amount"], "rows": []}},
    ),
    (Rule("orders", Metric.SCALAR, Operator.LT, 1), {"orders": {"columns": ["a"], "rows": [["text"]]}}),
]


@pytest.mark.parametrize(
    ("rule", "datasets"), CASES, ids=lambda x: x.as_python().splitlines()[-1] if isinstance(x, Rule) else ""
)
def test_rule_and_its_python_translation_agree(rule, datasets):
    host_status, host_messages = host_verdict(rule, datasets)
    sandbox_status, sandbox_messages = sandbox_verdict(rule, datasets)
    assert host_status == sandbox_status
    if host_status != Status.ERROR:
        assert host_messages == sandbox_messages


def test_each_verdict_kind_is_covered():
    assert {host_verdict(r, d)[0] for r, d in CASES} == {Status.GREEN, Status.RED, Status.ERROR}


def test_uncomputable_metric_is_a_rule_error_that_says_why():
    state = RunState({"orders": ORDERS}, Limits())
    with pytest.raises(Exception, match="has no column 'missing'") as caught:
        Rule("orders", Metric.AVG, Operator.LT, 1, column="missing").evaluate(state)
    assert caught.value.kind == "rule_error"


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (Rule("", Metric.ROW_COUNT, Operator.LT, 1), "pick it"),
        (Rule("d", Metric.SUM, Operator.LT, 1), "needs a column"),
        (Rule("d", Metric.ROW_COUNT, Operator.LT, None), "set it"),
        (Rule("d", Metric.ROW_COUNT, Operator.BETWEEN, 5, high=1), "upper bound"),
    ],
)
def test_incomplete_rules_say_what_is_missing(rule, message):
    with pytest.raises(ValueError, match=message):
        rule.validate()
