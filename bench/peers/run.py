"""Malleable, Great Expectations Core and Soda Core side by side on the same PostgreSQL tables.

    .venv/bin/python bench/peers/run.py [--repeat 20] [--warmup 3] [--fresh-repeat 5]
                                        [--malleable-today] [--skip-fresh] [--json FILE|-]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust) and, on first use, PyPI: GX Core
and Soda Core are installed from ``requirements-gx.txt`` and ``requirements-soda.txt`` into
their own virtualenvs under ``bench/peers/.venvs/`` (never into the project's). Then:

1. ``data.py`` rebuilds ``orders`` (1,000 rows) and ``orders_100k`` (100,000 rows) in the
   database ``malleable_peers`` from a fixed seed; the tools read them as a read-only role.
2. Three warm workers start, each a long-lived process in its own virtualenv answering JSON
   lines (``worker_*.py``); Malleable's uses a database of its own, ``malleable_peers_own``,
   dropped and migrated on each run.
3. Rounds of tasks, interleaved: in each round every task goes to every tool in turn (the
   order of the tools rotates), so the machine's noise falls on all of them alike. The first
   ``--warmup`` rounds are discarded. Each worker times its own task, end to end.
4. The fresh-process task, cron style, ``--fresh-repeat`` times (after one discarded round):
   ``manage.py run_checker``, ``soda scan`` and a GX script, each a new process; wall time
   and peak RSS from ``os.wait4``.
5. A Markdown table: median (min-max) per task and tool, the ratios Malleable/Soda and
   Malleable/GX, and the issue's targets (issue 9), met or missed.

What the tasks check is in ``spec.py``. Compare figures from one run: the machine is shared.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
VENVS = HERE / ".venvs"
WORK = HERE / ".work"
PROJECT_PYTHON = ROOT / ".venv" / "bin" / "python"
OWN_DB = "malleable_peers_own"
OWN_URL = f"postgresql://postgres@127.0.0.1:5432/{OWN_DB}"
TOOLS = ("malleable", "gx", "soda")
GROUPS = {  # a row group of the table: the worker task each tool runs for it
    "rowcount_1k": {"malleable": ["rowcount_1k"], "gx": ["rowcount_1k"], "soda": ["rowcount_1k"]},
    "nullcount_1k": {"malleable": ["nullcount_1k"], "gx": ["nullcount_1k"], "soda": ["nullcount_1k"]},
    "ten_100k": {
        "malleable": ["ten_100k_suite", "ten_100k_separate", "ten_100k_python"],
        "gx": ["ten_100k"],
        "soda": ["ten_100k"],
    },
}
# (label, Malleable's task, the GX/Soda task it is compared with, the target as a ratio to Soda)
ROWS = [
    ("one row count, 1k rows, warm", "rowcount_1k", "rowcount_1k", 0.5),
    ("one null count, 1k rows, warm", "nullcount_1k", "nullcount_1k", 0.5),
    ("ten checks, 100k rows: one rule checker with ten rules", "ten_100k_suite", "ten_100k", 0.5),
    ("ten checks, 100k rows: ten rule checkers", "ten_100k_separate", "ten_100k", 1.0),
    ("ten checks, 100k rows: one Python checker", "ten_100k_python", "ten_100k", 3.0),
]

# Started with another Python (``python3 bench/peers/run.py``): go on in the project's, which
# has psycopg and what the Malleable worker needs.
IN_PROJECT_VENV = Path(sys.prefix).resolve() == (ROOT / ".venv").resolve()
if not IN_PROJECT_VENV and PROJECT_PYTHON.exists() and os.environ.get("PEERS_REEXEC") != "1":
    os.environ["PEERS_REEXEC"] = "1"
    os.execv(str(PROJECT_PYTHON), [str(PROJECT_PYTHON), __file__, *sys.argv[1:]])  # noqa: S606

sys.path.insert(0, str(HERE))

import data  # noqa: E402
import psycopg  # noqa: E402
import spec  # noqa: E402
import worker_soda  # noqa: E402


def ensure_venv(name: str) -> Path:
    """The tool's virtualenv, made and installed from its requirements file when they changed."""
    requirements = HERE / f"requirements-{name}.txt"
    venv = VENVS / name
    stamp = venv / ".requirements-sha256"
    wanted = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted:
        return venv
    print(f"installing {requirements.name} into {venv.relative_to(ROOT)} (first use) ...", file=sys.stderr)
    if venv.exists():
        shutil.rmtree(venv)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "-r", str(requirements)], check=True)
    stamp.write_text(wanted)
    return venv


