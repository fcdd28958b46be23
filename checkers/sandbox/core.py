"""Core wasm modules: the ``malleable`` imports of the guest ABI (docs/contracts.md), and WASI
(implemented in ``wasi.py``).

Every value a guest passes in is hostile. i32s are read as unsigned, every ``(ptr, len)`` is
checked against the memory's current size before a byte is touched (wasmtime-py's
``Memory.read`` follows Python slicing, so a negative index would silently wrap), sizes are
checked before copying, and a guest ``alloc`` may return anything or trap. Host errors are
``SandboxError``s stashed on the run's state, so they end the run with their own kind.

A host function never lets its error out to wasmtime: wasmtime-py carries an exception from
a host function to the trap through one process-wide slot, so with runs on several threads
another run could pick it up and lose its own cause (a stack overflow reported as a trap).
Instead the function empties the store's fuel and returns: the guest traps out of fuel at
its next check, and ``classify`` reports the stashed error. WASI's ``proc_exit(0)`` stops the
guest the same way, with no error stashed, so the run ends as if ``check`` had returned.

Each module gets its own Linker, built from its imports (once per module and process, like
its ``InstancePre``), so every WASI function it imports links, known or not.
"""

from __future__ import annotations

import ctypes
import functools
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import wasmtime

from . import wasi
from .cache import ArtifactCache
from .host import (
    MAX_DATASET_NAME_BYTES,
    METRIC_NAME_CHARS,
    RunState,
    bind,
    classify,
    current,
    fuel_used,
    guest_memory,
    new_store,
)
from .outcome import ErrorKind, Level, Limits, Outcome, SandboxError
from .program import MAX_MODULE_BYTES, Program, ProgramKind

MALLEABLE = "malleable"
WASI = wasi.WASI

# Compiled modules kept in memory; beyond this the least recently run is dropped.
MAX_PREPARED = 256

U32 = 0xFFFFFFFF
WASM_MAGIC = b"\0asm"

_i32 = wasmtime.ValType.i32()
_i64 = wasmtime.ValType.i64()
_f64 = wasmtime.ValType.f64()

ABI: dict[str, tuple[list[wasmtime.ValType], list[wasmtime.ValType]]] = {
    "dataset": ([_i32, _i32], [_i64]),
    "dataset_rows": ([_i32, _i32], [_i64]),
    "dataset_scalar": ([_i32, _i32], [_f64]),
    "dataset_truncated": ([_i32, _i32], [_i32]),
    "ok": ([_i32, _i32], []),
    "fail": ([_i32, _i32], []),
    "log": ([_i32, _i32], []),
    "now_ms": ([], [_i64]),
    "metric": ([_i32, _i32, _f64], []),
    "fail_rows": ([_i32, _i32, _i32, _i32, _i64, _i32, _i32], []),
}


@dataclass(frozen=True)
class Prepared:
    """A module ready to instantiate: imports resolved once, a fresh Store per run."""

    pre: wasmtime.InstancePre
    initialize: bool


