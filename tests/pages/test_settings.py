from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from alarms.models import AlarmDefaults, Channel, MaintenanceWindow, Notification, ToggleLog
from namespaces.models import Membership, Role

MEMBERS = "/n/alpha/settings/"
HOOK_URL = "https://hooks.example.com/malleable?token=s3cret-token"


# --- Members ---


def test_every_member_sees_the_members_but_only_owners_manage_them(personas, login):
    for role in ("editor", "viewer"):
        content = login(personas[role]).get(MEMBERS).content.decode()
        assert "olivia" in content and "vera" in content
        assert 'data-testid="add-member"' not in content
        assert 'data-testid="remove-member"' not in content
    content = login(personas.owner).get(MEMBERS).content.decode()
    assert 'data-testid="add-member"' in content


def test_owner_adds_a_member(personas, login):
    response = login(personas.owner).post(MEMBERS, {"username": "sam", "role": "editor"})
    assert response["Location"] == MEMBERS
    assert Membership.objects.get(namespace=personas.a, user=personas.stranger).role == Role.EDITOR


def test_adding_an_unknown_or_existing_member_says_so(personas, login):
    client = login(personas.owner)
    assert (
        "no active account named"
        in client.post(MEMBERS, {"username": "nobody", "role": "viewer"}).content.decode()
    )
    assert "already a member" in client.post(MEMBERS, {"username": "vera", "role": "viewer"}).content.decode()


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_editors_and_viewers_cannot_manage_members(personas, login, role):
    client = login(personas[role])
    assert client.post(MEMBERS, {"username": "sam", "role": "owner"}).status_code == 403
    assert client.post(f"{MEMBERS}members/vera/", {"vera-role": "owner"}).status_code == 403
    assert client.post(f"{MEMBERS}members/vera/", {"action": "remove"}).status_code == 403
    assert not Membership.objects.filter(user=personas.stranger).exists()
    assert Membership.objects.get(namespace=personas.a, user=personas.viewer).role == Role.VIEWER


def test_owner_changes_a_role_and_removes_a_member(personas, login):
    client = login(personas.owner)
    client.post(f"{MEMBERS}members/vera/", {"vera-role": "editor"})
    assert Membership.objects.get(namespace=personas.a, user=personas.viewer).role == Role.EDITOR
    client.post(f"{MEMBERS}members/vera/", {"action": "remove"})
    assert not Membership.objects.filter(namespace=personas.a, user=personas.viewer).exists()


def test_the_last_owner_stays(personas, login):
    client = login(personas.owner)
    response = client.post(f"{MEMBERS}members/olivia/", {"olivia-role": "viewer"}, follow=True)
    assert "keeps at least one owner" in response.content.decode()
    client.post(f"{MEMBERS}members/olivia/", {"action": "remove"})
    assert Membership.objects.get(namespace=personas.a, user=personas.owner).role == Role.OWNER


def test_a_member_of_another_namespace_is_404(personas, login):
    assert login(personas.owner).post(f"{MEMBERS}members/otto/", {"action": "remove"}).status_code == 404
    assert Membership.objects.filter(user=personas.outsider).exists()


# --- Channels ---


@pytest.fixture
def hook(personas) -> Channel:
    return Channel.objects.create(
        namespace=personas.a, slug="hook", kind="webhook", url=HOOK_URL, secret="signing-key-shh"
    )


@pytest.mark.parametrize("role", ["owner", "editor", "viewer"])
def test_channel_secrets_are_never_rendered(personas, login, hook, role):
    client = login(personas[role])
    for url in ("/n/alpha/settings/channels/", "/n/alpha/settings/channels/hook/"):
        content = client.get(url).content.decode()
        assert "s3cret-token" not in content
        assert "signing-key-shh" not in content
        assert "hooks.example.com" in content


