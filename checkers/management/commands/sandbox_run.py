"""Run one checker file in the sandbox, outside any namespace (docs/contracts.md, "sandbox_run").

Exit status: 0 green, 1 red, 2 error (the checker failed to evaluate, contained), 64 bad
usage or unreadable input (EX_USAGE from sysexits.h, so scripts can tell "your checker is
broken" from "you called me wrong").
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from django.core.management.base import CommandParser

from checkers import trial
from checkers.management.cli import EXIT_CODES, UsageCommand, summary, usage_error
from checkers.sandbox import Limits, Program


class Command(UsageCommand):
    help = "Run a checker (.wasm, .wat or .py) against datasets given as JSON files."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="the checker: a .wasm, .wat or .py file")
        parser.add_argument(
            "--dataset",
            action="append",
            default=[],
            metavar="NAME=FILE.json",
            help='a dataset the checker can read; FILE holds {"columns": [...], "rows": [[...], ...]} '
            'and optionally "truncated": true (the rows were cut at a row cap)',
        )
        parser.add_argument("--timeout", type=float, metavar="SECONDS", help="wall-clock limit")
        parser.add_argument("--memory", type=int, metavar="MB", help="linear memory limit")
        parser.add_argument("--fuel", type=int, metavar="N", help="instruction budget")
        parser.add_argument("--json", action="store_true", help="print the outcome as one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        program = _load_program(options["path"])
        _refuse_duplicates(options["dataset"])
        datasets = dict(_load_dataset(spec) for spec in options["dataset"])
        limits = _limits(options)
        outcome = trial.run(program, datasets, limits)
        if options["json"]:
            self.stdout.write(json.dumps(outcome.to_dict()))
        else:
            self.stdout.write(summary(options["path"], outcome))
        code = EXIT_CODES[outcome.status]
        if code:
            self.stdout.flush()
            sys.exit(code)


def _load_program(path: str) -> Program:
    try:
        return Program.from_path(path)
    except ValueError as exc:
        raise usage_error(str(exc)) from None
    except OSError as exc:
        raise usage_error(f"cannot read {path}: {exc.strerror or exc}") from None


def _load_dataset(spec: str) -> tuple[str, dict[str, list]]:
    name, sep, file = spec.partition("=")
    if not sep or not name or not file:
        raise usage_error(f"--dataset {spec!r}: expected NAME=FILE.json")
    try:
        data = json.loads(Path(file).read_text(encoding="utf-8"))
    except OSError as exc:
        raise usage_error(f"--dataset {name}: cannot read {file}: {exc.strerror or exc}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise usage_error(f"--dataset {name}: {file} is not JSON: {exc}") from None
    if not _dataset_shaped(data):
        raise usage_error(f'--dataset {name}: {file} must hold {{"columns": [...], "rows": [[...], ...]}}')
    if not isinstance(data.get("truncated", False), bool):
        raise usage_error(f'--dataset {name}: "truncated" in {file} must be true or false')
    dataset = {"columns": data["columns"], "rows": data["rows"]}
    return name, dataset | ({"truncated": True} if data.get("truncated") else {})


def _dataset_shaped(data: object) -> bool:
    return (
        isinstance(data, dict)
        and isinstance(data.get("columns"), list)
        and isinstance(data.get("rows"), list)
        and all(isinstance(row, list) for row in data["rows"])
    )


def _refuse_duplicates(specs: list[str]) -> None:
    names = [spec.partition("=")[0] for spec in specs]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise usage_error(f"--dataset given more than once for: {', '.join(repeated)}")


def _limits(options: dict[str, Any]) -> Limits:
    limits = trial.limits(options["timeout"], options["memory"], options["fuel"])
    if not 0 < limits.timeout_s < math.inf:
        raise usage_error(f"--timeout must be a positive number of seconds, not {limits.timeout_s}")
    if limits.memory_bytes < 1024 * 1024:
        raise usage_error(f"--memory must be at least 1 MB, not {options['memory']}")
    if limits.fuel < 1:
        raise usage_error(f"--fuel must be positive, not {limits.fuel}")
    return limits
