"""Datasources, datasets and their preview, runbooks, members and channels over HTTP."""

from __future__ import annotations

from unittest import mock

from alarms.models import Channel
from checkers.models import Datasource
from runbooks.models import Runbook
from tests.factories import make

NS = "/api/v1/namespaces/alpha"


def test_datasources_show_no_url_and_no_password(seed, personas, bearer):
    Datasource.objects.create(
        namespace=personas.a,
        slug="pg",
        engine="postgresql",
        url="postgresql://reader@203.0.113.7/shop",
        password="hunter2-very-secret",
    )
    response = bearer(personas.owner).get(f"{NS}/datasources/")
    assert response.status_code == 200
    assert [s["slug"] for s in response.json()] == ["pg", "shop"]
    assert set(response.json()[0]) == {
        "slug",
        "name",
        "engine",
        "statement_timeout",
        "row_cap",
        "max_concurrency",
    }
    assert b"hunter2" not in response.content and b"203.0.113.7" not in response.content


def test_a_dataset_preview_shows_its_first_rows(seed, shop, personas, bearer):
    shop.set_null_emails(3)
    response = bearer(personas.editor).post(f"{NS}/datasets/users_with_email_null/preview")
    assert response.status_code == 200, response.json()
    preview = response.json()
    assert preview["columns"] == ["username"]
    assert preview["total"] == len(preview["rows"]) == 3
    assert "error" not in preview


def test_datasets_list_by_slug(seed, personas, bearer):
    body = bearer(personas.viewer).get(f"{NS}/datasets/users_with_email_null/").json()
    assert body == {
        "slug": "users_with_email_null",
        "datasource": "shop",
        "sql": "SELECT username FROM users WHERE email IS NULL",
        "description": "",
        "sample": False,
    }


def test_an_editor_writes_a_runbook_with_the_pages_validation(personas, bearer):
    client = bearer(personas.editor)
    made = client.post(
        f"{NS}/runbooks/",
        {"slug": "db-down", "title": "DB down", "body": "Call Olivia.", "owner": "olivia"},
        format="json",
    )
    assert made.status_code == 201, made.json()
    assert Runbook.objects.get(slug="db-down").owner == personas.owner
    changed = client.patch(f"{NS}/runbooks/db-down/", {"title": "Database down"}, format="json")
    assert changed.status_code == 200
    assert changed.json()["title"] == "Database down" and changed.json()["body"] == "Call Olivia."
    stranger = client.patch(f"{NS}/runbooks/db-down/", {"owner": "otto"}, format="json")
    assert stranger.status_code == 400 and "owner" in stranger.json()["error"]["fields"]
    taken = client.post(f"{NS}/runbooks/", {"slug": "db-down", "title": "Again", "body": "x"}, format="json")
    assert taken.status_code == 400 and "slug" in taken.json()["error"]["fields"]


def test_members_list_with_roles(personas, bearer):
    members = bearer(personas.viewer).get(f"{NS}/members/").json()
    assert [(m["user"], m["role"]) for m in members] == [
        ("eddie", "editor"),
        ("olivia", "owner"),
        ("vera", "viewer"),
    ]


def test_channels_show_no_url_or_secret_and_owners_send_a_test(personas, bearer):
    channel = make(Channel, personas.a)
    listing = bearer(personas.viewer).get(f"{NS}/channels/")
    assert listing.status_code == 200
    assert [c["slug"] for c in listing.json()] == [channel.slug]
    assert channel.url.encode() not in listing.content
    with (
        mock.patch("alarms.transports.vetted_at_send", return_value=["203.0.113.9"]),
        mock.patch("alarms.transports.post_pinned", return_value=200) as post,
    ):
        response = bearer(personas.owner).post(f"{NS}/channels/{channel.slug}/test")
    assert response.status_code == 200, response.json()
    assert response.json() == {"delivered": True, "status": "delivered", "error": ""}
    assert post.call_count == 1
    assert b"s3cret" not in response.content