class CoreRunner:
    """Runs core modules for one Sandbox; safe to share between threads."""

    def __init__(self, engine: wasmtime.Engine, cache: ArtifactCache) -> None:
        self.engine = engine
        self.cache = cache
        self._prepared: OrderedDict[str, Prepared] = OrderedDict()
        self._lock = threading.Lock()

    def run(self, program: Program, state: RunState) -> Outcome:
        limits = state.limits
        try:
            prepared = self.prepare(program)
        except SandboxError as err:
            return state.outcome(0.0, 0, err)
        store = new_store(self.engine, limits)
        try:
            started = time.perf_counter()
            error, exports = _execute(prepared, store, state)
            elapsed = time.perf_counter() - started
            if error is not None:
                error = classify(
                    error,
                    store,
                    limits,
                    elapsed,
                    state=state,
                    memory_exhausted=_memory_exhausted(exports, store, limits),
                )
            return state.outcome(elapsed * 1000, fuel_used(store, limits, state), error)
        finally:
            # A trap's traceback holds the frame that holds the store: without this, the
            # guest's memory would wait for the cyclic garbage collector.
            store.close()

    def prepare(self, program: Program) -> Prepared:
        """Compile (or load from cache) and link a module; raises ``SandboxError`` for bad ones."""
        key = f"{program.kind}:{program.sha256}"
        with self._lock:
            prepared = self._prepared.get(key)
            if prepared is not None:
                self._prepared.move_to_end(key)
                return prepared
        prepared = self._link(self.compile(program))
        with self._lock:
            self._prepared[key] = prepared
            while len(self._prepared) > MAX_PREPARED:
                self._prepared.popitem(last=False)
        return prepared

    def compile(self, program: Program) -> wasmtime.Module:
        """The compiled module, from the cache or compiled; raises ``SandboxError`` for bad ones."""
        wasm = _wasm_bytes(program)
        try:
            return self.cache.module(wasm)
        except wasmtime.WasmtimeError as exc:
            detail = f"not a valid WebAssembly module: {_brief(exc)}"
            raise SandboxError(ErrorKind.INVALID_MODULE, detail) from None

    def _link(self, module: wasmtime.Module) -> Prepared:
        exports = {e.name: e.type for e in module.exports}
        _require_check(exports)
        _check_imports(module)
        try:
            pre = _linker(self.engine, module).instantiate_pre(module)
        except wasmtime.WasmtimeError as exc:
            raise SandboxError(ErrorKind.UNKNOWN_IMPORT, _brief(exc)) from None
        return Prepared(pre=pre, initialize=_is_nullary(exports.get("_initialize")))


def _execute(
    prepared: Prepared, store: wasmtime.Store, state: RunState
) -> tuple[BaseException | None, Mapping[str, object]]:
    """Instantiate and call ``check``; returns what went wrong, if anything, and the exports."""
    exports: Mapping[str, object] = {}
    with bind(state):
        try:
            exports = prepared.pre.instantiate(store).exports(store)
            # WASI reactors must be initialised before any other export is called.
            if prepared.initialize:
                _function(exports, "_initialize")(store)
            _function(exports, "check")(store)
        except (wasmtime.Trap, wasmtime.WasmtimeError, SandboxError) as exc:
            if not state.exited or state.host_error is not None:
                return exc, exports
    return state.host_error, exports


def _function(exports: Mapping[str, object], name: str) -> wasmtime.Func:
    """An export ``_link`` found to be a function of no arguments."""
    function = exports[name]
    assert isinstance(function, wasmtime.Func)
    return function


