"""Personal API tokens: stored hashed, shown once, scoped, refused once revoked or expired."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from api.models import ApiToken

NAMESPACES = "/api/v1/namespaces/"


def test_only_a_hash_of_the_token_is_stored(personas):
    token, text = ApiToken.issue(personas.viewer, "ci")
    assert text.startswith(f"mlb_{token.prefix}_")
    assert token.secret_hash == hashlib.sha256(text.encode()).hexdigest()
    row = ApiToken.objects.values_list().get(pk=token.pk)
    assert text not in json.dumps([str(column) for column in row])


def test_a_token_acts_as_its_user_and_records_its_use(personas, bearer):
    client = bearer(personas.viewer)
    response = client.get(NAMESPACES)
    assert response.status_code == 200
    assert [ns["slug"] for ns in response.json()] == ["alpha"]
    assert response.json()[0]["role"] == "viewer"
    assert ApiToken.objects.get().last_used_at is not None


def test_no_token_is_401_with_a_bearer_challenge(personas):
    response = APIClient().get(NAMESPACES)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.parametrize("header", ["Bearer mlb_nothere_xyz", "Bearer garbage", "Bearer "])
def test_an_unknown_token_is_401(personas, header):
    response = APIClient(HTTP_AUTHORIZATION=header).get(NAMESPACES)
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message", "fields"}


def test_a_right_prefix_with_a_wrong_secret_is_401(personas, bearer):
    client = bearer(personas.viewer)
    forged = client.token_text[:-4] + "AAAA"
    assert APIClient(HTTP_AUTHORIZATION=f"Bearer {forged}").get(NAMESPACES).status_code == 401


def test_a_revoked_token_is_refused_on_its_next_request(personas, bearer):
    client = bearer(personas.viewer)
    assert client.get(NAMESPACES).status_code == 200
    assert ApiToken.objects.get().revoke()
    assert client.get(NAMESPACES).status_code == 401


def test_an_expired_token_is_refused(personas, bearer):
    client = bearer(personas.viewer, expires_in_days=1)
    assert client.get(NAMESPACES).status_code == 200
    ApiToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(NAMESPACES).status_code == 401


def test_deactivating_the_user_takes_effect_on_the_next_request(personas, bearer):
    client = bearer(personas.viewer)
    assert client.get(NAMESPACES).status_code == 200
    personas.viewer.is_active = False
    personas.viewer.save(update_fields=["is_active"])
    assert client.get(NAMESPACES).status_code == 401


def test_removing_the_membership_takes_effect_on_the_next_request(personas, bearer):
    client = bearer(personas.viewer)
    assert client.get(f"{NAMESPACES}alpha/").status_code == 200
    personas.viewer.memberships.all().delete()
    assert client.get(f"{NAMESPACES}alpha/").status_code == 404
    assert client.get(NAMESPACES).json() == []


def test_a_token_narrowed_to_a_namespace_sees_only_it(personas, bearer):
    personas.outsider.memberships.create(namespace=personas.a, role="viewer")
    client = bearer(personas.outsider, namespace=personas.b)
    assert [ns["slug"] for ns in client.get(NAMESPACES).json()] == ["beta"]
    assert client.get(f"{NAMESPACES}alpha/").status_code == 404


def test_the_page_shows_a_new_token_once_and_revokes_it(personas, login):
    client = login(personas.editor)
    response = client.post(
        reverse("api-tokens"), {"name": "ci", "namespace": personas.a.pk, "read_only": "on"}
    )
    assert response.status_code == 200
    text = response.context["issued"]
    token = ApiToken.find(text)
    assert token is not None and token.read_only and token.namespace == personas.a
    assert text in response.content.decode()
    listing = client.get(reverse("api-tokens")).content.decode()
    assert text not in listing
    assert f"mlb_{token.prefix}_" in listing
    assert client.post(reverse("api-token-revoke", args=[token.prefix])).status_code == 302
    assert ApiToken.find(text) is None


def test_the_page_offers_only_the_users_namespaces(personas, login):
    response = login(personas.editor).post(reverse("api-tokens"), {"name": "x", "namespace": personas.b.pk})
    assert response.status_code == 200
    assert "namespace" in response.context["form"].errors
    assert not ApiToken.objects.exists()


def test_nobody_revokes_another_users_token(personas, login):
    token, text = ApiToken.issue(personas.owner, "mine")
    assert login(personas.editor).post(reverse("api-token-revoke", args=[token.prefix])).status_code == 404
    assert ApiToken.find(text) is not None


def test_create_api_token_prints_a_working_token(personas, capsys):
    call_command(
        "create_api_token",
        "vera",
        "--name",
        "deploy",
        "--namespace",
        "alpha",
        "--read-only",
        "--expires",
        "7",
    )
    text = capsys.readouterr().out.strip()
    token = ApiToken.find(text)
    assert token.name == "deploy" and token.read_only and token.namespace == personas.a
    assert timedelta(days=6, hours=23) < token.expires_at - timezone.now() <= timedelta(days=7)


@pytest.mark.parametrize(
    "args",
    [["nobody"], ["vera", "--namespace", "beta"], ["vera", "--expires", "0"]],
    ids=["unknown user", "not a member", "no expiry"],
)
def test_create_api_token_refuses_bad_usage_with_64(personas, args):
    with pytest.raises(CommandError) as raised:
        call_command("create_api_token", *args)
    assert raised.value.returncode == 64
    assert not ApiToken.objects.exists()
