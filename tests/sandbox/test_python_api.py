"""The Python checker API of docs/contracts.md, exercised through the real component."""

from __future__ import annotations

import datetime
import json
import time

import pytest

from checkers.sandbox import ErrorKind, Level, Limits, Outcome, Program, Sandbox, Status, get_sandbox
from checkers.sandbox.component import python_runner
from checkers.sandbox.host import RunState
from checkers.sandbox.python.build import REPO_ROOT, build

SEED = """
CheckerCase().assertLessThan(datasets['users_with_email_null'], 42,
                             'There should be less than 42 users in that state')
"""

USERS = {
    "columns": ["id", "username", "email"],
    "rows": [[1, "ada", "ada@example.com"], [2, "bob", None], [3, "cy", None]],
}
DATASETS = {
    "users": USERS,
    "total": {"columns": ["count"], "rows": [[3]]},
    "empty": {"columns": ["x"], "rows": []},
}
DEFAULT_LIMITS = Limits()


def null_emails(count: int) -> dict[str, dict]:
    return {"users_with_email_null": {"columns": ["username"], "rows": [[f"user{i}"] for i in range(count)]}}


@pytest.fixture(scope="module")
def python_sandbox() -> Sandbox:
    """The built component (built now if missing or stale) behind the shared on-disk cache."""
    build()
    return get_sandbox(REPO_ROOT / "var" / "wasm-cache")


@pytest.fixture
def run(python_sandbox: Sandbox):
    def run_source(source: str, datasets=DATASETS, params=None, limits: Limits = DEFAULT_LIMITS) -> Outcome:
        return python_sandbox.run(Program.from_python(source), datasets, limits, params)

    return run_source


def texts(outcome: Outcome, level: Level | None = None) -> list[str]:
    return [m.text for m in outcome.messages if level is None or m.level == level]


# The seed ---------------------------------------------------------------------------------


def test_seed_checker_is_red_with_50_null_emails(run):
    outcome = run(SEED, null_emails(50))
    assert outcome.status == Status.RED, outcome.to_dict()
    assert texts(outcome) == [
        "There should be less than 42 users in that state (50 rows in users_with_email_null, expected < 42)"
    ]


def test_seed_checker_is_green_with_10_null_emails(run):
    outcome = run(SEED, null_emails(10))
    assert outcome.status == Status.GREEN, outcome.to_dict()
    assert texts(outcome, Level.OK) == [
        "There should be less than 42 users in that state (10 rows in users_with_email_null < 42)"
    ]


# CheckerCase ------------------------------------------------------------------------------

ASSERTIONS = [
    # (call, holds)
    ("assertLessThan(1, 2)", True),
    ("assertLessThan(2, 2)", False),
    ("assertLessEqual(2, 2)", True),
    ("assertLessEqual(3, 2)", False),
    ("assertGreaterThan(3, 2)", True),
    ("assertGreaterThan(2, 2)", False),
    ("assertGreaterEqual(2, 2)", True),
    ("assertGreaterEqual(1, 2)", False),
    ("assertEqual('a', 'a')", True),
    ("assertEqual('a', 'b')", False),
    ("assertNotEqual('a', 'b')", True),
    ("assertNotEqual('a', 'a')", False),
    ("assertBetween(5, 1, 5)", True),
    ("assertBetween(6, 1, 5)", False),
    ("assertTrue([1])", True),
    ("assertTrue(0)", False),
    ("assertFalse('')", True),
    ("assertFalse('x')", False),
    ("assertEmpty(datasets['empty'])", True),
    ("assertEmpty(datasets['users'])", False),
    ("assertNotEmpty([0])", True),
    ("assertNotEmpty({})", False),
    ("assertIn(2, [1, 2])", True),
    ("assertIn(3, [1, 2])", False),
    ("assertNotIn(3, {1, 2})", True),
    ("assertNotIn(2, {1, 2})", False),
    ("assertLessThan(datasets['users'], 4)", True),
    ("assertGreaterThan(datasets['users'], 3)", False),
    ("assertEqual(datasets['users'], 3)", True),
    ("assertBetween(datasets['users'], 4, 10)", False),
]


