"""RunState and classify(): the pieces both guest runners (core and Python) share."""

from __future__ import annotations

import datetime
import decimal
import json
import math
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import wasmtime

from checkers.sandbox import ErrorKind, Level, Limits, SandboxError, Status
from checkers.sandbox.host import RunState, bind, classify, current

ROOT = Path(__file__).resolve().parents[2]
DATASETS = {"users": {"columns": ["id"], "rows": [[1], [2]]}}


def _state(**limits) -> RunState:
    return RunState(DATASETS, Limits(**limits))


def test_dataset_json_is_encoded_once_per_run():
    state = _state()
    first = state.dataset_json("users")
    assert state.dataset_json("users") is first
    assert json.loads(first) == DATASETS["users"]


def test_dataset_json_keeps_database_types_meaningful():
    when = datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC)
    ident = uuid.UUID(int=1)
    row = [decimal.Decimal("2.50"), decimal.Decimal("3"), when, datetime.date(2024, 5, 1), ident, b"\x01\xff"]
    state = RunState({"d": {"columns": list("abcdef"), "rows": [row]}}, Limits())
    assert json.loads(state.dataset_json("d"))["rows"] == [
        [2.5, 3, "2024-05-01T12:30:00+00:00", "2024-05-01", str(ident), "01ff"]
    ]


def test_unknown_dataset_names_the_known_ones_and_is_stashed():
    state = _state()
    with pytest.raises(SandboxError) as raised:
        state.dataset_rows("orders")
    assert raised.value.kind == ErrorKind.UNKNOWN_DATASET
    assert raised.value.detail == (
        "unknown_dataset: no dataset named 'orders'; this checker's datasets are: users"
    )
    assert state.host_error is raised.value


def test_scalar_and_rows():
    state = RunState({"n": {"columns": ["n"], "rows": [["3.5"]]}, "e": {"columns": [], "rows": []}}, Limits())
    assert state.dataset_scalar("n") == 3.5
    assert math.isnan(state.dataset_scalar("e"))
    assert state.dataset_rows("e") == 0


def test_messages_make_the_verdict():
    state = _state()
    state.ok("a")
    state.log("b")
    assert state.outcome(1.0, 5).status == Status.GREEN
    state.fail("c")
    outcome = state.outcome(1.0, 5)
    assert outcome.status == Status.RED
    levels = [(m.level, m.text) for m in outcome.messages]
    assert levels == [(Level.OK, "a"), (Level.LOG, "b"), (Level.FAIL, "c")]


def test_an_error_outranks_fails():
    state = _state()
    state.fail("x")
    outcome = state.outcome(1.0, 5, SandboxError(ErrorKind.TRAP, "boom"))
    assert outcome.status == Status.ERROR
    assert outcome.error.to_dict() == {"kind": "trap", "detail": "trap: boom"}


@pytest.mark.parametrize(
    ("limits", "texts", "needle"),
    [
        ({"max_messages": 2}, ["a", "b", "c"], "more than 2 messages"),
        ({"max_message_bytes": 3}, ["abcd"], "4 bytes exceeds the 3-byte limit"),
        ({"output_bytes": 5}, ["abc", "def"], "5-byte output limit"),
    ],
)
def test_message_limits_raise_output_limit(limits, texts, needle):
    state = _state(**limits)
    with pytest.raises(SandboxError) as raised:
        for text in texts:
            state.ok(text)
    assert raised.value.kind == ErrorKind.OUTPUT_LIMIT
    assert needle in raised.value.detail
    assert state.host_error is raised.value


def test_message_size_counts_utf8_bytes():
    state = _state(max_message_bytes=3)
    state.ok("☃")
    with pytest.raises(SandboxError):
        state.ok("☃☃")


def test_logs_are_truncated_once_and_never_fail():
    state = _state(output_bytes=10)
    state.write_log("0123456")
    state.write_log("789abc")
    state.write_log("more")
    assert state.logs == "0123456789\n[log truncated: the checker wrote more than 10 bytes]\n"
    assert state.outcome(0, 0).status == Status.GREEN


def test_bind_makes_the_state_current_for_this_thread_only():
    state = _state()
    with bind(state):
        assert current() is state
    with pytest.raises(RuntimeError):
        current()


def _wasmtime_error(cause: str) -> wasmtime.WasmtimeError:
    """What a component call raises: a WasmtimeError whose text carries the trap."""
    return wasmtime.WasmtimeError(
        f"error while executing at wasm backtrace:\n    0: 0x1 - <unknown>!f\n\nCaused by:\n    {cause}\n"
    )


@pytest.mark.parametrize(
    ("cause", "kind", "detail"),
    [
        ("wasm trap: interrupt", ErrorKind.TIMEOUT, "timeout: the checker ran past its 5 s limit"),
        ("wasm trap: all fuel consumed by WebAssembly", ErrorKind.FUEL_EXHAUSTED, "fuel_exhausted: the"),
        ("wasm trap: call stack exhausted", ErrorKind.STACK_OVERFLOW, "stack_overflow: the checker's"),
        (
            "memory minimum size of 9000 pages exceeds memory limits",
            ErrorKind.MEMORY_LIMIT,
            "memory_limit: the checker needs more than its 256 MB memory limit",
        ),
        (
            "wasm trap: wasm `unreachable` instruction executed",
            ErrorKind.TRAP,
            "trap: wasm `unreachable` instruction executed",
        ),
    ],
)
def test_classify_reads_component_errors(cause, kind, detail):
    error = classify(_wasmtime_error(cause), None, Limits(), 0.01)
    assert error.kind == kind
    assert error.detail.startswith(detail)


def test_classify_prefers_the_host_error_stashed_on_the_state():
    state = _state()
    stashed = state.reject(ErrorKind.BAD_POINTER, "ptr")
    assert classify(_wasmtime_error("python exception"), None, Limits(), 0.0, state=state) is stashed


def test_classify_ignores_another_runs_host_error():
    foreign = RunState(DATASETS, Limits()).reject(ErrorKind.BAD_POINTER, "not yours")
    error = classify(foreign, None, Limits(timeout_s=1), 1.5, state=_state())
    assert error.kind == ErrorKind.TIMEOUT


def test_classify_calls_a_late_unexplained_trap_a_timeout():
    error = classify(_wasmtime_error("something odd"), None, Limits(timeout_s=1), 1.2)
    assert error.kind == ErrorKind.TIMEOUT


def test_classify_names_memory_when_grow_was_refused():
    error = classify(
        _wasmtime_error("wasm trap: wasm `unreachable` instruction executed"),
        None,
        Limits(),
        0.1,
        memory_exhausted=True,
    )
    assert error.kind == ErrorKind.MEMORY_LIMIT
    assert "memory.grow was refused" in error.detail


def test_sandbox_error_detail_always_starts_with_its_kind():
    assert SandboxError(ErrorKind.TRAP, "x").detail == "trap: x"
    assert SandboxError(ErrorKind.TRAP, "trap: x").detail == "trap: x"
    assert str(SandboxError(ErrorKind.TIMEOUT, "slow")) == "timeout: slow"


def test_the_sandbox_imports_nothing_from_django():
    probe = (
        "import sys, checkers.sandbox, checkers.sandbox.core, checkers.sandbox.component; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'django'))"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
