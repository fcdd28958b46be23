"""The wasmtime host for checkers.

This package imports nothing from Django: bytes and datasets in, an ``Outcome`` out.

    from checkers.sandbox import Limits, Program, get_sandbox
    outcome = get_sandbox(cache_dir).run(Program.from_path("check.wat"), datasets, Limits(timeout_s=2))

Importing the package loads only its plain types; wasmtime loads with the first
``get_sandbox()`` call (or ``Sandbox``), so a process that never runs code (a rule checker
run from cron, the web pages that list runs) never pays for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from .compiler import CompileLimits
from .outcome import (
    FAILING_KEYS_CAP,
    CheckerError,
    ErrorKind,
    FailingSample,
    Level,
    Limits,
    Message,
    Outcome,
    SandboxError,
    Status,
    key_text,
)
from .program import Program, ProgramKind

if TYPE_CHECKING:
    from .sandbox import Sandbox

__all__ = [
    "FAILING_KEYS_CAP",
    "CheckerError",
    "CompileLimits",
    "ErrorKind",
    "FailingSample",
    "Level",
    "Limits",
    "Message",
    "Outcome",
    "Program",
    "ProgramKind",
    "Sandbox",
    "SandboxError",
    "Status",
    "get_sandbox",
    "key_text",
]


def get_sandbox(cache_dir: Path | None = None, compile_limits: CompileLimits | None = None) -> Sandbox:
    """The process-wide Sandbox for ``cache_dir`` (``sandbox.get_sandbox``), loading wasmtime."""
    from .sandbox import get_sandbox as process_sandbox

    return process_sandbox(cache_dir, compile_limits)


def __getattr__(name: str) -> Any:
    if name == "Sandbox":
        from .sandbox import Sandbox

        return Sandbox
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
