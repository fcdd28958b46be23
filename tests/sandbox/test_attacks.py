"""Guests that try to escape their budgets. Each must end as an error of the right kind, within
its timeout plus a second, and leave the process able to run the next checker correctly."""

from __future__ import annotations

import time

import pytest

from checkers.sandbox import ErrorKind, Limits, Program, Status
from tests.sandbox.wat import QUICK, checker, strings

# A cut is proved by the error kind and the limit it names; time only bounds a hang, loosely,
# so a loaded machine cannot fail the test.
GENEROUS_S = 60

WASI = '"wasi_snapshot_preview1"'

INFINITE_LOOP = checker("(loop br 0)")

LOOP_IN_START = checker("", extra="(func $spin (loop br 0)) (start $spin)")

BUSY_LOOP = checker("(local $i i32) (loop (local.set $i (i32.add (local.get $i) (i32.const 1))) (br 0))")

DEEP_RECURSION = checker(
    "(call $down (i32.const 0))",
    extra="""
 (func $down (param i32) (call $down (i32.add (local.get 0) (i32.const 1))))""",
)

# Grows one page at a time, touching each, until refused; then does what C's abort would.
GROW_UNTIL_REFUSED = checker("""
 (local $page i32)
 (loop
   (local.set $page (memory.grow (i32.const 1)))
   (if (i32.eq (local.get $page) (i32.const -1)) (then unreachable))
   (i32.store (i32.mul (local.get $page) (i32.const 65536)) (i32.const 1))
   (br 0))""")

# Ignores every refusal and keeps asking.
GROW_FOREVER = checker("(loop (drop (memory.grow (i32.const 16))) (br 0))")

HUGE_MEMORY = checker("", memory='(memory (export "memory") 65536)')

HUGE_TABLE = checker("", extra="(table 50000000 funcref)")

TABLE_GROW_BOMB = checker(
    """
 (loop (br_if 0 (i32.ne (table.grow $t (ref.null func) (i32.const 100000)) (i32.const -1))))
 unreachable""",
    extra="(table $t 1 funcref)",
)

SHARED_MEMORY_WAIT = """(module
 (memory (export "memory") 1 1 shared)
 (func (export "check") (drop (memory.atomic.wait32 (i32.const 0) (i32.const 0) (i64.const -1)))))"""

WASI_SLEEP = f"""(module
 (import {WASI} "poll_oneoff" (func $poll (param i32 i32 i32 i32) (result i32)))
 (memory (export "memory") 1)
 ;; one clock subscription: relative timeout of 100 s at offset 24
 (data (i32.const 24) "\\00\\e8\\76\\48\\17\\00\\00\\00")
 (func (export "check") (drop (call $poll (i32.const 0) (i32.const 256) (i32.const 1) (i32.const 512)))))"""

# Writes errno as two digits at 200 and logs it, then traps unless access was denied.
_REPORT_ERRNO = """
 (func $report (param $errno i32)
   (i32.store8 (i32.const 200) (i32.add (i32.const 48) (i32.div_u (local.get $errno) (i32.const 10))))
   (i32.store8 (i32.const 201) (i32.add (i32.const 48) (i32.rem_u (local.get $errno) (i32.const 10))))
   (call $log (i32.const 200) (i32.const 2)))"""

WASI_OPEN_FILE = checker(
    """(local $errno i32)
     (local.set $errno (call $open (i32.const 3) (i32.const 0) (i32.const 0) (i32.const 11) (i32.const 0)
                                   (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 100)))
     (call $report (local.get $errno))
     (if (i32.eqz (local.get $errno)) (then (call $fail (i32.const 16) (i32.const 6))) (else unreachable))""",
    data=strings(path=(0, "/etc/passwd"), msg=(16, "opened")),
    extra=f"""(import {WASI} "path_open"
      (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32))) {_REPORT_ERRNO}""",
)

