"""The outbox: an alarm event, one notification per channel, each delivery attempt.

Rows are written with the run (docs/alarms.md, "One run, one transaction"); delivery happens
after commit, a task per notification, then ``Notification.sweep`` for what is still due.
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q
from django.utils import timezone

from alarms import payloads
from alarms.transports import DeliveryError, Transport
from checkers.models import Checker, CheckRun
from checkers.signals import delivering_in_process
from malleable import texts
from namespaces.models import Namespace

if TYPE_CHECKING:
    from alarms.models.channels import Channel
    from alarms.models.state import Transition


log = logging.getLogger(__name__)
WORKER = f"{socket.gethostname()}:{os.getpid()}"


class EventKind(models.TextChoices):
    FIRED = "fired", "Fired"
    REPEAT = "repeat", "Repeat"
    RESOLVED = "resolved", "Resolved"
    ERROR = "error", "Error"
    TEST = "test", "Test"
    LATE = "late", "Late"


class AlarmEvent(models.Model):
    """One alarm message, identical on every channel; append-only. ``suppressed`` says why it went nowhere."""

    NAMESPACE_PATH = "namespace"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="alarm_events")
    checker = models.ForeignKey(
        Checker, null=True, blank=True, on_delete=models.CASCADE, related_name="alarm_events"
    )
    transition = models.ForeignKey(
        "alarms.Transition", null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
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

    def save(self, *args: Any, **kwargs: Any) -> None:
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


# An undelivered alarm this old was not just written: the dashboard says it is held.
HELD_AFTER = timedelta(minutes=1)


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
    channel = models.ForeignKey("alarms.Channel", on_delete=models.CASCADE, related_name="notifications")
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

    @staticmethod
    def due_q(now: datetime) -> Q:
        """Pending and due, or claimed by a worker whose claim ran out (it died or hung)."""
        return Q(status=Notification.Status.PENDING, due__lte=now) | Q(
            status=Notification.Status.DELIVERING, claimed_until__lte=now
        )

    @classmethod
    def undelivered_for(cls, checker: Checker) -> int:
        """The checker's alarms still waiting: their channel failing (retrying) or disabled (held)."""
        return cls.objects.filter(event__checker=checker).exclude(status=cls.Status.DELIVERED).count()

    @classmethod
    def held_in(cls, namespace: Namespace, now: datetime | None = None) -> dict[str, int]:
        """The namespace's alarms its channels hold: ``held`` on a disabled channel, and
        ``retrying`` (a delivery failed, or none was tried for a minute: no worker). An alarm
        written seconds ago and on its way is neither, so the dashboard's line does not flicker."""
        stale = (now or timezone.now()) - HELD_AFTER
        counts = dict(
            cls.objects.filter(channel__namespace=namespace)
            .exclude(status=cls.Status.DELIVERED)
            .filter(Q(status=cls.Status.HELD) | Q(attempts__gt=0) | Q(created__lt=stale))
            .values_list("status")
            .annotate(n=models.Count("pk"))
            .order_by()
        )
        held = counts.pop(cls.Status.HELD, 0)
        return {"held": held, "retrying": sum(counts.values()), "total": held + sum(counts.values())}

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

    @classmethod
    def _channels_to_probe(cls, now: datetime) -> list[int]:
        """Channels whose alarms all wait out a backoff, not tried for ``ALARM_PROBE_S``: probing
        one keeps the wait after an outage to a probe interval, not the backoff's hour."""
        before = now - timedelta(seconds=settings.ALARM_PROBE_S)
        waiting = _channels().filter(enabled=True, notifications__status=cls.Status.PENDING)
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
        if not _channels().filter(pk=self.channel_id, enabled=True).exists():
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
            if number == tries:
                return self._retry_later(error)
            time.sleep(settings.ALARM_QUICK_DELAY_S * 2 ** (number - 1))
        raise ValueError(f"deliver() tries at least once, not {tries} times")

    def _attempt(self, transport: Transport) -> DeliveryError | None:
        attempt = DeliveryAttempt.objects.create(notification=self, worker=WORKER)
        Notification.objects.filter(pk=self.pk).update(attempts=F("attempts") + 1)
        self.attempts += 1
        error: DeliveryError | None
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


def _channels() -> models.Manager[Channel]:
    """The channels: their module imports this one, so it is imported here, when first asked."""
    from alarms.models.channels import Channel

    return Channel.objects
