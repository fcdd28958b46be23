"""The guest ABI of docs/contracts.md, exercised by real modules."""

from __future__ import annotations

import decimal
import json
import math
import time

import pytest

from checkers.sandbox import Level, Status
from tests.sandbox.wat import DATASETS, REFERENCE, checker, strings

# Copies the dataset named at 0 (length 5) into a log message: the JSON as the guest sees it.
ECHO_DATASET = checker(
    """(local $r i64)
       (local.set $r (call $dataset (i32.const 0) (i32.const 5)))
       (call $log (i32.wrap_i64 (i64.shr_u (local.get $r) (i64.const 32))) (i32.wrap_i64 (local.get $r)))""",
    data=strings(name=(0, "users")),
)


def test_dataset_arrives_as_json_in_guest_memory(run_wat):
    outcome = run_wat(ECHO_DATASET)
    assert outcome.status == Status.GREEN
    [message] = outcome.messages
    assert message.level == Level.LOG
    assert json.loads(message.text) == DATASETS["users"]


def test_dataset_json_round_trips_database_values(run_wat):
    rows = [[decimal.Decimal("1.50"), decimal.Decimal("7"), "naïve ☃", None, True]]
    outcome = run_wat(ECHO_DATASET, datasets={"users": {"columns": list("abcde"), "rows": rows}})
    assert json.loads(outcome.messages[0].text) == {
        "columns": ["a", "b", "c", "d", "e"],
        "rows": [[1.5, 7, "naïve ☃", None, True]],
    }


def test_large_dataset_grows_guest_memory_through_alloc(run_wat):
    rows = [[i, f"user{i}@example.com"] for i in range(20_000)]
    outcome = run_wat(
        checker(
            """(local $r i64)
               (local.set $r (call $dataset (i32.const 0) (i32.const 5)))
               (if (i32.gt_u (i32.wrap_i64 (local.get $r)) (i32.const 65536))
                 (then (call $ok (i32.const 16) (i32.const 3))))""",
            data=strings(name=(0, "users"), msg=(16, "big")),
        ),
        datasets={"users": {"columns": ["id", "email"], "rows": rows}},
    )
    assert outcome.status == Status.GREEN, outcome.to_dict()
    assert [m.text for m in outcome.messages] == ["big"]


def test_dataset_rows_counts_without_copying(run_wat):
    # No alloc export at all: dataset_rows must not need one.
    outcome = run_wat(
        checker(
            """(if (i64.eq (call $dataset_rows (i32.const 0) (i32.const 5)) (i64.const 3))
                 (then (call $ok (i32.const 16) (i32.const 5))))""",
            data=strings(name=(0, "users"), msg=(16, "three")),
            alloc="",
        )
    )
    assert [m.text for m in outcome.messages] == ["three"]


SCALAR_IS = checker(
    """(local $x f64)
       (local.set $x (call $dataset_scalar (i32.const 0) (i32.const 5)))
       (if (f64.ne (local.get $x) (local.get $x))
         (then (call $log (i32.const 16) (i32.const 3)))
         (else (if (f64.eq (local.get $x) (f64.const 42.5))
           (then (call $ok (i32.const 32) (i32.const 4)))
           (else (call $fail (i32.const 48) (i32.const 5))))))""",
    data=strings(name=(0, "total"), nan=(16, "NaN"), hit=(32, "42.5"), miss=(48, "other")),
)


@pytest.mark.parametrize(
    ("rows", "seen"),
    [
        ([[42.5]], "42.5"),
        ([[decimal.Decimal("42.5"), "ignored"]], "42.5"),
        ([["42.5"]], "42.5"),
        ([[7]], "other"),
        ([], "NaN"),
        ([[]], "NaN"),
        ([[None]], "NaN"),
        ([["not a number"]], "NaN"),
    ],
)
def test_dataset_scalar_is_first_cell_or_nan(run_wat, rows, seen):
    outcome = run_wat(SCALAR_IS, datasets={"total": {"columns": ["n"], "rows": rows}})
    assert [m.text for m in outcome.messages] == [seen]


# Logs "cut" or "whole" for the dataset named at 0 (length 5): the optional dataset_truncated import.
TRUNCATED_IS = checker(
    """(if (call $dataset_truncated (i32.const 0) (i32.const 5))
         (then (call $log (i32.const 16) (i32.const 3)))
         (else (call $log (i32.const 32) (i32.const 5))))""",
    data=strings(name=(0, "users"), cut=(16, "cut"), whole=(32, "whole")),
    extra='(import "malleable" "dataset_truncated" (func $dataset_truncated (param i32 i32) (result i32)))',
)
USERS = DATASETS["users"]


