"""Sandbox benchmarks: medians for the workloads and targets of issue 3 (see docs/performance.md).

Every workload runs under the default ``Limits``, so a figure here is also a proof that the
workload fits its budget.

    .venv/bin/python bench/sandbox.py [--quick]

Needs no Django and no database. The Python workloads need the Python runtime built
(``python -m checkers.sandbox.python.build``); without it they are reported as not run.
The on-disk cache is ``MALLEABLE_SANDBOX_CACHE_DIR`` or ``var/wasm-cache``, as for the app.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from checkers.sandbox import Program, Sandbox, Status  # noqa: E402

CACHE_DIR = Path(os.environ.get("MALLEABLE_SANDBOX_CACHE_DIR", ROOT / "var" / "wasm-cache"))

TRIVIAL_WAT = """(module
  (import "malleable" "ok" (func $ok (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "fine")
  (func (export "check") (call $ok (i32.const 0) (i32.const 4))))"""

# What a C or Rust checker built for WASI does in a run: a line to stdout, the clock,
# a few random bytes (a hash seed), then its verdict.
WASI_WAT = """(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "malleable" "ok" (func $ok (param i32 i32)))
  (memory (export "memory") 1)
  (data (i32.const 0) "\\10\\00\\00\\00\\0c\\00\\00\\00")
  (data (i32.const 16) "hello, log!\\n")
  (func (export "check")
    (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))
    (drop (call $clock (i32.const 0) (i64.const 1000) (i32.const 32)))
    (drop (call $random (i32.const 40) (i32.const 16)))
    (call $ok (i32.const 16) (i32.const 5))))"""

TRIVIAL_PY = 'ok("fine")'

COUNT_NULLS_PY = """
users = datasets["users"]
nulls = sum(1 for row in users for value in row if value is None)
CheckerCase().assertLessThan(nulls, 200_000, f"{nulls} null cells in {len(users)} rows")
"""

FIRST_RUN_SCRIPT = """
import sys, time
started = time.perf_counter()
sys.path.insert(0, {root!r})
from pathlib import Path
from checkers.sandbox import Program, get_sandbox
imported = time.perf_counter()
outcome = get_sandbox(Path({cache!r})).run(Program.{constructor}({source!r}), {{}})
done = time.perf_counter()
assert outcome.status == "green", outcome.to_dict()
print((done - started) * 1000, (done - imported) * 1000)
"""

TARGETS_MS = {
    "trivial core-wasm checker, warm": 0.5,
    "WASI core-wasm checker (stdout, clock, random), warm": 0.5,
    "trivial Python checker, warm": 5.0,
    "Python checker counting nulls over 100,000 rows x 5 columns": 2000.0,
    "first Python run after a restart, on-disk cache warm": 150.0,
    "first WASI core-wasm run after a restart, on-disk cache warm": 150.0,
}
PYTHON_WORKLOADS = [name for name in TARGETS_MS if "Python" in name]


def timed(run: Callable[[], object], repeat: int) -> list[float]:
    """Wall-clock milliseconds of each call."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def warm_median(sandbox: Sandbox, program: Program, datasets: dict, repeat: int) -> float:
    def run() -> None:
        outcome = sandbox.run(program, datasets)
        assert outcome.status == Status.GREEN, outcome.to_dict()

    timed(run, 20)
    return statistics.median(timed(run, repeat))


def null_rows(count: int) -> dict:
    rng = random.Random(42)
    rows = [[i, *(None if rng.random() < 0.1 else f"v{i}" for _ in range(4))] for i in range(count)]
    return {"users": {"columns": ["id", "a", "b", "c", "d"], "rows": rows}}


def count_nulls_median(sandbox: Sandbox, repeat: int) -> float:
    datasets = null_rows(100_000)
    program = Program.from_python(COUNT_NULLS_PY)

    def run() -> None:
        outcome = sandbox.run(program, datasets)
        assert outcome.status == Status.GREEN, outcome.to_dict()

    return statistics.median(timed(run, repeat))


def first_run_medians(constructor: str, source: str, repeat: int) -> tuple[float, float]:
    """In fresh interpreters: (import + first run, first run alone) in ms.

    Each interpreter also has to exit cleanly (``check=True``): a WASI guest once made
    wasmtime's runtime threads abort the process at exit.
    """
    script = FIRST_RUN_SCRIPT.format(
        root=str(ROOT), cache=str(CACHE_DIR), constructor=constructor, source=source
    )
    totals, runs = [], []
    for _ in range(repeat):
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
        total, run = map(float, out.stdout.split())
        totals.append(total)
        runs.append(run)
    return statistics.median(totals), statistics.median(runs)


def python_available(sandbox: Sandbox) -> str | None:
    outcome = sandbox.run(Program.from_python(TRIVIAL_PY), {})
    return None if outcome.status == Status.GREEN else outcome.error.detail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions")
    quick = parser.parse_args().quick
    sandbox = Sandbox(CACHE_DIR)
    results: dict[str, str] = {}
    core = warm_median(sandbox, Program.from_wat(TRIVIAL_WAT), {}, 500 if quick else 5000)
    results["trivial core-wasm checker, warm"] = f"{core:.3f} ms"
    wasi = warm_median(sandbox, Program.from_wat(WASI_WAT), {}, 500 if quick else 5000)
    results["WASI core-wasm checker (stdout, clock, random), warm"] = f"{wasi:.3f} ms"
    unavailable = python_available(sandbox)
    if unavailable:
        for name in PYTHON_WORKLOADS:
            results[name] = f"not run ({unavailable})"
    else:
        python = warm_median(sandbox, Program.from_python(TRIVIAL_PY), {}, 100 if quick else 500)
        results["trivial Python checker, warm"] = f"{python:.2f} ms"
        nulls = count_nulls_median(sandbox, 3 if quick else 7)
        results["Python checker counting nulls over 100,000 rows x 5 columns"] = f"{nulls:.0f} ms"
        total, run = first_run_medians("from_python", TRIVIAL_PY, 3 if quick else 7)
        results["first Python run after a restart, on-disk cache warm"] = (
            f"{total:.0f} ms ({run:.0f} ms after imports)"
        )
    total, run = first_run_medians("from_wat", WASI_WAT, 5 if quick else 21)
    results["first WASI core-wasm run after a restart, on-disk cache warm"] = (
        f"{total:.0f} ms ({run:.1f} ms after imports)"
    )
    width = max(map(len, TARGETS_MS))
    print(f"{'workload':<{width}}  {'target':>10}  median")
    for name, target in TARGETS_MS.items():
        print(f"{name:<{width}}  {f'<= {target:g} ms':>10}  {results[name]}")


if __name__ == "__main__":
    main()
