"""What every guest (core module or Python component) shares: one run's state and its limits.

A ``RunState`` is created per run, bound to the running thread with ``bind()``, and reached
from host functions with ``current()``: host functions are defined once per Linker, long
before any run, so they cannot close over the run they serve. Host functions raise
``SandboxError`` through ``RunState.reject()``, which also stashes the error on the state:
wasmtime-py hands the exception back through a process-global slot, and the stash is what
``classify()`` trusts, so a host error is reported with its own kind even if the binding
wrapped or lost it.
"""

from __future__ import annotations

import codecs
import contextlib
import datetime
import decimal
import json
import math
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import wasmtime

from .engine import deadline_ticks
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

LOG_TRUNCATED = "\n[log truncated: the checker wrote more than {limit} bytes]\n"

# Upper bounds that are not worth a per-checker knob. A table element costs 8 bytes, so
# 100k elements is under 1 MB; real guests (even CPython) use a few thousand.
MAX_TABLE_ELEMENTS = 100_000
MAX_DATASET_NAME_BYTES = 1024


# A metric's name: what its chart is titled by.
METRIC_NAME_CHARS = 100


def weekday(day: datetime.date | None) -> bool:
    """The calendar of a run given none (``sandbox_run``): Monday to Friday, today in UTC."""
    return (day or datetime.datetime.now(datetime.UTC).date()).weekday() < 5


