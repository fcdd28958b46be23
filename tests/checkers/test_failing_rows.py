"""Failing rows: a rule that no rows may match, with a key column, and a Python checker's
``fail_rows`` keep the keys of the failing rows (1,000 at most, and the count of all) with the
run; each run says which are new since the previous one and which are gone, and so does the alarm.

On the PostgreSQL ``orders`` table (tests/checkers/orders.py): email is NULL when id % 10 = 0.
"""

from __future__ import annotations

import json

import pytest
import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from alarms import payloads
from alarms.models import AlarmEvent
from checkers import retention, runs
from checkers.models import Checker, CheckerKind, CheckerRule, CheckRun, Dataset, Datasource, FailingRows
from checkers.sandbox import Limits, Program, get_sandbox
from checks_as_code import config
from tests.checkers.config_support import write

pytestmark = pytest.mark.django_db

NO_EMAIL = "SELECT id, email, amount FROM orders WHERE email IS NULL AND id BETWEEN {low} AND {high}"
FAIL_ROWS_PYTHON = """\
orders = datasets['orders']
fail_rows(orders, [row for row in orders if row.email is None], 'Orders without an e-mail', key='id')
"""


@pytest.fixture
def orders(personas, pg_orders):
    source = Datasource.objects.create(
        namespace=personas.a, slug="shop", engine="postgresql", url=pg_orders.url
    )
    return Dataset.objects.create(namespace=personas.a, slug="orders", datasource=source, sql="SELECT 1")


@pytest.fixture
def rule(personas, orders):
    checker = Checker.objects.create(
        namespace=personas.a,
        slug="no-emailless-orders",
        name="No orders without e-mail",
        kind=CheckerKind.RULE,
    )
    CheckerRule.objects.create(
        checker=checker,
        dataset=orders,
        metric="row_count",
        op="==",
        value=0,
        key_column="id",
        message="Orders",
    )
    return checker


@pytest.fixture
def python(personas, orders):
    checker = Checker.objects.create(
        namespace=personas.a,
        slug="py-emailless",
        name="Python",
        kind=CheckerKind.PYTHON,
        source=FAIL_ROWS_PYTHON,
    )
    checker.datasets.add(orders)
    return checker


def select(orders: Dataset, sql: str) -> None:
    Dataset.objects.filter(pk=orders.pk).update(sql=sql)


def between(orders: Dataset, low: int, high: int) -> None:
    select(orders, NO_EMAIL.format(low=low, high=high))


def kept(run: CheckRun) -> tuple[int, list[str], list[str], list[str]]:
    (rows,) = run.failing_rows.all()
    return rows.count, rows.keys, rows.new, rows.gone


@pytest.mark.parametrize("which", ["rule", "python"])
def test_new_and_gone_keys_across_three_runs(which, request, orders):
    checker = request.getfixturevalue(which)

    between(orders, 1, 30)
    first = runs.execute(checker)
    between(orders, 15, 55)
    second = runs.execute(checker)
    between(orders, 1, 9)
    third = runs.execute(checker)

    assert (first.status, second.status, third.status) == ("red", "red", "green")
    assert kept(first) == (3, ["10", "20", "30"], ["10", "20", "30"], [])
    assert kept(second) == (4, ["20", "30", "40", "50"], ["40", "50"], ["10"])
    assert kept(third) == (0, [], [], ["20", "30", "40", "50"])


def test_a_python_checker_that_stops_calling_fail_rows_says_which_keys_are_gone(python, orders):
    python.source = "orders = datasets['orders']\n" + "\n".join(
        [
            "bad = [row for row in orders if row.email is None]",
            "if bad:",
            "    fail_rows(orders, bad, 'No e-mail', key='id')",
        ]
    )
    python.save()

    between(orders, 1, 30)
    first = runs.execute(python)
    between(orders, 1, 9)
    second = runs.execute(python)

    assert kept(first) == (3, ["10", "20", "30"], ["10", "20", "30"], [])
    assert kept(second) == (0, [], [], ["10", "20", "30"])
    summary = FailingRows.summary(second)
    assert summary is not None
    assert (summary["count"], summary["new"], summary["gone"]) == (0, 0, 3)