def recreate_own_database() -> None:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{OWN_DB}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{OWN_DB}"')


def malleable_env() -> dict[str, str]:
    return os.environ | {
        "DATABASE_URL": OWN_URL,
        "DJANGO_SETTINGS_MODULE": "malleable.settings",
        "LOG_LEVEL": "WARNING",
        "MALLEABLE_TASK_QUEUE": "bench-peers",
        # The tables are on this machine, which the outbound policy refuses unless listed.
        "MALLEABLE_DATASOURCE_ALLOWED_HOSTS": "127.0.0.1",
    }


def tool_env() -> dict[str, str]:
    """GX and Soda with their usage statistics off: this machine has no route to them, and
    Soda's exporter then retries for seconds at exit. Soda reads that switch only from
    ``~/.soda/config.yml``, so its processes get a home of their own under ``.work/``."""
    home = WORK / "soda-home"
    (home / ".soda").mkdir(parents=True, exist_ok=True)
    (home / ".soda" / "config.yml").write_text("send_anonymous_usage_stats: false\n")
    return os.environ | {"GX_ANALYTICS_ENABLED": "false", "PYTHONUNBUFFERED": "1", "HOME": str(home)}


class Worker:
    """A warm worker: one process, one JSON line per task each way."""

    def __init__(self, tool: str, argv: list[str], env: dict[str, str]) -> None:
        self.tool = tool
        self.log_path = WORK / f"{tool}.log"
        self.log: IO[str] = self.log_path.open("w")
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, env=env, cwd=ROOT
        )
        self.tasks: list[str] = []
        self.notes: list[str] = []

    def _read(self) -> dict[str, Any]:
        line = self.proc.stdout.readline()
        if not line:
            tail = self.log_path.read_text()[-2000:]
            raise SystemExit(f"the {self.tool} worker stopped; the end of {self.log_path}:\n{tail}")
        return json.loads(line)

    def wait_ready(self) -> None:
        hello = self._read()
        self.tasks, self.notes = hello["tasks"], hello["notes"]

    def ask(self, task: str) -> dict[str, Any]:
        self.proc.stdin.write(json.dumps({"task": task}) + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def start_workers(today: bool) -> dict[str, Worker]:
    gx, soda = VENVS / "gx" / "bin" / "python", VENVS / "soda" / "bin" / "python"
    malleable = [str(PROJECT_PYTHON), str(HERE / "worker_malleable.py"), "--workdir", str(WORK)]
    workers = {
        "malleable": Worker("malleable", malleable + (["--today"] if today else []), malleable_env()),
        "gx": Worker("gx", [str(gx), str(HERE / "worker_gx.py")], tool_env()),
        "soda": Worker("soda", [str(soda), str(HERE / "worker_soda.py")], tool_env()),
    }
    for worker in workers.values():
        worker.wait_ready()
    return workers


@dataclass
class Results:
    warm: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    fresh: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add_problem(self, text: str) -> None:
        if text not in self.problems:
            self.problems.append(text)


def rotated(round_: int) -> list[str]:
    shift = round_ % len(TOOLS)
    return list(TOOLS[shift:] + TOOLS[:shift])


def warm_rounds(workers: dict[str, Worker], repeat: int, warmup: int, results: Results) -> None:
    for round_ in range(warmup + repeat):
        for group in GROUPS.values():
            for tool in rotated(round_):
                for task in group[tool]:
                    if task not in workers[tool].tasks:
                        continue
                    answer = workers[tool].ask(task)
                    if "error" in answer:
                        results.add_problem(f"{tool} {task}: {answer['error']}")
                        continue
                    expected = spec.TEN if task.startswith("ten_100k") else 1
                    if not answer["passed"] == answer["checks"] == expected or answer.get("errors"):
                        results.add_problem(
                            f"{tool} {task}: {answer['passed']}/{answer['checks']} checks held {answer}"
                        )
                    if round_ >= warmup:
                        results.warm.setdefault(tool, {}).setdefault(task, []).append(answer["ms"])
        print(
            f"round {round_ + 1}/{warmup + repeat}{' (warm-up)' if round_ < warmup else ''}", file=sys.stderr
        )


def fresh_commands() -> dict[str, tuple[list[str], dict[str, str]]]:
    config = WORK / "soda-config.yml"
    checks = WORK / "soda-rowcount_1k.yml"
    config.write_text(worker_soda.CONFIG)
    checks.write_text(worker_soda.CHECKS["rowcount_1k"])
    soda = VENVS / "soda" / "bin" / "soda"
    gx = VENVS / "gx" / "bin" / "python"
    return {
        "malleable": (
            [str(PROJECT_PYTHON), "manage.py", "run_checker", "peers/rowcount-1k", "--json"],
            malleable_env(),
        ),
        "gx": ([str(gx), str(HERE / "worker_gx.py"), "--once", "rowcount_1k"], tool_env()),
        "soda": (
            [str(soda), "scan", "-d", worker_soda.DATA_SOURCE, "-c", str(config), str(checks)],
            tool_env(),
        ),
    }


def run_fresh(argv: list[str], env: dict[str, str], out: Path) -> tuple[int, float, int]:
    """Exit status, wall ms and peak RSS (KiB) of one child process."""
    with out.open("w") as sink:
        started = time.perf_counter()
        child = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        _, status, usage = os.wait4(child.pid, 0)
        wall = (time.perf_counter() - started) * 1000
    child.returncode = os.waitstatus_to_exitcode(status)
    return child.returncode, wall, usage.ru_maxrss


def fresh_rounds(repeat: int, results: Results) -> None:
    commands = fresh_commands()
    for round_ in range(1 + repeat):
        for tool in rotated(round_):
            argv, env = commands[tool]
            out = WORK / f"fresh-{tool}.out"
            code, wall, rss = run_fresh(argv, env, out)
            if code != 0:
                results.add_problem(f"{tool} fresh process exited {code}: see {out.relative_to(ROOT)}")
            if round_ >= 1:
                samples = results.fresh.setdefault(tool, {"wall_ms": [], "rss_kib": []})
                samples["wall_ms"].append(wall)
                samples["rss_kib"].append(rss)
        print(f"fresh round {round_ + 1}/{1 + repeat}{' (warm-up)' if round_ < 1 else ''}", file=sys.stderr)


def cell(values: list[float] | None, unit: str = "ms", scale: float = 1.0) -> str:
    if not values:
        return "not run"
    median, low, high = (v * scale for v in (statistics.median(values), min(values), max(values)))
    fmt = "{:,.0f}" if median >= 100 else "{:,.1f}"
    return f"{fmt.format(median)} {unit} ({fmt.format(low)}-{fmt.format(high)})"


def ratio(mine: list[float] | None, theirs: list[float] | None) -> float | None:
    if not mine or not theirs:
        return None
    return statistics.median(mine) / statistics.median(theirs)


def verdict(value: float | None, target: float) -> str:
    if value is None:
        return "not measured"
    return "met" if value <= target else "**missed**"


def table(results: Results) -> tuple[str, list[dict[str, Any]]]:
    warm = results.warm
    lines = [
        "| work | Malleable | GX Core | Soda Core | Malleable/Soda | Malleable/GX | target | |",
        "|---|---|---|---|---|---|---|---|",
    ]
    summary = []

    def row(
        label: str, mine: Any, gx: Any, soda: Any, target: float, unit: str = "ms", scale: float = 1.0
    ) -> None:
        to_soda, to_gx = ratio(mine, soda), ratio(mine, gx)
        shown = [f"{r:.2f}x" if r is not None else "-" for r in (to_soda, to_gx)]
        goal = f"≤ {target:g}x Soda"
        lines.append(
            f"| {label} | {cell(mine, unit, scale)} | {cell(gx, unit, scale)} | {cell(soda, unit, scale)}"
            f" | {shown[0]} | {shown[1]} | {goal} | {verdict(to_soda, target)} |"
        )
        summary.append(
            {
                "work": label,
                "malleable_per_soda": to_soda,
                "malleable_per_gx": to_gx,
                "target": target,
                "met": None if to_soda is None else to_soda <= target,
            }
        )

    for label, mine, theirs, target in ROWS:
        row(
            label,
            warm.get("malleable", {}).get(mine),
            warm.get("gx", {}).get(theirs),
            warm.get("soda", {}).get(theirs),
            target,
        )
    fresh = results.fresh
    for key, label, unit, scale in (
        ("wall_ms", "wall time", "ms", 1.0),
        ("rss_kib", "peak RSS", "MB", 1024 / 1e6),
    ):
        row(
            f"one row count in a fresh process: {label}",
            fresh.get("malleable", {}).get(key),
            fresh.get("gx", {}).get(key),
            fresh.get("soda", {}).get(key),
            1.0,
            unit,
            scale,
        )
    return "\n".join(lines), summary


def git_commit() -> str:
    try:
        return subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=20, help="measured warm rounds (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="warm rounds discarded first (default 3)")
    parser.add_argument(
        "--fresh-repeat", type=int, default=5, help="measured fresh-process rounds (default 5)"
    )
    parser.add_argument("--skip-fresh", action="store_true", help="no fresh-process rounds")
    parser.add_argument(
        "--malleable-today",
        action="store_true",
        help="give Malleable the checks-as-code file without rule suites (the suite task is skipped)",
    )
    parser.add_argument("--json", metavar="FILE", help="write the raw numbers as JSON to FILE (- for stdout)")
    args = parser.parse_args()

    WORK.mkdir(exist_ok=True)
    for tool in ("gx", "soda"):
        ensure_venv(tool)
    rows = data.build()
    print(f"tables rebuilt: {rows}", file=sys.stderr)
    recreate_own_database()
    results = Results()
    started = time.time()
    load_before = [round(x, 2) for x in os.getloadavg()]
    workers = start_workers(args.malleable_today)
    try:
        for worker in workers.values():
            results.notes += [f"{worker.tool}: {note}" for note in worker.notes]
        warm_rounds(workers, args.repeat, args.warmup, results)
    finally:
        for worker in workers.values():
            worker.close()
    if not args.skip_fresh:
        fresh_rounds(args.fresh_repeat, results)
    text, summary = table(results)
    meta = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "malleable_commit": git_commit(),
        "cpus": os.cpu_count(),
        "repeat": args.repeat,
        "warmup": args.warmup,
        "fresh_repeat": 0 if args.skip_fresh else args.fresh_repeat,
        "load_average_before": load_before,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    }
    report(meta, text, results, sys.stderr if args.json == "-" else sys.stdout)
    if args.json:
        dump = json.dumps(
            {
                "meta": meta,
                "warm_ms": results.warm,
                "fresh": results.fresh,
                "summary": summary,
                "notes": results.notes,
                "problems": results.problems,
            },
            indent=2,
        )
        if args.json == "-":
            print(dump)
        else:
            Path(args.json).write_text(dump + "\n")


def report(meta: dict[str, Any], text: str, results: Results, out: IO[str]) -> None:
    """The table and what to know when reading it; on stderr when stdout carries the JSON."""
    load = f"load average {meta['load_average_before'][0]} before, {meta['load_average_after'][0]} after"
    print(
        f"\nbench/peers, {meta['when']}, Malleable {meta['malleable_commit']}, {meta['cpus']} CPUs, {load};"
        f" {meta['repeat']} warm rounds after {meta['warmup']} discarded,"
        f" {meta['fresh_repeat']} fresh-process rounds; median (min-max)\n",
        file=out,
    )
    print(text, file=out)
    for note in results.notes:
        print(f"\n- note: {note}", file=out)
    for problem in results.problems:
        print(f"\n- **not all green**: {problem}", file=out)


if __name__ == "__main__":
    main()
