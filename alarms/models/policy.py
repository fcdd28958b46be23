"""Alarm policy: a namespace's defaults, a checker's own policy, and the two merged."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone

from alarms.models.channels import Channel
from alarms.models.maintenance import ToggleLog, username
from checkers.models import Checker, State
from malleable.fields import optional_link
from namespaces.models import AnyUser, Namespace

MIN_REPEAT_S = 60


class OnError(models.TextChoices):
    ALARM = "alarm", "Alarm (an error event)"
    IGNORE = "ignore", "Ignore (record the error, alarm nobody)"
    KEEP = "keep", "Keep the last state"


def validate_repeat_every(value: int) -> None:
    if 0 < value < MIN_REPEAT_S:
        raise ValidationError(f"Repeat at most once a minute ({MIN_REPEAT_S} s), or 0 for never.")


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
    disabled_by = optional_link(settings.AUTH_USER_MODEL, editable=False)
    disabled_at = models.DateTimeField(null=True, blank=True, editable=False)
    after_failures = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(100)]
    )
    on_error = models.CharField(max_length=8, choices=OnError.choices, blank=True)
    repeat_every = models.PositiveIntegerField(null=True, blank=True, validators=[validate_repeat_every])
    notify_resolved = models.BooleanField(null=True, blank=True)
    channels = models.ManyToManyField(
        Channel,
        blank=True,
        related_name="policies",
        help_text="Blank: the namespace's default channels.",
    )
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "alarm policies"

    def __str__(self) -> str:
        return f"alarm policy of {self.checker}"

    def set_enabled(self, enabled: bool, by: AnyUser | None, reason: str) -> None:
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