# Sums the sizes of the environment and the arguments, logs the sum, traps if there is nothing.
WASI_ENV_PROBE = checker(
    """(drop (call $environ_sizes (i32.const 100) (i32.const 104)))
       (drop (call $args_sizes (i32.const 108) (i32.const 112)))
       (call $report (i32.add (i32.add (i32.load (i32.const 100)) (i32.load (i32.const 104)))
                              (i32.add (i32.load (i32.const 108)) (i32.load (i32.const 112)))))
       (if (i32.load (i32.const 104)) (then (call $fail (i32.const 16) (i32.const 3))) (else unreachable))""",
    data=strings(msg=(16, "env")),
    extra=f"""(import {WASI} "environ_sizes_get" (func $environ_sizes (param i32 i32) (result i32)))
      (import {WASI} "args_sizes_get" (func $args_sizes (param i32 i32) (result i32))) {_REPORT_ERRNO}""",
)


def _message(ptr: str, length: str) -> str:
    return checker(f"(call $ok (i32.const {ptr}) (i32.const {length}))")


FLOOD = checker("(loop (call $ok (i32.const 0) (i32.const 4)) (br 0))", data=strings(m=(0, "spam")))

SIXTY_MB_MESSAGE = checker(
    "(call $fail (i32.const 0) (i32.const 62914560))", memory='(memory (export "memory") 1000)'
)


def _alloc_returning(value: str) -> str:
    return checker(
        "(drop (call $dataset (i32.const 0) (i32.const 5)))",
        data=strings(name=(0, "users")),
        alloc=f'(func (export "alloc") (param i32) (result i32) {value})',
    )


def _dataset_name(ptr: str, length: str) -> str:
    return checker(f"(drop (call $dataset_rows (i32.const {ptr}) (i32.const {length})))")


