"""Toggles: acknowledge until green, mute (snooze), maintenance windows, disable; all audited.

While silent, runs, state and history still record, and the state says why it is silent.
Deliveries go to e-mail (Django's locmem outbox), so each sent message is one e-mail here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.utils import timezone

from alarms.models import (
    AlarmDefaults,
    AlarmEvent,
    AlarmState,
    Channel,
    MaintenanceWindow,
    ToggleLog,
    ToggleRefused,
    Transition,
)


@pytest.fixture(autouse=True)
def email_channel(personas) -> Channel:
    return Channel.objects.create(namespace=personas.a, slug="ops-mail", kind="email", url="ops@example.com")


def sent() -> list[str]:
    """The events e-mailed so far, in order."""
    return [message.subject.split("]")[1].split(":")[0].strip() for message in mail.outbox]


def state_of(checker) -> AlarmState:
    return AlarmState.objects.select_related("checker__namespace").get(checker=checker)


def test_acknowledge_stops_repeats_and_ends_by_itself_on_green(checker, run, personas, announce):
    AlarmDefaults.objects.create(namespace=personas.a, repeat_every=60)
    red = run(checker, "red")
    state_of(checker).acknowledge(personas.editor, "looking into it")
    assert announce(red.finished + timedelta(minutes=10)) == 0
    assert str(state_of(checker).silence()) == "acknowledged until green by eddie: looking into it"
    run(checker, "red")
    green = run(checker, "green")
    assert sent() == ["FIRED", "RESOLVED"]
    state = state_of(checker)
    assert (state.acknowledged_at, state.acknowledged_by, state.silence()) == (None, None, None)
    log = list(ToggleLog.objects.order_by("created", "pk").values_list("action", "by_name", "reason", "run"))
    assert log == [
        ("acknowledged", "eddie", "looking into it", None),
        ("ack-ended", "Malleable", "few-null-emails is green again", green.pk),
    ]


def test_a_green_checker_cannot_be_acknowledged(checker, run, personas):
    run(checker, "green")
    with pytest.raises(ToggleRefused, match="nothing to acknowledge"):
        state_of(checker).acknowledge(personas.editor, "")
    assert not ToggleLog.objects.exists()


def test_an_acknowledged_alarm_that_breaks_stays_silent_until_green(checker, run, personas):
    run(checker, "red")
    state_of(checker).acknowledge(personas.editor, "on it")
    run(checker, "error")
    assert AlarmEvent.objects.get(kind="error").suppressed.startswith("acknowledged until green by eddie")
    run(checker, "green")
    assert sent() == ["FIRED", "RESOLVED"]


def test_mute_silences_until_it_expires_then_the_alarm_goes_out(checker, run, personas, announce):
    until = timezone.now() + timedelta(hours=1)
    state_of(checker).mute(personas.editor, until, "deploying")
    red = run(checker, "red")
    fired = AlarmEvent.objects.get()
    assert fired.suppressed.startswith("muted until")
    assert fired.suppressed.endswith("by eddie: deploying")
    assert not fired.notifications.exists()
    assert (state_of(checker).state, Transition.objects.count()) == ("red", 1)
    assert announce(until - timedelta(minutes=1)) == 0
    assert announce(until + timedelta(seconds=1)) == 1
    assert sent() == ["FIRED"]
    late = AlarmEvent.objects.exclude(pk=fired.pk).get()
    assert late.dedup_key == fired.dedup_key
    assert late.payload["run_id"] == str(red.uuid)
    assert announce(until + timedelta(hours=5)) == 0
    run(checker, "green")
    assert sent() == ["FIRED", "RESOLVED"]


def test_an_alarm_that_came_and_went_while_muted_sends_nothing(checker, run, personas, announce):
    state_of(checker).mute(personas.editor, timezone.now() + timedelta(hours=1), "")
    run(checker, "red")
    run(checker, "green")
    assert announce(timezone.now() + timedelta(hours=2)) == 0
    assert sent() == []
    assert [e.kind for e in AlarmEvent.objects.order_by("pk")] == ["fired"]


def test_mute_after_firing_holds_repeats_but_not_resolved(checker, run, personas, announce):
    AlarmDefaults.objects.create(namespace=personas.a, repeat_every=600)
    red = run(checker, "red")
    until = red.finished + timedelta(hours=2)
    state_of(checker).mute(personas.editor, until, "known issue")
    assert announce(red.finished + timedelta(hours=1)) == 0
    assert announce(until + timedelta(seconds=1)) == 1
    run(checker, "green")
    assert sent() == ["FIRED", "STILL FIRING", "RESOLVED"]


def test_unmute_and_muting_into_the_past(checker, personas):
    state = state_of(checker)
    with pytest.raises(ToggleRefused):
        state.mute(personas.editor, timezone.now() - timedelta(seconds=1), "")
    with pytest.raises(ToggleRefused):
        state.unmute(personas.editor, "")
    state.mute(personas.editor, timezone.now() + timedelta(hours=1), "deploy")
    state.unmute(personas.editor, "deploy done")
    assert state_of(checker).silence() is None
    assert list(ToggleLog.objects.order_by("pk").values_list("action", "reason")) == [
        ("muted", "deploy"),
        ("unmuted", "deploy done"),
    ]


def test_a_one_off_maintenance_window_silences_the_namespace(checker, run, personas, announce):
    now = timezone.now()
    window = MaintenanceWindow.objects.create(
        namespace=personas.a,
        name="Database upgrade",
        reason="PostgreSQL 17",
        starts=now - timedelta(minutes=5),
        ends=now + timedelta(minutes=30),
    )
    run(checker, "red")
    assert AlarmEvent.objects.get().suppressed.startswith("maintenance window Database upgrade until")
    assert state_of(checker).silence().kind == "maintenance window Database upgrade"
    assert announce(window.ends - timedelta(seconds=1)) == 0
    assert announce(window.ends) == 1
    assert sent() == ["FIRED"]


def test_a_recurring_window_opens_by_cron_in_its_time_zone(personas):
    window = MaintenanceWindow(
        namespace=personas.a, name="Sunday", cron="0 2 * * 0", duration_minutes=60, timezone="Europe/Berlin"
    )
    window.full_clean()
    sunday_0230_berlin = datetime(2026, 11, 29, 1, 30, tzinfo=UTC)
    assert window.open_until(sunday_0230_berlin) == datetime(2026, 11, 29, 2, 0, tzinfo=UTC)
    assert window.open_until(datetime(2026, 11, 29, 1, 0, tzinfo=UTC)) == datetime(
        2026, 11, 29, 2, tzinfo=UTC
    )
    assert window.open_until(datetime(2026, 11, 29, 2, 0, tzinfo=UTC)) is None
    assert window.open_until(datetime(2026, 11, 29, 0, 59, tzinfo=UTC)) is None
    assert window.open_until(datetime(2026, 11, 30, 1, 30, tzinfo=UTC)) is None


def test_a_recurring_window_silences_while_open(checker, run, personas):
    MaintenanceWindow.objects.create(
        namespace=personas.a, name="Always", cron="* * * * *", duration_minutes=5
    )
    run(checker, "red")
    assert AlarmEvent.objects.get().suppressed.startswith("maintenance window Always")
    assert sent() == []


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"starts": datetime(2026, 1, 2, tzinfo=UTC), "ends": datetime(2026, 1, 1, tzinfo=UTC)},
        {"cron": "0 2 * * 0"},
        {"cron": "every sunday", "duration_minutes": 30},
        {"cron": "0 2 * * 0", "duration_minutes": 30, "starts": datetime(2026, 1, 1, tzinfo=UTC)},
    ],
)
def test_a_window_is_either_once_or_recurring(personas, fields):
    with pytest.raises(ValidationError):
        MaintenanceWindow(namespace=personas.a, name="bad", **fields).full_clean()


def test_disabled_alarming_records_everything_and_tells_nobody(checker, run, personas, announce):
    state_of(checker).set_alarming(False, personas.editor, "being rewritten")
    run(checker, "red")
    assert state_of(checker).state == "red"
    assert AlarmEvent.objects.get().suppressed == "alarming disabled by eddie: being rewritten"
    assert announce(timezone.now() + timedelta(hours=1)) == 0
    with pytest.raises(ToggleRefused):
        state_of(checker).set_alarming(False, personas.editor, "")
    state_of(checker).set_alarming(True, personas.editor, "rewritten")
    assert announce(timezone.now()) == 1
    assert sent() == ["FIRED"]
    assert list(ToggleLog.objects.order_by("pk").values_list("action", "by_name", "reason")) == [
        ("disabled", "eddie", "being rewritten"),
        ("enabled", "eddie", "rewritten"),
    ]


def test_silence_names_the_most_lasting_reason_first(checker, run, personas):
    run(checker, "red")
    state = state_of(checker)
    state.acknowledge(personas.editor, "ack")
    state.mute(personas.owner, timezone.now() + timedelta(hours=1), "mute")
    assert state.silence().kind == "muted"
    state.set_alarming(False, personas.owner, "off")
    assert state_of(checker).silence().kind == "alarming disabled"
