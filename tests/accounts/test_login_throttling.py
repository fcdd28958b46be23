"""Sign-in throttling: a password cannot be guessed by trying, on the pages or in the admin."""

from __future__ import annotations

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.urls import reverse
from django.utils import timezone

from tests.personas import PASSWORD

LOGIN_PAGES = [reverse("login"), reverse("admin:login")]


def sign_in(client, url: str, username: str, password: str, **extra):
    return client.post(url, {"username": username, "password": password}, **extra)


def signed_in(client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("url", LOGIN_PAGES)
def test_fifty_wrong_passwords_then_the_right_one_does_not_sign_in(personas, client, url):
    for attempt in range(50):
        sign_in(client, url, personas.owner.username, f"guess {attempt}")
    response = sign_in(client, url, personas.owner.username, PASSWORD)
    assert response.status_code == 429
    assert not signed_in(client)


def test_the_tenth_failure_locks_and_the_page_says_when_to_retry(personas, client, settings):
    assert settings.AXES_FAILURE_LIMIT == 10
    url = reverse("login")
    for attempt in range(9):
        assert sign_in(client, url, personas.owner.username, f"guess {attempt}").status_code == 200
    response = sign_in(client, url, personas.owner.username, "guess 9")
    assert response.status_code == 429
    assert response["Retry-After"] == "900"
    page = response.content.decode()
    assert "Too many sign-in attempts" in page
    assert "After 10 failed attempts for <strong>olivia</strong> from your address" in page
    assert "in 15 minutes. Each attempt before then starts the wait again." in page
    assert "Try again after <strong><time datetime=" in page


def test_a_successful_sign_in_resets_the_count(personas, client):
    url = reverse("login")
    for attempt in range(9):
        sign_in(client, url, personas.owner.username, f"guess {attempt}")
    assert sign_in(client, url, personas.owner.username, PASSWORD).status_code == 302
    client.logout()
    for attempt in range(9):
        assert sign_in(client, url, personas.owner.username, f"again {attempt}").status_code == 200
    assert sign_in(client, url, personas.owner.username, PASSWORD).status_code == 302
    assert signed_in(client)


def test_the_lockout_ends_fifteen_minutes_after_the_last_try(personas, client):
    url = reverse("login")
    for attempt in range(12):
        sign_in(client, url, personas.owner.username, f"guess {attempt}")
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=14))
    assert sign_in(client, url, personas.owner.username, PASSWORD).status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - timedelta(minutes=16))
    assert sign_in(client, url, personas.owner.username, PASSWORD).status_code == 302


def test_a_lockout_from_one_address_does_not_lock_the_user_out_elsewhere(personas, client):
    url = reverse("login")
    for attempt in range(50):
        sign_in(client, url, personas.owner.username, f"guess {attempt}", REMOTE_ADDR="203.0.113.9")
    assert (
        sign_in(client, url, personas.owner.username, PASSWORD, REMOTE_ADDR="198.51.100.7").status_code == 302
    )


def test_a_forged_forwarded_for_does_not_escape_the_lockout_behind_a_proxy(personas, client, settings):
    """The proxy appends the real address last; whatever a client puts before it changes nothing."""
    settings.BEHIND_PROXY = True
    url = reverse("login")
    for attempt in range(50):
        forged = f"10.0.0.{attempt}, 203.0.113.9"
        sign_in(client, url, personas.owner.username, f"guess {attempt}", HTTP_X_FORWARDED_FOR=forged)
    response = sign_in(
        client, url, personas.owner.username, PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9, 203.0.113.9"
    )
    assert response.status_code == 429
    assert not signed_in(client)


def test_without_a_proxy_forwarded_for_is_ignored(personas, client):
    url = reverse("login")
    for attempt in range(50):
        sign_in(
            client, url, personas.owner.username, f"guess {attempt}", HTTP_X_FORWARDED_FOR=f"10.0.0.{attempt}"
        )
    assert (
        sign_in(client, url, personas.owner.username, PASSWORD, HTTP_X_FORWARDED_FOR="10.1.1.1").status_code
        == 429
    )
