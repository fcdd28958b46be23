"""Maintenance windows and the toggle log: who silenced what, when and why (append-only)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from croniter import croniter
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MinValueValidator
from django.db import models
from django.utils import timezone

from checkers import schedules
from checkers.models import Checker, CheckRun
from malleable.fields import optional_link
from namespaces.models import AnyUser, Namespace, validate_timezone

if TYPE_CHECKING:
    from alarms.models.channels import Channel


class ToggleRefused(Exception):
    """A toggle that makes no sense now (acknowledging a green checker, muting into the past)."""


def username(user: AnyUser | None) -> str:
    return user.get_username() if user is not None else "Malleable"


class MaintenanceWindow(models.Model):
    """A time when a namespace's alarms stay silent: once (starts to ends) or recurring (cron + duration)."""

    NAMESPACE_PATH = "namespace"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False, help_text="Its name in the API.")
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
    created_by = optional_link(settings.AUTH_USER_MODEL, editable=False)
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
            if self.starts is None or self.ends is None:  # refused by ``clean``: never open
                return None
            return self.ends if self.starts <= moment < self.ends else None
        zone = ZoneInfo(self.timezone or self.namespace.timezone)
        local = moment.astimezone(zone) + timedelta(seconds=1)
        try:
            opened = croniter(self.cron, local).get_prev(datetime)
        except ValueError:  # stored before "never fires" was refused: never open
            return None
        closes = opened + timedelta(minutes=self.duration_minutes or 0)
        return closes.astimezone(moment.tzinfo) if closes > moment else None

    @classmethod
    def open_in(cls, namespace_id: int, moment: datetime) -> tuple[MaintenanceWindow, datetime] | None:
        for window in cls.objects.filter(namespace_id=namespace_id).select_related("namespace"):
            closes = window.open_until(moment)
            if closes is not None:
                return window, closes
        return None


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
    checker = optional_link(Checker)
    channel = optional_link("alarms.Channel")
    window = optional_link(MaintenanceWindow)
    run = optional_link(
        CheckRun,
        help_text="The run that caused it, when Malleable did it (a green run ends an acknowledgement).",
    )
    subject = models.CharField(max_length=300, help_text="What it was about, kept after that is deleted.")
    action = models.CharField(max_length=20, choices=Action.choices)
    by = optional_link(settings.AUTH_USER_MODEL)
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
        by: AnyUser | None,
        reason: str,
        *,
        checker: Checker | None = None,
        channel: Channel | None = None,
        window: MaintenanceWindow | None = None,
        until: datetime | None = None,
        run: CheckRun | None = None,
    ) -> ToggleLog:
        target = checker or channel or window or namespace
        subject = getattr(target, "slug", None) or str(target)
        return cls.objects.create(
            namespace=namespace,
            checker=checker,
            channel=channel,
            window=window,
            run=run,
            subject=subject,
            action=action,
            by=by,
            by_name=username(by),
            reason=reason,
            until=until,
        )