class RunState:
    """The host side of one run: datasets in, messages and logs out, limits enforced.

    Interface used by the guest runners (core modules and the Python component):

    - ``dataset_json(name) -> bytes``: the dataset as UTF-8 JSON ``{"columns", "rows"}``,
      encoded once per run and cached.
    - ``dataset(name)``: the dataset as given (an unknown name is ``unknown_dataset``).
    - ``dataset_rows(name) -> int`` and ``dataset_scalar(name) -> float`` (NaN when the
      first cell is absent or not numeric); nothing is encoded.
    - ``dataset_truncated(name) -> bool``: the rows were cut at the datasource's row cap (the
      dataset's optional ``"truncated"`` key; only a dataset marked as a sample gets this far).
    - ``dataset_names() -> list[str]``.
    - ``check_message_size(nbytes)``: call before copying a message out of guest memory, so a
      60 MB message is refused without being read.
    - ``add_message(level, text)`` (and ``ok``/``fail``/``log``): records a message, raising
      ``SandboxError(OUTPUT_LIMIT)`` past ``max_messages``, ``max_message_bytes`` or
      ``output_bytes`` in total.
    - ``write_log(text)``: stdout/stderr/print output; silently truncated at ``output_bytes``.
    - ``write_stream(data)``: the same for raw bytes (WASI stdout and stderr), decoded as
      UTF-8 across writes, so a character split between two writes survives.
    - ``log_room``: how many more bytes the log keeps, so a host function reads no more.
    - ``reject(kind, detail)``: records and returns a ``SandboxError`` for the host function
      to raise.
    - ``outcome(duration_ms, fuel_used, error=None) -> Outcome``.

    - ``exit()``: the guest ended its run itself and complete (WASI ``proc_exit(0)``).
    - ``stopped``: an error is stashed or the guest exited: it only runs on to its next fuel
      check, and host functions ignore it meanwhile; ``fuel_at_stop`` is what it had left.

    Every ``SandboxError`` these methods raise is already stashed in ``host_error``, so a
    host function can let it propagate as it is.
    """

    def __init__(
        self,
        datasets: Mapping[str, Mapping[str, Any]],
        limits: Limits,
        params: Any = None,
        calendar: Callable[[datetime.date | None], bool] | None = None,
    ) -> None:
        self.datasets = datasets
        self.limits = limits
        self.params = params
        self.calendar = calendar or weekday
        self.messages: list[Message] = []
        self.metrics: dict[str, float] = {}
        self.failing_rows: dict[str, FailingSample] = {}
        self.host_error: SandboxError | None = None
        self.exited = False
        self.fuel_at_stop: int | None = None
        self._encoded: dict[str, bytes] = {}
        self._message_bytes = 0
        self._log_parts: list[str] = []
        self._log_bytes = 0
        self._log_truncated = False
        self._stream_decoder = codecs.getincrementaldecoder("utf-8")("replace")

    # Datasets -------------------------------------------------------------------------

    def dataset_names(self) -> list[str]:
        return sorted(self.datasets)

    def dataset(self, name: str) -> Mapping[str, Any]:
        try:
            return self.datasets[name]
        except KeyError:
            known = ", ".join(self.dataset_names()) or "none"
            raise self.reject(
                ErrorKind.UNKNOWN_DATASET, f"no dataset named {name!r}; this checker's datasets are: {known}"
            ) from None

    def dataset_json(self, name: str) -> bytes:
        if name not in self._encoded:
            dataset = self.dataset(name)
            columns, rows = list(dataset.get("columns", [])), dataset.get("rows", [])
            if hasattr(rows, "to_json"):
                # A datasource's rows (``checkers.datasources.JsonRows``) encode themselves.
                self._encoded[name] = rows.to_json(columns)
                return self._encoded[name]
            payload = {"columns": columns, "rows": rows}
            self._encoded[name] = json.dumps(
                payload, separators=(",", ":"), ensure_ascii=False, default=_json_default
            ).encode("utf-8")
        return self._encoded[name]

    def dataset_rows(self, name: str) -> int:
        return len(self.dataset(name).get("rows", []))

    def business_day(self, day: str) -> bool:
        """The calendar's answer for an ISO date, or for today (``""``); anything else traps."""
        try:
            date = datetime.date.fromisoformat(day) if day else None
        except ValueError:
            raise self.reject(
                ErrorKind.TRAP, f"business_day: {day[:40]!r} is not a date (YYYY-MM-DD)"
            ) from None
        return bool(self.calendar(date))

    def dataset_truncated(self, name: str) -> bool:
        return bool(self.dataset(name).get("truncated", False))

    def dataset_scalar(self, name: str) -> float:
        rows = self.dataset(name).get("rows", [])
        if not rows or not rows[0]:
            return math.nan
        return _as_float(rows[0][0])

    # Messages and logs ----------------------------------------------------------------

    def check_message_size(self, nbytes: int) -> None:
        limits = self.limits
        if len(self.messages) >= limits.max_messages:
            raise self.reject(
                ErrorKind.OUTPUT_LIMIT,
                f"the checker sent more than {limits.max_messages} messages; "
                "summarise instead of reporting every row",
            )
        if nbytes > limits.max_message_bytes:
            raise self.reject(
                ErrorKind.OUTPUT_LIMIT,
                f"a message of {nbytes} bytes exceeds the {limits.max_message_bytes}-byte limit",
            )
        if self._message_bytes + nbytes > limits.output_bytes:
            raise self.reject(
                ErrorKind.OUTPUT_LIMIT,
                f"messages exceed the {limits.output_bytes}-byte output limit in total",
            )

    def add_message(self, level: Level, text: str) -> None:
        nbytes = len(text.encode("utf-8", "replace"))
        self.check_message_size(nbytes)
        self._message_bytes += nbytes
        self.messages.append(Message(level, text))

    def record_metric(self, name: str, value: float) -> None:
        """Keep a named number for the run's history: the last value of a name wins; past
        ``max_metrics`` names, or with a bad name or value, the run ends as ``output_limit``."""
        name = name.strip()
        if not 0 < len(name) <= METRIC_NAME_CHARS:
            detail = f"metric: a name of 1 to {METRIC_NAME_CHARS} characters, not {name[:40]!r}"
            raise self.reject(ErrorKind.OUTPUT_LIMIT, detail)
        if not math.isfinite(value):
            raise self.reject(ErrorKind.OUTPUT_LIMIT, f"metric {name!r}: {value} is not a finite number")
        if name not in self.metrics and len(self.metrics) >= self.limits.max_metrics:
            detail = f"metric {name!r}: a run records at most {self.limits.max_metrics} metrics"
            raise self.reject(ErrorKind.OUTPUT_LIMIT, detail)
        self.metrics[name] = float(value)

    def record_failing_rows(self, name: str, keys: list[Any], count: int, message: str) -> None:
        """``fail_rows``: the keys of a dataset's failing rows (the first ``FAILING_KEYS_CAP``
        kept) and how many there are; a fail message saying so, or ok when there are none."""
        self.dataset(name)
        if len(keys) > FAILING_KEYS_CAP:
            keys = keys[:FAILING_KEYS_CAP]
        count = max(int(count), len(keys))
        self.failing_rows.setdefault(name, FailingSample()).add([key_text(key) for key in keys], count)
        text = f"{count:,} failing row{'s' if count != 1 else ''} in {name}"
        text = f"{message} ({text})" if message else text
        self.add_message(Level.FAIL if count else Level.OK, text)

    def ok(self, text: str) -> None:
        self.add_message(Level.OK, text)

    def fail(self, text: str) -> None:
        self.add_message(Level.FAIL, text)

    def log(self, text: str) -> None:
        self.add_message(Level.LOG, text)

    def write_log(self, text: str) -> None:
        """Append stream output; past ``output_bytes`` it is dropped, once marked, never an error.

        Streams (WASI stdout/stderr, Python ``print``) are diagnostics, so a chatty checker
        loses its tail rather than its verdict.
        """
        if self._log_truncated:
            return
        room = self.limits.output_bytes - self._log_bytes
        data = text.encode("utf-8", "replace")
        if len(data) > room:
            data = data[: max(room, 0)]
            self._log_truncated = True
        self._log_bytes += len(data)
        self._log_parts.append(data.decode("utf-8", "ignore"))
        if self._log_truncated:
            self._log_parts.append(LOG_TRUNCATED.format(limit=self.limits.output_bytes))

    def write_stream(self, data: bytes) -> None:
        self.write_log(self._stream_decoder.decode(data))

    @property
    def log_room(self) -> int:
        return 0 if self._log_truncated else max(self.limits.output_bytes - self._log_bytes, 0)

    @property
    def logs(self) -> str:
        return "".join(self._log_parts)

    @property
    def failed(self) -> bool:
        return any(m.level == Level.FAIL for m in self.messages)

    # Errors and the result ------------------------------------------------------------

    def reject(self, kind: ErrorKind, detail: str) -> SandboxError:
        """Stash and return the error a host function is about to raise (first one wins)."""
        return self.fail_with(SandboxError(kind, detail))

    def fail_with(self, error: SandboxError) -> SandboxError:
        if self.host_error is None:
            self.host_error = error
        return self.host_error

    def exit(self) -> None:
        self.exited = True

    @property
    def stopped(self) -> bool:
        return self.host_error is not None or self.exited

    def outcome(self, duration_ms: float, fuel_used: int, error: SandboxError | None = None) -> Outcome:
        status = Status.ERROR if error is not None else Status.RED if self.failed else Status.GREEN
        return Outcome(
            status=status,
            messages=list(self.messages),
            error=CheckerError(error.kind, error.detail) if error else None,
            logs=self.logs,
            duration_ms=duration_ms,
            fuel_used=fuel_used,
            metrics=dict(self.metrics),
            failing_rows=dict(self.failing_rows),
        )


