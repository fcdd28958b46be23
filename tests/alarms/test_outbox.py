"""The outbox: exclusive claims, two-phase retries with backoff, the sweep, run_checker's own
delivery, and a broker outage that delays alarms and loses none."""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from alarms.models import AlarmEvent, Channel, DeliveryAttempt, Notification
from checkers.models import Checker
from tests.alarms.conftest import DEAD_BROKER_URL, RABBITMQ_URL

DEAD_HOOK = "http://127.0.0.1:1/alarms"


@pytest.fixture
def dead_hook(personas) -> Channel:
    return Channel.objects.create(
        namespace=personas.a, slug="hook", kind="webhook", url=DEAD_HOOK, secret="k"
    )


def test_of_two_workers_claiming_one_notification_one_wins(checker, run, dead_hook, settings):
    run(checker, "red")
    first, second = Notification.objects.get(), Notification.objects.get()
    now = first.due
    assert first.claim_for_delivery(now)
    assert not second.claim_for_delivery(now)
    assert second.deliver(tries=1, now=now) is None
    assert Notification.objects.get().claim == first.claim
    later = now + timedelta(seconds=settings.ALARM_CLAIM_S + 1)
    assert second.claim_for_delivery(later), "an expired claim (a dead worker's) is taken over"


def test_quick_tries_then_exponential_backoff_up_to_the_cap(checker, run, dead_hook, settings):
    settings.ALARM_RETRY_BASE_S, settings.ALARM_RETRY_MAX_S = 30, 100
    settings.ALARM_PROBE_S = 3600  # the backoff alone: no probe of the channel in between
    run(checker, "red")
    delays = []
    for _ in range(4):
        notification = Notification.objects.get()
        last = DeliveryAttempt.objects.filter(notification=notification).last()
        delays.append(round((notification.due - last.finished).total_seconds()))
        assert Notification.sweep(notification.due - timedelta(seconds=1)) == 0
        assert Notification.sweep(notification.due) == 0
    notification = Notification.objects.get()
    assert delays == [30, 60, 100, 100]
    assert notification.attempts == settings.ALARM_QUICK_TRIES + 4
    assert notification.status == "pending"
    assert notification.last_error.startswith("the webhook at 127.0.0.1 could not be reached")
    attempts = DeliveryAttempt.objects.filter(notification=notification)
    assert attempts.count() == notification.attempts
    assert all(a.finished and a.ok is False and a.error for a in attempts)


def test_the_sweep_leaves_fresh_claims_and_future_retries_alone(checker, run, dead_hook, settings):
    run(checker, "red")
    notification = Notification.objects.get()
    assert Notification.sweep(timezone.now()) == 0
    assert Notification.objects.get().attempts == settings.ALARM_QUICK_TRIES
    Notification.objects.update(status="delivering", claimed_until=timezone.now() + timedelta(minutes=1))
    assert Notification.sweep(notification.due + timedelta(hours=1)) == 0
    assert Notification.objects.get().attempts == settings.ALARM_QUICK_TRIES + 1


def test_run_checker_delivers_before_it_exits(checker, shop, webhook, personas):
    Channel.objects.create(namespace=personas.a, slug="hook", kind="webhook", url=webhook.url, secret="k")
    shop.set_null_emails(50)
    with pytest.raises(SystemExit) as exited:
        call_command("run_checker", f"{personas.a.slug}/few-null-emails")
    assert exited.value.code == 1
    (request,) = webhook.requests
    assert json.loads(request["body"])["event"] == "fired"
    assert Notification.objects.get().status == "delivered"


def test_run_checker_queues_no_task_for_a_worker(
    checker, shop, webhook, personas, monkeypatch, django_capture_on_commit_callbacks
):
    """A cron-only installation has no worker: its alarms go out from run_checker itself."""
    queued = []
    monkeypatch.setattr("alarms.models.outbox.queue_delivery", queued.append)
    Channel.objects.create(namespace=personas.a, slug="hook", kind="webhook", url=webhook.url, secret="k")
    shop.set_null_emails(50)
    with django_capture_on_commit_callbacks(execute=True), pytest.raises(SystemExit):
        call_command("run_checker", f"{personas.a.slug}/few-null-emails")
    assert queued == []
    assert [json.loads(r["body"])["event"] for r in webhook.requests] == ["fired"]