ATTACKS = {
    "infinite loop": (INFINITE_LOOP, QUICK, ErrorKind.TIMEOUT),
    "loop in start function": (LOOP_IN_START, QUICK, ErrorKind.TIMEOUT),
    "busy loop out of fuel": (BUSY_LOOP, Limits(timeout_s=5, fuel=1_000_000), ErrorKind.FUEL_EXHAUSTED),
    "deep recursion": (DEEP_RECURSION, QUICK, ErrorKind.STACK_OVERFLOW),
    "memory.grow until refused": (GROW_UNTIL_REFUSED, QUICK, ErrorKind.MEMORY_LIMIT),
    "memory.grow ignoring refusals": (GROW_FOREVER, QUICK, ErrorKind.MEMORY_LIMIT),
    "huge initial memory": (HUGE_MEMORY, QUICK, ErrorKind.MEMORY_LIMIT),
    "huge table": (HUGE_TABLE, QUICK, ErrorKind.MEMORY_LIMIT),
    "a second memory": (
        '(module (memory 1) (memory 1) (func (export "check")))',
        QUICK,
        ErrorKind.MEMORY_LIMIT,
    ),
    "many tables": (
        "(module (table 1 funcref) (table 1 funcref) (table 1 funcref) (table 1 funcref) "
        '(table 1 funcref) (func (export "check")))',
        QUICK,
        ErrorKind.MEMORY_LIMIT,
    ),
    "table.grow bomb": (TABLE_GROW_BOMB, QUICK, ErrorKind.TRAP),
    "shared memory with atomic wait": (SHARED_MEMORY_WAIT, QUICK, ErrorKind.INVALID_MODULE),
    "WASI sleep": (WASI_SLEEP, QUICK, ErrorKind.TRAP),
    "WASI file open": (WASI_OPEN_FILE, QUICK, ErrorKind.TRAP),
    "WASI environment probe": (WASI_ENV_PROBE, QUICK, ErrorKind.TRAP),
    "pointer past memory": (_message("65530", "100"), QUICK, ErrorKind.BAD_POINTER),
    "pointer near 4 GiB": (_message("-16", "100"), QUICK, ErrorKind.BAD_POINTER),
    "pointer plus length wraps 32 bits": (_message("-1", "2"), QUICK, ErrorKind.BAD_POINTER),
    "negative length": (_message("0", "-1"), QUICK, ErrorKind.BAD_POINTER),
    "dataset name out of bounds": (_dataset_name("70000", "5"), QUICK, ErrorKind.BAD_POINTER),
    "dataset name negative length": (_dataset_name("0", "-5"), QUICK, ErrorKind.BAD_POINTER),
    "alloc returns past memory": (_alloc_returning("(i32.const 65520)"), QUICK, ErrorKind.BAD_POINTER),
    "alloc returns near 4 GiB": (_alloc_returning("(i32.const -8)"), QUICK, ErrorKind.BAD_POINTER),
    "alloc traps": (_alloc_returning("unreachable"), QUICK, ErrorKind.TRAP),
    "alloc loops": (_alloc_returning("(loop br 0) (i32.const 0)"), QUICK, ErrorKind.TIMEOUT),
    "alloc calls dataset again": (
        _alloc_returning("(drop (call $dataset (i32.const 0) (i32.const 5))) (i32.const 0)"),
        QUICK,
        ErrorKind.TRAP,
    ),
    "flood of messages": (FLOOD, QUICK, ErrorKind.OUTPUT_LIMIT),
    "one 60 MB message": (SIXTY_MB_MESSAGE, QUICK, ErrorKind.OUTPUT_LIMIT),
    "unknown dataset": (
        _dataset_name("0", "5").replace("(module", '(module (data (i32.const 0) "nopes")'),
        QUICK,
        ErrorKind.UNKNOWN_DATASET,
    ),
    "missing check export": ('(module (func (export "run")))', QUICK, ErrorKind.MISSING_EXPORT),
    "check with the wrong type": (
        '(module (func (export "check") (param i32)))',
        QUICK,
        ErrorKind.MISSING_EXPORT,
    ),
    "dataset without alloc": (
        _alloc_returning("(i32.const 0)").replace('(export "alloc")', ""),
        QUICK,
        ErrorKind.MISSING_EXPORT,
    ),
    "unknown import module": (
        '(module (import "env" "system" (func)) (func (export "check")))',
        QUICK,
        ErrorKind.UNKNOWN_IMPORT,
    ),
    "unknown ABI function": (
        '(module (import "malleable" "exec" (func)) (func (export "check")))',
        QUICK,
        ErrorKind.UNKNOWN_IMPORT,
    ),
    "ABI function with the wrong type": (
        '(module (import "malleable" "ok" (func (param i64))) (func (export "check")))',
        QUICK,
        ErrorKind.UNKNOWN_IMPORT,
    ),
    "unknown WASI function called": (
        f'(module (import {WASI} "sock_open_everything" (func $open)) (func (export "check") (call $open)))',
        QUICK,
        ErrorKind.TRAP,
    ),
    "WASI function with the wrong signature": (
        f'(module (import {WASI} "proc_exit" (func (result i32))) (func (export "check")))',
        QUICK,
        ErrorKind.UNKNOWN_IMPORT,
    ),
    "imported memory": (
        '(module (import "env" "memory" (memory 1)) (func (export "check")))',
        QUICK,
        ErrorKind.UNKNOWN_IMPORT,
    ),
}


@pytest.mark.parametrize(("source", "limits", "kind"), ATTACKS.values(), ids=ATTACKS.keys())
def test_attack_is_contained(sandbox, assert_healthy, source, limits, kind):
    started = time.monotonic()
    outcome = sandbox.run(Program.from_wat(source), {"users": {"columns": ["id"], "rows": [[1]]}}, limits)
    elapsed = time.monotonic() - started
    assert outcome.status == Status.ERROR, outcome.to_dict()
    assert outcome.error.kind == kind, outcome.to_dict()
    assert outcome.error.detail.startswith(f"{kind}: ")
    if kind == ErrorKind.TIMEOUT:
        assert outcome.error.detail == f"timeout: the checker ran past its {limits.timeout_s:g} s limit"
    assert elapsed < limits.timeout_s + GENEROUS_S  # only that it ended; the kind says why
    assert_healthy()