@pytest.mark.parametrize("which", ["rule", "python"])
def test_a_run_keeps_the_first_thousand_keys_and_counts_them_all(which, request, orders):
    checker = request.getfixturevalue(which)
    select(orders, "SELECT id, NULL AS email FROM orders WHERE id <= 4160 ORDER BY id")

    run = runs.execute(checker)

    count, keys, new, _ = kept(run)
    assert count == 4160
    assert len(keys) == 1000
    assert keys[:3] == ["1", "2", "3"]
    assert keys[-1] == "1000"
    assert len(new) == 1000


@pytest.mark.parametrize("which", ["rule", "python"])
def test_only_keys_are_kept_never_the_rows(which, request, orders):
    checker = request.getfixturevalue(which)
    select(
        orders, "SELECT id, 'secret-' || id AS secret, NULL AS email, amount FROM orders WHERE id IN (7, 8)"
    )

    run = runs.execute(checker)

    stored = json.dumps(list(FailingRows.objects.filter(run=run).values()), default=str)
    assert kept(run)[1] == ["7", "8"]
    assert "secret" not in stored
    assert "secret" not in json.dumps(run.messages)
    assert "7.25" not in stored


def test_the_rule_says_its_figure_and_the_python_checker_its_count(rule, python, orders):
    between(orders, 1, 30)

    assert runs.execute(rule).messages == [{"level": "fail", "text": "Orders (3, expected == 0)"}]
    assert runs.execute(python).messages == [
        {"level": "fail", "text": "Orders without an e-mail (3 failing rows in orders)"}
    ]


def test_the_alarm_carries_the_counts_and_says_what_is_new(rule, orders):
    between(orders, 1, 30)
    first = runs.execute(rule)
    between(orders, 15, 55)
    second = runs.execute(rule)

    fired = AlarmEvent.objects.get(checker=rule, kind="fired")
    payload = payloads.build(
        event="repeat",
        checker=rule,
        state="red",
        previous_state="red",
        run=second,
        at=timezone.now(),
        key="k",
    )

    assert fired.run == first
    assert fired.payload["failing_rows"] == {
        "count": 3,
        "new": 3,
        "gone": 0,
        "sample": ["10", "20", "30"],
        "datasets": {"orders": {"count": 3, "new": 3, "gone": 0}},
    }
    assert fired.payload["messages"][0] == {"level": "note", "text": "3 new failing rows (3 in all)"}
    assert payload["failing_rows"] == {
        "count": 4,
        "new": 2,
        "gone": 1,
        "sample": ["20", "30", "40", "50"],
        "datasets": {"orders": {"count": 4, "new": 2, "gone": 1}},
    }
    assert payload["messages"][0] == {
        "level": "note",
        "text": "2 new failing rows (4 in all); 1 no longer failing",
    }
    assert "- note: 2 new failing rows (4 in all); 1 no longer failing" in payloads.render_text(payload)[1]


def test_the_alarm_sample_is_short(rule, orders):
    select(orders, "SELECT id FROM orders WHERE id <= 500")

    payload = payloads.build(
        event="fired",
        checker=rule,
        state="red",
        previous_state="green",
        run=runs.execute(rule),
        at=timezone.now(),
        key="k",
    )

    assert payload["failing_rows"]["count"] == 500
    assert payload["failing_rows"]["sample"] == [str(n) for n in range(1, 101)]


def test_a_run_without_failing_rows_kept_has_no_such_key(seed):
    rule, _ = seed
    payload = payloads.build(
        event="fired",
        checker=rule,
        state="red",
        previous_state="green",
        run=runs.execute(rule),
        at=timezone.now(),
        key="k",
    )
    assert "failing_rows" not in payload


def test_an_error_run_keeps_nothing_and_is_not_the_previous_run(rule, orders):
    between(orders, 1, 20)
    runs.execute(rule)
    select(orders, "SELECT nothing FROM nowhere")
    broken = runs.execute(rule)
    between(orders, 1, 30)
    after = runs.execute(rule)

    assert broken.status == "error"
    assert not broken.failing_rows.exists()
    assert kept(after)[2] == ["30"]


def test_a_key_column_the_dataset_lacks_is_a_rule_error(rule, orders):
    CheckerRule.objects.filter(checker=rule).update(key_column="order_id")
    between(orders, 1, 30)

    run = runs.execute(rule)

    assert (run.status, run.error_kind) == ("error", "rule_error")
    assert "has no column 'order_id'" in run.error_detail


