"""A checker's alarm state and its transitions: the state machine that runs feed."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from alarms.models.maintenance import MaintenanceWindow, ToggleLog, ToggleRefused, username
from alarms.models.outbox import AlarmEvent, EventKind
from alarms.models.policy import AlarmPolicy, OnError, Policy
from checkers.models import Checker, CheckRun, RunStatus, State
from malleable.fields import optional_link
from namespaces.models import AnyUser


@dataclass(frozen=True)
class Silence:
    """Why a checker's alarms are not being sent right now, for the admin and the pages."""

    kind: str
    reason: str
    by: str
    until: datetime | None = None

    def __str__(self) -> str:
        until = f" until {self.until:%Y-%m-%d %H:%M %Z}" if self.until else ""
        because = f": {self.reason}" if self.reason else ""
        return f"{self.kind}{until} by {self.by}{because}"


class Transition(models.Model):
    """One change of a checker's state. Append-only: what dashboards and statistics read."""

    NAMESPACE_PATH = "checker__namespace"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    checker = models.ForeignKey(Checker, on_delete=models.CASCADE, related_name="transitions")
    old = models.CharField(max_length=8, choices=State.choices)
    new = models.CharField(max_length=8, choices=State.choices)
    run = optional_link(CheckRun)
    created = models.DateTimeField(default=timezone.now, db_index=True)
    processed = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the alarm logic was done with it; empty while the flap guard waits.",
    )

    class Meta:
        ordering = ["-created", "-pk"]
        indexes = [models.Index(fields=["checker", "-created"])]

    def __str__(self) -> str:
        return f"{self.checker.slug}: {self.old} → {self.new} at {self.created:%Y-%m-%d %H:%M:%S}"


STATE_FIELDS = [
    "state",
    "since",
    "consecutive_reds",
    "consecutive_errors",
    "last_run",
    "last_transition",
    "alarm",
    "alarm_announced",
    "last_announced",
    "repeats",
    "resolve_owed",
]
ACK_FIELDS = ["acknowledged_by", "acknowledged_at", "ack_reason"]


# A steady run's UPDATE (``AlarmState.steady``), by its status: what it writes (a green run what
# ``_forget_alarm`` would) and the state it expects, with the checker's id still to be put in as
# ``{checker}``. Plain SQL: the ORM took longer to build the statement than the database to run
# it. The state expected is the run's status, spelled the same (``checkers.models.State``).
_STEADY = (
    "UPDATE alarms_alarmstate SET last_run_id = %s, consecutive_errors = 0, {changes}"
    " WHERE state = %s AND (last_run_id IS NULL OR last_run_id <> %s) AND {expects}"
    " AND checker_id = {{checker}}"
)
STEADY_SQL: dict[str, str] = {
    RunStatus.GREEN: _STEADY.format(
        changes="consecutive_reds = 0, alarm_id = NULL, alarm_announced = NULL, last_announced = NULL,"
        " repeats = 0",
        expects="NOT resolve_owed AND acknowledged_at IS NULL",
    ),
    RunStatus.RED: _STEADY.format(
        changes="consecutive_reds = consecutive_reds + 1", expects="alarm_id = last_transition_id"
    ),
}


