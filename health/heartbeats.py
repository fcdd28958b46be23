"""Heartbeats from Celery's own signals, so neither the dispatcher nor the tasks know about them.

Beat's dispatcher ticks when a worker finishes ``dispatch_due_checkers`` (a tick nobody runs is
no tick). Each worker's main process writes its row every ``HEARTBEAT_INTERVAL_S`` from a thread,
with its load: the tasks it is running against its concurrency, and the machine's load average.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from typing import Any

from celery.signals import task_postrun, worker_ready, worker_shutdown
from django.conf import settings
from django.db import close_old_connections

from health.models import Heartbeat

log = logging.getLogger(__name__)
DISPATCH_TASK = "checkers.tasks.dispatch_due_checkers"
_stop = threading.Event()


@task_postrun.connect(dispatch_uid="health.dispatcher_tick")
def dispatcher_tick(sender: Any = None, retval: Any = None, **kwargs: Any) -> None:
    if getattr(sender, "name", None) != DISPATCH_TASK:
        return
    try:
        Heartbeat.beat(
            Heartbeat.Kind.DISPATCHER, "dispatcher", {"queued": retval if isinstance(retval, int) else None}
        )
    except Exception:  # a heartbeat must never fail the task it rides on
        log.exception("could not record the dispatcher's heartbeat")


def worker_load(concurrency: int) -> dict[str, Any]:
    from celery.worker import state

    return {
        "pid": os.getpid(),
        "active": len(state.active_requests),
        "concurrency": concurrency,
        "load_1m": round(os.getloadavg()[0], 2),
    }


@worker_ready.connect(dispatch_uid="health.worker_ready")
def start_worker_heartbeat(sender: Any = None, **kwargs: Any) -> None:
    name = getattr(sender, "hostname", None) or f"celery@{socket.gethostname()}"
    concurrency = (
        getattr(getattr(sender, "controller", None), "concurrency", None)
        or settings.CELERY_WORKER_CONCURRENCY
    )
    _stop.clear()
    threading.Thread(target=_beat_forever, args=(name, concurrency), daemon=True, name="heartbeat").start()


@worker_shutdown.connect(dispatch_uid="health.worker_shutdown")
def stop_worker_heartbeat(**kwargs: Any) -> None:
    _stop.set()


def _beat_forever(name: str, concurrency: int) -> None:
    while not _stop.is_set():
        try:
            Heartbeat.beat(Heartbeat.Kind.WORKER, name, worker_load(concurrency))
        except Exception:
            log.exception("could not record worker %s's heartbeat", name)
        finally:
            close_old_connections()
        _stop.wait(settings.HEARTBEAT_INTERVAL_S)
