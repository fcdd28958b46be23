"""Python checkers: the host side of the componentize-py component built by ``python/build.py``.

One component (CPython plus the guest runner, ~20 MB) serves every Python checker: the
checker's source is an argument of its ``run`` export, not code that is compiled. The
component is compiled once per machine (the on-disk ``ArtifactCache``) and loaded once per
process, together with a Linker holding the host functions; each run gets a fresh Store
and a fresh instance, so nothing a checker does survives into the next run. wasmtime-py
has no component ``InstancePre``; instantiating a pre-initialised component with a linker
that is already resolved is the nearest equivalent and takes about a millisecond.
"""

from __future__ import annotations

import decimal
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import wasmtime
from wasmtime.component import Component, ExportIndex, Linker

from .cache import ArtifactCache, sha256
from .host import RunState, _json_default, bind, classify, current, fuel_used, new_store
from .outcome import ErrorKind, Limits, Outcome, SandboxError
from .python.build import DEFAULT_OUT

if TYPE_CHECKING:
    from .sandbox import Sandbox

# What the component may import: exactly the functions of wit/checker.wit, no WASI.
IMPORTS = frozenset(
    {
        "dataset-names",
        "dataset",
        "dataset-rows",
        "dataset-scalar",
        "dataset-truncated",
        "ok",
        "fail",
        "log",
        "now-ms",
        "business-day",
        "metric",
        "fail-rows",
    }
)
# The error kinds the guest may report itself; anything else it says is a python_exception.
GUEST_KINDS = frozenset({ErrorKind.PYTHON_EXCEPTION, ErrorKind.MEMORY_LIMIT, ErrorKind.STACK_OVERFLOW})
# The component instantiates 30-odd core instances (CPython, libc, the runtime, WASI stubs)
# sharing two tables and ONE memory: with a single memory allowed, ``memory_bytes`` bounds
# everything the checker can allocate.
COMPONENT_INSTANCES = 48
COMPONENT_TABLES = 4
COMPONENT_MEMORIES = 1


class PythonRunner:
    """Runs Python checker source in the component; one per process, shared by threads."""

    def __init__(self, engine: wasmtime.Engine, cache: ArtifactCache, path: Path = DEFAULT_OUT) -> None:
        self.engine = engine
        self.component = _load(cache, path)
        _check_imports(self.component, engine)
        self.linker = _linker(engine)
        index = self.component.get_export_index("run")
        if index is None:
            raise _unavailable(f"{path} does not export `run`; rebuild it")
        self._run_index: ExportIndex = index

    def run(self, source: str, state: RunState, limits: Limits, params: Any) -> Outcome:
        """Run checker ``source``; whatever it does comes back as an outcome."""
        store = new_store(
            self.engine,
            limits,
            instances=COMPONENT_INSTANCES,
            tables=COMPONENT_TABLES,
            memories=COMPONENT_MEMORIES,
        )
        try:
            started = time.perf_counter()
            error = self._execute(store, state, limits, source, json.dumps(params or {}, default=str))
            elapsed = time.perf_counter() - started
            if error is not None and not isinstance(error, SandboxError):
                error = _classify_trap(error, store, limits, elapsed, state)
            return state.outcome(elapsed * 1000, fuel_used(store, limits), error)
        finally:
            # A trap's traceback holds the store; closing it frees the guest's memory now.
            store.close()

    def _execute(
        self, store: wasmtime.Store, state: RunState, limits: Limits, source: str, params: str
    ) -> BaseException | None:
        """Instantiate and call ``run``; returns what went wrong, if anything."""
        with bind(state):
            try:
                instance = self.linker.instantiate(store, self.component)
                run = instance.get_func(store, self._run_index)
                if run is None:
                    raise _unavailable("the component's `run` export is not a function; rebuild it")
                failure = run(store, source, params)
            except (wasmtime.Trap, wasmtime.WasmtimeError, SandboxError) as exc:
                return state.host_error or exc
        if state.host_error is not None:
            return state.host_error
        return _guest_error(failure, limits) if failure is not None else None


def run_python(sandbox: Sandbox, source: str, state: RunState, limits: Limits, params: Any) -> Outcome:
    """``Sandbox.run`` for Python source: the process's runner, loaded on first use."""
    return python_runner(sandbox.engine, sandbox.cache).run(source, state, limits, params)


def _unavailable(reason: str) -> SandboxError:
    """The runtime is missing or broken: the operator's to fix, reported like a bad module."""
    return SandboxError(ErrorKind.INVALID_MODULE, f"Python checkers are not available: {reason}")


def _guest_error(failure: Any, limits: Limits) -> SandboxError:
    """The guest's own verdict on an uncaught exception, with the run's limits spelled out."""
    try:
        kind = ErrorKind(failure.kind)
    except ValueError:
        kind = ErrorKind.PYTHON_EXCEPTION
    if kind not in GUEST_KINDS:
        kind = ErrorKind.PYTHON_EXCEPTION
    detail = str(failure.detail)
    if kind is ErrorKind.MEMORY_LIMIT:
        limit = limits.memory_bytes / 2**20
        detail = f"the checker needs more than its {limit:g} MB memory limit ({detail})"
    return SandboxError(kind, detail)