def _json_default(value: Any) -> Any:
    """Database values that JSON lacks: numbers stay numbers, times become ISO 8601."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, uuid.UUID):
        return str(value)
    return str(value)


def _as_float(value: Any) -> float:
    if isinstance(value, int | float | decimal.Decimal):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return math.nan
    return math.nan


# Binding a run to the thread --------------------------------------------------------------

_bound = threading.local()


@contextlib.contextmanager
def bind(state: RunState) -> Iterator[RunState]:
    """Make ``state`` the one host functions on this thread serve, for the duration."""
    previous = getattr(_bound, "state", None)
    _bound.state = state
    try:
        yield state
    finally:
        _bound.state = previous


def current() -> RunState:
    state: RunState | None = getattr(_bound, "state", None)
    if state is None:
        raise RuntimeError("a sandbox host function ran outside Sandbox.run")
    return state


# Stores and limits ------------------------------------------------------------------------


def new_store(
    engine: wasmtime.Engine, limits: Limits, *, instances: int = 1, tables: int = 4, memories: int = 1
) -> wasmtime.Store:
    """A store with every budget applied; the epoch deadline starts counting now.

    ``memory_size`` caps each memory, so the number of memories is capped too (one for a
    core module) to make ``memory_bytes`` a real bound. Components need more instances,
    tables and memories; their runner passes its own counts.
    """
    store = wasmtime.Store(engine)
    store.set_limits(
        memory_size=limits.memory_bytes,
        table_elements=MAX_TABLE_ELEMENTS,
        instances=instances,
        tables=tables,
        memories=memories,
    )
    store.set_fuel(limits.fuel)
    store.set_epoch_deadline(deadline_ticks(limits.timeout_s))
    return store


def guest_memory(caller: wasmtime.Caller, state: RunState) -> wasmtime.Memory:
    """The core module's exported ``memory``, where every pointer it passes points."""
    memory = caller.get("memory")
    if not isinstance(memory, wasmtime.Memory):
        raise state.reject(
            ErrorKind.MISSING_EXPORT, "the module passes pointers to the host, so it must export its `memory`"
        )
    return memory


