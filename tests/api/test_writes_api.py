"""Writes through the API with the pages' rules: members, datasources, datasets, channels,
maintenance windows. Secrets go in and never come back out."""

from __future__ import annotations

from alarms.models import Channel, MaintenanceWindow, ToggleLog
from checkers.models import Dataset, Datasource
from namespaces.models import Role
from tests.personas import make_user

NS = "/api/v1/namespaces/alpha"
HOOK = "https://198.51.100.9/hooks/alarm-token-abc"


# --- members ------------------------------------------------------------------------------------------


def test_an_owner_adds_a_member_by_username(personas, bearer):
    make_user("newcomer")
    response = bearer(personas.owner).post(
        f"{NS}/members/", {"username": "newcomer", "role": "editor"}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["user"] == "newcomer" and response.json()["role"] == "editor"
    assert personas.a.role_of(personas.a.memberships.get(user__username="newcomer").user) == Role.EDITOR


def test_adding_an_unknown_or_present_user_is_400(personas, bearer):
    client = bearer(personas.owner)
    unknown = client.post(f"{NS}/members/", {"username": "nobody"}, format="json")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["fields"]["username"] == ["There is no active account named 'nobody'."]
    present = client.post(f"{NS}/members/", {"username": personas.viewer.username}, format="json")
    assert present.status_code == 400
    assert "already a member" in present.json()["error"]["fields"]["username"][0]


def test_an_owner_changes_a_role_and_removes_a_member(personas, bearer):
    client = bearer(personas.owner)
    response = client.patch(f"{NS}/members/{personas.viewer.username}/", {"role": "editor"}, format="json")
    assert response.status_code == 200 and response.json()["role"] == "editor"
    assert client.delete(f"{NS}/members/{personas.viewer.username}/").status_code == 204
    assert not personas.a.memberships.filter(user=personas.viewer).exists()


def test_the_last_owner_is_neither_demoted_nor_removed(personas, bearer):
    client = bearer(personas.owner)
    path = f"{NS}/members/{personas.owner.username}/"
    demoted = client.patch(path, {"role": "viewer"}, format="json")
    assert demoted.status_code == 400
    assert "at least one owner" in demoted.json()["error"]["fields"]["role"][0]
    removed = client.delete(path)
    assert removed.status_code == 400 and "at least one owner" in removed.json()["error"]["message"]
    assert personas.a.memberships.get(user=personas.owner).role == Role.OWNER


def test_an_editor_cannot_add_members(personas, bearer):
    make_user("newcomer")
    response = bearer(personas.editor).post(f"{NS}/members/", {"username": "newcomer"}, format="json")
    assert response.status_code == 403
    assert not personas.a.memberships.filter(user__username="newcomer").exists()


# --- datasources and datasets -------------------------------------------------------------------------


def test_a_datasource_is_created_and_its_url_and_password_stay_write_only(seed, shop, personas, bearer):
    client = bearer(personas.owner)
    body = {"name": "Shop copy", "engine": "sqlite", "url": shop.url, "password": "pw-never-shown-7"}
    response = client.post(f"{NS}/datasources/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["slug"] == "shop-copy"
    assert "url" not in response.json() and b"pw-never-shown-7" not in response.content
    assert shop.url.encode() not in response.content
    patched = client.patch(f"{NS}/datasources/shop-copy/", {"row_cap": 77}, format="json")
    assert patched.status_code == 200 and patched.json()["row_cap"] == 77
    stored = Datasource.objects.get(namespace=personas.a, slug="shop-copy")
    assert (stored.url, stored.password) == (shop.url, "pw-never-shown-7")


def test_a_datasource_at_malleables_own_database_is_refused_as_on_the_page(personas, bearer, settings):
    own = settings.DATABASES["default"]
    url = f"postgresql://{own['USER']}@{own['HOST']}:{own['PORT']}/{own['NAME']}"
    body = {"name": "Sneaky", "engine": "postgresql", "url": url}
    response = bearer(personas.owner).post(f"{NS}/datasources/", body, format="json")
    assert response.status_code == 400
    assert "url" in response.json()["error"]["fields"], response.json()
    assert not Datasource.objects.filter(slug="sneaky").exists()


def test_an_editor_cannot_write_datasources(seed, personas, bearer):
    response = bearer(personas.editor).patch(f"{NS}/datasources/shop/", {"row_cap": 5}, format="json")
    assert response.status_code == 403


def test_a_datasource_used_by_a_dataset_is_not_deleted(seed, personas, bearer):
    response = bearer(personas.owner).delete(f"{NS}/datasources/shop/")
    assert response.status_code == 409 and response.json()["error"]["code"] == "conflict"
    assert Datasource.objects.filter(slug="shop").exists()


def test_an_editor_writes_a_dataset_naming_its_datasource_by_slug(seed, personas, bearer):
    client = bearer(personas.editor)
    body = {"slug": "all_users", "datasource": "shop", "sql": "SELECT * FROM users"}
    response = client.post(f"{NS}/datasets/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["datasource"] == "shop"
    patched = client.patch(f"{NS}/datasets/all_users/", {"description": "every user"}, format="json")
    assert patched.json()["description"] == "every user" and patched.json()["sql"] == "SELECT * FROM users"
    assert client.delete(f"{NS}/datasets/all_users/").status_code == 204
    assert not Dataset.objects.filter(slug="all_users").exists()


def test_a_dataset_of_another_namespaces_datasource_is_400(seed, personas, bearer):
    Datasource.objects.create(namespace=personas.b, slug="theirs", engine="sqlite", url="sqlite:///x.db")
    body = {"slug": "peek", "datasource": "theirs", "sql": "SELECT 1"}
    response = bearer(personas.editor).post(f"{NS}/datasets/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"datasource": ["No datasource theirs in this namespace."]}


def test_a_dataset_a_rule_reads_is_not_deleted(seed, personas, bearer):
    response = bearer(personas.editor).delete(f"{NS}/datasets/users_with_email_null/")
    assert response.status_code == 409


# --- channels -----------------------------------------------------------------------------------------


def test_a_channel_is_created_with_write_only_url_and_secret(personas, bearer):
    client = bearer(personas.owner)
    body = {"name": "Ops hook", "kind": "webhook", "url": HOOK, "secret": "sign-with-this-9"}
    response = client.post(f"{NS}/channels/", body, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["slug"] == "ops-hook"
    assert b"alarm-token-abc" not in response.content and b"sign-with-this-9" not in response.content
    patched = client.patch(f"{NS}/channels/ops-hook/", {"min_severity": "critical"}, format="json")
    assert patched.status_code == 200 and patched.json()["min_severity"] == "critical"
    stored = Channel.objects.get(slug="ops-hook")
    assert (stored.url, stored.secret) == (HOOK, "sign-with-this-9")


def test_a_null_secret_clears_it_and_the_channels_rules_still_hold(personas, bearer):
    client = bearer(personas.owner)
    client.post(
        f"{NS}/channels/", {"slug": "hook", "kind": "webhook", "url": HOOK, "secret": "s"}, format="json"
    )
    response = client.patch(f"{NS}/channels/hook/", {"secret": None}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"secret": ["A webhook signs every message: set a secret."]}
    assert Channel.objects.get(slug="hook").secret == "s"


def test_disabling_a_channel_is_recorded_as_on_the_page(personas, bearer):
    client = bearer(personas.owner)
    client.post(
        f"{NS}/channels/", {"slug": "hook", "kind": "webhook", "url": HOOK, "secret": "s"}, format="json"
    )
    response = client.patch(f"{NS}/channels/hook/", {"enabled": False}, format="json")
    assert response.status_code == 200
    assert response.json()["enabled"] is False
    assert response.json()["disabled_reason"] == f"disabled by {personas.owner.username} through the API"
    again = client.patch(f"{NS}/channels/hook/", {"enabled": True}, format="json")
    assert again.json()["enabled"] is True and again.json()["disabled_reason"] == ""


def test_an_editor_cannot_add_a_channel(personas, bearer):
    body = {"slug": "hook", "kind": "webhook", "url": HOOK, "secret": "s"}
    assert bearer(personas.editor).post(f"{NS}/channels/", body, format="json").status_code == 403
    assert not Channel.objects.filter(slug="hook").exists()


# --- maintenance windows ------------------------------------------------------------------------------


def test_windows_are_added_changed_and_removed_with_an_audit_row_each(personas, bearer):
    client = bearer(personas.owner)
    body = {"name": "Sunday deploys", "reason": "weekly release", "cron": "0 2 * * 0", "duration_minutes": 60}
    created = client.post(f"{NS}/maintenance/", body, format="json")
    assert created.status_code == 201, created.json()
    assert created.json()["created_by"] == personas.owner.username
    path = f"{NS}/maintenance/{created.json()['id']}/"
    assert client.patch(path, {"duration_minutes": 90}, format="json").json()["duration_minutes"] == 90
    assert client.delete(path).status_code == 204
    assert not MaintenanceWindow.objects.exists()
    actions = list(
        ToggleLog.objects.filter(namespace=personas.a).order_by("created").values_list("action", "by")
    )
    assert actions == [
        (ToggleLog.Action.WINDOW_ADDED, personas.owner.pk),
        (ToggleLog.Action.WINDOW_CHANGED, personas.owner.pk),
        (ToggleLog.Action.WINDOW_REMOVED, personas.owner.pk),
    ]


def test_a_window_both_once_and_recurring_is_400(personas, bearer):
    body = {
        "name": "muddled",
        "starts": "2030-01-01T00:00:00Z",
        "ends": "2030-01-01T02:00:00Z",
        "cron": "0 2 * * 0",
        "duration_minutes": 30,
    }
    response = bearer(personas.owner).post(f"{NS}/maintenance/", body, format="json")
    assert response.status_code == 400, response.json()
    assert not MaintenanceWindow.objects.exists() and not ToggleLog.objects.exists()


def test_a_viewer_reads_windows_but_cannot_add_one(personas, bearer):
    MaintenanceWindow.objects.create(
        namespace=personas.a, name="nightly", cron="0 1 * * *", duration_minutes=5
    )
    client = bearer(personas.viewer)
    assert [w["name"] for w in client.get(f"{NS}/maintenance/").json()] == ["nightly"]
    body = {"name": "mine", "cron": "0 3 * * *", "duration_minutes": 5}
    assert client.post(f"{NS}/maintenance/", body, format="json").status_code == 403