def _memory_exhausted(exports: Mapping[str, object], store: wasmtime.Store, limits: Limits) -> bool:
    """Whether an exported memory ended within a sixteenth of the limit: a ``memory.grow`` was
    almost certainly refused, since wasmtime cannot tell us (its refusals just return -1).

    Only exported memories can be seen from the host; every toolchain exports its memory,
    and the limit holds regardless: this only decides how the error is named.
    """
    margin = max(limits.memory_bytes // 16, 65536)
    memories = [item for item in exports.values() if isinstance(item, wasmtime.Memory)]
    return any(m.data_len(store) + margin > limits.memory_bytes for m in memories)


# Validation -------------------------------------------------------------------------------


def _wasm_bytes(program: Program) -> bytes:
    if program.kind is ProgramKind.WAT:
        try:
            wasm = bytes(wasmtime.wat2wasm(program.text))
        except wasmtime.WasmtimeError as exc:
            detail = f"the WAT text does not parse: {_brief(exc)}"
            raise SandboxError(ErrorKind.INVALID_MODULE, detail) from None
    elif program.kind is ProgramKind.WASM:
        wasm = program.code
        # wasmtime would also accept WAT text here; a .wasm file must be a binary module.
        if not wasm.startswith(WASM_MAGIC):
            detail = "not a WebAssembly binary (it does not start with \\0asm)"
            raise SandboxError(ErrorKind.INVALID_MODULE, detail)
    else:
        raise SandboxError(ErrorKind.INVALID_MODULE, f"a {program.kind} program is not a core wasm module")
    if len(wasm) > MAX_MODULE_BYTES:
        raise SandboxError(
            ErrorKind.INVALID_MODULE,
            f"the module is {len(wasm) / 2**20:.1f} MB; the limit is {MAX_MODULE_BYTES // 2**20} MB",
        )
    return wasm


def _require_check(exports: Mapping[str, object]) -> None:
    check = exports.get("check")
    if check is None:
        raise SandboxError(ErrorKind.MISSING_EXPORT, "the module must export a function `check: () -> ()`")
    if not _is_nullary(check):
        raise SandboxError(
            ErrorKind.MISSING_EXPORT, f"`check` must be a function `() -> ()`, but the module exports {check}"
        )


def _is_nullary(ty: object) -> bool:
    return isinstance(ty, wasmtime.FuncType) and not ty.params and not ty.results


def _check_imports(module: wasmtime.Module) -> None:
    """Refuse anything but the ABI and WASI, naming the import (``wasi.functions`` checks WASI's)."""
    for imp in module.imports:
        where = f"{imp.module}.{imp.name}"
        if imp.module == WASI:
            continue
        if imp.module != MALLEABLE:
            raise SandboxError(
                ErrorKind.UNKNOWN_IMPORT,
                f"the module imports {where}; checkers may import only `{MALLEABLE}` "
                f"(the Malleable ABI) and `{WASI}`",
            )
        elif imp.name not in ABI:
            raise SandboxError(
                ErrorKind.UNKNOWN_IMPORT,
                f"{where} is not part of the Malleable ABI (it has: {', '.join(ABI)})",
            )
        elif not _abi_type_matches(imp.name, imp.type):
            expected = wasi.signature(wasmtime.FuncType(*ABI[imp.name]))
            shown = wasi.signature(imp.type) if isinstance(imp.type, wasmtime.FuncType) else "not a function"
            detail = f"{where} is imported as {shown}, but the ABI declares {expected}"
            raise SandboxError(ErrorKind.UNKNOWN_IMPORT, detail)


def _abi_type_matches(name: str, ty: object) -> bool:
    params, results = ABI[name]
    return (
        isinstance(ty, wasmtime.FuncType)
        and [str(p) for p in ty.params] == [str(p) for p in params]
        and [str(r) for r in ty.results] == [str(r) for r in results]
    )


def _brief(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:4])[:500] or type(exc).__name__


# Host functions ---------------------------------------------------------------------------


def _linker(engine: wasmtime.Engine, module: wasmtime.Module) -> wasmtime.Linker:
    """The ``malleable`` functions and, for the WASI functions the module imports, the host's
    own; wasmtime's WASI (and the threads of its runtime) is never started."""
    linker = wasmtime.Linker(engine)
    for name, fn in _HOST_FUNCTIONS.items():
        params, results = ABI[name]
        linker.define_func(MALLEABLE, name, wasmtime.FuncType(params, results), _stopping(fn, results), True)
    for name, (ty, fn) in wasi.functions(module.imports).items():
        linker.define_func(WASI, name, ty, _stopping(fn, ty.results), True)
    return linker


class _Exited(Exception):
    """The guest called ``proc_exit(0)`` from guest code the host was running (``alloc``)."""