def test_run_checker_also_retries_what_an_earlier_outage_left(checker, run, shop, webhook, personas):
    channel = Channel.objects.create(
        namespace=personas.a, slug="hook", kind="webhook", url=DEAD_HOOK, secret="k"
    )
    run(checker, "red")
    Channel.objects.filter(pk=channel.pk).update(url=webhook.url)
    Notification.objects.update(due=timezone.now())
    shop.set_null_emails(10)
    call_command("run_checker", f"{personas.a.slug}/few-null-emails")
    assert [json.loads(r["body"])["event"] for r in webhook.requests] == ["resolved", "fired"]
    assert set(Notification.objects.values_list("status", flat=True)) == {"delivered"}


@pytest.mark.services
def test_broker_outage_delays_alarms_and_loses_none(checker, run, rabbit, personas, monkeypatch, settings):
    """Alarms produced while the channel points at a dead port all arrive once it is restored;
    workers that crash after publishing cause duplicates, which carry the same dedup_key."""
    channel = Channel.objects.create(
        namespace=personas.a, slug="ops-queue", kind="queue", url=DEAD_BROKER_URL
    )
    checkers = [checker, *(_copy(checker, f"few-null-emails-{n}") for n in range(1, 5))]
    for flips in ["red", "green", "red", "green"]:
        for each in checkers:
            run(each, flips)
    produced = {e.dedup_key for e in AlarmEvent.objects.filter(notifications__channel=channel)}
    assert len(produced) == 20
    assert not Notification.objects.filter(status="delivered").exists()
    assert rabbit.drain(wait_s=0.5) == []

    Channel.objects.filter(pk=channel.pk).update(url=RABBITMQ_URL)
    crashes = _crash_after_publishing(monkeypatch, times=3)
    later = timezone.now() + timedelta(hours=2)
    for sweep_at in [later, later + timedelta(seconds=settings.ALARM_CLAIM_S + 1)]:
        _sweep_like_workers(sweep_at)
    received = rabbit.drain(expect=len(produced) + crashes.limit)
    keys = Counter(m.body["dedup_key"] for m in received)
    numbers = {
        "produced": len(produced),
        "delivered": len(set(keys) & produced),
        "duplicated": sum(keys.values()) - len(keys),
        "lost": len(produced - set(keys)),
    }
    print(f"\nbroker outage: {json.dumps(numbers)}")
    assert numbers == {"produced": 20, "delivered": 20, "duplicated": 3, "lost": 0}
    assert set(keys) == produced
    assert set(Notification.objects.values_list("status", flat=True)) == {"delivered"}
    assert rabbit.drain(wait_s=0.5) == []


class _Crashes:
    def __init__(self, limit: int) -> None:
        self.limit, self.count = limit, 0


class WorkerCrash(Exception):
    """Stands for a worker dying between the broker's confirm and recording the delivery."""


def _crash_after_publishing(monkeypatch, times: int) -> _Crashes:
    crashes = _Crashes(times)
    original = Notification._delivered

    def delivered_or_crash(self):
        if crashes.count < crashes.limit:
            crashes.count += 1
            raise WorkerCrash
        return original(self)

    monkeypatch.setattr(Notification, "_delivered", delivered_or_crash)
    return crashes


def _sweep_like_workers(now) -> None:
    """A crashed worker's task ends; the next beat tick starts a new sweep."""
    while True:
        try:
            Notification.sweep(now)
        except WorkerCrash:
            continue
        return


def _copy(checker: Checker, slug: str) -> Checker:
    copy = Checker.objects.get(pk=checker.pk)
    copy.pk, copy.slug = None, slug
    copy.save()
    for rule in checker.rules.all():
        rule.pk, rule.checker = None, copy
        rule.save()
    return Checker.objects.select_related("namespace").get(pk=copy.pk)


def test_a_failing_channel_is_tried_once_per_sweep_and_holds_up_no_other(
    checker, run, dead_hook, webhook, personas
):
    Channel.objects.create(namespace=personas.a, slug="live", kind="webhook", url=webhook.url, secret="k")
    run(checker, "red")
    run(checker, "green")
    Notification.objects.update(status="pending", due=timezone.now())
    before = DeliveryAttempt.objects.filter(notification__channel=dead_hook).count()
    assert Notification.sweep() == 2
    assert DeliveryAttempt.objects.filter(notification__channel=dead_hook).count() == before + 1
    assert [json.loads(r["body"])["event"] for r in webhook.requests] == ["fired", "resolved"] * 2