def _classify_trap(
    exc: BaseException, store: wasmtime.Store, limits: Limits, elapsed: float, state: RunState
) -> SandboxError:
    """``classify`` plus what only a Python guest can mean by a trap: running out of memory
    where CPython cannot raise ``MemoryError`` to the checker, or a system call it may not make."""
    error = classify(exc, store, limits, elapsed, state=state)
    if error.kind is ErrorKind.TRAP and _out_of_memory(str(exc), state.logs):
        limit = limits.memory_bytes / 2**20
        return SandboxError(
            ErrorKind.MEMORY_LIMIT,
            f"the checker needs more than its {limit:g} MB memory limit (it ran out where Python cannot "
            "raise MemoryError, most often while receiving a dataset: read fewer rows, or raise the limit)",
        )
    if error.kind is ErrorKind.TRAP and _called_stubbed_wasi(str(exc)):
        return SandboxError(
            ErrorKind.TRAP,
            "the checker called an operating-system function (files, clock, environment, "
            "network or sleep) that checkers do not have; use the datasets and now() instead",
        )
    return error


def _out_of_memory(text: str, logs: str) -> bool:
    """The two ways a full memory ends a Python guest without a ``MemoryError`` it can catch.

    - The host's answer (a dataset's JSON) cannot be allocated: the component model checks
      the guest's ``realloc`` result and traps with "realloc return: beyond end of memory".
    - The answer was allocated but turning it into a Python object failed: the runtime
      prints the ``MemoryError`` traceback to stderr (the run's logs) and aborts, which
      reaches a stubbed WASI function, the trap below.
    """
    if "realloc return: beyond end of memory" in text:
        return True
    lines = logs.rstrip().splitlines()
    return bool(lines) and lines[-1].startswith("MemoryError") and _called_stubbed_wasi(text)


def _called_stubbed_wasi(text: str) -> bool:
    """``--stub-wasi`` turns each WASI function into an ``unreachable`` that wasi-libc calls."""
    frames = [line for line in text.splitlines() if " - " in line][:3]
    return "unreachable" in text and any("libc.so!" in frame for frame in frames)


# Loading ----------------------------------------------------------------------------------


def _load(cache: ArtifactCache, path: Path) -> Component:
    """The compiled component: from the on-disk cache, else compiled (~10 s) and cached."""
    try:
        wasm = Path(path).read_bytes()
    except FileNotFoundError:
        raise _unavailable(
            f"the runtime {path} is not built; run `make guest` (python -m checkers.sandbox.python.build)"
        ) from None
    return cache.component(wasm, sha256(wasm))


def _check_imports(component: Component, engine: wasmtime.Engine) -> None:
    """The component must import the WIT world's functions and nothing else (no WASI)."""
    imports = set(component.type.imports(engine))
    if imports != IMPORTS:
        extra = ", ".join(sorted(imports - IMPORTS)) or "none"
        missing = ", ".join(sorted(IMPORTS - imports)) or "none"
        raise _unavailable(f"the component imports the wrong functions (extra: {extra}; missing: {missing})")


# Host functions ---------------------------------------------------------------------------


def _linker(engine: wasmtime.Engine) -> Linker:
    linker = Linker(engine)
    with linker.root() as root:
        for name, function in _HOST_FUNCTIONS.items():
            root.add_func(name, _host(function))
    return linker


def _host(function: Callable[..., Any]) -> Callable[..., Any]:
    """Serve the run bound to this thread; refuse with a ``WasmtimeError``, which traps the guest.

    The refusal's kind is already stashed on the run state. wasmtime-py would carry any other
    exception back through one process-wide slot, where a run on another thread could pick it up.
    """

    def host(store: Any, *args: Any) -> Any:
        try:
            return function(current(), *args)
        except SandboxError as exc:
            raise wasmtime.WasmtimeError(exc.detail) from None

    return host


def _dataset_json(state: RunState, name: str) -> str:
    return state.dataset_json(name).decode("utf-8")


def _dataset_scalar(state: RunState, name: str) -> str:
    """The first cell as JSON, so a Python checker gets the value itself (a date, a string), not a float."""
    if not state.dataset_rows(name):
        return "null"
    first = state.datasets[name]["rows"][0]
    if first and isinstance(first[0], decimal.Decimal) and first[0].is_finite():
        return str(first[0])  # a number no float holds, with all its digits
    return json.dumps(first[0] if first else None, default=_json_default)


def _now_ms(state: RunState) -> int:
    return time.time_ns() // 1_000_000


_HOST_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "dataset-names": RunState.dataset_names,
    "dataset": _dataset_json,
    "dataset-rows": RunState.dataset_rows,
    "dataset-scalar": _dataset_scalar,
    "dataset-truncated": RunState.dataset_truncated,
    "ok": RunState.ok,
    "fail": RunState.fail,
    "log": RunState.write_log,
    "now-ms": _now_ms,
    "business-day": RunState.business_day,
    "metric": RunState.record_metric,
    "fail-rows": RunState.record_failing_rows,
}


# One runner per process ---------------------------------------------------------------------

_lock = threading.Lock()
_runners: dict[tuple[int, Path], PythonRunner] = {}


def python_runner(engine: wasmtime.Engine, cache: ArtifactCache, path: Path = DEFAULT_OUT) -> PythonRunner:
    """The process's runner for ``path``: loading the component happens once, under a lock."""
    key = (id(engine), Path(path))
    with _lock:
        runner = _runners.get(key)
        if runner is None:
            runner = _runners[key] = PythonRunner(engine, cache, path)
        return runner
