"""Alarm state and history: transitions, the flap guard, on_error policies, idempotence per run."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from alarms.models import AlarmDefaults, AlarmEvent, AlarmPolicy, AlarmState, Notification, Transition
from checkers import runs as pipeline
from checkers.models import Checker, CheckRun, Trigger


@pytest.fixture
def hook_channel(personas):
    from alarms.models import Channel

    return Channel.objects.create(
        namespace=personas.a, slug="hook", kind="webhook", url="http://127.0.0.1:9/x", secret="k"
    )


def state_of(checker: Checker) -> AlarmState:
    return AlarmState.objects.get(checker=checker)


def events(checker: Checker) -> list[str]:
    return list(
        AlarmEvent.objects.filter(checker=checker).order_by("created", "pk").values_list("kind", flat=True)
    )


def history(checker: Checker) -> list[tuple[str, str]]:
    return list(
        Transition.objects.filter(checker=checker).order_by("created", "pk").values_list("old", "new")
    )


def test_a_new_checker_is_unknown_and_has_a_state_at_once(checker):
    assert state_of(checker).state == "unknown"
    assert checker.current_state() == "unknown"


def test_each_change_is_one_append_only_transition_with_its_run(checker, run):
    runs = [run(checker, status) for status in ["green", "green", "red", "red", "green"]]
    assert history(checker) == [("unknown", "green"), ("green", "red"), ("red", "green")]
    transitions = Transition.objects.filter(checker=checker).order_by("created", "pk")
    assert [t.run for t in transitions] == [runs[0], runs[2], runs[4]]
    assert all(t.processed is not None for t in transitions)
    state = state_of(checker)
    assert (state.state, state.since, state.last_transition) == ("green", runs[4].finished, transitions[2])
    assert checker.current_state() == "green"


def test_consecutive_reds_and_errors_are_counted(checker, run):
    for status in ["red", "red", "red"]:
        run(checker, status)
    assert (state_of(checker).consecutive_reds, state_of(checker).consecutive_errors) == (3, 0)
    run(checker, "error")
    assert (state_of(checker).consecutive_reds, state_of(checker).consecutive_errors) == (0, 1)


def test_recording_the_same_run_twice_changes_nothing(checker, run):
    red = run(checker, "red")
    assert AlarmState.record_run(checker, red) is None
    assert len(history(checker)) == 1
    assert events(checker) == ["fired"]


def record_steady(checker: Checker) -> tuple[CheckRun, list[str]]:
    """Record a run like the last one: the run and the statements recording it took (the
    savepoint standing for the transaction left out)."""
    evaluation = pipeline.evaluate(checker)
    with CaptureQueriesContext(connection) as queries:
        recorded = pipeline.record(checker, evaluation, Trigger.MANUAL)
    verbs = [query["sql"].split()[0] for query in queries.captured_queries]
    return recorded, [verb for verb in verbs if verb not in ("SAVEPOINT", "RELEASE")]


def test_a_steady_green_run_is_recorded_in_three_statements(checker, run):
    run(checker, "green")
    recorded, statements = record_steady(checker)
    # The checker's last run, the run, the alarm state: no read, no policy, no failing rows.
    assert statements == ["UPDATE", "INSERT", "UPDATE"]
    state = state_of(checker)
    assert (state.state, state.last_run, state.consecutive_reds) == ("green", recorded, 0)
    assert Checker.objects.get(pk=checker.pk).last_run_at == recorded.finished
    assert len(history(checker)) == 1


def test_a_red_run_with_its_alarm_open_is_recorded_in_three_statements(checker, run):
    fired = run(checker, "red")
    recorded, statements = record_steady(checker)
    assert statements == ["UPDATE", "INSERT", "UPDATE"]
    state = state_of(checker)
    assert (state.last_run, state.consecutive_reds, state.alarm.run) == (recorded, 2, fired)
    assert AlarmState.record_run(checker, recorded) is None
    assert (state_of(checker).consecutive_reds, events(checker)) == (2, ["fired"])


def test_a_run_that_moves_the_state_reads_it_first(checker, run):
    run(checker, "red")
    run.shop.set_null_emails(10)
    _, statements = record_steady(checker)
    assert "SELECT" in statements
    assert (state_of(checker).state, events(checker)) == ("green", ["fired", "resolved"])


def test_flap_guard_fires_only_after_n_consecutive_reds(checker, run, personas, hook_channel):
    AlarmDefaults.objects.create(namespace=personas.a, after_failures=3)
    for status in ["green", "red", "red", "green", "red", "red"]:
        run(checker, status)
    assert events(checker) == []
    pending = Transition.objects.filter(checker=checker).first()
    assert (pending.old, pending.new, pending.processed) == ("green", "red", None)
    third = run(checker, "red")
    assert events(checker) == ["fired"]
    fired = AlarmEvent.objects.get(checker=checker)
    assert fired.transition == pending
    assert fired.run == third
    assert fired.payload["previous_state"] == "green"
    assert Transition.objects.get(pk=pending.pk).processed == third.finished
    assert Transition.objects.filter(processed=None).count() == 0


def test_a_flap_that_never_fired_sends_no_resolved(checker, run, personas, hook_channel):
    AlarmDefaults.objects.create(namespace=personas.a, after_failures=2)
    for status in ["green", "red", "green", "red", "green"]:
        run(checker, status)
    assert events(checker) == []
    assert Notification.objects.count() == 0


def test_checker_policy_overrides_namespace_defaults(checker, run, personas, hook_channel):
    AlarmDefaults.objects.create(namespace=personas.a, after_failures=5)
    AlarmPolicy.objects.create(checker=checker, after_failures=1)
    run(checker, "red")
    assert events(checker) == ["fired"]


def test_on_error_alarm_sends_an_error_event(checker, run, hook_channel):
    run(checker, "green")
    run(checker, "error")
    assert state_of(checker).state == "error"
    assert events(checker) == ["error"]
    run(checker, "green")
    assert events(checker) == ["error", "resolved"]


def test_on_error_ignore_records_the_error_and_alarms_nobody(checker, run, personas, hook_channel):
    AlarmDefaults.objects.create(namespace=personas.a, on_error="ignore")
    run(checker, "green")
    run(checker, "error")
    assert state_of(checker).state == "error"
    assert history(checker) == [("unknown", "green"), ("green", "error")]
    run(checker, "green")
    assert events(checker) == []


def test_on_error_keep_leaves_the_state_as_it_was(checker, run, hook_channel):
    AlarmPolicy.objects.create(checker=checker, on_error="keep")
    run(checker, "red")
    run(checker, "error")
    run(checker, "error")
    state = state_of(checker)
    assert (state.state, state.consecutive_reds, state.consecutive_errors) == ("red", 1, 2)
    assert history(checker) == [("unknown", "red")]
    assert checker.current_state() == "red"
    run(checker, "green")
    assert events(checker) == ["fired", "resolved"]


def test_an_open_red_alarm_that_breaks_sends_error_then_one_resolved(checker, run, hook_channel):
    for status in ["green", "red", "error", "green"]:
        run(checker, status)
    assert events(checker) == ["fired", "error", "resolved"]
    error = AlarmEvent.objects.get(kind="error")
    assert (error.payload["previous_state"], error.payload["state"]) == ("red", "error")


def test_notify_resolved_off_sends_no_resolved(checker, run, hook_channel):
    AlarmPolicy.objects.create(checker=checker, notify_resolved=False)
    for status in ["red", "green"]:
        run(checker, status)
    assert events(checker) == ["fired"]


def test_routing_follows_the_policy_and_each_channels_minimum_severity(checker, run, personas):
    from alarms.models import Channel

    def channel(slug: str, **extra) -> Channel:
        return Channel.objects.create(
            namespace=personas.a, slug=slug, kind="email", url=f"{slug}@example.com", **extra
        )

    everyone = channel("everyone")
    channel("critical-only", min_severity="critical")
    channel("not-default", is_default=False)
    run(checker, "red")
    assert [n.channel for n in Notification.objects.all()] == [everyone]
    named = channel("named", is_default=False)
    AlarmPolicy.objects.create(checker=checker).channels.set([named])
    run(checker, "green")
    resolved = AlarmEvent.objects.get(kind="resolved")
    assert [n.channel for n in resolved.notifications.all()] == [named]


def test_an_event_no_channel_takes_says_so(checker, run, personas):
    from alarms.models import Channel

    Channel.objects.create(
        namespace=personas.a, slug="pager", kind="email", url="pager@example.com", min_severity="critical"
    )
    run(checker, "red")
    assert AlarmEvent.objects.get().suppressed == "no channel takes warning alarms"