@pytest.mark.parametrize(("call", "holds"), ASSERTIONS, ids=[call for call, _ in ASSERTIONS])
def test_each_assertion_records_ok_or_fail(run, call, holds):
    outcome = run(f"held = CheckerCase().{call}\nprint(held)")
    assert outcome.status == (Status.GREEN if holds else Status.RED), outcome.to_dict()
    assert [m.level for m in outcome.messages] == [Level.OK if holds else Level.FAIL]
    assert outcome.logs == f"{holds}\n"


def test_a_failed_assertion_keeps_the_run_going(run):
    outcome = run(
        "c = CheckerCase()\nc.assertTrue(False, 'first')\nc.assertEqual(1, 1, 'second')\nprint('end')"
    )
    assert outcome.status == Status.RED
    assert [(m.level, m.text) for m in outcome.messages] == [
        (Level.FAIL, "first (False, expected true)"),
        (Level.OK, "second (1 == 1)"),
    ]
    assert outcome.logs == "end\n"


def test_default_messages_say_what_was_compared(run):
    outcome = run(
        "c = CheckerCase()\n"
        "c.assertGreaterThan(datasets['users'], 5)\n"
        "c.assertBetween(7, 1, 5)\n"
        "c.assertIn('z', ['a', 'b'])\n"
        "c.assertEmpty([1, 2])\n"
    )
    assert texts(outcome) == [
        "3 rows in users, expected > 5",
        "7, expected between 1 and 5",
        "'z', expected in ['a', 'b']",
        "[1, 2], expected empty",
    ]


def test_long_values_are_clipped_in_messages(run):
    outcome = run("CheckerCase().assertIn(-1, list(range(10000)))")
    assert outcome.status == Status.RED
    assert len(texts(outcome)[0]) < 200


def test_ok_and_fail_directly(run):
    outcome = run("ok('fine')\nfail('broken')\nok(42)")
    assert [(m.level, m.text) for m in outcome.messages] == [
        (Level.OK, "fine"),
        (Level.FAIL, "broken"),
        (Level.OK, "42"),
    ]
    assert outcome.status == Status.RED


def test_only_oks_is_green_and_no_messages_is_green(run):
    assert run("ok('fine')").status == Status.GREEN
    assert run("x = 1").status == Status.GREEN


# Datasets ---------------------------------------------------------------------------------


def test_rows_allow_item_attribute_and_index_access(run):
    outcome = run(
        "for row in datasets['users']:\n"
        "    print(row['username'], row.email, row[0], list(row), row.get('nope', '-'))\n"
    )
    assert outcome.logs == (
        "ada ada@example.com 1 [1, 'ada', 'ada@example.com'] -\n"
        "bob None 2 [2, 'bob', None] -\n"
        "cy None 3 [3, 'cy', None] -\n"
    )


def test_dataset_columns_rows_column_and_len(run):
    outcome = run(
        "users = dataset('users')\n"
        "print(users.columns, len(users), len(users.rows), users.rows[1].username)\n"
        "print(users.column('email').count(None), users[0].asdict())\n"
    )
    assert outcome.logs == (
        "['id', 'username', 'email'] 3 3 bob\n2 {'id': 1, 'username': 'ada', 'email': 'ada@example.com'}\n"
    )


def test_scalar_is_the_first_cell_itself(run):
    outcome = run(
        "print(repr(datasets['total'].scalar()), repr(datasets['users'].scalar()),"
        " datasets['empty'].scalar())"
    )
    assert outcome.logs == "3 1 None\n"


def test_scalar_keeps_strings_and_dates(run):
    day = {"columns": ["latest"], "rows": [[datetime.date(2024, 5, 1)]]}
    outcome = run("print(repr(datasets['day'].scalar()))", {"day": day})
    assert outcome.logs == "'2024-05-01'\n"