@pytest.mark.parametrize(
    ("dataset", "seen"),
    [
        ({**USERS, "truncated": True}, "cut"),
        ({**USERS, "truncated": False}, "whole"),
        (USERS, "whole"),
    ],
    ids=["cut", "whole", "absent"],
)
def test_dataset_truncated_says_whether_the_rows_were_cut(run_wat, dataset, seen):
    outcome = run_wat(TRUNCATED_IS, datasets={"users": dataset})
    assert outcome.status == Status.GREEN, outcome.to_dict()
    assert [m.text for m in outcome.messages] == [seen]


def test_dataset_truncated_of_an_unknown_dataset_is_an_error(run_wat):
    outcome = run_wat(TRUNCATED_IS, datasets={"total": DATASETS["total"]})
    assert outcome.status == Status.ERROR
    assert outcome.error.to_dict() == {
        "kind": "unknown_dataset",
        "detail": "unknown_dataset: no dataset named 'users'; this checker's datasets are: total",
    }
    assert outcome.messages == []


def test_a_module_without_the_dataset_truncated_import_runs_on_a_cut_dataset(run_wat):
    outcome = run_wat(REFERENCE, datasets={"users": {**USERS, "truncated": True}})
    assert "dataset_truncated" not in REFERENCE
    assert outcome.status == Status.GREEN, outcome.to_dict()
    assert [m.text for m in outcome.messages] == ["fewer than 42"]


def test_dataset_truncated_with_the_wrong_signature_is_an_unknown_import(run_wat):
    outcome = run_wat(
        '(module (import "malleable" "dataset_truncated" (func (param i32 i32) (result i64)))'
        ' (func (export "check")))'
    )
    assert outcome.status == Status.ERROR
    assert outcome.error.kind == "unknown_import"
    assert outcome.error.detail.startswith("unknown_import: malleable.dataset_truncated is imported as ")


def test_now_ms_is_the_wall_clock(run_wat):
    # The guest compares now_ms() with the host's clock, passed in as a scalar dataset.
    before = time.time() * 1000
    outcome = run_wat(
        checker(
            """(local $t f64) (local $lo f64)
               (local.set $t (f64.convert_i64_s (call $now_ms)))
               (local.set $lo (call $dataset_scalar (i32.const 0) (i32.const 2)))
               (if (i32.and (f64.ge (local.get $t) (local.get $lo))
                            (f64.lt (local.get $t) (f64.add (local.get $lo) (f64.const 60000))))
                 (then (call $ok (i32.const 16) (i32.const 3)))
                 (else (call $fail (i32.const 16) (i32.const 3))))""",
            data=strings(name=(0, "lo"), msg=(16, "now")),
        ),
        datasets={"lo": {"columns": ["t"], "rows": [[math.floor(before)]]}},
    )
    assert outcome.status == Status.GREEN, outcome.to_dict()


def test_reference_checker_is_green_under_42_and_red_above(run_wat):
    green = run_wat(REFERENCE)
    red = run_wat(REFERENCE, datasets={"users": {"columns": ["id"], "rows": [[i] for i in range(42)]}})
    assert green.status == Status.GREEN
    assert red.status == Status.RED
    assert [(m.level, m.text) for m in red.messages] == [(Level.FAIL, "fewer than 42")]
    assert red.error is None


def test_any_fail_makes_red_even_after_oks(run_wat):
    outcome = run_wat(
        checker(
            """(call $ok (i32.const 0) (i32.const 1)) (call $fail (i32.const 0) (i32.const 1))
               (call $ok (i32.const 0) (i32.const 1))""",
            data=strings(a=(0, "a")),
        )
    )
    assert outcome.status == Status.RED
    assert [m.level for m in outcome.messages] == [Level.OK, Level.FAIL, Level.OK]


def test_messages_are_utf8_and_invalid_bytes_are_replaced(run_wat):
    outcome = run_wat(
        checker(
            "(call $ok (i32.const 0) (i32.const 3)) (call $log (i32.const 16) (i32.const 2))",
            data='(data (i32.const 0) "\\e2\\98\\83") (data (i32.const 16) "\\ff\\fe")',
        )
    )
    assert [m.text for m in outcome.messages] == ["☃", "\ufffd\ufffd"]


def test_zero_length_message_at_end_of_memory_is_fine(run_wat):
    outcome = run_wat(checker("(call $ok (i32.const 65536) (i32.const 0))"))
    assert outcome.status == Status.GREEN
    assert [m.text for m in outcome.messages] == [""]


def test_outcome_reports_duration_and_fuel(run_wat):
    outcome = run_wat(REFERENCE)
    assert outcome.duration_ms > 0
    assert outcome.fuel_used > 0


def test_wasi_reactor_is_initialised_before_check(run_wat):
    outcome = run_wat(
        checker(
            "(if (global.get $ready) (then (call $ok (i32.const 0) (i32.const 5))))",
            data=strings(msg=(0, "ready")),
            extra="""(global $ready (mut i32) (i32.const 0))
                     (func (export "_initialize") (global.set $ready (i32.const 1)))""",
        )
    )
    assert [m.text for m in outcome.messages] == ["ready"]
