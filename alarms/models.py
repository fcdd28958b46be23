"""Alarm state and history, policies, toggles, channels and the notification outbox.

One run (docs/alarms.md, "One run, one transaction"): ``checkers.runs.record`` saves the run and sends
``run_recorded`` inside its transaction; ``AlarmState.record_run`` then moves the state,
writes a ``Transition`` when it changed, and writes the ``AlarmEvent`` with one
``Notification`` per channel: the outbox, committed with the run or not at all. Delivery
happens after commit (a task per notification, then ``Notification.sweep`` for what is
still due). History (transitions, events, attempts, toggles) is append-only.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, cached_property, partial
from zoneinfo import ZoneInfo

from croniter import croniter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from alarms import payloads
from alarms.transports import TRANSPORTS, DeliveryError, Transport
from checkers import schedules
from checkers.models import Checker, CheckRun, RunStatus, Severity
from checkers.signals import delivering_in_process
from malleable import texts
from malleable.encryption import EncryptedTextField
from namespaces.models import Namespace, validate_timezone

log = logging.getLogger(__name__)
WORKER = f"{socket.gethostname()}:{os.getpid()}"
SEVERITY_RANK = {Severity.INFO: 1, Severity.WARNING: 2, Severity.CRITICAL: 3}
MIN_REPEAT_S = 60


class State(models.TextChoices):
    GREEN = "green", "Green"
    RED = "red", "Red"
    ERROR = "error", "Error"
    UNKNOWN = "unknown", "Unknown"


class OnError(models.TextChoices):
    ALARM = "alarm", "Alarm (an error event)"
    IGNORE = "ignore", "Ignore (record the error, alarm nobody)"
    KEEP = "keep", "Keep the last state"


class EventKind(models.TextChoices):
    FIRED = "fired", "Fired"
    REPEAT = "repeat", "Repeat"
    RESOLVED = "resolved", "Resolved"
    ERROR = "error", "Error"
    TEST = "test", "Test"
    LATE = "late", "Late"


class ToggleRefused(Exception):
    """A toggle that makes no sense now (acknowledging a green checker, muting into the past)."""


def validate_repeat_every(value: int) -> None:
    if 0 < value < MIN_REPEAT_S:
        raise ValidationError(f"Repeat at most once a minute ({MIN_REPEAT_S} s), or 0 for never.")


def username(user) -> str:
    return user.get_username() if user is not None else "Malleable"


# --- Policy ----------------------------------------------------------------------------------


class AlarmDefaults(models.Model):
    """A namespace's alarm policy: what every checker follows unless its own policy says otherwise."""

    NAMESPACE_PATH = "namespace"

    namespace = models.OneToOneField(Namespace, on_delete=models.CASCADE, related_name="alarm_defaults")
    after_failures = models.PositiveSmallIntegerField(
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text="Consecutive failing runs before an alarm fires: the flap guard.",
    )
    on_error = models.CharField(max_length=8, choices=OnError.choices, default=OnError.ALARM)
    repeat_every = models.PositiveIntegerField(
        default=0,
        validators=[validate_repeat_every],
        help_text="Seconds between repeats while an alarm lasts; 0 never repeats.",
    )
    notify_resolved = models.BooleanField(default=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "alarm defaults"
        verbose_name_plural = "alarm defaults"

    def __str__(self) -> str:
        return f"alarm defaults of {self.namespace}"


class AlarmPolicy(models.Model):
    """A checker's own alarm settings; blank fields follow the namespace's defaults."""

    NAMESPACE_PATH = "checker__namespace"

    checker = models.OneToOneField(Checker, on_delete=models.CASCADE, related_name="alarm_policy")
    enabled = models.BooleanField(
        default=True, editable=False, help_text="Off: runs, state and history still record; nobody is told."
    )
    disabled_reason = models.CharField(max_length=500, blank=True, editable=False)
    disabled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    after_failures = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    on_error = models.CharField(max_length=8, choices=OnError.choices, blank=True)
    repeat_every = models.PositiveIntegerField(null=True, blank=True, validators=[validate_repeat_every])
    notify_resolved = models.BooleanField(null=True, blank=True)
    channels = models.ManyToManyField(
        "Channel",
        blank=True,
        related_name="policies",
        help_text="Blank: the namespace's default channels.",
    )
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "alarm policies"

    def __str__(self) -> str:
        return f"alarm policy of {self.checker}"

    def set_enabled(self, enabled: bool, by, reason: str) -> None:
        """Alarming on or off for this checker, audited: who, when, why."""
        self.enabled = enabled
        self.disabled_reason, self.disabled_by = ("", None) if enabled else (reason, by)
        self.disabled_at = None if enabled else timezone.now()
        self.save()
        ToggleLog.record(
            self.checker.namespace,
            ToggleLog.Action.ENABLED if enabled else ToggleLog.Action.DISABLED,
            by,
            reason,
            checker=self.checker,
        )


@dataclass(frozen=True)
class Policy:
    """The policy a checker follows right now: its own settings over its namespace's defaults."""

    enabled: bool
    disabled_reason: str
    disabled_by: str
    after_failures: int
    on_error: str
    repeat_every: int
    notify_resolved: bool
    namespace_id: int
    own_policy_id: int | None

    @classmethod
    def for_checker(cls, checker: Checker) -> Policy:
        defaults = AlarmDefaults.objects.filter(namespace_id=checker.namespace_id).first() or AlarmDefaults()
        own = AlarmPolicy.objects.filter(checker=checker).select_related("disabled_by").first()
        own = own or AlarmPolicy(checker=checker)
        return cls(
            enabled=own.enabled,
            disabled_reason=own.disabled_reason,
            disabled_by=username(own.disabled_by),
            after_failures=own.after_failures or defaults.after_failures,
            on_error=own.on_error or defaults.on_error,
            repeat_every=defaults.repeat_every if own.repeat_every is None else own.repeat_every,
            notify_resolved=defaults.notify_resolved if own.notify_resolved is None else own.notify_resolved,
            namespace_id=checker.namespace_id,
            own_policy_id=own.pk,
        )

    @cached_property
    def channels(self) -> tuple[Channel, ...]:
        """The checker's own channels, else the namespace's default ones. Read only when an
        event goes out, so the runs that change nothing (most of them) never query channels."""
        own = Channel.objects.filter(policies=self.own_policy_id) if self.own_policy_id else None
        channels = list(own) if own is not None else []
        return tuple(channels or Channel.objects.filter(namespace_id=self.namespace_id, is_default=True))

    def can_alarm(self, state: str) -> bool:
        return state == State.RED or (state == State.ERROR and self.on_error == OnError.ALARM)


# --- Channels --------------------------------------------------------------------------------


class Channel(models.Model):
    """Where a namespace's alarms go. The URL and secret are encrypted and never shown again."""

    NAMESPACE_PATH = "namespace"

    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="channels")
    slug = models.SlugField()
    name = models.CharField(max_length=200, blank=True)
    kind = models.CharField(max_length=16, choices=[(kind, t.label) for kind, t in TRANSPORTS.items()])
    url = EncryptedTextField(
        blank=True,
        help_text="queue: amqp://… (blank: the installation's broker); webhook: https://…; "
        "email: addresses, comma-separated; slack/apprise: an apprise URL. Stored encrypted.",
    )
    secret = EncryptedTextField(
        blank=True, help_text="webhook: the HMAC-SHA256 signing key. Stored encrypted."
    )
    min_severity = models.CharField(
        max_length=8,
        choices=Severity.choices,
        default=Severity.INFO,
        help_text="Alarms of checkers below this severity are not sent here.",
    )
    is_default = models.BooleanField(
        "default channel",
        default=True,
        help_text="Receives the alarms of every checker whose policy names no channels.",
    )
    enabled = models.BooleanField(default=True)
    disabled_reason = models.TextField(blank=True, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["namespace", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["namespace", "slug"], name="channel_slug_per_namespace")
        ]

    def __str__(self) -> str:
        return self.name or self.slug

    @property
    def transport(self) -> Transport:
        return TRANSPORTS[self.kind](self)

    def clean(self) -> None:
        if self.kind in TRANSPORTS:
            self.transport.validate()

    def where(self) -> str:
        return self.transport.describe()

    def accepts(self, severity: str) -> bool:
        return SEVERITY_RANK[Severity(severity)] >= SEVERITY_RANK[Severity(self.min_severity)]

    def disable(self, reason: str, by=None) -> bool:
        """Stop delivering here; pending notifications wait (held) until the channel is enabled."""
        reason = texts.storable(reason, texts.REMOTE_ERROR_BYTES)
        if not Channel.objects.filter(pk=self.pk, enabled=True).update(
            enabled=False, disabled_reason=reason, disabled_at=timezone.now()
        ):
            return False
        self.notifications.filter(status=Notification.Status.PENDING).update(status=Notification.Status.HELD)
        ToggleLog.record(self.namespace, ToggleLog.Action.CHANNEL_DISABLED, by, reason, channel=self)
        return True

    def enable(self, by, reason: str = "") -> int:
        """Deliver here again, starting with every notification that waited; returns how many."""
        Channel.objects.filter(pk=self.pk).update(enabled=True, disabled_reason="", disabled_at=None)
        self.enabled, self.disabled_reason, self.disabled_at = True, "", None
        released = self.notifications.filter(
            status__in=[Notification.Status.HELD, Notification.Status.PENDING]
        ).update(status=Notification.Status.PENDING, due=timezone.now())
        ToggleLog.record(self.namespace, ToggleLog.Action.CHANNEL_ENABLED, by, reason, channel=self)
        return released

    def send_test(self, by) -> Notification:
        """A ``test`` message through the outbox, delivered now: the admin reports what happened."""
        now = timezone.now()
        event_id = uuid.uuid4()
        key = payloads.dedup_key(self.namespace.slug, payloads.TEST_CHECKER, str(event_id))
        payload = payloads.build_test(self.namespace.slug, self.slug, username(by), now, key)
        with transaction.atomic():
            event = AlarmEvent.objects.create(
                uuid=event_id, namespace=self.namespace, kind=EventKind.TEST, payload=payload, created=now
            )
            notification = Notification.objects.create(event=event, channel=self, due=now)
        notification.deliver(tries=1)
        notification.refresh_from_db()
        return notification


