"""One wasmtime Engine per process, with fuel and an epoch ticker.

Epoch interruption is how wall-clock timeouts are enforced: a daemon thread bumps the
engine's epoch every ``TICK_S`` seconds, and each store sets its deadline in ticks.
"""

from __future__ import annotations

import math
import threading
import time

import wasmtime

TICK_S = 0.01

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
    config.wasm_threads = False
    config.parallel_compilation = True
    config.cranelift_opt_level = "speed"
    return config


def get_engine() -> wasmtime.Engine:
    """The process's shared Engine; its ticker starts with it."""
    global _engine
    with _lock:
        if _engine is None:
            _engine = wasmtime.Engine(engine_config())
            threading.Thread(
                target=_tick, args=(_engine,), name="wasm-epoch-ticker", daemon=True
            ).start()
        return _engine


def deadline_ticks(timeout_s: float) -> int:
    return max(1, math.ceil(timeout_s / TICK_S))
