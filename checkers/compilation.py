"""The sandbox as Django uses it: the operator's cache directory and compile limits.

Every process that runs or saves checkers (the pages, the admin, checks as code, the API,
workers) goes through ``sandbox()``, so a user's module is only ever compiled in the
bounded child process (``checkers/sandbox/compiler.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings

from checkers.sandbox import CompileLimits, ErrorKind, Program, SandboxError, get_sandbox

if TYPE_CHECKING:  # importing Sandbox loads wasmtime, which a rule run never needs
    from checkers.sandbox import Sandbox


def compile_limits() -> CompileLimits:
    memory_bytes = settings.COMPILE_MEMORY_MB * 2**20
    return CompileLimits(timeout_s=settings.COMPILE_TIMEOUT_S, memory_bytes=memory_bytes)


def sandbox() -> Sandbox:
    return get_sandbox(settings.SANDBOX_CACHE_DIR, compile_limits())


def compile_limit_error(program: Program) -> str | None:
    """Compile ``program`` into the cache now; the refusal when it passes the compile limits.

    Only ``compile_limit`` is answered here: a module that is not valid wasm is refused, with
    wasmtime's own words, by the checks of the editor and of checks as code, and otherwise
    recorded as an ``invalid_module`` run, as before.
    """
    try:
        sandbox().compile(program)
    except SandboxError as err:
        if err.kind is ErrorKind.COMPILE_LIMIT:
            return err.detail.removeprefix(f"{err.kind}: ")
    return None
