"""Late checkers: beat stopped, so nothing dispatches; the watchdog finds them late and a
``late`` alarm reaches the queue; when runs resume, ``resolved`` follows. Once each."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from checkers.models import Checker, CheckRun
from checkers.tasks import dispatch_due_checkers, run_checker
from health import late
from health.models import Heartbeat, Lateness

pytestmark = pytest.mark.services


@pytest.fixture
def stopped_beat(seed, shop, settings, tmp_path):
    """Both seed checkers every 60 s, last due 10 minutes ago: beat has not ticked since."""
    settings.WATCHDOG_STATE_FILE = tmp_path / "watchdog.json"
    settings.OPERATOR_CHANNELS = []
    shop.set_null_emails(10)
    due = timezone.now() - timedelta(minutes=10)
    Heartbeat.beat(Heartbeat.Kind.DISPATCHER, "dispatcher", now=due)
    Checker.objects.update(schedule_cron="", schedule_every=60, next_run_at=due)
    return due


def test_grace_is_the_larger_of_the_setting_and_one_interval(seed, settings):
    settings.LATE_GRACE_S = 120
    rule, python = seed
    now = timezone.now().replace(second=0, microsecond=0)
    now -= timedelta(minutes=now.minute % 5)  # a time the cron fires at
    assert late.grace(python, now) == timedelta(seconds=300)  # every 300 s
    assert late.grace(rule, now) == timedelta(seconds=300)  # */5 * * * *
    Checker.objects.filter(pk=python.pk).update(schedule_every=30)
    assert late.grace(Checker.objects.get(pk=python.pk), now) == timedelta(seconds=120)


def test_a_checker_just_past_due_is_not_late_yet(seed, stopped_beat):
    Checker.objects.update(next_run_at=timezone.now() - timedelta(seconds=90))
    assert late.late_checkers() == []


def test_a_scheduled_run_queued_and_never_started_is_late(seed, stopped_beat):
    rule, _ = seed
    Checker.objects.filter(pk=rule.pk).update(next_run_at=timezone.now() + timedelta(minutes=1))
    CheckRun.objects.create(checker=rule, trigger="schedule", scheduled_for=stopped_beat, queued=stopped_beat)
    assert rule.pk in {each.checker.pk for each in late.late_checkers()}


def test_stopped_beat_makes_checkers_late_then_resolved_on_the_queue(
    seed, stopped_beat, rabbit, queue_channel, capsys, django_capture_on_commit_callbacks
):
    rule, python = seed
    with pytest.raises(SystemExit) as exited:
        call_command("watchdog")
    assert exited.value.code == 1, "no dispatcher tick for 10 minutes: unhealthy"
    received = rabbit.drain(expect=2)
    assert sorted(m.routing_key for m in received) == sorted(
        f"{rule.namespace.slug}.{slug}.late" for slug in (rule.slug, python.slug)
    )
    body = received[0].body
    assert body["event"] == "late" and body["state"] == "late" and body["previous_state"] == "unknown"
    assert body["messages"][0]["text"].startswith("No run has started since due at")
    assert body["dedup_key"].startswith(f"{rule.namespace.slug}/{body['checker']}/late/")
    assert Lateness.objects.filter(ended=None, announced=True).count() == 2

    assert late.sweep() == (0, 0), "found again by beat's sweep: nothing new"
    with pytest.raises(SystemExit):
        call_command("watchdog")
    assert rabbit.drain(wait_s=0.5) == [], "said once"

    # Beat and a worker are back: the dispatcher queues the due runs and a worker runs them.
    with django_capture_on_commit_callbacks() as queued:
        assert dispatch_due_checkers() == 2
    assert len(queued) == 2
    for run in CheckRun.objects.filter(status="queued"):
        run_checker(run.pk)
    with django_capture_on_commit_callbacks(execute=True):
        assert late.sweep() == (0, 2)
    resolved = rabbit.drain(expect=2)
    assert sorted(m.body["event"] for m in resolved) == ["resolved", "resolved"]
    assert {m.body["previous_state"] for m in resolved} == {"late"}
    assert {m.body["state"] for m in resolved} == {"green"}
    assert all(m.body["dedup_key"].endswith("/resolved") for m in resolved)
    assert not Lateness.objects.filter(ended=None).exists()


def test_a_muted_checker_goes_late_silently(seed, stopped_beat, rabbit, queue_channel, personas):
    assert len(seed) == 2
    for checker in seed:
        checker.alarm_state.mute(personas.owner, timezone.now() + timedelta(hours=1), "deploying")
    with pytest.raises(SystemExit):
        call_command("watchdog")
    assert rabbit.drain(wait_s=0.5) == []
    assert Lateness.objects.filter(ended=None, announced=False).count() == 2
