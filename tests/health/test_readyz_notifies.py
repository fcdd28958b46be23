"""With ``MALLEABLE_READYZ_NOTIFIES``, the web process's ``/readyz`` tells the operator channels
what started and what ended, once each, through the watchdog's memory (so the two never say
one thing twice), and recovers only what it checked."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from health import operator
from health.models import Heartbeat

pytestmark = pytest.mark.services
SECRET = "operator-key"


@pytest.fixture
def notifying(settings, webhook, tmp_path, rabbitmq_service):
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:5672//"
    settings.CHANNEL_ALLOWED_HOSTS = ["127.0.0.1"]  # the receiver runs here, as an operator would list it
    settings.READYZ_NOTIFIES = True
    settings.OPERATOR_CHANNELS = [webhook.url]
    settings.OPERATOR_WEBHOOK_SECRET = SECRET
    settings.WATCHDOG_STATE_FILE = tmp_path / "watchdog.json"
    return webhook


def bodies(hook) -> list[dict]:
    return [json.loads(request["body"]) for request in hook.requests]


def stop_the_scheduler() -> None:
    Heartbeat.beat(Heartbeat.Kind.DISPATCHER, "dispatcher", now=timezone.now() - timedelta(minutes=30))


def test_readyz_tells_a_stopped_scheduler_once_and_its_recovery_once(client, db, notifying):
    assert client.get("/readyz").status_code == 200
    stop_the_scheduler()
    assert client.get("/readyz").status_code == 503
    assert client.get("/readyz").status_code == 503
    (said,) = bodies(notifying)
    assert (said["event"], said["namespace"], said["checker"]) == ("operator", "malleable", "dispatcher")
    assert said["messages"][0]["text"] == "scheduler stopped: no dispatcher tick for 30 min"
    request = notifying.requests[0]
    expected = "sha256=" + hmac.new(SECRET.encode(), request["body"], hashlib.sha256).hexdigest()
    assert request["headers"]["X-Malleable-Signature-256"] == expected

    with pytest.raises(SystemExit):
        call_command("watchdog", "--json")
    assert len(notifying.requests) == 1, "the watchdog remembers what /readyz said"

    Heartbeat.beat(Heartbeat.Kind.DISPATCHER, "dispatcher")
    assert client.get("/readyz").status_code == 200
    assert client.get("/readyz").status_code == 200
    assert [body["event"] for body in bodies(notifying)] == ["operator", "recovered"]
    assert bodies(notifying)[1]["checker"] == "dispatcher"


def test_readyz_says_nothing_unless_turned_on(client, db, notifying, settings):
    settings.READYZ_NOTIFIES = False
    stop_the_scheduler()
    assert client.get("/readyz").status_code == 503
    assert notifying.requests == []
    assert not settings.WATCHDOG_STATE_FILE.exists()


def test_readyz_never_recovers_what_it_does_not_check(client, db, notifying, settings):
    """The watchdog said "no worker"; /readyz has no workers check, so it cannot say it ended."""
    settings.WATCHDOG_STATE_FILE.write_text(json.dumps({"workers": "no worker for 5 min"}))
    Heartbeat.beat(Heartbeat.Kind.DISPATCHER, "dispatcher")
    assert client.get("/readyz").status_code == 200
    assert notifying.requests == []
    assert json.loads(settings.WATCHDOG_STATE_FILE.read_text()) == {"workers": "no worker for 5 min"}


def test_readyz_leaves_telling_to_whoever_is_at_it(client, db, notifying, settings):
    stop_the_scheduler()
    with operator.said_lock(settings.WATCHDOG_STATE_FILE, wait=True):
        assert client.get("/readyz").status_code == 503
        assert notifying.requests == [], "another teller holds the memory: this poll yields"
    assert client.get("/readyz").status_code == 503
    assert [body["checker"] for body in bodies(notifying)] == ["dispatcher"]