def _stopping(fn: Callable[..., object], results: list[wasmtime.ValType]) -> Callable[..., object]:
    """``fn``, refusing or exiting by stopping the guest rather than by raising (see the module's
    docstring); ``fn`` gets the run's state after the caller."""
    placeholder = (0.0 if str(results[0]) == "f64" else 0) if results else None

    @functools.wraps(fn)
    def host(caller: wasmtime.Caller, *args: int) -> object:
        state = current()
        if state.stopped:  # the guest runs on to its next fuel check: ignore it
            return placeholder
        result: object = placeholder
        try:
            result = fn(caller, state, *args)
        except SandboxError as err:
            state.fail_with(err)  # a no-op for errors the state already holds
        except _Exited:
            pass
        if not state.stopped:
            return result
        if state.fuel_at_stop is None:
            state.fuel_at_stop = wasmtime.Store.get_fuel(caller)
        wasmtime.Store.set_fuel(caller, 0)
        return placeholder

    return host


def _span(caller: wasmtime.Caller, state: RunState, ptr: int, length: int, what: str) -> tuple[int, int]:
    """Bounds-check a guest ``(ptr, len)``, read as unsigned, against the memory's current size."""
    if length < 0:
        raise state.reject(ErrorKind.BAD_POINTER, f"{what}: the length {length} is negative")
    ptr &= U32
    size = guest_memory(caller, state).data_len(caller)
    if ptr + length > size:
        raise state.reject(
            ErrorKind.BAD_POINTER,
            f"{what}: bytes {ptr:#x}..{ptr + length:#x} lie outside the checker's {size}-byte memory",
        )
    return ptr, length


def _read(caller: wasmtime.Caller, state: RunState, ptr: int, length: int) -> bytes:
    if length == 0:
        return b""
    base = ctypes.addressof(guest_memory(caller, state).data_ptr(caller).contents)
    return ctypes.string_at(base + ptr, length)


def _read_name(caller: wasmtime.Caller, state: RunState, name_ptr: int, name_len: int) -> str:
    ptr, length = _span(caller, state, name_ptr, name_len, "dataset name")
    if length > MAX_DATASET_NAME_BYTES:
        raise state.reject(ErrorKind.UNKNOWN_DATASET, f"a dataset name of {length} bytes names no dataset")
    raw = _read(caller, state, ptr, length)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise state.reject(ErrorKind.UNKNOWN_DATASET, f"the dataset name {raw!r} is not UTF-8") from None


_allocating = threading.local()


def _host_dataset(caller: wasmtime.Caller, state: RunState, name_ptr: int, name_len: int) -> int:
    name = _read_name(caller, state, name_ptr, name_len)
    data = state.dataset_json(name)
    # alloc runs guest code; if it called dataset() again, each level would nest host and
    # guest frames until Python's recursion limit, far from the guest's own stack limit.
    if getattr(_allocating, "active", False):
        raise state.reject(ErrorKind.TRAP, "alloc called dataset(); alloc must not call back into the host")
    _allocating.active = True
    try:
        ptr = _guest_alloc(caller, state, len(data))
    finally:
        _allocating.active = False
    base = ctypes.addressof(guest_memory(caller, state).data_ptr(caller).contents)
    ctypes.memmove(base + ptr, data, len(data))
    packed = (ptr << 32) | len(data)
    return packed - (1 << 64) if packed >= 1 << 63 else packed


def _guest_alloc(caller: wasmtime.Caller, state: RunState, size: int) -> int:
    """Call the guest's ``alloc(size)`` and check that what it returns can hold ``size`` bytes."""
    alloc = caller.get("alloc")
    if not isinstance(alloc, wasmtime.Func) or not _alloc_shaped(alloc.type(caller)):
        raise state.reject(
            ErrorKind.MISSING_EXPORT, "dataset() needs the module to export `alloc: (i32) -> i32`"
        )
    if size > U32:
        raise state.reject(ErrorKind.MEMORY_LIMIT, f"the dataset is {size} bytes, more than wasm32 addresses")
    try:
        ptr = alloc(caller, size - (1 << 32) if size >= 1 << 31 else size)
    except (wasmtime.Trap, wasmtime.WasmtimeError) as exc:
        if state.exited:
            raise _Exited from None
        error = classify(exc, None, state.limits, 0.0, state=state)
        if error.kind is ErrorKind.TRAP:
            cause = error.detail.removeprefix("trap: ")
            error = SandboxError(ErrorKind.TRAP, f"alloc({size}) trapped: {cause}")
        raise state.fail_with(error) from None
    start, _ = _span(caller, state, ptr, size, f"alloc({size}) returned {ptr & U32:#x}, but")
    return start


