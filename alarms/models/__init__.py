"""Alarm state and history, policies, toggles, channels and the notification outbox.

One run (docs/alarms.md, "One run, one transaction"): ``checkers.runs.record`` saves the run and sends
``run_recorded`` inside its transaction; ``AlarmState.record_run`` then moves the state,
writes a ``Transition`` when it changed, and writes the ``AlarmEvent`` with one
``Notification`` per channel: the outbox, committed with the run or not at all. Delivery
happens after commit (a task per notification, then ``Notification.sweep`` for what is
still due). History (transitions, events, attempts, toggles) is append-only.

One module per concern, bottom to top: ``maintenance`` (windows, the toggle log), ``outbox``
(events, notifications, attempts), ``channels``, ``policy``, ``state`` (the state machine).
Everything is re-exported here, so ``from alarms.models import X`` keeps working.
"""

from alarms.models.channels import SEVERITY_RANK, Channel
from alarms.models.maintenance import MaintenanceWindow, ToggleLog, ToggleRefused, username
from alarms.models.outbox import WORKER, AlarmEvent, DeliveryAttempt, EventKind, Notification, queue_delivery
from alarms.models.policy import (
    MIN_REPEAT_S,
    AlarmDefaults,
    AlarmPolicy,
    OnError,
    Policy,
    validate_repeat_every,
)
from alarms.models.state import ACK_FIELDS, STATE_FIELDS, AlarmState, Silence, Transition
from checkers.models import State

__all__ = [
    "ACK_FIELDS",
    "MIN_REPEAT_S",
    "SEVERITY_RANK",
    "STATE_FIELDS",
    "WORKER",
    "AlarmDefaults",
    "AlarmEvent",
    "AlarmPolicy",
    "AlarmState",
    "Channel",
    "DeliveryAttempt",
    "EventKind",
    "MaintenanceWindow",
    "Notification",
    "OnError",
    "Policy",
    "Silence",
    "State",
    "ToggleLog",
    "ToggleRefused",
    "Transition",
    "queue_delivery",
    "username",
    "validate_repeat_every",
]