def test_owner_adds_a_channel(personas, login):
    data = {
        "name": "Ops mail",
        "slug": "ops",
        "kind": "email",
        "url": "ops@example.com",
        "min_severity": "warning",
        "is_default": "on",
        "enabled": "on",
    }
    response = login(personas.owner).post("/n/alpha/settings/channels/new/", data)
    assert response["Location"] == "/n/alpha/settings/channels/"
    channel = Channel.objects.get(namespace=personas.a, slug="ops")
    assert (channel.kind, channel.url, channel.min_severity) == ("email", "ops@example.com", "warning")


def test_blank_channel_secrets_keep_the_stored_ones(personas, login, hook):
    data = {
        "name": "Hook",
        "slug": "hook",
        "kind": "webhook",
        "url": "",
        "secret": "",
        "min_severity": "info",
        "is_default": "on",
        "enabled": "on",
    }
    login(personas.owner).post("/n/alpha/settings/channels/hook/", data)
    hook.refresh_from_db()
    assert (hook.name, hook.url, hook.secret) == ("Hook", HOOK_URL, "signing-key-shh")


def test_disabling_a_channel_goes_through_the_model(personas, login, hook):
    data = {"slug": "hook", "kind": "webhook", "min_severity": "info", "is_default": "on"}
    login(personas.owner).post("/n/alpha/settings/channels/hook/", data)
    hook.refresh_from_db()
    assert not hook.enabled
    assert "disabled by olivia" in hook.disabled_reason
    assert ToggleLog.objects.filter(channel=hook, action="channel-disabled").exists()


def test_send_test_alarm(personas, login):
    channel = Channel.objects.create(namespace=personas.a, slug="mail", kind="email", url="ops@example.com")
    response = login(personas.owner).post("/n/alpha/settings/channels/mail/test/", HTTP_HX_REQUEST="true")
    assert "Test alarm delivered to mail." in response.content.decode()
    notification = Notification.objects.get(channel=channel)
    assert (notification.status, notification.attempts) == ("delivered", 1)
    assert len(mail.outbox) == 1


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_only_owners_manage_channels(personas, login, hook, role):
    client = login(personas[role])
    assert client.post("/n/alpha/settings/channels/hook/test/").status_code == 403
    assert (
        client.post("/n/alpha/settings/channels/hook/", {"slug": "hook", "kind": "webhook"}).status_code
        == 403
    )
    assert client.post("/n/alpha/settings/channels/new/", {"slug": "x", "kind": "email"}).status_code == 403
    assert client.post("/n/alpha/settings/channels/hook/delete/").status_code == 403
    assert not Notification.objects.exists()
    assert 'data-testid="send-test-alarm"' not in client.get("/n/alpha/settings/channels/").content.decode()
    assert Channel.objects.get(pk=hook.pk).enabled


# --- Maintenance windows ---


def management(total: int, initial: int) -> dict:
    return {
        "form-TOTAL_FORMS": str(total),
        "form-INITIAL_FORMS": str(initial),
        "form-MIN_NUM_FORMS": "0",
        "form-MAX_NUM_FORMS": "1000",
    }


def test_owner_adds_and_removes_a_maintenance_window(personas, login):
    client = login(personas.owner)
    data = {
        **management(1, 0),
        "form-0-name": "Sunday upgrades",
        "form-0-reason": "db upgrade",
        "form-0-cron": "0 2 * * 0",
        "form-0-duration_minutes": "60",
    }
    assert client.post("/n/alpha/settings/maintenance/", data).status_code == 302
    window = MaintenanceWindow.objects.get(namespace=personas.a)
    assert (window.cron, window.duration_minutes, window.created_by) == ("0 2 * * 0", 60, personas.owner)
    assert ToggleLog.objects.filter(window=window, action="window-added").exists()
    data = {
        **management(2, 1),
        "form-0-id": str(window.pk),
        "form-0-name": "Sunday upgrades",
        "form-0-cron": "0 2 * * 0",
        "form-0-duration_minutes": "60",
        "form-0-DELETE": "on",
    }
    client.post("/n/alpha/settings/maintenance/", data)
    assert not MaintenanceWindow.objects.exists()
    assert ToggleLog.objects.filter(action="window-removed").exists()