def test_truncated_says_whether_the_rows_were_cut_at_the_row_cap(run):
    cut = {**USERS, "truncated": True}
    outcome = run(
        "print(datasets['cut'].truncated, datasets['users'].truncated, datasets['whole'].truncated)\n"
        "print(datasets['cut'].truncated, len(datasets['cut']))\n",
        {"cut": cut, "users": USERS, "whole": {**USERS, "truncated": False}},
    )
    assert outcome.status == Status.GREEN, outcome.to_dict()
    assert outcome.logs == "True False False\nTrue 3\n"


def test_truncated_of_an_unknown_dataset_is_an_unknown_dataset_error(run):
    outcome = run("datasets['nope'].truncated")
    assert outcome.status == Status.ERROR
    assert outcome.error.to_dict() == {
        "kind": "unknown_dataset",
        "detail": "unknown_dataset: no dataset named 'nope'; "
        "this checker's datasets are: empty, total, users",
    }


def test_a_dataset_compares_with_numbers_by_row_count(run):
    outcome = run(
        "users = datasets['users']\n"
        "print(users < 4, users > 3, users == 3, 2 < users, users >= 3.0, bool(datasets['empty']))\n"
    )
    assert outcome.logs == "True False True True True False\n"


def test_datasets_is_a_mapping_of_the_runs_datasets(run):
    outcome = run("print(sorted(datasets), 'users' in datasets, 'nope' in datasets, len(datasets))")
    assert outcome.logs == "['empty', 'total', 'users'] True False 3\n"


def test_an_unknown_column_names_the_known_ones(run):
    outcome = run("for row in datasets['users']:\n    row.mail\n")
    assert outcome.error.kind == ErrorKind.PYTHON_EXCEPTION
    assert "no column 'mail'; columns are ['id', 'username', 'email']" in outcome.error.detail
    assert "line 2" in outcome.error.detail


def test_an_unknown_dataset_is_an_unknown_dataset_error(run):
    outcome = run("len(datasets['nope'])")
    assert outcome.status == Status.ERROR
    assert outcome.error.kind == ErrorKind.UNKNOWN_DATASET
    assert "'nope'" in outcome.error.detail


class CountingState(RunState):
    """Counts what crosses the boundary, to show that row counts copy no data."""

    encoded = 0

    def dataset_json(self, name: str) -> bytes:
        self.encoded += 1
        return super().dataset_json(name)


def test_counting_rows_copies_no_data_and_loading_happens_once(python_sandbox):
    runner = python_runner(python_sandbox.engine, python_sandbox.cache)
    limits = Limits()
    state = CountingState(DATASETS, limits)
    outcome = runner.run(SEED.replace("users_with_email_null", "users"), state, limits, None)
    assert outcome.status == Status.GREEN and state.encoded == 0
    state = CountingState(DATASETS, limits)
    runner.run("d = datasets['users']\nd.columns\nd.rows\nd.column('id')\nlist(d)", state, limits, None)
    assert state.encoded == 1


# The rest of the API ------------------------------------------------------------------------


def test_params_are_the_checkers_parameters(run):
    outcome = run(
        "CheckerCase().assertLessThan(datasets['users'], params['max_rows'], 'few users')\nprint(params)",
        params={"max_rows": 2, "team": "growth"},
    )
    assert outcome.status == Status.RED
    assert outcome.logs == "{'max_rows': 2, 'team': 'growth'}\n"


def test_params_default_to_an_empty_dict(run):
    assert run("print(params)").logs == "{}\n"


def test_now_is_the_hosts_clock_as_an_aware_utc_datetime(run):
    before = time.time()
    outcome = run("n = now()\nprint(n.tzinfo, n.timestamp())")
    after = time.time()
    tz, stamp = outcome.logs.split()
    assert tz == "UTC"
    assert before - 0.01 <= float(stamp) <= after + 0.01


