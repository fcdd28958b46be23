"""One wasmtime Engine per process, with fuel and an epoch ticker.

Epoch interruption is how wall-clock timeouts are enforced: a daemon thread bumps the
engine's epoch every ``TICK_S`` seconds, and each store sets its deadline in ticks.
"""

from __future__ import annotations

import importlib.metadata
import math
import os
import threading
import time

import wasmtime

TICK_S = 0.01

# 1 MiB of wasm stack: deep enough for real checkers (and CPython's interpreter), far below
# the 8 MiB native stack a worker thread gets, so a runaway recursion is a stack_overflow
# trap and never a host segfault.
MAX_WASM_STACK = 1024 * 1024

# Everything that changes generated code: compiled artifacts cached on disk are keyed by it.
ENGINE_SETTINGS = (
    f"wasmtime={importlib.metadata.version('wasmtime')};fuel;epoch;component-model;"
    f"no-threads;opt=speed;stack={MAX_WASM_STACK}"
)

_lock = threading.Lock()
_engine: wasmtime.Engine | None = None


def _tick(engine: wasmtime.Engine) -> None:
    while True:
        time.sleep(TICK_S)
        engine.increment_epoch()


def engine_config() -> wasmtime.Config:
    config = wasmtime.Config()
    config.consume_fuel = True
    config.epoch_interruption = True
    config.wasm_component_model = True
    # No threads proposal, hence no shared memory and no atomic waits: a checker has no use
    # for them, and an atomic wait blocks in the host where epochs cannot interrupt it. A
    # module that declares shared memory or atomics is therefore an invalid_module.
    config.wasm_threads = False
    config.shared_memory = False
    config.max_wasm_stack = MAX_WASM_STACK
    # Parallel compilation uses a thread pool that does not survive fork: a forked child
    # would hang on its first compile. Serial compilation of the Python runtime takes ~10 s
    # instead of ~5 s, once per machine (the result is cached on disk).
    config.parallel_compilation = False
    config.cranelift_opt_level = "speed"
    return config


def get_engine() -> wasmtime.Engine:
    """The process's shared Engine; its ticker starts with it."""
    global _engine
    with _lock:
        if _engine is None:
            _engine = wasmtime.Engine(engine_config())
            _start_ticker(_engine)
        return _engine


def _start_ticker(engine: wasmtime.Engine) -> None:
    threading.Thread(target=_tick, args=(engine,), name="wasm-epoch-ticker", daemon=True).start()


def _after_fork_in_child() -> None:
    """Threads do not survive fork: a child that inherits the engine (a Celery prefork worker,
    say) needs its own ticker, or no timeout would ever fire in it."""
    global _lock
    _lock = threading.Lock()
    if _engine is not None:
        _start_ticker(_engine)


os.register_at_fork(after_in_child=_after_fork_in_child)


def deadline_ticks(timeout_s: float) -> int:
    return max(1, math.ceil(timeout_s / TICK_S))
