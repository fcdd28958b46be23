"""The sandbox's front door: a program and datasets in, an ``Outcome`` out, never an exception."""

from __future__ import annotations

import datetime
import logging
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from .cache import ArtifactCache
from .compiler import CompileLimits
from .core import CoreRunner
from .engine import get_engine
from .host import RunState
from .outcome import ErrorKind, Limits, Outcome, SandboxError
from .program import Program, ProgramKind

log = logging.getLogger(__name__)


class Sandbox:
    """Runs checkers under limits; one per process is enough (see ``get_sandbox``).

    Compiled modules are cached in memory (linked, ready to instantiate) and, when
    ``cache_dir`` is given, on disk so a restart skips compilation. With ``compile_limits``
    a core module is compiled in a bounded child process (``compiler.py``), never here.
    """

    def __init__(self, cache_dir: Path | None = None, compile_limits: CompileLimits | None = None) -> None:
        self.engine = get_engine()
        self.cache = ArtifactCache(self.engine, cache_dir, bounded=compile_limits)
        self._core = CoreRunner(self.engine, self.cache)

    def compile(self, program: Program) -> None:
        """Compile a core module into the cache now (at save), so runs only load it.

        Raises ``SandboxError``: ``invalid_module``, or ``compile_limit`` past the limits.
        A Python program compiles nothing: its source is an argument of the runtime.
        """
        if program.kind is not ProgramKind.PYTHON:
            self._core.compile(program)

    def run(
        self,
        program: Program,
        datasets: Mapping[str, Mapping[str, Any]],
        limits: Limits = Limits(),  # noqa: B008 - frozen, so sharing the default is safe
        params: Any = None,
        calendar: Callable[[datetime.date | None], bool] | None = None,
    ) -> Outcome:
        """Run ``program`` against ``datasets``: green, red, or an error with its kind.

        Whatever the guest does, this returns an Outcome. A bug in the host is logged and
        reported as a ``trap`` too, because a worker must survive to run the next checker.
        ``calendar`` answers ``business_day``: whether a date (None: today) is a business day.
        """
        state = RunState(datasets, limits, params, calendar)
        started = time.perf_counter()
        try:
            if program.kind is ProgramKind.PYTHON:
                return self._run_python(program, state)
            return self._core.run(program, state)
        except SandboxError as err:
            return state.outcome(_ms_since(started), 0, err)
        except Exception as exc:
            log.exception("sandbox host failure running program %s", program.sha256)
            detail = f"the sandbox failed internally ({type(exc).__name__}: {exc})"
            error = SandboxError(ErrorKind.TRAP, detail)
            return state.outcome(_ms_since(started), 0, error)

    def _run_python(self, program: Program, state: RunState) -> Outcome:
        try:
            from .component import run_python
        except ModuleNotFoundError as exc:
            if exc.name != f"{__package__}.component":
                raise
            detail = "Python checkers are not available: the Python runtime is not installed"
            raise SandboxError(ErrorKind.INVALID_MODULE, detail) from None
        return run_python(self, program.text, state, state.limits, state.params)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


_lock = threading.Lock()
_sandboxes: dict[tuple[Path | None, CompileLimits | None], Sandbox] = {}


def get_sandbox(cache_dir: Path | None = None, compile_limits: CompileLimits | None = None) -> Sandbox:
    """The process-wide Sandbox for ``cache_dir`` and ``compile_limits``, so compiled modules
    are shared by every run."""
    key = (cache_dir, compile_limits)
    with _lock:
        if key not in _sandboxes:
            _sandboxes[key] = Sandbox(cache_dir, compile_limits)
        return _sandboxes[key]