def test_a_key_column_is_only_for_a_rule_that_no_rows_may_match(rule):
    bounded = CheckerRule(checker=rule, dataset=rule.rules.get().dataset, metric="row_count", op="<", value=5)
    bounded.key_column = "id"

    with pytest.raises(ValidationError) as raised:
        bounded.full_clean()

    assert raised.value.message_dict["key_column"] == [
        "A key column is for a rule that no rows may match: row count == 0."
    ]


def test_the_run_page_lists_the_keys_and_marks_the_new(rule, orders, personas, login):
    between(orders, 1, 30)
    runs.execute(rule)
    between(orders, 15, 55)
    second = runs.execute(rule)
    url = f"/n/{personas.a.slug}/runs/{second.uuid}/"

    content = login(personas.viewer).get(url).content.decode()

    assert "Failing rows in orders" in content
    assert (
        "2 new failing rows (4 in all); 1 no longer failing, new and gone since the previous run. Keys: id."
        in content
    )
    assert content.count('data-testid="new-key"') == 2
    assert "No longer failing: <code>10</code>" in content


def test_samples_are_pruned_with_their_runs(rule, orders):
    between(orders, 1, 30)
    old = runs.execute(rule)
    CheckRun.objects.filter(pk=old.pk).update(finished=timezone.now() - timezone.timedelta(days=400))

    retention.prune()

    assert not FailingRows.objects.filter(run_id=old.pk).exists()


KEYED_YAML = """\
namespaces:
  - slug: growth
    datasources: [{slug: shop, engine: sqlite, url: "sqlite:///{dir}/growth/shop.sqlite3"}]
    datasets: [{slug: orders, datasource: shop, sql: "SELECT id FROM orders"}]
    checkers:
      - slug: keyed
        schedule: "0 * * * *"
        rule: {dataset: orders, op: "==", value: 0, key_column: id}
"""


def test_checks_as_code_reads_and_exports_the_key_column(tmp_path, people, sqlite_dir):
    config.import_file(write(tmp_path, KEYED_YAML.replace("{dir}", str(sqlite_dir))))

    exported = yaml.safe_load(config.export_yaml())

    assert CheckerRule.objects.get(checker__slug="keyed").key_column == "id"
    (checker,) = exported["namespaces"][0]["checkers"]
    assert checker["rule"] == {
        "dataset": "orders",
        "metric": "row_count",
        "op": "==",
        "value": 0,
        "key_column": "id",
    }


def test_checks_as_code_refuses_a_key_column_on_another_rule(tmp_path, people, sqlite_dir):
    with pytest.raises(config.ConfigInvalid) as raised:
        config.import_file(
            write(tmp_path, KEYED_YAML.replace("{dir}", str(sqlite_dir)).replace('op: "=="', 'op: "<"'))
        )

    assert [error.message for error in raised.value.errors] == [
        "A key column is for a rule that no rows may match: row count == 0."
    ]


WAT_FAIL_ROWS = """
(module
 (import "malleable" "fail_rows" (func $fail_rows (param i32 i32 i32 i32 i64 i32 i32)))
 (memory (export "memory") 1)
 (data (i32.const 0) "orders")
 (data (i32.const 16) "[\\"a\\", 7, 7.0]")
 (data (i32.const 48) "Bad orders")
 (func (export "check")
  (call $fail_rows (i32.const 0) (i32.const 6) (i32.const 16) (i32.const 13) (i64.const 12)
                   (i32.const 48) (i32.const 10))))
"""


def test_a_core_module_reports_failing_rows_through_the_abi():
    datasets = {"orders": {"columns": ["id"], "rows": []}}
    outcome = get_sandbox(settings.SANDBOX_CACHE_DIR).run(Program.from_wat(WAT_FAIL_ROWS), datasets, Limits())

    assert str(outcome.status) == "red"
    assert [m.text for m in outcome.messages] == ["Bad orders (12 failing rows in orders)"]
    assert outcome.to_dict()["failing_rows"] == {"orders": {"count": 12, "keys": ["a", "7"]}}


def test_fail_rows_on_an_unknown_dataset_is_an_unknown_dataset_error():
    source = "fail_rows('nowhere', [1], 'x')\n"
    outcome = get_sandbox(settings.SANDBOX_CACHE_DIR).run(Program.from_python(source), {}, Limits())

    assert outcome.error.kind == "unknown_dataset"