# --- Maintenance windows ---------------------------------------------------------------------


class MaintenanceWindow(models.Model):
    """A time when a namespace's alarms stay silent: once (starts to ends) or recurring (cron + duration)."""

    NAMESPACE_PATH = "namespace"

    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="maintenance_windows")
    name = models.CharField(max_length=200)
    reason = models.TextField(blank=True, help_text="Why alarms may stay silent: shown wherever they are.")
    starts = models.DateTimeField(null=True, blank=True, help_text="One-off window: its start.")
    ends = models.DateTimeField(null=True, blank=True, help_text="One-off window: its end.")
    cron = models.CharField(
        max_length=100,
        blank=True,
        help_text="Recurring window: when it opens, e.g. 0 2 * * 0 (Sundays 02:00).",
    )
    duration_minutes = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)], help_text="Recurring window: how long."
    )
    timezone = models.CharField(
        max_length=64, blank=True, validators=[validate_timezone], help_text="Blank: the namespace's."
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        editable=False,
    )
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["namespace", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        one_off = self.starts is not None or self.ends is not None
        recurring = bool(self.cron) or self.duration_minutes is not None
        if one_off == recurring:
            raise ValidationError(
                "Give either a start and an end (once) or a cron and a duration (recurring)."
            )
        if one_off and (self.starts is None or self.ends is None or self.ends <= self.starts):
            raise ValidationError({"ends": "A one-off window needs a start and a later end."})
        if recurring and not (self.cron and self.duration_minutes):
            raise ValidationError({"duration_minutes": "A recurring window needs a cron and a duration."})
        if self.cron and (len(self.cron.split()) != 5 or not croniter.is_valid(self.cron)):
            raise ValidationError({"cron": "Use five cron fields: minute hour day month weekday."})
        if self.cron and not schedules.fires(self.cron):
            raise ValidationError({"cron": f"{self.cron!r} never fires: no date has that day in that month."})

    def open_until(self, moment: datetime) -> datetime | None:
        """When the window that is open at ``moment`` closes; None when it is closed then."""
        if not self.cron:
            return self.ends if self.starts <= moment < self.ends else None
        zone = ZoneInfo(self.timezone or self.namespace.timezone)
        local = moment.astimezone(zone) + timedelta(seconds=1)
        try:
            opened = croniter(self.cron, local).get_prev(datetime)
        except ValueError:  # stored before "never fires" was refused: never open
            return None
        closes = opened + timedelta(minutes=self.duration_minutes)
        return closes.astimezone(moment.tzinfo) if closes > moment else None

    @classmethod
    def open_in(cls, namespace_id: int, moment: datetime) -> tuple[MaintenanceWindow, datetime] | None:
        for window in cls.objects.filter(namespace_id=namespace_id).select_related("namespace"):
            closes = window.open_until(moment)
            if closes is not None:
                return window, closes
        return None


# --- State and history -----------------------------------------------------------------------


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
    run = models.ForeignKey(CheckRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
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


class AlarmState(models.Model):
    """A checker's alarm state, its open alarm and its toggles (mute, acknowledgement)."""

    NAMESPACE_PATH = "checker__namespace"

    checker = models.OneToOneField(Checker, on_delete=models.CASCADE, related_name="alarm_state")
    state = models.CharField(max_length=8, choices=State.choices, default=State.UNKNOWN)
    since = models.DateTimeField(default=timezone.now)
    consecutive_reds = models.PositiveIntegerField(default=0)
    consecutive_errors = models.PositiveIntegerField(default=0)
    last_run = models.ForeignKey(CheckRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_transition = models.ForeignKey(
        Transition, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    alarm = models.ForeignKey(
        Transition,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The open alarm: the transition it fired for.",
    )
    alarm_announced = models.DateTimeField(
        null=True, blank=True, help_text="When the open alarm went out; empty while it is silenced."
    )
    last_announced = models.DateTimeField(null=True, blank=True)
    repeats = models.PositiveIntegerField(default=0)
    resolve_owed = models.BooleanField(
        default=False, help_text="Someone was told; they will hear it resolve."
    )
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    ack_reason = models.CharField(max_length=500, blank=True)
    muted_until = models.DateTimeField(null=True, blank=True)
    muted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    mute_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["checker__namespace", "checker__slug"]

    def __str__(self) -> str:
        return f"{self.checker.slug} is {self.state}"

    @classmethod
    def record_run(cls, checker: Checker, run: CheckRun) -> AlarmEvent | None:
        """React to a recorded run, in its transaction; recording the same run twice does nothing."""
        locked = cls.objects.select_for_update(of=("self",)).select_related("alarm", "last_transition")
        # order_by("pk"): the model's ordering would join the checker and namespace to sort one row.
        state = locked.filter(checker=checker).order_by("pk").first()
        if state is None:  # a checker older than its alarm state: make it once, then lock it
            cls.objects.get_or_create(checker=checker)
            state = locked.get(checker=checker)
        if state.last_run_id == run.pk:
            return None
        state.checker = checker
        return state.advance(run, cache(lambda: Policy.for_checker(checker)))

    def advance(self, run: CheckRun, policy: Callable[[], Policy]) -> AlarmEvent | None:
        """Move the state on by one run. ``policy`` is read only when the run can change something
        (an error, a new state, an alarm to open or resolve): a steady green run reads no policy."""
        now = run.finished or timezone.now()
        new = self._count(run.status, policy)
        transition = self._move_to(new, run, now) if new != self.state else None
        self.last_run = run
        fields = list(STATE_FIELDS)
        if self.state == State.GREEN:
            event = self._resolve(run, policy, now) if self.resolve_owed else self._forget_alarm()
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
        self._forget_alarm()
        return event

    def _forget_alarm(self) -> None:
        self.alarm, self.alarm_announced, self.last_announced = None, None, None
        self.repeats, self.resolve_owed = 0, False

    def _end_ack(self, run: CheckRun) -> list[str]:
        reason = f"{self.checker.slug} is green again (run {run.uuid})"
        ToggleLog.record(
            self.checker.namespace, ToggleLog.Action.ACK_ENDED, None, reason, checker=self.checker
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

    def acknowledge(self, by, reason: str) -> None:
        now = timezone.now()
        if not AlarmState.objects.filter(pk=self.pk, state__in=[State.RED, State.ERROR]).update(
            acknowledged_by=by, acknowledged_at=now, ack_reason=reason
        ):
            raise ToggleRefused(f"{self.checker.slug} is {self.state}: there is nothing to acknowledge.")
        self.acknowledged_by, self.acknowledged_at, self.ack_reason = by, now, reason
        ToggleLog.record(
            self.checker.namespace, ToggleLog.Action.ACKNOWLEDGED, by, reason, checker=self.checker
        )

    def unacknowledge(self, by, reason: str) -> None:
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

    def mute(self, by, until: datetime, reason: str) -> None:
        if until <= timezone.now():
            raise ToggleRefused("A mute must end in the future.")
        AlarmState.objects.filter(pk=self.pk).update(muted_until=until, muted_by=by, mute_reason=reason)
        self.muted_until, self.muted_by, self.mute_reason = until, by, reason
        ToggleLog.record(
            self.checker.namespace, ToggleLog.Action.MUTED, by, reason, checker=self.checker, until=until
        )

    def unmute(self, by, reason: str) -> None:
        if not AlarmState.objects.filter(pk=self.pk, muted_until__gt=timezone.now()).update(
            muted_until=None, muted_by=None, mute_reason=""
        ):
            raise ToggleRefused(f"{self.checker.slug} is not muted.")
        self.muted_until, self.muted_by, self.mute_reason = None, None, ""
        ToggleLog.record(self.checker.namespace, ToggleLog.Action.UNMUTED, by, reason, checker=self.checker)

    def set_alarming(self, enabled: bool, by, reason: str) -> None:
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
        elif policy.repeat_every and self.last_announced + timedelta(seconds=policy.repeat_every) <= now:
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


# --- The outbox ------------------------------------------------------------------------------


class AlarmEvent(models.Model):
    """One alarm message, identical on every channel; append-only. ``suppressed`` says why it went nowhere."""

    NAMESPACE_PATH = "namespace"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="alarm_events")
    checker = models.ForeignKey(
        Checker, null=True, blank=True, on_delete=models.CASCADE, related_name="alarm_events"
    )
    transition = models.ForeignKey(
        Transition, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    run = models.ForeignKey(
        CheckRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="alarm_events"
    )
    kind = models.CharField(max_length=8, choices=EventKind.choices)
    dedup_key = models.CharField(max_length=400, db_index=True)
    routing_key = models.CharField(max_length=400)
    payload = models.JSONField()
    suppressed = models.CharField(max_length=600, blank=True)
    created = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created", "-pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.routing_key} at {self.created:%Y-%m-%d %H:%M:%S}"

    def save(self, *args, **kwargs) -> None:
        self.dedup_key = self.payload["dedup_key"]
        self.routing_key = payloads.routing_key(self.payload)
        super().save(*args, **kwargs)

    @classmethod
    def write(
        cls,
        checker: Checker,
        kind: str,
        transition: Transition,
        run: CheckRun | None,
        at: datetime,
        *,
        repeat: int = 0,
        state: str | None = None,
    ) -> AlarmEvent:
        key = payloads.dedup_key(checker.namespace.slug, checker.slug, str(transition.uuid), repeat)
        payload = payloads.build(
            event=kind,
            checker=checker,
            state=state or transition.new,
            previous_state=transition.old,
            run=run,
            at=at,
            key=key,
        )
        return cls.objects.create(
            namespace=checker.namespace,
            checker=checker,
            transition=transition,
            run=run,
            kind=kind,
            payload=payload,
            created=at,
        )

    def suppress(self, reason: str) -> None:
        self.suppressed = reason[:600]
        AlarmEvent.objects.filter(pk=self.pk).update(suppressed=self.suppressed)

    def notify(self, channels: tuple[Channel, ...]) -> list[Notification]:
        """The outbox rows, one per channel that takes this severity; delivery is queued on commit."""
        severity = self.payload["severity"]
        takers = [channel for channel in channels if channel.accepts(severity)]
        if not takers:
            self.suppress(f"no channel takes {severity} alarms")
            return []
        notifications = [
            Notification.objects.create(
                event=self,
                channel=channel,
                due=timezone.now(),
                status=Notification.Status.PENDING if channel.enabled else Notification.Status.HELD,
            )
            for channel in takers
        ]
        if not delivering_in_process.get():
            for notification in notifications:
                if notification.status == Notification.Status.PENDING:
                    transaction.on_commit(partial(queue_delivery, notification.pk), robust=True)
        return notifications


def queue_delivery(notification_id: int) -> None:
    """Hand one notification to a worker; a down broker just leaves it to the sweep (no retries here)."""
    from alarms.tasks import deliver_notification  # loads Celery, which run_checker never needs

    deliver_notification.apply_async((notification_id,), retry=False)


class Notification(models.Model):
    """One event for one channel: the outbox row, delivered at least once, with every attempt kept."""

    NAMESPACE_PATH = "channel__namespace"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERING = "delivering", "Delivering"
        DELIVERED = "delivered", "Delivered"
        HELD = "held", "Held: the channel is disabled"

    event = models.ForeignKey(AlarmEvent, on_delete=models.CASCADE, related_name="notifications")
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    due = models.DateTimeField(default=timezone.now)
    claim = models.UUIDField(null=True, blank=True, editable=False)
    claimed_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    delivered = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["event", "channel"], name="one_notification_per_channel")
        ]
        indexes = [models.Index(fields=["status", "due"])]

    def __str__(self) -> str:
        return f"{self.event.kind} to {self.channel.slug}: {self.status}"

    @classmethod
    def undelivered_for(cls, checker: Checker) -> int:
        """The checker's alarms still waiting: their channel failing (retrying) or disabled (held)."""
        return cls.objects.filter(event__checker=checker).exclude(status=cls.Status.DELIVERED).count()

    @staticmethod
    def due_q(now: datetime) -> Q:
        """Pending and due, or claimed by a worker whose claim ran out (it died or hung)."""
        return Q(status=Notification.Status.PENDING, due__lte=now) | Q(
            status=Notification.Status.DELIVERING, claimed_until__lte=now
        )

    @classmethod
    def sweep(cls, now: datetime | None = None, limit: int | None = None) -> int:
        """Deliver what is due, one channel at a time, oldest channel first; returns how many
        were delivered. A channel is probed with its oldest waiting alarm; a success releases
        everything else it holds at once, in ``at`` order (catching up after an outage in one
        sweep), and a failure leaves the channel alone for the rest of the sweep, so one
        hanging endpoint cannot hold up every other channel's alarms."""
        now = now or timezone.now()
        budget = limit or settings.ALARM_SWEEP_BATCH
        due = cls.objects.filter(cls.due_q(now), channel__enabled=True).order_by("due", "pk")
        channels = dict.fromkeys(due.values_list("channel_id", flat=True)[:budget])
        channels |= dict.fromkeys(cls._channels_to_probe(now))
        delivered = 0
        for channel_id in channels:
            tried, sent = cls._catch_up(channel_id, now, budget)
            budget, delivered = budget - tried, delivered + sent
            if budget <= 0:
                break
        return delivered

    @staticmethod
    def _channels_to_probe(now: datetime) -> list[int]:
        """Channels whose alarms all wait out a backoff, not tried for ``ALARM_PROBE_S``: probing
        one keeps the wait after an outage to a probe interval, not the backoff's hour."""
        before = now - timedelta(seconds=settings.ALARM_PROBE_S)
        waiting = Channel.objects.filter(enabled=True, notifications__status=Notification.Status.PENDING)
        last = waiting.annotate(last=models.Max("notifications__delivery_attempts__started"))
        return list(last.filter(Q(last__lte=before) | Q(last=None)).values_list("pk", flat=True))

    @classmethod
    def _catch_up(cls, channel_id: int, now: datetime, budget: int) -> tuple[int, int]:
        """(tried, delivered) on one channel: its waiting alarms oldest first, until one fails."""
        waiting = Q(status=cls.Status.PENDING) | Q(status=cls.Status.DELIVERING, claimed_until__lte=now)
        ids = list(
            cls.objects.filter(waiting, channel_id=channel_id)
            .order_by("event__created", "event_id")
            .values_list("pk", flat=True)[:budget]
        )
        rows = cls.objects.select_related("event", "channel__namespace").in_bulk(ids)
        tried = delivered = 0
        for pk in ids:
            # The probe, then (once it got through) the rest, skip the backoff they were waiting out.
            cls.objects.filter(pk=pk, status=cls.Status.PENDING, due__gt=now).update(due=now)
            status = rows[pk].deliver(tries=1, now=now)
            tried += status is not None
            delivered += status == cls.Status.DELIVERED
            if status in (cls.Status.PENDING, cls.Status.HELD):
                break
        return tried, delivered

    def claim_for_delivery(self, now: datetime) -> bool:
        """A conditional UPDATE on the row's own columns: of two workers (or a retried task and
        the sweep) exactly one wins. A disabled channel's notifications are not taken."""
        if not Channel.objects.filter(pk=self.channel_id, enabled=True).exists():
            return False
        token = uuid.uuid4()
        lease = now + timedelta(seconds=settings.ALARM_CLAIM_S)
        claimed = Notification.objects.filter(self.due_q(now), pk=self.pk).update(
            status=self.Status.DELIVERING, claim=token, claimed_until=lease
        )
        if claimed:
            self.status, self.claim, self.claimed_until = self.Status.DELIVERING, token, lease
        return bool(claimed)

    def deliver(self, tries: int = 1, now: datetime | None = None) -> str | None:
        """Claim, try up to ``tries`` times at short intervals, record each attempt; then the
        sweep's backoff takes over. None when another worker holds it or it is done."""
        if not self.claim_for_delivery(now or timezone.now()):
            return None
        transport = self.channel.transport
        for number in range(1, tries + 1):
            error = self._attempt(transport)
            if error is None:
                return self._delivered()
            if error.permanent:
                return self._hold(error)
            if number < tries:
                time.sleep(settings.ALARM_QUICK_DELAY_S * 2 ** (number - 1))
        return self._retry_later(error)

    def _attempt(self, transport: Transport) -> DeliveryError | None:
        attempt = DeliveryAttempt.objects.create(notification=self, worker=WORKER)
        Notification.objects.filter(pk=self.pk).update(attempts=F("attempts") + 1)
        self.attempts += 1
        try:
            transport.notify(self.event)
        except DeliveryError as exc:
            error = exc
        except Exception as exc:
            log.exception(
                "channel %s: unexpected failure delivering %s", self.channel.slug, self.event.dedup_key
            )
            error = DeliveryError(f"{type(exc).__name__}: {exc}")
        else:
            error = None
        attempt.finish(error)
        return error

    def _delivered(self) -> str:
        """Delivered is delivered, even if a slow worker's claim was taken over meanwhile."""
        Notification.objects.filter(pk=self.pk).update(
            status=self.Status.DELIVERED,
            delivered=timezone.now(),
            claim=None,
            claimed_until=None,
            last_error="",
        )
        self.status = self.Status.DELIVERED
        return self.status

    def _retry_later(self, error: DeliveryError) -> str:
        exponent = max(0, self.attempts - settings.ALARM_QUICK_TRIES)
        delay = min(settings.ALARM_RETRY_BASE_S * 2**exponent, settings.ALARM_RETRY_MAX_S)
        Notification.objects.filter(pk=self.pk, claim=self.claim).update(
            status=self.Status.PENDING,
            due=timezone.now() + timedelta(seconds=delay),
            claim=None,
            claimed_until=None,
            last_error=texts.storable(str(error), texts.REMOTE_ERROR_BYTES),
        )
        self.status = self.Status.PENDING
        return self.status

    def _hold(self, error: DeliveryError) -> str:
        Notification.objects.filter(pk=self.pk, claim=self.claim).update(
            status=self.Status.HELD,
            claim=None,
            claimed_until=None,
            last_error=texts.storable(str(error), texts.REMOTE_ERROR_BYTES),
        )
        self.channel.disable(f"permanent failure: {error}")
        self.status = self.Status.HELD
        return self.status


class DeliveryAttempt(models.Model):
    """One try at one notification. ``finished`` stays empty when the worker died during it."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="delivery_attempts")
    started = models.DateTimeField(default=timezone.now)
    finished = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(null=True)
    permanent = models.BooleanField(default=False)
    error = models.TextField(blank=True)
    worker = models.CharField(max_length=200)

    class Meta:
        ordering = ["started", "pk"]

    def __str__(self) -> str:
        return f"attempt at {self.started:%H:%M:%S}: {'ok' if self.ok else self.error or 'unfinished'}"

    def finish(self, error: DeliveryError | None) -> None:
        self.finished, self.ok = timezone.now(), error is None
        if error is None:
            self.error, self.permanent = "", False
        else:
            self.error, self.permanent = texts.storable(str(error), texts.REMOTE_ERROR_BYTES), error.permanent
        self.save(update_fields=["finished", "ok", "error", "permanent"])


# --- The toggles' audit ----------------------------------------------------------------------


class ToggleLog(models.Model):
    """Who silenced or unsilenced what, when and why. Append-only; ``by`` empty means Malleable itself."""

    NAMESPACE_PATH = "namespace"

    class Action(models.TextChoices):
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        UNACKNOWLEDGED = "unacknowledged", "Acknowledgement withdrawn"
        ACK_ENDED = "ack-ended", "Acknowledgement ended: green again"
        MUTED = "muted", "Muted"
        UNMUTED = "unmuted", "Unmuted"
        DISABLED = "disabled", "Alarming disabled"
        ENABLED = "enabled", "Alarming enabled"
        WINDOW_ADDED = "window-added", "Maintenance window added"
        WINDOW_CHANGED = "window-changed", "Maintenance window changed"
        WINDOW_REMOVED = "window-removed", "Maintenance window removed"
        CHANNEL_DISABLED = "channel-disabled", "Channel disabled"
        CHANNEL_ENABLED = "channel-enabled", "Channel enabled"

    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="alarm_toggles")
    checker = models.ForeignKey(Checker, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    channel = models.ForeignKey(Channel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    window = models.ForeignKey(
        MaintenanceWindow, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    subject = models.CharField(max_length=300, help_text="What it was about, kept after that is deleted.")
    action = models.CharField(max_length=20, choices=Action.choices)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    by_name = models.CharField(max_length=150)
    reason = models.TextField(blank=True)
    until = models.DateTimeField(null=True, blank=True)
    created = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created", "-pk"]
        verbose_name = "toggle log entry"
        verbose_name_plural = "toggle log"

    def __str__(self) -> str:
        return f"{self.get_action_display()}: {self.subject} by {self.by_name}"

    @classmethod
    def record(
        cls,
        namespace: Namespace,
        action: str,
        by,
        reason: str,
        *,
        checker: Checker | None = None,
        channel: Channel | None = None,
        window: MaintenanceWindow | None = None,
        until: datetime | None = None,
    ) -> ToggleLog:
        target = checker or channel or window or namespace
        subject = getattr(target, "slug", None) or str(target)
        return cls.objects.create(
            namespace=namespace,
            checker=checker,
            channel=channel,
            window=window,
            subject=subject,
            action=action,
            by=by,
            by_name=username(by),
            reason=reason,
            until=until,
        )
