"""WAT building blocks for sandbox tests: the ABI imports, a bump allocator, a reference checker."""

from __future__ import annotations

from checkers.sandbox import Limits

IMPORTS = """
 (import "malleable" "dataset" (func $dataset (param i32 i32) (result i64)))
 (import "malleable" "dataset_rows" (func $dataset_rows (param i32 i32) (result i64)))
 (import "malleable" "dataset_scalar" (func $dataset_scalar (param i32 i32) (result f64)))
 (import "malleable" "ok" (func $ok (param i32 i32)))
 (import "malleable" "fail" (func $fail (param i32 i32)))
 (import "malleable" "log" (func $log (param i32 i32)))
 (import "malleable" "now_ms" (func $now_ms (result i64)))
"""

MEMORY = '(memory (export "memory") 1)'

# Hands out memory from 4096 upwards, growing the memory when needed.
BUMP_ALLOC = """
 (global $heap (mut i32) (i32.const 4096))
 (func (export "alloc") (param $n i32) (result i32) (local $p i32)
   (local.set $p (global.get $heap))
   (global.set $heap (i32.add (global.get $heap) (local.get $n)))
   (if (i32.gt_u (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
     (then (drop (memory.grow
       (i32.add (i32.div_u (i32.sub (global.get $heap) (i32.mul (memory.size) (i32.const 65536)))
                           (i32.const 65536)) (i32.const 1))))))
   (local.get $p))
"""


def checker(
    body: str, *, data: str = "", memory: str = MEMORY, alloc: str = BUMP_ALLOC, extra: str = ""
) -> str:
    """A module with the whole ABI imported, ``body`` as ``check`` and ``data`` segments."""
    return f'(module {IMPORTS} {extra} {memory} {alloc} {data} (func (export "check") {body}))'


def strings(**at: tuple[int, str]) -> str:
    """Data segments, for referring to strings by fixed offset in WAT bodies."""
    return " ".join(f'(data (i32.const {offset}) "{text}")' for offset, text in at.values())


DATASETS = {
    "users": {"columns": ["id", "email"], "rows": [[1, None], [2, "a@example.com"], [3, None]]},
    "total": {"columns": ["n"], "rows": [[42.5]]},
}

# Fewer than 42 users with a null e-mail: the seed's checker, used after every attack.
REFERENCE = checker(
    """(if (i64.lt_s (call $dataset_rows (i32.const 0) (i32.const 5)) (i64.const 42))
         (then (call $ok (i32.const 16) (i32.const 13)))
         (else (call $fail (i32.const 16) (i32.const 13))))""",
    data=strings(name=(0, "users"), msg=(16, "fewer than 42")),
)

QUICK = Limits(timeout_s=0.5, memory_bytes=64 * 1024 * 1024)
