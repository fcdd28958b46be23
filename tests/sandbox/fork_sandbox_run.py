"""Run ``manage.py sandbox_run PATH --json`` in many fresh processes, cheaply.

A fresh ``manage.py`` costs 0.7-1.5 s on the 2-core machine, nearly all of it loading
Django, so 200 processes of each of nine modules would take half an hour. This script loads
Django once and forks one child per run: each child runs the command line as ``manage.py``
would, with its own wasmtime engine, its own first load of the module and its own first
WASI call, and ends through the interpreter's normal shutdown, which is where wasmtime's
WASI runtime threads used to abort the process (status 134, SIGABRT).

    python tests/sandbox/fork_sandbox_run.py RUNS PARALLEL PATH...

prints ``{"PATH": [[status, stdout, stderr], ...], ...}``; a child killed by a signal has
status ``-signal`` (-6 for an abort).
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "malleable.settings")

import django  # noqa: E402
from django.core.management import call_command  # noqa: E402

import manage  # noqa: E402


def child(path: str, out: int, err: int) -> None:
    """In the forked child: the command line, then the interpreter's own exit."""
    os.dup2(out, 1)
    os.dup2(err, 2)
    sys.argv = ["manage.py", "sandbox_run", path, "--json"]
    manage.main()
    raise SystemExit(0)


def run_all(paths: list[str], runs: int, parallel: int) -> dict[str, list[tuple[int, str, str]]]:
    jobs = [path for path in paths for _ in range(runs)]
    results: dict[str, list[tuple[int, str, str]]] = {path: [] for path in paths}
    live: dict[int, tuple[str, object, object]] = {}
    while jobs or live:
        while jobs and len(live) < parallel:
            path = jobs.pop()
            # Closed by _read once the child has exited.
            out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                child(path, out.fileno(), err.fileno())
            live[pid] = (path, out, err)
        pid, status = os.wait()
        path, out, err = live.pop(pid)
        results[path].append((os.waitstatus_to_exitcode(status), _read(out), _read(err)))
    return results


def _read(file: object) -> str:
    file.seek(0)  # type: ignore[attr-defined]
    text = file.read().decode("utf-8", "replace")  # type: ignore[attr-defined]
    file.close()  # type: ignore[attr-defined]
    return text


if __name__ == "__main__":
    django.setup()
    # What every child would otherwise import for the system checks, loaded once here.
    call_command("check", stdout=open(os.devnull, "w"))  # noqa: SIM115
    # wasmtime's library, loaded but not started: no Engine, no thread, no WASI call yet.
    import checkers.sandbox.sandbox  # noqa: F401

    # Children neither copy nor collect what is already here.
    gc.freeze()
    count, width, *files = sys.argv[1:]
    print(json.dumps(run_all(files, int(count), int(width))))