def test_garbage_bytes_are_an_invalid_module(sandbox, assert_healthy):
    outcome = sandbox.run(Program.from_wasm(b"\x00asm\x01\x00\x00\x00\xff\xff garbage"), {}, QUICK)
    assert outcome.error.kind == ErrorKind.INVALID_MODULE
    assert "not a valid WebAssembly module" in outcome.error.detail
    assert_healthy()


@pytest.mark.parametrize("data", [b"", b"\x7fELF\x02\x01\x01", b"(module)", b"\x00asm"])
def test_non_modules_are_invalid(sandbox, data):
    outcome = sandbox.run(Program.from_wasm(data), {}, QUICK)
    assert outcome.error.kind == ErrorKind.INVALID_MODULE


def test_wat_text_sent_as_wasm_stays_invalid_after_running_as_wat(sandbox):
    text = '(module (func (export "check")))'
    assert sandbox.run(Program.from_wat(text), {}, QUICK).status == Status.GREEN
    outcome = sandbox.run(Program.from_wasm(text.encode()), {}, QUICK)
    assert outcome.error.kind == ErrorKind.INVALID_MODULE


def test_unparseable_wat_is_an_invalid_module(run_wat):
    outcome = run_wat('(module (func (export "check") (i32.add)')
    assert outcome.error.kind == ErrorKind.INVALID_MODULE
    assert "WAT" in outcome.error.detail


def test_timeout_detail_names_the_limit(run_wat):
    outcome = run_wat(INFINITE_LOOP)
    assert outcome.error.detail == "timeout: the checker ran past its 0.5 s limit"
    assert 400 <= outcome.duration_ms < 1500


def test_wasi_sleep_returns_at_once(run_wat):
    outcome = run_wat(WASI_SLEEP, limits=Limits(timeout_s=30))
    assert outcome.duration_ms < 1000
    assert "poll_oneoff" in outcome.error.detail


def test_wasi_file_open_is_refused_with_ebadf(run_wat):
    outcome = run_wat(WASI_OPEN_FILE)
    assert [m.text for m in outcome.messages] == ["08"]  # EBADF: no directory is preopened


def test_wasi_environment_and_arguments_are_empty(run_wat):
    outcome = run_wat(WASI_ENV_PROBE)
    assert [m.text for m in outcome.messages] == ["00"]


def test_messages_before_a_trap_are_kept(run_wat):
    outcome = run_wat(checker("(call $ok (i32.const 0) (i32.const 1)) unreachable", data=strings(m=(0, "x"))))
    assert outcome.error.kind == ErrorKind.TRAP
    assert "unreachable" in outcome.error.detail
    assert [m.text for m in outcome.messages] == ["x"]


def test_flood_keeps_exactly_the_allowed_messages(run_wat):
    outcome = run_wat(FLOOD, limits=Limits(timeout_s=5, max_messages=50))
    assert len(outcome.messages) == 50
    assert "50 messages" in outcome.error.detail


def test_sixty_mb_message_is_refused_before_it_is_read(run_wat):
    outcome = run_wat(SIXTY_MB_MESSAGE, limits=Limits(timeout_s=5))
    assert outcome.messages == []
    assert "62914560 bytes" in outcome.error.detail
    assert outcome.duration_ms < 500


def test_total_output_is_capped(run_wat):
    outcome = run_wat(
        checker("(loop (call $ok (i32.const 0) (i32.const 1000)) (br 0))"),
        limits=Limits(timeout_s=5, output_bytes=10_000, max_message_bytes=4096),
    )
    assert outcome.error.kind == ErrorKind.OUTPUT_LIMIT
    assert len(outcome.messages) == 10