def test_a_window_needs_either_a_span_or_a_cron(personas, login):
    data = {**management(1, 0), "form-0-name": "Half a window", "form-0-cron": "0 2 * * 0"}
    response = login(personas.owner).post("/n/alpha/settings/maintenance/", data)
    assert response.status_code == 200
    assert "needs a cron and a duration" in response.content.decode()
    assert not MaintenanceWindow.objects.exists()


def test_another_namespaces_window_cannot_be_touched(personas, login):
    theirs = MaintenanceWindow.objects.create(
        namespace=personas.b, name="B's", cron="0 2 * * 0", duration_minutes=5
    )
    data = {
        **management(1, 1),
        "form-0-id": str(theirs.pk),
        "form-0-name": "Taken over",
        "form-0-cron": "0 3 * * 0",
        "form-0-duration_minutes": "5",
        "form-0-DELETE": "on",
    }
    login(personas.owner).post("/n/alpha/settings/maintenance/", data)
    theirs.refresh_from_db()
    assert theirs.name == "B's"


def test_open_window_is_marked(personas, login):
    MaintenanceWindow.objects.create(
        namespace=personas.a,
        name="Now",
        starts=timezone.now() - timedelta(minutes=1),
        ends=timezone.now() + timedelta(hours=1),
    )
    assert "open now" in login(personas.viewer).get("/n/alpha/settings/maintenance/").content.decode()


def test_viewer_cannot_change_windows(personas, login):
    data = {
        **management(1, 0),
        "form-0-name": "x",
        "form-0-cron": "0 2 * * 0",
        "form-0-duration_minutes": "60",
    }
    assert login(personas.viewer).post("/n/alpha/settings/maintenance/", data).status_code == 403
    assert login(personas.editor).post("/n/alpha/settings/maintenance/", data).status_code == 403
    assert not MaintenanceWindow.objects.exists()


# --- Alarm defaults ---


def test_owner_sets_the_alarm_policy_defaults(personas, login):
    data = {"after_failures": "3", "on_error": "ignore", "repeat_every": "3600", "notify_resolved": ""}
    assert login(personas.owner).post("/n/alpha/settings/alarms/", data).status_code == 302
    defaults = AlarmDefaults.objects.get(namespace=personas.a)
    assert (defaults.after_failures, defaults.on_error, defaults.repeat_every, defaults.notify_resolved) == (
        3,
        "ignore",
        3600,
        False,
    )


def test_repeat_interval_is_checked(personas, login):
    data = {"after_failures": "1", "on_error": "alarm", "repeat_every": "5"}
    response = login(personas.owner).post("/n/alpha/settings/alarms/", data)
    assert "once a minute" in response.content.decode()


def test_editors_cannot_change_the_defaults(personas, login):
    data = {"after_failures": "9", "on_error": "ignore", "repeat_every": "0"}
    assert login(personas.editor).post("/n/alpha/settings/alarms/", data).status_code == 403
    assert not AlarmDefaults.objects.exists()
    content = login(personas.editor).get("/n/alpha/settings/alarms/").content.decode()
    assert 'data-testid="save"' not in content


@pytest.mark.parametrize(
    ("broker", "words"),
    [
        ("filesystem://", "the embedded broker (a directory on this machine"),
        ("amqp://guest:guest@rabbit.internal:5672//", "RabbitMQ at rabbit.internal:5672"),
        ("redis://:pw@cache.internal:6380/2", "Redis at cache.internal:6380"),
    ],
)
def test_the_queue_kind_names_the_installations_real_broker(personas, login, settings, broker, words):
    settings.ALARM_BROKER_URL, settings.CELERY_BROKER_URL = "", broker
    content = login(personas.owner).get("/n/alpha/settings/channels/new/").content.decode()
    described = content.split('data-testid="queue-kind">')[1].split("</dd>")[0]
    assert words in described
    assert "guest" not in content and ":pw@" not in content
    assert "RabbitMQ" not in content or broker.startswith("amqp")
