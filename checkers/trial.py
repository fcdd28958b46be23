"""One checker program run outside any namespace: ``sandbox_run`` and the API's sandbox service.

Both take the operator's limits for whatever the caller leaves out, and run in this process
with no database query, so the command and the HTTP service answer the same for the same input.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

from checkers import compilation
from checkers.sandbox import Limits, Outcome, Program


def limits(timeout_s: float | None = None, memory_mb: int | None = None, fuel: int | None = None) -> Limits:
    return Limits(
        timeout_s=settings.SANDBOX_TIMEOUT_S if timeout_s is None else timeout_s,
        memory_bytes=(settings.SANDBOX_MEMORY_MB if memory_mb is None else memory_mb) * 1024 * 1024,
        fuel=settings.SANDBOX_FUEL if fuel is None else fuel,
    )


def run(
    program: Program, datasets: dict[str, dict[str, Any]], run_limits: Limits, params: dict | None = None
) -> Outcome:
    return compilation.sandbox().run(program, datasets, run_limits, params or {})
