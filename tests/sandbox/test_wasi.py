"""WASI for core modules: captured, capped output; nothing to read; nothing that blocks."""

from __future__ import annotations

from checkers.sandbox import ErrorKind, Limits, Status

WASI = '"wasi_snapshot_preview1"'


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
    assert outcome.duration_ms < 1000


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
