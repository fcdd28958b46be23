"""The wasmtime host for checkers.

This package imports nothing from Django: bytes and datasets in, an ``Outcome`` out.

    from checkers.sandbox import Limits, Program, get_sandbox
    outcome = get_sandbox(cache_dir).run(Program.from_path("check.wat"), datasets, Limits(timeout_s=2))
"""

from .outcome import CheckerError, ErrorKind, Level, Limits, Message, Outcome, SandboxError, Status
from .program import Program, ProgramKind
from .sandbox import Sandbox, get_sandbox

__all__ = [
    "CheckerError",
    "ErrorKind",
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
]
