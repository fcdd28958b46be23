"""Operator alarms: the watchdog tells ``MALLEABLE_OPERATOR_CHANNELS`` what is wrong with the
installation itself, through the channel transports (and their outbound checks) but not the
outbox, beat or the workers, which may be what broke. What was last said is kept in a small
file (``WATCHDOG_STATE_FILE``, readable with the database down): each problem is said when it
starts, and ``recovered`` once when it ends, never again every minute. The web process's
``/readyz`` tells through the same file when ``READYZ_NOTIFIES`` is on: a lock on it keeps two
tellers from saying one thing twice, and each recovers only the checks it ran (``/readyz`` has
no ``workers``, the watchdog no ``broker``).
"""

from __future__ import annotations

import fcntl
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from alarms.transports import TRANSPORTS, DeliveryError, Transport
from health.status import Report

log = logging.getLogger(__name__)
NAMESPACE = "malleable"


@dataclass
class OperatorChannel:
    slug: str
    url: str
    secret: str


@dataclass
class OperatorMessage:
    kind: str
    payload: dict[str, Any]
    routing_key: str
    dedup_key: str


def transports() -> list[Transport]:
    """One transport per configured URL: http(s) is a signed webhook, anything else apprise."""
    found = []
    for number, url in enumerate(settings.OPERATOR_CHANNELS, 1):
        kind = "webhook" if urlsplit(url).scheme in {"http", "https"} else "apprise"
        found.append(
            TRANSPORTS[kind](OperatorChannel(f"operator-{number}", url, settings.OPERATOR_WEBHOOK_SECRET))
        )
    return found


def problems_with_channels() -> list[str]:
    """The validation a namespace's channel gets, for each operator URL (without repeating it)."""
    problems = []
    for transport in transports():
        try:
            transport.validate()
        except ValidationError as exc:
            words = "; ".join(message for messages in exc.message_dict.values() for message in messages)
            problems.append(f"{transport.channel.slug} ({transport.describe()}): {words}")
    return problems


def message(event: str, problem: str, text: str, now: datetime) -> OperatorMessage:
    """The alarm message's shape, so the same consumers read it: namespace ``malleable``, the
    problem as the checker, state ``unhealthy`` or ``healthy``."""
    unhealthy = event == "operator"
    key = f"{NAMESPACE}/{problem}/{uuid.uuid4()}"
    payload = {
        "event": event,
        "namespace": NAMESPACE,
        "checker": problem,
        "state": "unhealthy" if unhealthy else "healthy",
        "previous_state": "healthy" if unhealthy else "unhealthy",
        "severity": "critical" if unhealthy else "info",
        "messages": [{"level": "error" if unhealthy else "note", "text": text}],
        "run_id": None,
        "at": now.isoformat(timespec="milliseconds"),
        "runbook_url": None,
        "checker_url": settings.SITE_URL + "/health/",
        "dedup_key": key,
    }
    return OperatorMessage(event, payload, f"{NAMESPACE}.{problem}.{event}", key)


def send(note: OperatorMessage) -> list[str]:
    """To every operator channel; the failures, in words (the next watchdog run tries again)."""
    failures = []
    for transport in transports():
        try:
            transport.notify(note)
        except DeliveryError as exc:
            failures.append(f"{transport.channel.slug}: {exc}")
        except Exception as exc:  # one broken channel must not keep the others from hearing
            log.exception("operator channel %s failed", transport.channel.slug)
            failures.append(f"{transport.channel.slug}: {type(exc).__name__}")
    return failures


def load_said(path: Path) -> dict[str, str]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


@contextmanager
def said_lock(path: Path, wait: bool) -> Iterator[bool]:
    """Hold the lock beside ``path`` while reading, telling and writing; without ``wait``, a
    teller already at it means this one yields (it would say the same)."""
    with open(path.with_name(path.name + ".lock"), "a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def tell(
    report: Report, now: datetime | None = None, path: Path | None = None, wait: bool = True
) -> list[str]:
    """Say what started and what ended since the last call; returns what was said (or failed)."""
    path = path or settings.WATCHDOG_STATE_FILE
    with said_lock(path, wait) as locked:
        return _tell(report, now or timezone.now(), path) if locked else []


def _tell(report: Report, now: datetime, path: Path) -> list[str]:
    said = load_said(path)
    checked = {check.name for check in report.checks}
    wrong = {check.name: check.detail for check in report.problems}
    notes = [message("operator", name, text, now) for name, text in wrong.items() if name not in said]
    notes += [
        message("recovered", name, f"recovered: {name} is healthy again (it was: {said[name]})", now)
        for name in said
        if name in checked and name not in wrong
    ]
    told = []
    for note in notes:
        failures = send(note) if settings.OPERATOR_CHANNELS else []
        problem = note.payload["checker"]
        if failures:  # not remembered: said again on the next run
            told.append(f"could not tell operators ({'; '.join(failures)})")
            continue
        if note.kind == "operator":
            said[problem] = wrong[problem]
        else:
            said.pop(problem, None)
        told.append(note.payload["messages"][0]["text"])
    if notes:
        path.write_text(json.dumps(said))
    return told
