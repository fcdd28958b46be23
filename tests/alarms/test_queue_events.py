"""docs/contracts.md's alarm message on real RabbitMQ: every event, its routing key and exact body."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alarms.models import AlarmDefaults, AlarmEvent, Transition
from alarms.payloads import NO_RUNBOOK
from runbooks.models import Runbook

pytestmark = pytest.mark.services

SITE = "https://malleable.example.com"


def expected(checker, run, event: str, state: str, previous: str, transition, *, repeat: int = 0, at=None):
    key = f"{checker.namespace.slug}/{checker.slug}/{transition.uuid}" + (
        f"/repeat/{repeat}" if repeat else ""
    )
    messages = sorted(run.messages, key=lambda m: m["level"] != "fail")
    if run.error_kind:
        messages = [{"level": "error", "text": run.error_detail}, *messages]
    runbook = checker.runbook
    return {
        "event": event,
        "namespace": checker.namespace.slug,
        "checker": checker.slug,
        "state": state,
        "previous_state": previous,
        "severity": checker.severity,
        "messages": messages if runbook else [*messages, {"level": "note", "text": NO_RUNBOOK}],
        "run_id": str(run.uuid),
        "at": (at or run.finished).isoformat(timespec="milliseconds"),
        "runbook_url": f"{SITE}/n/{checker.namespace.slug}/runbooks/{runbook.slug}/" if runbook else None,
        "checker_url": SITE + checker.get_absolute_url(),
        "dedup_key": key,
    }


def last_transition(checker) -> Transition:
    return Transition.objects.filter(checker=checker).first()


def test_fired_lands_with_the_contracts_exact_body_and_properties(checker, run, rabbit, queue_channel):
    run(checker, "green")
    red = run(checker, "red")
    (message,) = rabbit.drain(expect=1)
    assert message.routing_key == f"{checker.namespace.slug}.few-null-emails.fired"
    assert message.body == expected(checker, red, "fired", "red", "green", last_transition(checker))
    assert message.properties["delivery_mode"] == 2
    assert message.properties["content_type"] == "application/json"
    assert message.properties["message_id"] == message.body["dedup_key"]
    assert rabbit.drain(wait_s=0.5) == []


def test_a_linked_runbook_is_an_absolute_url_and_no_note(checker, run, rabbit, queue_channel, personas):
    checker.runbook = Runbook.objects.create(
        namespace=personas.a, slug="null-emails", title="Null e-mails", body="Call growth."
    )
    checker.save()
    red = run(checker, "red")
    (message,) = rabbit.drain(expect=1)
    assert message.body == expected(checker, red, "fired", "red", "unknown", last_transition(checker))
    assert message.body["runbook_url"] == f"{SITE}/n/{personas.a.slug}/runbooks/null-emails/"
    assert NO_RUNBOOK not in str(message.body["messages"])


def test_repeat_every_interval_while_red_each_with_its_own_key(
    checker, run, rabbit, queue_channel, personas, announce
):
    AlarmDefaults.objects.create(namespace=personas.a, repeat_every=300)
    run(checker, "green")
    red = run(checker, "red")
    fired = rabbit.drain(expect=1)[0]
    opened = last_transition(checker)
    start = red.finished
    assert announce(start + timedelta(seconds=299)) == 0
    assert announce(start + timedelta(seconds=301)) == 1
    assert announce(start + timedelta(seconds=302)) == 0
    assert announce(start + timedelta(seconds=602)) == 1
    repeats = rabbit.drain(expect=2)
    assert [m.routing_key for m in repeats] == [f"{personas.a.slug}.few-null-emails.repeat"] * 2
    for number, (message, seconds) in enumerate(zip(repeats, [301, 602], strict=True), start=1):
        at = start + timedelta(seconds=seconds)
        assert message.body == expected(checker, red, "repeat", "red", "green", opened, repeat=number, at=at)
    assert len({fired.body["dedup_key"], *(m.body["dedup_key"] for m in repeats)}) == 3


def test_resolved_on_the_way_back_to_green(checker, run, rabbit, queue_channel):
    run(checker, "green")
    run(checker, "red")
    green = run(checker, "green")
    fired, resolved = rabbit.drain(expect=2)
    assert fired.body["event"] == "fired"
    assert resolved.routing_key == f"{checker.namespace.slug}.few-null-emails.resolved"
    assert resolved.body == expected(checker, green, "resolved", "green", "red", last_transition(checker))


def test_error_is_its_own_event_never_red(checker, run, rabbit, queue_channel):
    run(checker, "green")
    broken = run(checker, "error")
    (message,) = rabbit.drain(expect=1)
    assert message.routing_key == f"{checker.namespace.slug}.few-null-emails.error"
    assert message.body == expected(checker, broken, "error", "error", "green", last_transition(checker))
    assert message.body["messages"][0]["text"].startswith("dataset_error: dataset users_with_email_null")


def test_staying_red_or_green_sends_nothing_more(checker, run, rabbit, queue_channel):
    for status in ["green", "green", "red", "red", "red", "green", "green"]:
        run(checker, status)
    assert [m.body["event"] for m in rabbit.drain(expect=2)] == ["fired", "resolved"]
    assert rabbit.drain(wait_s=0.5) == []
    assert AlarmEvent.objects.count() == 2


def test_channel_without_url_publishes_to_the_alarm_broker_setting(checker, run, rabbit, personas, settings):
    from alarms.models import Channel

    settings.ALARM_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"
    Channel.objects.create(namespace=personas.a, slug="default-broker", kind="queue")
    run(checker, "red")
    assert [m.body["event"] for m in rabbit.drain(expect=1)] == ["fired"]
