"""Logging filters (settings.LOGGING)."""

from __future__ import annotations

import logging
from collections.abc import Iterable


class QuietTicks(logging.Filter):
    """Drop Celery's routine lines about periodic tasks that tick every second (beat sending
    them, the worker receiving them, their success), unless the logger is at DEBUG: the task
    says itself when a tick did something. Warnings and errors always pass."""

    def __init__(self, tasks: Iterable[str] = ()) -> None:
        super().__init__()
        self.tasks = tuple(tasks)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.WARNING or logging.getLogger(record.name).isEnabledFor(logging.DEBUG):
            return True
        message = record.getMessage()
        return not any(task in message for task in self.tasks)