def fuel_used(store: wasmtime.Store, limits: Limits, state: RunState | None = None) -> int:
    """Fuel the guest burnt; up to its stop when it stopped (the host then empties its tank)."""
    if state is not None and state.fuel_at_stop is not None:
        return max(0, limits.fuel - state.fuel_at_stop)
    try:
        return max(0, limits.fuel - store.get_fuel())
    except wasmtime.WasmtimeError:
        return 0


# Classification ---------------------------------------------------------------------------


def classify(
    exc: BaseException,
    store: wasmtime.Store | None,
    limits: Limits,
    elapsed_s: float,
    *,
    state: RunState | None = None,
    memory_exhausted: bool = False,
) -> SandboxError:
    """Turn whatever a run raised into the contract's error kind, with an actionable detail.

    Works for core modules (``wasmtime.Trap``, ``WasmtimeError``) and components (which raise
    ``WasmtimeError`` whose message carries the trap). ``memory_exhausted`` is the runner's
    observation that the guest's memory sits at its limit: a guest whose ``memory.grow`` was
    refused usually dies of something else (``unreachable``, an out-of-bounds access, a loop),
    and the cause worth reporting is the memory.
    """
    if state is not None and state.host_error is not None:
        return state.host_error
    if isinstance(exc, SandboxError):
        if state is None:
            return exc
        # wasmtime-py passes host exceptions back through one process-global slot, so with
        # runs on several threads a call can surface another run's error; ours are stashed.
        exc = wasmtime.WasmtimeError("the checker trapped (its own cause was lost)")
    text = _trap_text(exc)
    kind = _trap_kind(exc, text, store, limits, elapsed_s)
    if memory_exhausted and kind in (ErrorKind.TRAP, ErrorKind.TIMEOUT, ErrorKind.FUEL_EXHAUSTED):
        return SandboxError(
            ErrorKind.MEMORY_LIMIT,
            f"memory_limit: the checker needed more than its {_mb(limits.memory_bytes)} memory limit "
            f"(memory.grow was refused, then: {_first_line(text)})",
        )
    return SandboxError(kind, _detail(kind, text, limits))


