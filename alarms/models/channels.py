"""Alarm channels: where notifications go, one transport per kind (alarms/transports.py)."""

from __future__ import annotations

import uuid

from django.db import models, transaction
from django.utils import timezone

from alarms import payloads
from alarms.models.maintenance import ToggleLog, username
from alarms.models.outbox import AlarmEvent, EventKind, Notification
from alarms.transports import TRANSPORTS, Transport
from checkers.models import Severity
from malleable import texts
from malleable.encryption import EncryptedTextField
from namespaces.models import AnyUser, Namespace, NamespaceOwned

SEVERITY_RANK = {Severity.INFO: 1, Severity.WARNING: 2, Severity.CRITICAL: 3}


class Channel(NamespaceOwned):
    """Where a namespace's alarms go. The URL and secret are encrypted and never shown again."""

    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="channels")
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

    def disable(self, reason: str, by: AnyUser | None = None) -> bool:
        """Stop delivering here; pending notifications wait (held) until the channel is enabled."""
        reason = texts.storable(reason, texts.REMOTE_ERROR_BYTES)
        if not Channel.objects.filter(pk=self.pk, enabled=True).update(
            enabled=False, disabled_reason=reason, disabled_at=timezone.now()
        ):
            return False
        self.notifications.filter(status=Notification.Status.PENDING).update(status=Notification.Status.HELD)
        ToggleLog.record(self.namespace, ToggleLog.Action.CHANNEL_DISABLED, by, reason, channel=self)
        return True

    def enable(self, by: AnyUser | None, reason: str = "") -> int:
        """Deliver here again, starting with every notification that waited; returns how many."""
        Channel.objects.filter(pk=self.pk).update(enabled=True, disabled_reason="", disabled_at=None)
        self.enabled, self.disabled_reason, self.disabled_at = True, "", None
        released = self.notifications.filter(
            status__in=[Notification.Status.HELD, Notification.Status.PENDING]
        ).update(status=Notification.Status.PENDING, due=timezone.now())
        ToggleLog.record(self.namespace, ToggleLog.Action.CHANNEL_ENABLED, by, reason, channel=self)
        return released

    def send_test(self, by: AnyUser | None) -> Notification:
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