def _alloc_shaped(ty: wasmtime.FuncType) -> bool:
    return [str(p) for p in ty.params] == ["i32"] and [str(r) for r in ty.results] == ["i32"]


def _host_rows(caller: wasmtime.Caller, state: RunState, name_ptr: int, name_len: int) -> int:
    name = _read_name(caller, state, name_ptr, name_len)
    return state.dataset_rows(name)


def _host_scalar(caller: wasmtime.Caller, state: RunState, name_ptr: int, name_len: int) -> float:
    name = _read_name(caller, state, name_ptr, name_len)
    return state.dataset_scalar(name)


def _host_truncated(caller: wasmtime.Caller, state: RunState, name_ptr: int, name_len: int) -> int:
    name = _read_name(caller, state, name_ptr, name_len)
    return int(state.dataset_truncated(name))


def _host_message(level: Level) -> Callable[[wasmtime.Caller, RunState, int, int], None]:
    def host(caller: wasmtime.Caller, state: RunState, ptr: int, length: int) -> None:
        ptr, length = _span(caller, state, ptr, length, f"{level} message")
        state.check_message_size(length)
        state.add_message(level, _read(caller, state, ptr, length).decode("utf-8", "replace"))

    return host


def _host_metric(caller: wasmtime.Caller, state: RunState, ptr: int, length: int, value: float) -> None:
    ptr, length = _span(caller, state, ptr, length, "metric name")
    if length > 4 * METRIC_NAME_CHARS:
        raise state.reject(ErrorKind.OUTPUT_LIMIT, f"metric: a name of {length} bytes is too long")
    state.record_metric(_read(caller, state, ptr, length).decode("utf-8", "replace"), value)


def _host_fail_rows(
    caller: wasmtime.Caller,
    state: RunState,
    name_ptr: int,
    name_len: int,
    keys_ptr: int,
    keys_len: int,
    count: int,
    msg_ptr: int,
    msg_len: int,
) -> None:
    """``fail_rows``: the keys are a JSON array (strings or numbers) of at most ``output_bytes``."""
    name = _read_name(caller, state, name_ptr, name_len)
    keys_ptr, keys_len = _span(caller, state, keys_ptr, keys_len, "fail_rows keys")
    if keys_len > state.limits.output_bytes:
        raise state.reject(ErrorKind.OUTPUT_LIMIT, f"fail_rows: {keys_len} bytes of keys is too many")
    msg_ptr, msg_len = _span(caller, state, msg_ptr, msg_len, "fail_rows message")
    state.check_message_size(msg_len)
    try:
        keys = json.loads(_read(caller, state, keys_ptr, keys_len))
    except ValueError:
        keys = None
    if not isinstance(keys, list):
        raise state.reject(ErrorKind.OUTPUT_LIMIT, "fail_rows: the keys must be a JSON array")
    message = _read(caller, state, msg_ptr, msg_len).decode("utf-8", "replace")
    state.record_failing_rows(name, keys, max(count, 0), message)


def _host_now_ms(caller: wasmtime.Caller, state: RunState) -> int:
    return time.time_ns() // 1_000_000


_HOST_FUNCTIONS: dict[str, Callable[..., object]] = {
    "dataset": _host_dataset,
    "dataset_rows": _host_rows,
    "dataset_scalar": _host_scalar,
    "dataset_truncated": _host_truncated,
    "ok": _host_message(Level.OK),
    "fail": _host_message(Level.FAIL),
    "log": _host_message(Level.LOG),
    "now_ms": _host_now_ms,
    "metric": _host_metric,
    "fail_rows": _host_fail_rows,
}
