"""Small WAT modules that each make one WASI call, with the outcome the host must give them.

Each either checks the errno it got against the one the host documents (``ok`` when it
matches, ``fail`` when it does not) or does what a real checker does with the call (print,
exit, read the clock). Used in-process (test_wasi.py) and in fresh ``sandbox_run``
processes (test_wasi_processes.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

WASI = '"wasi_snapshot_preview1"'

MESSAGES = """
 (import "malleable" "ok" (func $ok (param i32 i32)))
 (import "malleable" "fail" (func $fail (param i32 i32)))
 (import "malleable" "now_ms" (func $now_ms (result i64)))"""


def wasi_module(imports: str, body: str, data: str = "") -> str:
    return f"""(module {imports} {MESSAGES}
 (memory (export "memory") 1) {data}
 (func (export "check") {body}))"""


def errno_module(name: str, params: str, args: str, errno: int) -> str:
    """Calls ``name(args)``: ``ok("errno N")`` when it answers ``errno``, else ``fail``."""
    return wasi_module(
        f'(import {WASI} "{name}" (func $call (param {params}) (result i32)))',
        f"""(if (i32.eq (call $call {args}) (i32.const {errno}))
              (then (call $ok (i32.const 0) (i32.const {len(f"errno {errno}")})))
              (else (call $fail (i32.const 0) (i32.const {len(f"errno {errno}")}))))""",
        f'(data (i32.const 0) "errno {errno}")',
    )


def write_module(fd: int, verdict: str) -> str:
    """Writes "hello, log!\\n" to ``fd`` through one iovec, then records ``verdict`` ("ok"/"fail")."""
    return wasi_module(
        f'(import {WASI} "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))',
        f"""(drop (call $write (i32.const {fd}) (i32.const 100) (i32.const 1) (i32.const 108)))
            (call ${verdict} (i32.const 16) (i32.const 5))""",
        '(data (i32.const 100) "\\10\\00\\00\\00\\0c\\00\\00\\00") (data (i32.const 16) "hello, log!\\n")',
    )


def exit_module(code: int) -> str:
    """Records "before", exits with ``code``, and would fail "after" if it ever got there."""
    return wasi_module(
        f'(import {WASI} "proc_exit" (func $exit (param i32)))',
        f"""(call $ok (i32.const 0) (i32.const 6))
            (call $exit (i32.const {code}))
            (call $fail (i32.const 8) (i32.const 5))""",
        '(data (i32.const 0) "before") (data (i32.const 8) "after")',
    )


# 16 random bytes at 64: ok when they are not all zero (one chance in 2**128 of a false fail).
RANDOM = wasi_module(
    f'(import {WASI} "random_get" (func $random (param i32 i32) (result i32)))',
    """(if (i32.eqz (call $random (i32.const 64) (i32.const 16)))
         (then (if (i64.ne (i64.or (i64.load (i32.const 64)) (i64.load (i32.const 72))) (i64.const 0))
           (then (call $ok (i32.const 0) (i32.const 6)))
           (else (call $fail (i32.const 0) (i32.const 6)))))
         (else (call $fail (i32.const 0) (i32.const 6))))""",
    '(data (i32.const 0) "random")',
)

# The realtime clock in ns, divided to ms, within a second of now_ms's.
CLOCK = wasi_module(
    f'(import {WASI} "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))',
    """(local $delta i64)
       (if (i32.eqz (call $clock (i32.const 0) (i64.const 1) (i32.const 64)))
         (then
           (local.set $delta
             (i64.sub (call $now_ms) (i64.div_u (i64.load (i32.const 64)) (i64.const 1000000))))
           (if (i64.lt_u (i64.add (local.get $delta) (i64.const 1000)) (i64.const 2000))
             (then (call $ok (i32.const 0) (i32.const 5)))
             (else (call $fail (i32.const 0) (i32.const 5)))))
         (else (call $fail (i32.const 0) (i32.const 5))))""",
    '(data (i32.const 0) "clock")',
)


@dataclass(frozen=True)
class Expected:
    exit: int
    status: str
    messages: list[dict[str, str]]
    logs: str = ""
    error: dict[str, str] | None = field(default=None)


def _ok(text: str) -> list[dict[str, str]]:
    return [{"level": "ok", "text": text}]


EBADF, ENOTCAPABLE = 8, 76

# Module name -> (WAT, what sandbox_run must print and exit with), every time.
CALLS: dict[str, tuple[str, Expected]] = {
    "fd_prestat_get": (
        errno_module("fd_prestat_get", "i32 i32", "(i32.const 3) (i32.const 64)", EBADF),
        Expected(0, "green", _ok("errno 8")),
    ),
    "path_open": (
        errno_module(
            "path_open",
            "i32 i32 i32 i32 i32 i64 i64 i32 i32",
            """(i32.const 3) (i32.const 0) (i32.const 0) (i32.const 11) (i32.const 0)
               (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 64)""",
            EBADF,
        ),
        Expected(0, "green", _ok("errno 8")),
    ),
    "sock_accept": (
        errno_module("sock_accept", "i32 i32 i32", "(i32.const 3) (i32.const 0) (i32.const 64)", EBADF),
        Expected(0, "green", _ok("errno 8")),
    ),
    "fd_write to stdout": (write_module(1, "ok"), Expected(0, "green", _ok("hello"), "hello, log!\n")),
    "fd_write to stderr": (
        write_module(2, "fail"),
        Expected(1, "red", [{"level": "fail", "text": "hello"}], "hello, log!\n"),
    ),
    "proc_exit(0)": (exit_module(0), Expected(0, "green", _ok("before"))),
    "proc_exit(3)": (
        exit_module(3),
        Expected(
            2,
            "error",
            _ok("before"),
            error={"kind": "trap", "detail": "trap: the checker exited with status 3 instead of returning"},
        ),
    ),
    "random_get": (RANDOM, Expected(0, "green", _ok("random"))),
    "clock_time_get": (CLOCK, Expected(0, "green", _ok("clock"))),
}

# A real toolchain's guest: wasi-libc's printf, stderr, clock, arc4random, open, getenv and
# exit(0) (fixtures/wasi_libc.c, built with Debian's clang 14 and wasi-libc).
WASI_LIBC = Path(__file__).parent / "fixtures" / "wasi_libc.wasm"
WASI_LIBC_EXPECTED = Expected(
    0,
    "green",
    [
        {"level": "ok", "text": "clock"},
        {"level": "ok", "text": "random"},
        {"level": "ok", "text": "open refused: Capabilities insufficient"},
        {"level": "ok", "text": "no environment"},
    ],
    "printf works: 42\nstderr works\n",
)