def test_datetime_and_time_read_the_hosts_clock_too(run):
    outcome = run(
        "import datetime, time\n"
        "print(datetime.datetime.now(datetime.UTC).timestamp(), time.time(), datetime.date.today())\n"
        "print(isinstance(datetime.datetime.now(), datetime.datetime), datetime.datetime(2024, 1, 2).day)\n"
    )
    first, second = outcome.logs.splitlines()
    aware, seconds, today = first.split()
    assert abs(float(aware) - time.time()) < 5 and abs(float(seconds) - time.time()) < 5
    assert today == datetime.datetime.now(datetime.UTC).date().isoformat()
    assert second == "True 2"


def test_print_goes_to_the_runs_log(run):
    outcome = run(
        "import sys\nprint('a', 1, sep='-')\nsys.stdout.write('partial')\nprint('x', file=sys.stderr)"
    )
    assert outcome.logs == "a-1\npartialx\n"
    assert outcome.messages == []


def test_top_level_code_runs_top_to_bottom(run):
    outcome = run("print('one')\nif __name__ == '__main__':\n    print('two')")
    assert outcome.logs == "one\ntwo\n"


def test_check_is_called_once_after_the_top_level(run):
    outcome = run("print('top')\ndef check():\n    print('check')\n    ok('checked')")
    assert outcome.logs == "top\ncheck\n"
    assert texts(outcome, Level.OK) == ["checked"]


def test_an_uncaught_exception_is_an_error_with_its_traceback(run):
    outcome = run("def check():\n    helper()\n\ndef helper():\n    raise ValueError('bad data')\n")
    assert outcome.status == Status.ERROR
    assert outcome.error.kind == ErrorKind.PYTHON_EXCEPTION
    detail = outcome.error.detail
    assert 'File "<checker>", line 2, in check' in detail
    assert 'File "<checker>", line 5, in helper' in detail
    assert detail.endswith("ValueError: bad data")


def test_an_error_after_a_fail_is_still_an_error(run):
    outcome = run("fail('red first')\n1 / 0")
    assert outcome.status == Status.ERROR
    assert outcome.error.kind == ErrorKind.PYTHON_EXCEPTION
    assert "ZeroDivisionError" in outcome.error.detail
    assert texts(outcome) == ["red first"]


def test_too_many_messages_is_an_output_limit(run):
    outcome = run("for i in range(100):\n    ok(i)", limits=Limits(max_messages=10))
    assert outcome.error.kind == ErrorKind.OUTPUT_LIMIT
    assert len(outcome.messages) == 10


def test_the_allowed_standard_library_is_importable(run):
    source = (
        "import json, re, math, statistics, decimal, fractions, collections, collections.abc, itertools\n"
        "import functools, operator, string, textwrap, dataclasses, enum, typing, random, heapq, bisect\n"
        "import calendar, datetime, time, sys, csv, hashlib, base64, ipaddress, unicodedata, difflib\n"
        "import urllib.parse, pprint, copy, struct, array, numbers, cmath, binascii\n"
        "from collections import Counter\n"
        "from decimal import Decimal\n"
        "print(json.dumps(Counter('aab')), statistics.median([3, 1, 2]), Decimal('1.10') + 1,\n"
        "      re.sub(r'\\d', '#', 'a1'), hashlib.sha256(b'').hexdigest()[:8],\n"
        "      urllib.parse.urlparse('https://x.org/p').netloc, random.random() < 1)\n"
    )
    outcome = run(source)
    assert outcome.status == Status.GREEN, outcome.to_dict()
    assert outcome.logs == '{"a": 2, "b": 1} 2 2.10 a# e3b0c442 x.org True\n'


def test_json_params_round_trip(run):
    params = {"nested": {"list": [1, 2.5, None, True]}}
    outcome = run("import json\nprint(json.dumps(params, sort_keys=True))", params=params)
    assert json.loads(outcome.logs) == params
