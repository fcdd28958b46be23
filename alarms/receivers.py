"""Alarms react to the run pipeline's signals (checkers/signals.py) and to new checkers."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver

from alarms.models import AlarmState, Notification
from checkers.models import Checker, CheckRun
from checkers.signals import alarms_held, deliveries_requested, run_recorded, run_settling


@receiver(run_settling, dispatch_uid="alarms.settle_run")
def settle_run(
    sender: Any, checker: Checker, run: CheckRun, checker_id: str, **kwargs: Any
) -> tuple[str, list[Any]] | None:
    """A steady run's alarm state, written with the run in one statement."""
    return AlarmState.steady(run, checker_id)


@receiver(run_recorded, dispatch_uid="alarms.record_run")
def record_run(sender: Any, checker: Checker, run: CheckRun, settled: bool, **kwargs: Any) -> None:
    """Inside the run's transaction: state, transition and outbox commit with the run. A settled
    run's state was written with it (``settle_run``)."""
    if not settled:
        AlarmState.record_run(checker, run)


@receiver(deliveries_requested, dispatch_uid="alarms.deliver_now")
def deliver_now(sender: Any, checker: Checker, run: CheckRun, **kwargs: Any) -> None:
    """No worker behind this process (run_checker from cron): deliver before it exits, and
    catch up on repeats and retries that are due, since no beat may ever run them."""
    for notification in Notification.objects.filter(event__run=run, status=Notification.Status.PENDING):
        notification.deliver(tries=settings.ALARM_QUICK_TRIES)
    AlarmState.announce_all()
    Notification.sweep()


@receiver(alarms_held, dispatch_uid="alarms.held")
def held(sender: Any, checker: Checker, **kwargs: Any) -> int:
    return Notification.undelivered_for(checker)


@receiver(post_save, sender=Checker, dispatch_uid="alarms.new_checker")
def new_checker(sender: Any, instance: Checker, created: bool, raw: bool = False, **kwargs: Any) -> None:
    """Every checker has a state from the start (unknown), so it can be muted before it first runs."""
    if created and not raw:
        AlarmState.objects.get_or_create(checker=instance)
