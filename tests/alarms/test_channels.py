"""Each channel kind on a real receiver: a local webhook server (signature checked), Django's
e-mail outbox, apprise to a local server; Slack is the outside world, mocked at the network call."""

from __future__ import annotations

import hashlib
import hmac
import json
from types import SimpleNamespace

import pytest
import requests
from django.core import mail
from django.core.exceptions import ValidationError

from alarms.models import AlarmEvent, Channel, DeliveryAttempt, Notification, ToggleLog
from alarms.payloads import NO_RUNBOOK
from alarms.transports import SIGNATURE_HEADER

SECRET = "a-signing-key-nobody-else-has"
# What the tenant reads whatever the webhook's port did (the log has the details).
UNREACHABLE = (
    "the webhook at 127.0.0.1 could not be reached or did not accept the connection "
    "(refused, unreachable, no answer within 3 s, or an error answer)"
)


@pytest.fixture
def hook_channel(personas, webhook) -> Channel:
    return Channel.objects.create(
        namespace=personas.a, slug="hook", kind="webhook", url=webhook.url, secret=SECRET
    )


def test_webhook_posts_the_payload_signed_with_the_channels_secret(checker, run, webhook, hook_channel):
    run(checker, "red")
    (request,) = webhook.requests
    event = AlarmEvent.objects.get()
    body = request["body"]
    assert json.loads(body) == event.payload
    expected = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(request["headers"][SIGNATURE_HEADER], expected)
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["X-Malleable-Event"] == "fired"
    assert request["headers"]["X-Malleable-Dedup-Key"] == event.dedup_key
    notification = Notification.objects.get()
    assert (notification.status, notification.attempts) == ("delivered", 1)


@pytest.mark.parametrize("status", [500, 503, 408, 429])
def test_webhook_server_errors_are_retried_later(checker, run, webhook, hook_channel, status, settings):
    webhook.answers = [status] * settings.ALARM_QUICK_TRIES
    run(checker, "red")
    notification = Notification.objects.get()
    assert (notification.status, notification.attempts) == ("pending", settings.ALARM_QUICK_TRIES)
    assert notification.last_error == UNREACHABLE
    assert notification.due > notification.created
    assert Channel.objects.get().enabled
    attempts = DeliveryAttempt.objects.filter(notification=notification)
    assert [(a.ok, a.permanent) for a in attempts] == [(False, False)] * settings.ALARM_QUICK_TRIES
    assert Notification.sweep(notification.due) == 1
    assert len(webhook.requests) == settings.ALARM_QUICK_TRIES + 1


@pytest.mark.parametrize("status", [400, 401, 404, 410, 301])
def test_webhook_client_errors_are_permanent_and_disable_the_channel(
    checker, run, webhook, hook_channel, status
):
    webhook.answers = [status]
    run(checker, "red")
    notification = Notification.objects.get()
    assert (notification.status, notification.attempts) == ("held", 1)
    channel = Channel.objects.get()
    assert not channel.enabled
    assert channel.disabled_reason == f"permanent failure: {notification.last_error}"
    assert DeliveryAttempt.objects.get().permanent
    assert ToggleLog.objects.get().action == "channel-disabled"
    run(checker, "green")
    assert AlarmEvent.objects.get(kind="resolved").notifications.get().status == "held"
    assert len(webhook.requests) == 1


def test_enabling_a_disabled_channel_sends_what_waited(checker, run, webhook, hook_channel, personas):
    webhook.answers = [410]
    run(checker, "red")
    run(checker, "green")
    channel = Channel.objects.get()
    assert channel.enable(personas.owner, "fixed the endpoint") == 2
    assert Notification.sweep() == 2
    assert [json.loads(r["body"])["event"] for r in webhook.requests] == ["fired", "fired", "resolved"]


@pytest.mark.parametrize(
    ("kind", "url", "secret", "field"),
    [
        ("webhook", "ftp://example.com/x", "k", "url"),
        ("webhook", "https://example.com/x", "", "secret"),
        ("email", "not-an-address, ops@example.com", "", "url"),
        ("email", "", "", "url"),
        ("slack", "https://example.com/not-slack", "", "url"),
        ("apprise", "nonsense://what", "", "url"),
        ("queue", "nosuchtransport://host", "", "url"),
    ],
)
def test_a_channel_that_could_never_deliver_is_refused(personas, kind, url, secret, field):
    channel = Channel(namespace=personas.a, slug="bad", kind=kind, url=url, secret=secret)
    with pytest.raises(ValidationError) as raised:
        channel.full_clean()
    assert field in raised.value.message_dict


def test_email_says_what_failed_and_that_no_runbook_is_linked(checker, run, personas):
    Channel.objects.create(
        namespace=personas.a, slug="mail", kind="email", url="mailto:ops@example.com,dba@example.com"
    )
    run(checker, "red")
    (message,) = mail.outbox
    event = AlarmEvent.objects.get()
    assert message.to == ["ops@example.com", "dba@example.com"]
    assert message.subject == f"[warning] FIRED: {personas.a.slug}/few-null-emails is red"
    assert "There should be less than 42 users in that state" in message.body
    assert NO_RUNBOOK in message.body
    assert "Runbook: none linked" in message.body
    assert f"Checker: https://malleable.example.com{checker.get_absolute_url()}" in message.body
    assert message.extra_headers["X-Malleable-Dedup-Key"] == event.dedup_key


def test_apprise_url_delivers_to_a_real_endpoint(checker, run, webhook, personas):
    Channel.objects.create(
        namespace=personas.a, slug="json", kind="apprise", url=webhook.url.replace("http://", "json://")
    )
    run(checker, "red")
    (request,) = webhook.requests
    sent = json.loads(request["body"])
    assert sent["title"] == f"[warning] FIRED: {personas.a.slug}/few-null-emails is red"
    assert "Runbook: none linked" in sent["message"]
    assert Notification.objects.get().status == "delivered"


def test_apprise_failure_is_retried_and_what_apprise_said_is_logged(checker, run, personas, caplog):
    Channel.objects.create(namespace=personas.a, slug="json", kind="apprise", url="json://127.0.0.1:1/x")
    run(checker, "red")
    notification = Notification.objects.get()
    assert notification.status == "pending"
    assert notification.last_error == (
        "the json:// service at 127.0.0.1 could not be reached or did not accept the connection "
        "(refused, unreachable, no answer within 3 s, or an error answer)"
    )
    assert "Connection error" in caplog.text


def test_slack_goes_through_apprise(checker, run, personas, monkeypatch):
    calls = []

    def fake_request(method, url, **kwargs):
        calls.append((method, url, json.loads(kwargs["data"])))
        return SimpleNamespace(status_code=200, content=b"ok", text="ok", headers={})

    monkeypatch.setattr(requests, "request", fake_request)
    Channel.objects.create(
        namespace=personas.a,
        slug="slack",
        kind="slack",
        url="https://hooks.slack.com/services/T1/B2/abcdefghij",
    )
    run(checker, "red")
    ((method, url, body),) = calls
    assert (method.upper(), url) == ("POST", "https://hooks.slack.com/services/T1/B2/abcdefghij")
    assert "FIRED" in json.dumps(body)
    assert Notification.objects.get().status == "delivered"
