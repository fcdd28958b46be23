"""Catching up after an outage: a channel's first successful delivery releases every alarm it
held, in ``at`` order, in the same sweep, whatever backoff each one was waiting out."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from alarms.models import Channel, Notification
from tests.alarms.conftest import DEAD_BROKER_URL, RABBITMQ_URL

pytestmark = pytest.mark.services


def _outage(checker, run, channel, flips: int) -> list[str]:
    """``flips`` alarms produced while the channel's broker is down; their dedup keys in ``at`` order."""
    for status in ["red", "green"] * (flips // 2):
        run(checker, status)
    held = Notification.objects.filter(channel=channel).order_by("event__created")
    assert set(held.values_list("status", flat=True)) == {"pending"}
    return list(held.values_list("event__dedup_key", flat=True))


def test_ten_held_alarms_all_go_out_in_one_sweep_in_at_order(checker, run, rabbit, personas, settings):
    channel = Channel.objects.create(
        namespace=personas.a, slug="ops-queue", kind="queue", url=DEAD_BROKER_URL
    )
    keys = _outage(checker, run, channel, flips=10)
    assert len(keys) == 10
    # Sweeps during the outage scramble the backoffs: each retries the channel's oldest alarm.
    later = timezone.now()
    for _ in range(6):
        later += timedelta(hours=1)
        assert Notification.sweep(later) == 0
    dues = list(Notification.objects.order_by("event__created").values_list("due", flat=True))
    assert dues != sorted(dues), "the backoffs no longer follow the alarms' order"
    assert rabbit.drain(wait_s=0.3) == []

    Channel.objects.filter(pk=channel.pk).update(url=RABBITMQ_URL)
    assert Notification.sweep(later + timedelta(seconds=settings.ALARM_PROBE_S)) == 10
    received = rabbit.drain(expect=10)
    assert [m.body["dedup_key"] for m in received] == keys
    assert [m.body["event"] for m in received] == ["fired", "resolved"] * 5
    assert set(Notification.objects.values_list("status", flat=True)) == {"delivered"}


def test_a_probe_comes_before_the_backoff_ends(checker, run, rabbit, personas, settings):
    """Every alarm backed off by an hour: the channel is still probed once per probe interval."""
    channel = Channel.objects.create(
        namespace=personas.a, slug="ops-queue", kind="queue", url=DEAD_BROKER_URL
    )
    keys = _outage(checker, run, channel, flips=2)
    Notification.objects.update(due=timezone.now() + timedelta(hours=1))
    Channel.objects.filter(pk=channel.pk).update(url=RABBITMQ_URL)
    assert Notification.sweep(timezone.now()) == 0, "tried within the probe interval: left alone"
    assert Notification.sweep(timezone.now() + timedelta(seconds=settings.ALARM_PROBE_S + 1)) == 2
    assert [m.body["dedup_key"] for m in rabbit.drain(expect=2)] == keys


def test_a_channel_still_down_is_probed_once_per_sweep(checker, run, rabbit, personas, settings):
    channel = Channel.objects.create(
        namespace=personas.a, slug="ops-queue", kind="queue", url=DEAD_BROKER_URL
    )
    _outage(checker, run, channel, flips=4)
    attempts = sum(Notification.objects.values_list("attempts", flat=True))
    assert Notification.sweep(timezone.now() + timedelta(hours=2)) == 0
    assert sum(Notification.objects.values_list("attempts", flat=True)) == attempts + 1


def test_run_checker_says_how_many_alarms_are_held(checker, shop, personas, capsys):
    Channel.objects.create(namespace=personas.a, slug="ops-queue", kind="queue", url=DEAD_BROKER_URL)
    reference = f"{personas.a.slug}/few-null-emails"
    shop.set_null_emails(50)
    with pytest.raises(SystemExit):
        call_command("run_checker", reference, "--json")
    shop.set_null_emails(10)
    call_command("run_checker", reference, "--json")
    out, err = capsys.readouterr()
    assert [json.loads(line)["held_alarms"] for line in out.splitlines()] == [1, 2]
    assert f"2 alarm(s) of {reference} held: not delivered yet" in err
    assert Notification.objects.filter(status="pending").count() == 2


def test_run_checker_reports_no_held_alarms_when_all_went_out(checker, shop, personas, webhook, capsys):
    Channel.objects.create(namespace=personas.a, slug="hook", kind="webhook", url=webhook.url, secret="k")
    shop.set_null_emails(50)
    with pytest.raises(SystemExit):
        call_command("run_checker", f"{personas.a.slug}/few-null-emails", "--json")
    out, err = capsys.readouterr()
    assert json.loads(out)["held_alarms"] == 0
    assert "held" not in err
