"""The alarm message of docs/contracts.md, built once per event and sent as is on every channel.

Keys, in the contract's words: ``event`` (fired | repeat | resolved | error | late, and ``test`` for a
channel test), ``namespace``, ``checker``, ``state``, ``previous_state``, ``severity``,
``messages``, ``run_id``, ``at`` (ISO 8601), ``runbook_url``, ``checker_url``, ``dedup_key``;
and ``failing_rows`` when the run keeps failing rows' keys.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings

from checkers.models import FailingRows

if TYPE_CHECKING:
    from checkers.models import Checker, CheckRun

MESSAGES_CAP = 20
TEXT_CAP = 1000
NO_RUNBOOK = "No runbook is linked to this checker: link one, so whoever gets this alarm knows what to do."
TEST_CHECKER = "malleable-test"
TITLES = {
    "fired": "FIRED",
    "repeat": "STILL FIRING",
    "resolved": "RESOLVED",
    "error": "CHECKER ERROR",
    "test": "TEST",
    "late": "LATE",
}


def dedup_key(namespace: str, checker: str, transition: str, repeat: int = 0) -> str:
    """Stable per (checker, transition): every delivery of one message carries the same key.

    A repeat is a new message (a consumer that drops duplicates must still see it), so it
    adds its number: ``alpha/few-null-emails/<transition uuid>/repeat/2``.
    """
    key = f"{namespace}/{checker}/{transition}"
    return f"{key}/repeat/{repeat}" if repeat else key


def routing_key(payload: dict[str, Any]) -> str:
    return f"{payload['namespace']}.{payload['checker']}.{payload['event']}"


def _cap(text: str) -> str:
    return text if len(text) <= TEXT_CAP else text[: TEXT_CAP - 1] + "…"


def run_messages(run: CheckRun | None) -> list[dict[str, str]]:
    """The run's messages, failures first, capped so one noisy checker cannot flood a channel.
    An error run leads with its detail, which starts with the error kind ("timeout: …")."""
    if run is None:
        return []
    messages = [{"level": m["level"], "text": _cap(m["text"])} for m in run.messages]
    messages.sort(key=lambda m: m["level"] != "fail")
    if run.error_kind:
        messages.insert(0, {"level": "error", "text": _cap(run.error_detail)})
    if len(messages) > MESSAGES_CAP:
        hidden = len(messages) - MESSAGES_CAP + 1
        messages = [*messages[: MESSAGES_CAP - 1], {"level": "note", "text": f"… and {hidden} more"}]
    return messages


def failing_rows(run: CheckRun | None) -> dict[str, Any] | None:
    return FailingRows.summary(run) if run is not None else None


def build(
    *,
    event: str,
    checker: Checker,
    state: str,
    previous_state: str,
    run: CheckRun | None,
    at: datetime,
    key: str,
) -> dict[str, Any]:
    runbook = checker.runbook
    messages = run_messages(run)
    if runbook is None:
        messages.append({"level": "note", "text": NO_RUNBOOK})
    rows = failing_rows(run)
    if rows:
        messages.insert(
            0, {"level": "note", "text": FailingRows.say(rows["new"], rows["count"], rows["gone"])}
        )
    return ({"failing_rows": rows} if rows else {}) | {
        "event": event,
        "namespace": checker.namespace.slug,
        "checker": checker.slug,
        "state": state,
        "previous_state": previous_state,
        "severity": checker.severity,
        "messages": messages,
        "run_id": str(run.uuid) if run else None,
        "at": at.isoformat(timespec="milliseconds"),
        "runbook_url": runbook.absolute_url() if runbook else None,
        "checker_url": settings.SITE_URL + checker.get_absolute_url(),
        "dedup_key": key,
    }


def build_test(namespace: str, channel: str, sent_by: str, at: datetime, key: str) -> dict[str, Any]:
    """A message of the same shape that no checker caused, so consumers can ignore it by event."""
    return {
        "event": "test",
        "namespace": namespace,
        "checker": TEST_CHECKER,
        "state": "red",
        "previous_state": "green",
        "severity": "info",
        "messages": [
            {
                "level": "note",
                "text": f"Test alarm sent by {sent_by} to channel {channel}. No checker is failing.",
            }
        ],
        "run_id": None,
        "at": at.isoformat(timespec="milliseconds"),
        "runbook_url": None,
        "checker_url": None,
        "dedup_key": key,
    }


def encode(payload: dict[str, Any]) -> bytes:
    """Sorted keys: the stored JSON may come back reordered, the bytes sent never differ."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()


def render_text(payload: dict[str, Any]) -> tuple[str, str]:
    """A title and a plain-text body for people: e-mail and chat channels."""
    where = f"{payload['namespace']}/{payload['checker']}"
    title = f"[{payload['severity']}] {TITLES[payload['event']]}: {where} is {payload['state']}"
    change = f"went from {payload['previous_state']} to {payload['state']}"
    if payload["event"] == "repeat":
        change = f"is still {payload['state']} (it was {payload['previous_state']} before)"
    lines = [
        f"{where} {change}, at {payload['at']}.",
        "",
        *(f"- {m['level']}: {m['text']}" for m in payload["messages"]),
        "",
        f"Runbook: {payload['runbook_url'] or 'none linked'}",
        f"Checker: {payload['checker_url'] or '-'}",
        f"Run: {payload['run_id'] or '-'}",
        f"Dedup key: {payload['dedup_key']}",
    ]
    return title, "\n".join(lines)
