"""Delivery and repeats in the background. Tasks take ids, acknowledge late and are idempotent:
a notification is claimed with a conditional UPDATE, so a redelivered task finds nothing to do."""

from __future__ import annotations

from django.conf import settings

from alarms.models import AlarmState, Notification
from malleable.celery import app


@app.task(acks_late=True, ignore_result=True)
def deliver_notification(notification_id: int) -> str | None:
    """The first phase: a few quick tries; what still fails waits for the sweep's backoff."""
    notification = Notification.objects.select_related("event", "channel").filter(pk=notification_id).first()
    if notification is None:
        return None
    return notification.deliver(tries=settings.ALARM_QUICK_TRIES)


@app.task(acks_late=True, ignore_result=True)
def sweep_notifications() -> int:
    """The second phase: everything due (retries, expired claims of dead workers), one try each."""
    return Notification.sweep()


@app.task(acks_late=True, ignore_result=True)
def announce_due_alarms() -> int:
    """Repeats of open alarms, and alarms whose mute, window or disabling just ended."""
    return AlarmState.announce_all()