_MARKERS = (
    ("wasm trap: interrupt", ErrorKind.TIMEOUT),
    ("all fuel consumed", ErrorKind.FUEL_EXHAUSTED),
    ("call stack exhausted", ErrorKind.STACK_OVERFLOW),
    ("exceeds memory limits", ErrorKind.MEMORY_LIMIT),
    ("exceeds table limits", ErrorKind.MEMORY_LIMIT),
    ("resource limit exceeded", ErrorKind.MEMORY_LIMIT),
    ("memory count", ErrorKind.MEMORY_LIMIT),
    ("table count", ErrorKind.MEMORY_LIMIT),
    ("instance count", ErrorKind.MEMORY_LIMIT),
    ("unknown import", ErrorKind.UNKNOWN_IMPORT),
    ("incompatible import type", ErrorKind.UNKNOWN_IMPORT),
)


def _trap_kind(
    exc: BaseException, text: str, store: wasmtime.Store | None, limits: Limits, elapsed_s: float
) -> ErrorKind:
    code = exc.trap_code if isinstance(exc, wasmtime.Trap) else None
    by_code = {
        wasmtime.TrapCode.INTERRUPT: ErrorKind.TIMEOUT,
        wasmtime.TrapCode.OUT_OF_FUEL: ErrorKind.FUEL_EXHAUSTED,
        wasmtime.TrapCode.STACK_OVERFLOW: ErrorKind.STACK_OVERFLOW,
        wasmtime.TrapCode.ALLOCATION_TOO_LARGE: ErrorKind.MEMORY_LIMIT,
    }
    if code in by_code:
        return by_code[code]
    lowered = text.lower()
    for marker, kind in _MARKERS:
        if marker in lowered:
            return kind
    if store is not None and _fuel_left(store) == 0:
        return ErrorKind.FUEL_EXHAUSTED
    if elapsed_s >= limits.timeout_s:
        return ErrorKind.TIMEOUT
    return ErrorKind.TRAP


def _detail(kind: ErrorKind, text: str, limits: Limits) -> str:
    if kind is ErrorKind.TIMEOUT:
        return f"timeout: the checker ran past its {limits.timeout_s:g} s limit"
    if kind is ErrorKind.FUEL_EXHAUSTED:
        return (
            f"fuel_exhausted: the checker used all of its {limits.fuel:,} units of fuel "
            "(roughly, wasm instructions); look for a loop that never ends or do less work per run"
        )
    if kind is ErrorKind.STACK_OVERFLOW:
        return "stack_overflow: the checker's call stack ran out; look for runaway recursion"
    if kind is ErrorKind.MEMORY_LIMIT and "count too high" in text:
        cause = _first_line(text)
        return f"memory_limit: the module declares more memories or tables than a checker may have ({cause})"
    if kind is ErrorKind.MEMORY_LIMIT:
        limit = _mb(limits.memory_bytes)
        return f"memory_limit: the checker needs more than its {limit} memory limit ({_first_line(text)})"
    if kind is ErrorKind.UNKNOWN_IMPORT:
        return f"unknown_import: {_first_line(text)}"
    return f"trap: {_cause(text)}"


def _trap_text(exc: BaseException) -> str:
    if isinstance(exc, wasmtime.Trap):
        return exc.message
    return str(exc)


def _cause(text: str) -> str:
    """The ``Caused by`` line of a wasmtime error, which names the trap; else its first line."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        if line.startswith("Caused by:") and i + 1 < len(lines):
            return lines[i + 1].removeprefix("wasm trap: ")
    return _first_line(text)


def _first_line(text: str) -> str:
    return next((line.strip() for line in text.splitlines() if line.strip()), "unknown error")[:500]


def _fuel_left(store: wasmtime.Store) -> int | None:
    try:
        return store.get_fuel()
    except wasmtime.WasmtimeError:
        return None


def _mb(nbytes: int) -> str:
    return f"{nbytes / (1024 * 1024):g} MB"
