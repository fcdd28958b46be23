"""The child process of ``compiler.compile_to``: ``python -m checkers.sandbox.compile_child
DESTINATION MEMORY_BYTES CPU_SECONDS`` with the wasm on stdin (a module of its own, so the
package that imports ``compiler`` is not half-imported when this runs as ``__main__``)."""

from __future__ import annotations

import resource
import sys
from pathlib import Path

from checkers.sandbox.compiler import EXIT_INVALID, EXIT_MEMORY, EXIT_UNWRITABLE


def main(destination: str, memory_bytes: int, cpu_s: int) -> int:
    """The child's work: limit itself, compile stdin, write the artifact atomically.

    ``RLIMIT_CPU`` stops a child whose parent died before it could kill it (a worker killed
    at Celery's hard limit): the child is in its own session, so it outlives its parent.
    """
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
    wasm = sys.stdin.buffer.read()
    try:
        import wasmtime

        from checkers.sandbox.cache import _write_atomically
        from checkers.sandbox.engine import engine_config

        engine = wasmtime.Engine(engine_config())
        try:
            module = wasmtime.Module(engine, wasm)
        except wasmtime.WasmtimeError as exc:
            if "allocate memory" in str(exc).lower():
                return EXIT_MEMORY
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            sys.stderr.write(" ".join(lines[:4])[:500])
            return EXIT_INVALID
        _write_atomically(Path(destination), module.serialize())
    except MemoryError:
        return EXIT_MEMORY
    return 0 if Path(destination).exists() else EXIT_UNWRITABLE


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
