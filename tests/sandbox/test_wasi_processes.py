"""A WASI call never makes ``sandbox_run`` abort at exit (issue 11, finding 6).

wasmtime's own WASI ran its calls on runtime threads that panicked while the interpreter
shut down: exit status 134 after the JSON was printed, in up to 10 runs of 12 under load.
The host now implements WASI itself; these run every WASI-calling module of
``wasi_calls.CALLS``, and a checker built against wasi-libc, in 200 fresh processes each
and accept nothing but the documented exit status and output, every time.

The 200 are forked from one process that has loaded Django (``fork_sandbox_run.py``): a
``manage.py`` started from scratch costs about a second here, nearly all of it Django, and
the fault lives in the child's own engine, WASI calls and interpreter shutdown, which each
forked child has. A few plain ``manage.py sandbox_run`` processes check the same from a
real command line.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.sandbox.wasi_calls import CALLS, WASI_LIBC, WASI_LIBC_EXPECTED, Expected

ROOT = Path(__file__).resolve().parents[2]
RUNS = 200
PLAIN_RUNS = 6
PARALLEL = 4
C_GUEST = "wasi-libc (C)"
EXPECTED = {call: expected for call, (_, expected) in CALLS.items()} | {C_GUEST: WASI_LIBC_EXPECTED}


def _file_name(call: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in call) + ".wat"


@pytest.fixture(scope="module")
def modules(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("wasi-calls")
    paths = {C_GUEST: WASI_LIBC}
    for call, (wat, _) in CALLS.items():
        paths[call] = folder / _file_name(call)
        paths[call].write_text(wat)
    return paths


@pytest.fixture(scope="module")
def forked_runs(modules: dict[str, Path]) -> dict[str, list[list]]:
    """Every module, RUNS times, each in its own forked process: {call: [[status, stdout, stderr]]}."""
    script = ROOT / "tests" / "sandbox" / "fork_sandbox_run.py"
    command = [sys.executable, str(script), str(RUNS), str(PARALLEL)]
    done = subprocess.run(
        command + [str(path) for path in modules.values()],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    by_path = json.loads(done.stdout)
    return {call: by_path[str(path)] for call, path in modules.items()}


def _assert_run(status: int, stdout: str, stderr: str, expected: Expected) -> None:
    assert status == expected.exit, f"exit status {status}, stderr: {stderr[-2000:]}"
    outcome = json.loads(stdout)
    assert outcome["status"] == expected.status
    assert outcome["messages"] == expected.messages
    assert outcome["error"] == expected.error
    assert outcome["logs"] == expected.logs


@pytest.mark.parametrize("call", EXPECTED)
def test_every_forked_process_exits_as_documented(forked_runs, call):
    runs = forked_runs[call]
    assert len(runs) == RUNS
    statuses = sorted({status for status, _, _ in runs})
    assert statuses == [EXPECTED[call].exit], f"{call}: exit statuses {statuses}"
    for status, stdout, stderr in runs:
        _assert_run(status, stdout, stderr, EXPECTED[call])


@pytest.mark.parametrize("call", ["fd_write to stdout", "proc_exit(3)", C_GUEST])
def test_plain_manage_py_processes_exit_as_documented(modules, call):
    """The command line itself, started from scratch each time, as cron starts it."""

    def run(_: int) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "manage.py", "sandbox_run", str(modules[call]), "--json"]
        return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=300, check=False)

    with ThreadPoolExecutor(PARALLEL) as pool:
        runs = list(pool.map(run, range(PLAIN_RUNS)))
    for done in runs:
        _assert_run(done.returncode, done.stdout, done.stderr, EXPECTED[call])
