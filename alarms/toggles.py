"""The alarm toggles, one set for the checker page and the admin: acknowledge until green, mute
for a while, turn alarming off and back on. Each asks for a reason through the same form, and
the alarm state's own methods record it in the toggle log. A mute lasts a number of minutes,
in both places (the admin once asked for hours). Maintenance windows, edited in the settings
page and the admin, are audited here too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone

from alarms.models import AlarmState, MaintenanceWindow, ToggleLog, ToggleRefused

SNOOZE_CHOICES = [
    (30, "30 minutes"),
    (60, "1 hour"),
    (240, "4 hours"),
    (480, "8 hours"),
    (1440, "1 day"),
    (4320, "3 days"),
    (10080, "1 week"),
]


class ReasonForm(forms.Form):
    reason = forms.CharField(max_length=500, required=False, label="Reason (optional)")


class DisableAlarmingForm(forms.Form):
    reason = forms.CharField(
        max_length=500,
        label="Why",
        help_text="Shown to everyone, next to the checker, until alarming is back on.",
    )


class MuteForm(ReasonForm):
    minutes = forms.TypedChoiceField(
        choices=SNOOZE_CHOICES, coerce=int, initial=60, label="Mute for (minutes from now)"
    )


def _mute(state: AlarmState, user: Any, data: dict[str, Any]) -> str:
    until = timezone.now() + timedelta(minutes=data["minutes"])
    state.mute(user, until, data["reason"])
    return f"Muted {state.checker.name} until {timezone.localtime(until):%d %b %H:%M}."


def _disable(state: AlarmState, user: Any, data: dict[str, Any]) -> str:
    state.set_alarming(False, user, data["reason"])
    return f"Alarming is off for {state.checker.name}: runs still record, nobody is told."


def _acknowledge(state: AlarmState, user: Any, data: dict[str, Any]) -> str:
    state.acknowledge(user, data["reason"])
    return f"Acknowledged {state.checker.name}: no more alarms until it is green again."


def _unacknowledge(state: AlarmState, user: Any, data: dict[str, Any]) -> str:
    state.unacknowledge(user, data["reason"])
    return f"Withdrew the acknowledgement of {state.checker.name}."


def _unmute(state: AlarmState, user: Any, data: dict[str, Any]) -> str:
    state.unmute(user, data["reason"])
    return f"Unmuted {state.checker.name}."


def _enable(state: AlarmState, user: Any, data: dict[str, Any]) -> str:
    state.set_alarming(True, user, data["reason"])
    return f"Alarming is back on for {state.checker.name}."


@dataclass(frozen=True)
class Toggle:
    title: str
    form: type[forms.Form]
    apply: Callable[[AlarmState, Any, dict[str, Any]], str]
    refused: str = ""  # said when the form does not validate; empty: go on without a reason


TOGGLES = {
    "acknowledge": Toggle("Acknowledge until green", ReasonForm, _acknowledge),
    "unacknowledge": Toggle("Withdraw acknowledgement", ReasonForm, _unacknowledge),
    "mute": Toggle("Mute (snooze)", MuteForm, _mute, "Pick how long to mute for."),
    "unmute": Toggle("Unmute", ReasonForm, _unmute),
    "disable-alarming": Toggle(
        "Disable alarming", DisableAlarmingForm, _disable, "Say why alarming goes off, so the team knows."
    ),
    "enable-alarming": Toggle("Enable alarming", ReasonForm, _enable),
}


def toggle(state: AlarmState, action: str, user: Any, data: Any) -> str:
    """Validate ``data`` with the action's form and toggle; returns what to tell the user.

    Raises ``ToggleRefused`` for a form that does not validate, or a toggle the state refuses.
    """
    spec = TOGGLES[action]
    form = spec.form(data)
    if not form.is_valid():
        if spec.refused:
            raise ToggleRefused(spec.refused)
        form = spec.form({})
        form.is_valid()
    return spec.apply(state, user, form.cleaned_data)


def window_saved(window: MaintenanceWindow, by: Any, *, added: bool) -> None:
    """A maintenance window added or changed (already saved) is audited like a toggle."""
    action = ToggleLog.Action.WINDOW_ADDED if added else ToggleLog.Action.WINDOW_CHANGED
    ToggleLog.record(window.namespace, action, by, window.reason, window=window, until=window.ends)


def remove_window(window: MaintenanceWindow, by: Any) -> None:
    ToggleLog.record(window.namespace, ToggleLog.Action.WINDOW_REMOVED, by, window.reason, window=window)
    window.delete()
