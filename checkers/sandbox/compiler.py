"""Compiling a guest's module in a child process, bounded in time and memory.

Compiling is the one step of a run no store limit covers: Cranelift's time and memory grow
with the module (a 29 MB straight-line function took 26-78 s and 1.2 GB), and an
in-process compile can only be stopped by killing the process. So a user's module is
compiled by ``python -m checkers.sandbox.compile_child``: the child sets ``RLIMIT_AS`` (and
``RLIMIT_CPU`` as a backstop) on itself, compiles with the sandbox's engine settings and
writes the serialized artifact where the parent says (the on-disk cache); the parent waits
at most ``timeout_s`` and kills it after that. The parent deserializes only what the child
it started wrote into a private directory, never bytes a user supplied.

The child's exit status: 0 compiled, ``EXIT_INVALID`` not valid wasm (wasmtime's words on
stderr), ``EXIT_MEMORY`` out of memory, ``EXIT_UNWRITABLE`` the artifact could not be written;
anything else (an abort when Rust cannot allocate under the limit) is read as the memory
limit, and SIGXCPU as the time limit.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .outcome import ErrorKind, SandboxError

EXIT_INVALID = 65
EXIT_MEMORY = 66
EXIT_UNWRITABLE = 73  # EX_CANTCREAT
# Where ``checkers`` is importable from, so the child finds this module whatever its cwd.
_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CompileLimits:
    """Budgets for compiling one module.

    - ``timeout_s``: wall clock for the child, from start to exit. A 2.8 MB straight-line
      function takes about 4 s on the reference machine; real checkers take well under 1 s.
    - ``memory_bytes``: the child's address space (``RLIMIT_AS``), interpreter and wasmtime
      included (~55 MB before compiling anything).
    """

    timeout_s: float = 20.0
    memory_bytes: int = 1024 * 1024 * 1024

    def describe(self) -> str:
        return f"{self.timeout_s:g} s and {self.memory_bytes / 2**20:g} MB"


def compile_to(wasm: bytes, destination: Path, limits: CompileLimits) -> None:
    """Compile ``wasm`` in a bounded child that writes the artifact to ``destination``.

    Raises ``SandboxError``: ``invalid_module`` when wasmtime refuses the bytes,
    ``compile_limit`` when the child ran out of time or memory.
    """
    command = [
        sys.executable,
        "-m",
        "checkers.sandbox.compile_child",
        str(destination),
        str(limits.memory_bytes),
        str(math.ceil(limits.timeout_s) + 1),
    ]
    path = os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "PYTHONPATH": path}
    child = subprocess.Popen(
        command,
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env=env,
        cwd=_ROOT,
        start_new_session=True,
    )
    try:
        _, stderr = child.communicate(wasm, timeout=limits.timeout_s)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise SandboxError(
            ErrorKind.COMPILE_LIMIT,
            f"this module did not compile within {limits.timeout_s:g} s; make it smaller "
            "(fewer or shorter functions), or ask the operator to raise MALLEABLE_COMPILE_TIMEOUT",
        ) from None
    if child.returncode == 0:
        return
    said = stderr.decode("utf-8", "replace").strip()
    if child.returncode == EXIT_INVALID:
        raise SandboxError(ErrorKind.INVALID_MODULE, f"not a valid WebAssembly module: {said[:500]}")
    if child.returncode == EXIT_UNWRITABLE:
        detail = f"the compiled module could not be written to {destination.parent}"
        raise SandboxError(ErrorKind.TRAP, detail)
    if child.returncode == -signal.SIGXCPU:
        raise SandboxError(
            ErrorKind.COMPILE_LIMIT,
            f"this module did not compile within {limits.timeout_s:g} s of CPU time; make it smaller",
        )
    raise SandboxError(
        ErrorKind.COMPILE_LIMIT,
        f"this module did not compile within {limits.memory_bytes / 2**20:g} MB of memory; make it "
        "smaller, or ask the operator to raise MALLEABLE_COMPILE_MEMORY_MB",
    )


def compile_to_temporary(wasm: bytes, limits: CompileLimits) -> tuple[Path, tempfile.TemporaryDirectory[str]]:
    """Compile into a fresh private directory (no cache): the artifact's path and its directory,
    which the caller cleans up once the artifact is loaded."""
    directory = tempfile.TemporaryDirectory(prefix="malleable-compile-")
    path = Path(directory.name) / "module.cwasm"
    try:
        compile_to(wasm, path, limits)
    except BaseException:
        directory.cleanup()
        raise
    return path, directory