class AlarmState(models.Model):
    """A checker's alarm state, its open alarm and its toggles (mute, acknowledgement)."""

    NAMESPACE_PATH = "checker__namespace"

    checker = models.OneToOneField(Checker, on_delete=models.CASCADE, related_name="alarm_state")
    state = models.CharField(max_length=8, choices=State.choices, default=State.UNKNOWN)
    since = models.DateTimeField(default=timezone.now)
    consecutive_reds = models.PositiveIntegerField(default=0)
    consecutive_errors = models.PositiveIntegerField(default=0)
    last_run = optional_link(CheckRun)
    last_transition = optional_link(Transition)
    alarm = optional_link(Transition, help_text="The open alarm: the transition it fired for.")
    alarm_announced = models.DateTimeField(
        null=True, blank=True, help_text="When the open alarm went out; empty while it is silenced."
    )
    last_announced = models.DateTimeField(null=True, blank=True)
    repeats = models.PositiveIntegerField(default=0)
    resolve_owed = models.BooleanField(
        default=False, help_text="Someone was told; they will hear it resolve."
    )
    acknowledged_by = optional_link(settings.AUTH_USER_MODEL)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    ack_reason = models.CharField(max_length=500, blank=True)
    muted_until = models.DateTimeField(null=True, blank=True)
    muted_by = optional_link(settings.AUTH_USER_MODEL)
    mute_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["checker__namespace", "checker__slug"]

    def __str__(self) -> str:
        return f"{self.checker.slug} is {self.state}"

    @classmethod
    def record_run(cls, checker: Checker, run: CheckRun) -> AlarmEvent | None:
        """React to a recorded run, in its transaction; recording the same run twice does nothing."""
        if cls._record_steady(checker, run):
            return None
        # Lock the state's row only; MariaDB cannot say which (it locks the joined rows as well).
        of = ("self",) if connection.features.has_select_for_update_of else ()
        locked = cls.objects.select_for_update(of=of).select_related("alarm", "last_transition")
        # order_by("pk"): the model's ordering would join the checker and namespace to sort one row.
        state = locked.filter(checker=checker).order_by("pk").first()
        if state is None:  # a checker older than its alarm state: make it once, then lock it
            cls.objects.get_or_create(checker=checker)
            state = locked.get(checker=checker)
        if state.last_run_id == run.pk:
            return None
        state.checker = checker
        return state.advance(run, cache(lambda: Policy.for_checker(checker)))

    @classmethod
    def _record_steady(cls, checker: Checker, run: CheckRun) -> bool:
        """Whether the run changed nothing but the counters and the last run, written by its
        ``steady`` UPDATE. Anything else (and the same run recorded twice) takes ``advance``,
        which reads the state."""
        statement = cls.steady(run, "%s")
        if statement is None:
            return False
        sql, params = statement
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, checker.pk])
            return cursor.rowcount > 0

    @staticmethod
    def steady(run: CheckRun, checker_id: str) -> tuple[str, list[Any]] | None:
        """The conditional UPDATE, with no read, that records a run which changes nothing but the
        counters and the last run: green stays green with nothing owed nor acknowledged, or red
        stays red with its alarm open (the alarm is the last transition, so it is red). It names
        the checker as ``checker_id`` and returns a row when it matched. None for an error run,
        which always takes ``advance``: its policy decides what it does."""
        if run.status not in STEADY_SQL:
            return None
        sql = STEADY_SQL[run.status].format(checker=checker_id)
        return f"{sql} RETURNING 1", [run.pk, run.status, run.pk]

    def advance(self, run: CheckRun, policy: Callable[[], Policy]) -> AlarmEvent | None:
        """Move the state on by one run. ``policy`` is read only when the run can change something
        (an error, a new state, an alarm to open or resolve): a steady green run reads no policy."""
        now = run.finished or timezone.now()
        new = self._count(run.status, policy)
        transition = self._move_to(new, run, now) if new != self.state else None
        self.last_run = run
        fields = list(STATE_FIELDS)
        if self.state == State.GREEN:
            event = self._resolve(run, policy, now) if self.resolve_owed else None
            self._forget_alarm()
            fields += self._end_ack(run) if self.acknowledged_at else []
        elif (self.alarm is None or self.alarm.new != self.state) and self._alarming(policy()):
            event = self._open(run, policy(), now)
        else:
            event = None
        if transition is not None and transition.processed is None and not self._awaits_guard(policy()):
            Transition.objects.filter(pk=transition.pk).update(processed=now)
        self.save(update_fields=fields)
        return event

    def _count(self, status: str, policy: Callable[[], Policy]) -> str:
        """The state this run leads to; counts the consecutive reds and errors the flap guard reads."""
        if status == RunStatus.ERROR:
            self.consecutive_errors += 1
            if policy().on_error == OnError.KEEP:
                return self.state
            self.consecutive_reds = 0
            return State.ERROR
        self.consecutive_errors = 0
        self.consecutive_reds = self.consecutive_reds + 1 if status == RunStatus.RED else 0
        return status

    def _move_to(self, new: str, run: CheckRun, now: datetime) -> Transition:
        """Earlier transitions still waiting on the flap guard never alarmed: they are done."""
        Transition.objects.filter(checker=self.checker, processed=None).update(processed=now)
        transition = Transition.objects.create(
            checker=self.checker, old=self.state, new=new, run=run, created=now
        )
        self.state, self.since, self.last_transition = new, now, transition
        return transition

    def _alarming(self, policy: Policy) -> bool:
        count = self.consecutive_reds if self.state == State.RED else self.consecutive_errors
        return policy.can_alarm(self.state) and count >= policy.after_failures

    def _awaits_guard(self, policy: Policy) -> bool:
        return policy.can_alarm(self.state) and not self._alarming(policy)

    def _open(self, run: CheckRun, policy: Policy, now: datetime) -> AlarmEvent:
        transition = self.last_transition
        self.alarm, self.alarm_announced, self.repeats = transition, None, 0
        kind = EventKind.FIRED if self.state == State.RED else EventKind.ERROR
        event = AlarmEvent.write(self.checker, kind, transition, run, now)
        Transition.objects.filter(pk=transition.pk).update(processed=now)
        silence = self.silence(now, policy)
        if silence is not None:
            event.suppress(str(silence))
            return event
        event.notify(policy.channels)
        self.alarm_announced = self.last_announced = now
        self.resolve_owed = True
        return event

    def _resolve(self, run: CheckRun, policy: Callable[[], Policy], now: datetime) -> AlarmEvent | None:
        """Whoever heard of the alarm hears it end, even while silenced: nothing stays open outside."""
        event = None
        if policy().notify_resolved:
            event = AlarmEvent.write(self.checker, EventKind.RESOLVED, self.last_transition, run, now)
            event.notify(policy().channels)
        return event

    def _forget_alarm(self) -> None:
        self.alarm, self.alarm_announced, self.last_announced = None, None, None
        self.repeats, self.resolve_owed = 0, False

    def _end_ack(self, run: CheckRun) -> list[str]:
        reason = f"{self.checker.slug} is green again"
        ToggleLog.record(
            self.checker.namespace, ToggleLog.Action.ACK_ENDED, None, reason, checker=self.checker, run=run
        )
        self.acknowledged_by, self.acknowledged_at, self.ack_reason = None, None, ""
        return ACK_FIELDS

    def silence(self, now: datetime | None = None, policy: Policy | None = None) -> Silence | None:
        """Why this checker's alarms are silent now, most lasting reason first; None when they are not."""
        now = now or timezone.now()
        policy = policy or Policy.for_checker(self.checker)
        if not policy.enabled:
            return Silence("alarming disabled", policy.disabled_reason, policy.disabled_by)
        window = MaintenanceWindow.open_in(self.checker.namespace_id, now)
        if window is not None:
            return Silence(f"maintenance window {window[0].name}", window[0].reason, "schedule", window[1])
        if self.muted_until and self.muted_until > now:
            return Silence("muted", self.mute_reason, username(self.muted_by), self.muted_until)
        if self.acknowledged_at:
            return Silence("acknowledged until green", self.ack_reason, username(self.acknowledged_by))
        return None

    # Toggles: each a conditional UPDATE of its own fields (never racing ``advance``) plus an audit row.

    def acknowledge(self, by: AnyUser | None, reason: str) -> None:
        now = timezone.now()
        if not AlarmState.objects.filter(pk=self.pk, state__in=[State.RED, State.ERROR]).update(
            acknowledged_by=by, acknowledged_at=now, ack_reason=reason
        ):
            raise ToggleRefused(f"{self.checker.slug} is {self.state}: there is nothing to acknowledge.")
        self.acknowledged_by, self.acknowledged_at, self.ack_reason = by, now, reason
        ToggleLog.record(
            self.checker.namespace, ToggleLog.Action.ACKNOWLEDGED, by, reason, checker=self.checker
        )

    def unacknowledge(self, by: AnyUser | None, reason: str) -> None:
        if (
            not AlarmState.objects.filter(pk=self.pk)
            .exclude(acknowledged_at=None)
            .update(acknowledged_by=None, acknowledged_at=None, ack_reason="")
        ):
            raise ToggleRefused(f"{self.checker.slug} is not acknowledged.")
        self.acknowledged_by, self.acknowledged_at, self.ack_reason = None, None, ""
        ToggleLog.record(
            self.checker.namespace, ToggleLog.Action.UNACKNOWLEDGED, by, reason, checker=self.checker
        )

    def mute(self, by: AnyUser | None, until: datetime, reason: str) -> None:
        if until <= timezone.now():
            raise ToggleRefused("A mute must end in the future.")
        AlarmState.objects.filter(pk=self.pk).update(muted_until=until, muted_by=by, mute_reason=reason)
        self.muted_until, self.muted_by, self.mute_reason = until, by, reason
        ToggleLog.record(
            self.checker.namespace, ToggleLog.Action.MUTED, by, reason, checker=self.checker, until=until
        )

    def unmute(self, by: AnyUser | None, reason: str) -> None:
        if not AlarmState.objects.filter(pk=self.pk, muted_until__gt=timezone.now()).update(
            muted_until=None, muted_by=None, mute_reason=""
        ):
            raise ToggleRefused(f"{self.checker.slug} is not muted.")
        self.muted_until, self.muted_by, self.mute_reason = None, None, ""
        ToggleLog.record(self.checker.namespace, ToggleLog.Action.UNMUTED, by, reason, checker=self.checker)

    def set_alarming(self, enabled: bool, by: AnyUser | None, reason: str) -> None:
        policy, _ = AlarmPolicy.objects.get_or_create(checker=self.checker)
        if policy.enabled == enabled:
            raise ToggleRefused(f"Alarming is already {'on' if enabled else 'off'} for {self.checker.slug}.")
        policy.set_enabled(enabled, by, reason)

    # Repeats, and alarms that were silenced when they fired: the periodic task's work.

    @classmethod
    def announce_all(cls, now: datetime | None = None) -> int:
        now = now or timezone.now()
        sent = 0
        for pk in cls.objects.exclude(alarm=None).values_list("pk", flat=True):
            with transaction.atomic():
                state = cls.objects.select_related("checker__namespace", "alarm", "last_run").get(pk=pk)
                sent += state.announce_due(now) is not None
        return sent

    def announce_due(self, now: datetime) -> AlarmEvent | None:
        """The open alarm's late fired/error once its silence is over, or its next repeat."""
        policy = Policy.for_checker(self.checker)
        if self.alarm is None or self.silence(now, policy) is not None:
            return None
        if self.alarm_announced is None:
            kind, number = (EventKind.FIRED if self.alarm.new == State.RED else EventKind.ERROR), 0
        elif (
            policy.repeat_every
            and self.last_announced is not None
            and self.last_announced + timedelta(seconds=policy.repeat_every) <= now
        ):
            kind, number = EventKind.REPEAT, self.repeats + 1
        else:
            return None
        claimed = AlarmState.objects.filter(
            pk=self.pk,
            alarm=self.alarm,
            alarm_announced=self.alarm_announced,
            last_announced=self.last_announced,
        ).update(
            alarm_announced=self.alarm_announced or now, last_announced=now, repeats=number, resolve_owed=True
        )
        if not claimed:
            return None
        event = AlarmEvent.write(
            self.checker, kind, self.alarm, self.last_run, now, repeat=number, state=self.state
        )
        event.notify(policy.channels)
        return event
