"""Late checkers: a due run that has not started within its grace, the larger of
``LATE_GRACE_S`` and one interval of the checker's schedule. Late is found from the rows alone
(``next_run_at`` left in the past, or a scheduled run still queued), so beat's sweep and the
watchdog (which runs when beat does not) find the same thing; opening and ending a lateness
lock the checker's row, so running both, or either twice, alarms once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from alarms import payloads
from alarms.models import AlarmEvent, AlarmState, EventKind, Notification, Policy
from checkers.models import Checker, CheckRun, RunStatus, Trigger
from health.models import Lateness
from health.status import ago


@dataclass(frozen=True)
class Late:
    checker: Checker
    due: datetime
    late_by: timedelta


def grace(checker: Checker, due: datetime) -> timedelta:
    floor = timedelta(seconds=settings.LATE_GRACE_S)
    try:  # a stored schedule that can never fire (refused today, kept from before) has no interval
        schedule = checker.schedule
        return max(floor, schedule.next_after(due, checker.zone) - due) if schedule else floor
    except ValueError:
        return floor


def overdue(checker: Checker, now: datetime) -> timedelta | None:
    """How late the checker is by its own row (no query): for pages that list many checkers."""
    due = checker.next_run_at
    if not checker.enabled or due is None or now - due <= grace(checker, due):
        return None
    return now - due


def late_checkers(now: datetime | None = None) -> list[Late]:
    """Enabled checkers whose due run has not started within their grace, latest due first."""
    now = now or timezone.now()
    floor = now - timedelta(seconds=settings.LATE_GRACE_S)
    due = dict(Checker.objects.filter(enabled=True, next_run_at__lt=floor).values_list("pk", "next_run_at"))
    queued = (
        CheckRun.objects.filter(status=RunStatus.QUEUED, trigger=Trigger.SCHEDULE, scheduled_for__lt=floor)
        .values("checker_id")
        .annotate(first=Min("scheduled_for"))
    )
    for row in queued:
        due[row["checker_id"]] = min(row["first"], due.get(row["checker_id"], row["first"]))
    checkers = Checker.objects.filter(pk__in=due, enabled=True).select_related("namespace")
    late = [Late(c, due[c.pk], now - due[c.pk]) for c in checkers if now - due[c.pk] > grace(c, due[c.pk])]
    return sorted(late, key=lambda each: each.due)


def open_latenesses() -> dict[int, Lateness]:
    return {row.checker_id: row for row in Lateness.objects.filter(ended=None).select_related("checker")}


def sweep(now: datetime | None = None) -> tuple[int, int]:
    """Open a lateness (and its ``late`` alarm) for each newly late checker, end those whose
    runs resumed (with ``resolved``); returns (opened, ended). Idempotent."""
    now = now or timezone.now()
    late = {each.checker.pk: each for each in late_checkers(now)}
    known = open_latenesses()
    opened = sum(begin(each, now) for pk, each in late.items() if pk not in known)
    ended = sum(end(row, now) for pk, row in known.items() if pk not in late)
    return opened, ended


def begin(late: Late, now: datetime) -> bool:
    with transaction.atomic():
        Checker.objects.select_for_update().filter(pk=late.checker.pk).first()
        if Lateness.objects.filter(checker=late.checker, ended=None).exists():
            return False
        lateness = Lateness.objects.create(checker=late.checker, due=late.due, detected=now)
        policy = Policy.for_checker(late.checker)
        event = _event(late.checker, EventKind.LATE, lateness, now, policy)
        silence = _silence(late.checker, now, policy)
        if silence:
            event.suppress(silence)
        elif event.notify(policy.channels):
            Lateness.objects.filter(pk=lateness.pk).update(announced=True)
    return True


def end(lateness: Lateness, now: datetime) -> bool:
    with transaction.atomic():
        if not Lateness.objects.filter(pk=lateness.pk, ended=None).update(ended=now):
            return False
        policy = Policy.for_checker(lateness.checker)
        if lateness.announced and policy.notify_resolved:
            _event(lateness.checker, EventKind.RESOLVED, lateness, now, policy).notify(policy.channels)
    return True


def _silence(checker: Checker, now: datetime, policy: Policy) -> str:
    state = AlarmState.objects.filter(checker=checker).select_related("checker__namespace").first()
    silence = state.silence(now, policy) if state else None
    return str(silence) if silence else ""


def _event(checker: Checker, kind: str, lateness: Lateness, now: datetime, policy: Policy) -> AlarmEvent:
    """``late`` goes from the checker's state to ``late``; its ``resolved`` back again, with its own key."""
    key = payloads.dedup_key(checker.namespace.slug, checker.slug, f"late/{lateness.uuid}")
    state = checker.current_state()
    late_by, due = ago((now - lateness.due).total_seconds()), lateness.due.isoformat(timespec="seconds")
    old: str
    new: str
    if kind == EventKind.LATE:
        old, new = state, "late"
        text = f"No run has started since due at {due}, {late_by} ago: is beat running, and a worker?"
    else:
        old, new, key = "late", state, f"{key}/resolved"
        text = f"Runs resumed; it was late from {due} for {late_by}."
    payload = payloads.build(
        event=kind, checker=checker, state=new, previous_state=old, run=None, at=now, key=key
    )
    payload["messages"].insert(0, {"level": "error" if kind == EventKind.LATE else "note", "text": text})
    return AlarmEvent.objects.create(
        namespace=checker.namespace, checker=checker, kind=kind, payload=payload, created=now
    )


def deliver_now(since: datetime) -> int:
    """The watchdog has no worker behind it: deliver the alarms it just wrote, as run_checker does."""
    delivered = 0
    for notification in Notification.objects.filter(
        status=Notification.Status.PENDING,
        event__kind__in=[EventKind.LATE, EventKind.RESOLVED],
        created__gte=since,
    ).select_related("event", "channel__namespace"):
        delivered += notification.deliver(tries=settings.ALARM_QUICK_TRIES) == Notification.Status.DELIVERED
    return delivered
