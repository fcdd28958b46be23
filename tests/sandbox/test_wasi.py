"""WASI for core modules: captured, capped output; nothing to read; nothing that blocks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from checkers.sandbox import ErrorKind, Limits, Program, Status
from tests.sandbox.wasi_calls import (
    CALLS,
    WASI_LIBC,
    WASI_LIBC_EXPECTED,
    errno_module,
    exit_module,
    wasi_module,
)
from tests.sandbox.wat import QUICK, checker, strings

WASI = '"wasi_snapshot_preview1"'
ROOT = Path(__file__).resolve().parents[2]


def _wasi_module(body: str, *, imports: str, data: str = "") -> str:
    return f"""(module {imports}
      (import "malleable" "ok" (func $ok (param i32 i32)))
      (memory (export "memory") 1) {data}
      (func (export "check") {body}))"""


FD_WRITE = f'(import {WASI} "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))'

# iovec at 0 -> 12 bytes at 16
HELLO = '(data (i32.const 0) "\\10\\00\\00\\00\\0c\\00\\00\\00") (data (i32.const 16) "hello, log!\\n")'


def test_stdout_and_stderr_are_captured_into_logs(run_wat):
    outcome = run_wat(
        _wasi_module(
            """(drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
               (drop (call $write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 8)))""",
            imports=FD_WRITE,
            data=HELLO,
        )
    )
    assert outcome.status == Status.GREEN, outcome.to_dict()
    assert outcome.logs == "hello, log!\nhello, log!\n"


def test_stdout_flood_is_truncated_not_fatal(run_wat):
    outcome = run_wat(
        _wasi_module(
            """(local $i i32)
               (loop (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
                     (local.set $i (i32.add (local.get $i) (i32.const 1)))
                     (br_if 0 (i32.lt_u (local.get $i) (i32.const 10000))))
               (call $ok (i32.const 16) (i32.const 5))""",
            imports=FD_WRITE,
            data=HELLO,
        ),
        limits=Limits(timeout_s=5, output_bytes=1000),
    )
    assert outcome.status == Status.GREEN
    assert outcome.logs.startswith("hello, log!\n" * 83)
    assert outcome.logs.endswith("[log truncated: the checker wrote more than 1000 bytes]\n")
    assert len(outcome.logs) < 1100


def test_stdin_is_at_end_of_file_at_once(run_wat):
    outcome = run_wat(
        _wasi_module(
            """(if (i32.eqz (call $read (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 8)))
                 (then (if (i32.eqz (i32.load (i32.const 8)))
                   (then (call $ok (i32.const 16) (i32.const 3))))))""",
            imports=f'(import {WASI} "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))',
            data='(data (i32.const 0) "\\40\\00\\00\\00\\00\\01\\00\\00") (data (i32.const 16) "eof")',
        )
    )
    assert [m.text for m in outcome.messages] == ["eof"]


def test_sched_yield_returns(run_wat):
    outcome = run_wat(
        _wasi_module(
            "(if (i32.eqz (call $yield)) (then (call $ok (i32.const 0) (i32.const 2))))",
            imports=f'(import {WASI} "sched_yield" (func $yield (result i32)))',
            data='(data (i32.const 0) "ok")',
        )
    )
    assert outcome.status == Status.GREEN


def _exit_with(code: int) -> str:
    return _wasi_module(
        f"(call $ok (i32.const 0) (i32.const 2)) (call $exit (i32.const {code}))",
        imports=f'(import {WASI} "proc_exit" (func $exit (param i32)))',
        data='(data (i32.const 0) "ok")',
    )


def test_proc_exit_zero_ends_the_check_normally(run_wat):
    outcome = run_wat(_exit_with(0))
    assert outcome.status == Status.GREEN
    assert [m.text for m in outcome.messages] == ["ok"]


def test_proc_exit_nonzero_is_a_trap(run_wat):
    outcome = run_wat(_exit_with(3))
    assert outcome.error.kind == ErrorKind.TRAP
    assert outcome.error.detail == "trap: the checker exited with status 3 instead of returning"


# Implemented in the host (issue 11, finding 6) -------------------------------------------------


@pytest.mark.parametrize("call", CALLS)
def test_wasi_call_gives_the_documented_outcome(sandbox, call):
    wat, expected = CALLS[call]
    outcome = sandbox.run(Program.from_wat(wat), {}, QUICK).to_dict()
    assert (outcome["status"], outcome["messages"], outcome["error"], outcome["logs"]) == (
        expected.status,
        expected.messages,
        expected.error,
        expected.logs,
    )


# In a fresh interpreter, so that no earlier test has started anything: the names of the
# threads a run of every module of CALLS left behind.
NEW_THREADS = """
import os, sys
sys.path.insert(0, {root!r})
from checkers.sandbox import Program, Sandbox
from tests.sandbox.wasi_calls import CALLS

def threads():
    return {{t: open(f"/proc/self/task/{{t}}/comm").read().strip() for t in os.listdir("/proc/self/task")}}

sandbox = Sandbox()
sandbox.run(Program.from_wat('(module (func (export "check")))'), {{}})  # the engine and its ticker
before = threads()
for wat, _ in CALLS.values():
    sandbox.run(Program.from_wat(wat), {{}})
print(sorted(name for tid, name in threads().items() if tid not in before))
"""


def test_wasi_calls_start_no_thread():
    """wasmtime's WASI ran its calls on Tokio threads ("tokio-rt-worker") that aborted the
    process at exit."""
    script = NEW_THREADS.format(root=str(ROOT))
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout == "[]\n"


P = "(i32.const 64)"
OUTSIDE = "(i32.const 65536)"

# name, core params, arguments, the errno the host answers
ERRNOS = {
    "path_open on stdout": (
        "path_open",
        "i32 i32 i32 i32 i32 i64 i64 i32 i32",
        f"(i32.const 1) (i32.const 0) (i32.const 0) (i32.const 1) (i32.const 0) (i64.const 0) (i64.const 0) "
        f"(i32.const 0) {P}",
        76,
    ),
    "sock_accept on stdin": ("sock_accept", "i32 i32 i32", f"(i32.const 0) (i32.const 0) {P}", 76),
    "sock_recv on a closed fd": (
        "sock_recv",
        "i32 i32 i32 i32 i32 i32",
        f"(i32.const 5) {P} (i32.const 0) (i32.const 0) {P} {P}",
        8,
    ),
    "path_symlink into fd 3": (
        "path_symlink",
        "i32 i32 i32 i32 i32",
        "(i32.const 0) (i32.const 1) (i32.const 3) (i32.const 0) (i32.const 1)",
        8,
    ),
    "path_symlink into stderr": (
        "path_symlink",
        "i32 i32 i32 i32 i32",
        "(i32.const 3) (i32.const 1) (i32.const 2) (i32.const 0) (i32.const 1)",
        76,
    ),
    "fd_filestat_get on stdout": ("fd_filestat_get", "i32 i32", f"(i32.const 1) {P}", 76),
    "proc_raise": ("proc_raise", "i32", "(i32.const 6)", 52),
    "an unknown WASI function": ("proc_fork", "i32", "(i32.const 3)", 52),
    "fd_prestat_dir_name": ("fd_prestat_dir_name", "i32 i32 i32", f"(i32.const 3) {P} (i32.const 8)", 8),
    "fd_seek on stdout": ("fd_seek", "i32 i64 i32 i32", f"(i32.const 1) (i64.const 0) (i32.const 0) {P}", 70),
    "fd_seek on fd 3": ("fd_seek", "i32 i64 i32 i32", f"(i32.const 3) (i64.const 0) (i32.const 0) {P}", 8),
    "fd_tell on stdin": ("fd_tell", "i32 i32", f"(i32.const 0) {P}", 70),
    "fd_close of fd 3": ("fd_close", "i32", "(i32.const 3)", 8),
    "fd_close of stdout": ("fd_close", "i32", "(i32.const 1)", 0),
    "fd_fdstat_get of fd 3": ("fd_fdstat_get", "i32 i32", f"(i32.const 3) {P}", 8),
    "fd_fdstat_get past memory": ("fd_fdstat_get", "i32 i32", f"(i32.const 1) {OUTSIDE}", 21),
    "fd_read of stdout": ("fd_read", "i32 i32 i32 i32", f"(i32.const 1) {P} (i32.const 0) {P}", 8),
    "fd_write to stdin": ("fd_write", "i32 i32 i32 i32", f"(i32.const 0) {P} (i32.const 0) {P}", 8),
    "fd_write to fd 3": ("fd_write", "i32 i32 i32 i32", f"(i32.const 3) {P} (i32.const 0) {P}", 8),
    "fd_write of iovecs past memory": (
        "fd_write",
        "i32 i32 i32 i32",
        f"(i32.const 1) (i32.const 65530) (i32.const 1) {P}",
        21,
    ),
    "fd_write of an iovec pointing past memory": (
        "fd_write",
        "i32 i32 i32 i32",
        f"(i32.const 1) (i32.const 200) (i32.const 1) {P}",
        21,
    ),
    "fd_write of 1025 iovecs": ("fd_write", "i32 i32 i32 i32", f"(i32.const 1) {P} (i32.const 1025) {P}", 28),
    "fd_write with nwritten past memory": (
        "fd_write",
        "i32 i32 i32 i32",
        f"(i32.const 2) {P} (i32.const 0) (i32.const -2)",
        21,
    ),
    "clock_time_get of the process CPU clock": (
        "clock_time_get",
        "i32 i64 i32",
        f"(i32.const 2) (i64.const 1) {P}",
        28,
    ),
    "clock_time_get past memory": (
        "clock_time_get",
        "i32 i64 i32",
        f"(i32.const 1) (i64.const 1) {OUTSIDE}",
        21,
    ),
    "clock_res_get of the thread CPU clock": ("clock_res_get", "i32 i32", f"(i32.const 3) {P}", 28),
    "random_get of the rest of the memory": (
        "random_get",
        "i32 i32",
        "(i32.const 1024) (i32.const 64512)",
        0,
    ),
    "random_get past memory": ("random_get", "i32 i32", "(i32.const 1) (i32.const 65536)", 21),
    "random_get near 4 GiB": ("random_get", "i32 i32", "(i32.const -16) (i32.const 16)", 21),
    "args_sizes_get past memory": ("args_sizes_get", "i32 i32", f"{P} {OUTSIDE}", 21),
    "environ_get": ("environ_get", "i32 i32", f"{P} {P}", 0),
}


@pytest.mark.parametrize(("name", "params", "args", "errno"), ERRNOS.values(), ids=ERRNOS.keys())
def test_wasi_answers_with_the_documented_errno(run_wat, name, params, args, errno):
    # An iovec at 200 (for the fd_write cases) pointing at 65530..65546, past the memory.
    wat = errno_module(name, params, args, errno).replace(
        '(memory (export "memory") 1)',
        '(memory (export "memory") 1) (data (i32.const 200) "\\fa\\ff\\00\\00\\10")',
    )
    outcome = run_wat(wat)
    assert outcome.status == Status.GREEN, outcome.to_dict()
    assert [m.text for m in outcome.messages] == [f"errno {errno}"]
    assert outcome.logs == ""


def test_stdout_is_a_write_only_stream_that_is_not_a_terminal(run_wat):
    outcome = run_wat(
        wasi_module(
            f'(import {WASI} "fd_fdstat_get" (func $stat (param i32 i32) (result i32)))',
            """(if (i32.eqz (call $stat (i32.const 1) (i32.const 64)))
                 (then (if (i32.and (i32.eqz (i32.load8_u (i32.const 64)))
                                    (i64.eq (i64.load (i32.const 72)) (i64.const 64)))
                   (then (call $ok (i32.const 0) (i32.const 6))))))""",
            '(data (i32.const 0) "stream")',
        )
    )
    assert [m.text for m in outcome.messages] == ["stream"]


def test_clock_resolution_is_a_nanosecond(run_wat):
    outcome = run_wat(
        wasi_module(
            f'(import {WASI} "clock_res_get" (func $res (param i32 i32) (result i32)))',
            """(if (i32.eqz (call $res (i32.const 1) (i32.const 64)))
                 (then (if (i64.eq (i64.load (i32.const 64)) (i64.const 1))
                   (then (call $ok (i32.const 0) (i32.const 3))))))""",
            '(data (i32.const 0) "1ns")',
        )
    )
    assert [m.text for m in outcome.messages] == ["1ns"]


def test_monotonic_clock_never_goes_back(run_wat):
    outcome = run_wat(
        wasi_module(
            f'(import {WASI} "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))',
            """(local $i i32)
               (drop (call $clock (i32.const 1) (i64.const 1) (i32.const 64)))
               (loop
                 (drop (call $clock (i32.const 1) (i64.const 1) (i32.const 72)))
                 (if (i64.lt_u (i64.load (i32.const 72)) (i64.load (i32.const 64)))
                   (then (call $fail (i32.const 0) (i32.const 4))))
                 (i64.store (i32.const 64) (i64.load (i32.const 72)))
                 (local.set $i (i32.add (local.get $i) (i32.const 1)))
                 (br_if 0 (i32.lt_u (local.get $i) (i32.const 1000))))
               (call $ok (i32.const 0) (i32.const 4))""",
            '(data (i32.const 0) "mono")',
        )
    )
    assert [(m.level, m.text) for m in outcome.messages] == [("ok", "mono")]


def test_unknown_wasi_function_that_cannot_answer_an_errno_traps_when_called(run_wat):
    outcome = run_wat(
        wasi_module(
            f'(import {WASI} "thread_spawn_all" (func $spawn (param i32)))', "(call $spawn (i32.const 1))"
        )
    )
    assert outcome.error.kind == ErrorKind.TRAP
    assert outcome.error.detail == (
        "trap: the checker called wasi_snapshot_preview1.thread_spawn_all, "
        "which is not a WASI preview 1 function"
    )


def test_unknown_wasi_function_that_is_never_called_links(run_wat):
    outcome = run_wat(
        wasi_module(
            f'(import {WASI} "sock_open_everything" (func))',
            "(call $ok (i32.const 0) (i32.const 2))",
            '(data (i32.const 0) "ok")',
        )
    )
    assert outcome.status == Status.GREEN, outcome.to_dict()


def test_wasi_function_with_the_wrong_signature_is_an_unknown_import(run_wat):
    outcome = run_wat(wasi_module(f'(import {WASI} "fd_write" (func (param i32) (result i32)))', ""))
    assert outcome.error.kind == ErrorKind.UNKNOWN_IMPORT
    assert outcome.error.detail == (
        "unknown_import: wasi_snapshot_preview1.fd_write is imported as (i32) -> i32, "
        "but WASI preview 1 declares (i32, i32, i32, i32) -> i32"
    )


def test_wasi_memory_import_is_an_unknown_import(run_wat):
    outcome = run_wat(f'(module (import {WASI} "memory" (memory 1)) (func (export "check")))')
    assert outcome.error.kind == ErrorKind.UNKNOWN_IMPORT
    assert outcome.error.detail == (
        "unknown_import: wasi_snapshot_preview1.memory is imported as a MemoryType; "
        "WASI exports only functions"
    )


def test_wasi_without_an_exported_memory_is_a_missing_export(run_wat):
    outcome = run_wat(
        f"""(module (import {WASI} "fd_write" (func $w (param i32 i32 i32 i32) (result i32)))
              (memory 1)
              (func (export "check")
                (drop (call $w (i32.const 1) (i32.const 0) (i32.const 0) (i32.const 8)))))"""
    )
    assert outcome.error.kind == ErrorKind.MISSING_EXPORT


def test_proc_exit_zero_reports_the_fuel_used_until_then(run_wat):
    outcome = run_wat(exit_module(0))
    assert outcome.status == Status.GREEN
    assert 0 < outcome.fuel_used < 100


def test_proc_exit_zero_inside_alloc_ends_the_check_normally(run_wat):
    outcome = run_wat(
        checker(
            """(call $ok (i32.const 16) (i32.const 6))
               (drop (call $dataset (i32.const 0) (i32.const 5)))
               (call $fail (i32.const 24) (i32.const 5))""",
            data=strings(name=(0, "users"), before=(16, "before"), after=(24, "after")),
            alloc='(func (export "alloc") (param i32) (result i32) (call $exit (i32.const 0)) (i32.const 0))',
            extra=f'(import {WASI} "proc_exit" (func $exit (param i32)))',
        )
    )
    assert outcome.status == Status.GREEN, outcome.to_dict()
    assert [m.text for m in outcome.messages] == ["before"]


def test_random_bytes_differ_between_runs(run_wat):
    wat = wasi_module(
        f'(import {WASI} "random_get" (func $random (param i32 i32) (result i32)))',
        """(drop (call $random (i32.const 64) (i32.const 16)))
           (call $ok (i32.const 64) (i32.const 16))""",
    )
    first, second = run_wat(wat), run_wat(wat)
    assert first.messages[0].text != second.messages[0].text


def test_a_wasi_libc_checker_prints_reads_clocks_and_exits(sandbox):
    outcome = sandbox.run(Program.from_path(WASI_LIBC), {}, QUICK).to_dict()
    expected = WASI_LIBC_EXPECTED
    assert (outcome["status"], outcome["messages"], outcome["error"], outcome["logs"]) == (
        expected.status,
        expected.messages,
        expected.error,
        expected.logs,
    )


@pytest.mark.parametrize("results", ["(result f32)", "(result i32 i32)", "(result i64)", "(param f64)"])
def test_unknown_wasi_function_without_a_wasi_signature_is_an_unknown_import(run_wat, results):
    outcome = run_wat(wasi_module(f'(import {WASI} "weird" (func {results}))', ""))
    assert outcome.error.kind == ErrorKind.UNKNOWN_IMPORT
    assert outcome.error.detail.startswith(
        "unknown_import: wasi_snapshot_preview1.weird is not a WASI preview 1 function, and ("
    )
