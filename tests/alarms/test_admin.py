"""The alarms' admin by role: viewers read, editors toggle (with a reason, audited), owners run
channels (secrets write-only, test alarms) and maintenance windows."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from alarms.models import AlarmState, Channel, MaintenanceWindow, Notification, ToggleLog

TOKEN = "s3cret-token-in-the-url"
SECRET = "s3cret-signing-key"


def changelist(model: str) -> str:
    return reverse(f"admin:alarms_{model}_changelist")


def change(obj) -> str:
    return reverse(f"admin:alarms_{obj._meta.model_name}_change", args=[obj.pk])


@pytest.fixture
def state(checker, run) -> AlarmState:
    run(checker, "red")
    return AlarmState.objects.get(checker=checker)


@pytest.fixture
def hook(personas, webhook) -> Channel:
    return Channel.objects.create(
        namespace=personas.a, slug="hook", kind="webhook", url=f"{webhook.url}?token={TOKEN}", secret=SECRET
    )


def notes(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def mute(client, state: AlarmState, **form):
    data = {"action": "mute", "_selected_action": [state.pk], **form}
    return client.post(changelist("alarmstate"), data)


def test_editor_mutes_with_a_reason_and_it_is_audited(personas, login, state):
    client = login(personas.editor)
    ask = mute(client, state)
    assert ask.status_code == 200
    assert 'name="reason"' in ask.content.decode()
    assert 'name="minutes"' in ask.content.decode()  # the checker page's mute form, in minutes
    assert "Mute for (minutes from now)" in ask.content.decode()
    assert AlarmState.objects.get(pk=state.pk).muted_until is None
    done = mute(client, state, apply="1", reason="deploying the fix", minutes="240")
    assert done.status_code == 302
    muted = AlarmState.objects.get(pk=state.pk)
    assert timedelta(minutes=239) < muted.muted_until - timezone.now() <= timedelta(minutes=240)
    entry = ToggleLog.objects.get()
    assert (entry.action, entry.by, entry.reason, entry.until) == (
        "muted",
        personas.editor,
        "deploying the fix",
        muted.muted_until,
    )


@pytest.mark.parametrize("role", ["viewer", "outsider"])
def test_viewers_and_outsiders_cannot_toggle(personas, login, state, role):
    client = login(personas[role])
    mute(client, state, apply="1", reason="no", minutes="60")
    client.post(
        changelist("alarmstate"), {"action": "acknowledge", "_selected_action": [state.pk], "apply": "1"}
    )
    state.refresh_from_db()
    assert (state.muted_until, state.acknowledged_at) == (None, None)
    assert not ToggleLog.objects.exists()


def test_acknowledging_in_the_admin_and_the_state_page_says_why_silent(personas, login, state):
    client = login(personas.editor)
    data = {"action": "acknowledge", "_selected_action": [state.pk], "apply": "1", "reason": "on it"}
    assert client.post(changelist("alarmstate"), data).status_code == 302
    page = login(personas.viewer).get(change(state)).content.decode()
    assert "acknowledged until green by eddie: on it" in page
    assert "unknown" in page and "red" in page
    assert "fired" in page


@pytest.mark.parametrize("role", ["owner", "editor", "viewer", "superuser"])
def test_channel_secrets_are_never_rendered(personas, login, hook, role):
    content = login(personas[role]).get(change(hook)).content.decode()
    assert TOKEN not in content
    assert SECRET not in content
    listing = login(personas[role]).get(changelist("channel")).content.decode()
    assert TOKEN not in listing
    assert "http://127.0.0.1" in listing


def test_blank_secrets_on_edit_keep_the_stored_ones(personas, login, hook):
    form = {
        "namespace": personas.a.pk,
        "slug": "hook",
        "name": "Ops hook",
        "kind": "webhook",
        "url": "",
        "secret": "",
        "min_severity": "info",
        "is_default": "on",
        "enabled": "on",
    }
    response = login(personas.owner).post(change(hook), form)
    assert response.status_code == 302, response.content.decode()[:3000]
    hook.refresh_from_db()
    assert (hook.name, hook.secret) == ("Ops hook", SECRET)
    assert hook.url.endswith(TOKEN)


def test_owner_sends_a_test_alarm(personas, login, hook, webhook):
    response = login(personas.owner).post(
        changelist("channel"), {"action": "send_test_alarm", "_selected_action": [hook.pk]}, follow=True
    )
    assert notes(response) == ["hook: test alarm delivered."]
    (request,) = webhook.requests
    body = json.loads(request["body"])
    assert (body["event"], body["checker"], body["namespace"]) == ("test", "malleable-test", personas.a.slug)
    assert "sent by olivia" in body["messages"][0]["text"]


def test_editors_are_not_offered_test_alarms(personas, login, hook, webhook):
    client = login(personas.editor)
    assert "send_test_alarm" not in client.get(changelist("channel")).content.decode()
    client.post(changelist("channel"), {"action": "send_test_alarm", "_selected_action": [hook.pk]})
    assert webhook.requests == []


def test_a_failed_test_alarm_says_why(personas, login, webhook, hook):
    webhook.answers = [404]
    response = login(personas.owner).post(
        changelist("channel"), {"action": "send_test_alarm", "_selected_action": [hook.pk]}, follow=True
    )
    unreachable = (
        "the webhook at 127.0.0.1 could not be reached or did not accept the connection "
        "(refused, unreachable, no answer within 3 s, or an error answer)"
    )
    assert notes(response) == [f"hook: test alarm not delivered: {unreachable}"]
    listing = login(personas.viewer).get(changelist("channel")).content.decode()
    assert "disabled" in listing
    assert f"permanent failure: {unreachable}" in listing


def test_owner_reenables_a_disabled_channel_and_what_waited_resumes(
    personas, login, checker, run, webhook, hook
):
    webhook.answers = [410]
    run(checker, "red")
    assert not Channel.objects.get().enabled
    form = {
        "namespace": personas.a.pk,
        "slug": "hook",
        "kind": "webhook",
        "min_severity": "info",
        "is_default": "on",
        "enabled": "on",
    }
    response = login(personas.owner).post(change(hook), form)
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Channel.objects.get().enabled
    assert Notification.sweep() == 1
    assert list(ToggleLog.objects.order_by("pk").values_list("action", "by_name")) == [
        ("channel-disabled", "Malleable"),
        ("channel-enabled", "olivia"),
    ]


def test_maintenance_windows_are_audited(personas, login):
    client = login(personas.owner)
    form = {"namespace": personas.a.pk, "name": "Sunday upgrades", "reason": "OS patches"}
    form |= {"cron": "0 2 * * 0", "duration_minutes": "90", "timezone": "Europe/Berlin"}
    assert client.post(reverse("admin:alarms_maintenancewindow_add"), form).status_code == 302
    window = MaintenanceWindow.objects.get()
    assert window.created_by == personas.owner
    delete = reverse("admin:alarms_maintenancewindow_delete", args=[window.pk])
    assert client.post(delete, {"post": "yes"}).status_code == 302
    assert list(ToggleLog.objects.order_by("pk").values_list("action", "subject", "by_name", "reason")) == [
        ("window-added", "Sunday upgrades", "olivia", "OS patches"),
        ("window-removed", "Sunday upgrades", "olivia", "OS patches"),
    ]


def test_editors_cannot_add_maintenance_windows(personas, login):
    response = login(personas.editor).post(
        reverse("admin:alarms_maintenancewindow_add"),
        {"namespace": personas.a.pk, "name": "x", "cron": "0 2 * * 0", "duration_minutes": "9"},
    )
    assert response.status_code == 403
    assert not MaintenanceWindow.objects.exists()


def test_disabling_alarming_needs_a_reason(personas, login, state):
    client = login(personas.editor)
    data = {"action": "disable_alarming", "_selected_action": [state.pk], "apply": "1"}
    assert client.post(changelist("alarmstate"), data).status_code == 200
    assert state.silence() is None
    assert client.post(changelist("alarmstate"), data | {"reason": "rewriting it"}).status_code == 302
    assert str(state.silence()) == "alarming disabled by eddie: rewriting it"
