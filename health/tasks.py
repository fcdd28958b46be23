"""Beat's side of late detection; the watchdog does the same from cron when beat is down."""

from __future__ import annotations

from health import heartbeats, late  # noqa: F401  (heartbeats: Celery signals, for worker processes only)
from malleable.celery import app


@app.task(acks_late=True, ignore_result=True)
def sweep_late_checkers() -> tuple[int, int]:
    return late.sweep()
