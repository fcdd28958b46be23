"""The installation's own health: heartbeats of beat's dispatcher and the workers, and the
stretches of time a checker was late (its due run had not started within its grace)."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db import models
from django.utils import timezone

from checkers.models import Checker

# Heartbeats of processes gone this long are forgotten when the next one is written.
FORGET_AFTER = timedelta(days=1)


class Heartbeat(models.Model):
    """One row per process, updated in place: cheap enough to write every few seconds."""

    class Kind(models.TextChoices):
        DISPATCHER = "dispatcher", "Dispatcher (beat)"
        WORKER = "worker", "Worker"

    name = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    started = models.DateTimeField(default=timezone.now)
    seen = models.DateTimeField(default=timezone.now, db_index=True)
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["kind", "name"]

    def __str__(self) -> str:
        return f"{self.name} seen {self.seen:%H:%M:%S}"

    @classmethod
    def beat(cls, kind: str, name: str, detail: dict | None = None, now: datetime | None = None) -> None:
        now = now or timezone.now()
        detail = detail or {}
        if not cls.objects.filter(name=name).update(seen=now, detail=detail, kind=kind):
            cls.objects.get_or_create(
                name=name, defaults={"kind": kind, "seen": now, "started": now, "detail": detail}
            )
            cls.objects.filter(seen__lt=now - FORGET_AFTER).delete()

    @classmethod
    def last(cls, kind: str) -> Heartbeat | None:
        return cls.objects.filter(kind=kind).order_by("-seen").first()


class Lateness(models.Model):
    """One stretch of a checker being late; ``ended`` when its runs resumed. Append-only history."""

    NAMESPACE_PATH = "checker__namespace"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    checker = models.ForeignKey(Checker, on_delete=models.CASCADE, related_name="latenesses")
    due = models.DateTimeField(help_text="When the run that did not start was due.")
    detected = models.DateTimeField(default=timezone.now)
    announced = models.BooleanField(default=False, help_text="A late alarm went out: its end will too.")
    ended = models.DateTimeField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-detected", "-pk"]
        verbose_name_plural = "latenesses"

    def __str__(self) -> str:
        return f"{self.checker.slug} late since {self.due:%Y-%m-%d %H:%M:%S}"
