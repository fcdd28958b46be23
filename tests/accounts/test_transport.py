"""Transport: with an https SITE_URL, Secure cookies, HSTS and a redirect to https; a CSP everywhere.

The settings come from the environment, so they are read in a fresh process per case.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.urls import reverse

from malleable.settings import BASE_DIR
from tests.personas import PASSWORD

# The README's "Production" settings, as an operator would set them.
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "k7Qp2vXz9LmN4rT8wY1bC6dF3gH5jK0sA2eR7uI9oP4qW6xZ8vB1nM3cL5kJ7hG9fD",
    "ALLOWED_HOSTS": "malleable.example.com",
    "SITE_URL": "https://malleable.example.com",
}
CSP = {
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: https:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
}
SHOWN = [
    "SESSION_COOKIE_SECURE",
    "CSRF_COOKIE_SECURE",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "SECURE_HSTS_INCLUDE_SUBDOMAINS",
    "SECURE_HSTS_PRELOAD",
    "SECURE_PROXY_SSL_HEADER",
]


def directives(response) -> set[str]:
    """The policy's directives; django-csp writes them in no fixed order."""
    return {part.strip() for part in response["Content-Security-Policy"].split(";")}


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    unset = {*PRODUCTION, "DATABASE_URL", *(f"MALLEABLE_{name}" for name in ("BEHIND_PROXY", "SSL_REDIRECT"))}
    environ = {k: v for k, v in os.environ.items() if k not in unset and not k.startswith("MALLEABLE_HSTS")}
    return subprocess.run(
        [sys.executable, *args], cwd=BASE_DIR, env=environ | env, capture_output=True, text=True, timeout=120
    )


def transport_settings(**env: str) -> dict:
    code = (
        "import json, malleable.settings as s; "
        f"print(json.dumps({{name: getattr(s, name, None) for name in {SHOWN!r}}}))"
    )
    result = _run(["-c", code], **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_check_deploy_is_clean_under_the_production_settings():
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "System check identified no issues (2 silenced)."


def test_an_https_site_url_turns_on_secure_cookies_hsts_and_the_redirect():
    assert transport_settings(**PRODUCTION) == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_SSL_REDIRECT": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None,
    }


def test_plain_http_for_local_use_keeps_them_off():
    assert transport_settings(SITE_URL="http://127.0.0.1:8000") == {
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_SSL_REDIRECT": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_HSTS_PRELOAD": False,
        "SECURE_PROXY_SSL_HEADER": None,
    }


def test_the_operator_sets_hsts_and_the_proxy():
    shown = transport_settings(
        **PRODUCTION,
        MALLEABLE_HSTS_SECONDS="600",
        MALLEABLE_HSTS_INCLUDE_SUBDOMAINS="yes",
        MALLEABLE_BEHIND_PROXY="true",
        MALLEABLE_SSL_REDIRECT="false",
    )
    assert shown["SECURE_HSTS_SECONDS"] == 600
    assert shown["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True
    assert shown["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert shown["SECURE_SSL_REDIRECT"] is False


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("MALLEABLE_HSTS_SECONDS", "a year", "MALLEABLE_HSTS_SECONDS='a year' is not a valid int"),
        ("MALLEABLE_BEHIND_PROXY", "maybe", "MALLEABLE_BEHIND_PROXY='maybe' is not a boolean"),
        ("MALLEABLE_LOGIN_FAILURE_LIMIT", "0", "MALLEABLE_LOGIN_FAILURE_LIMIT=0 must be at least 1"),
        ("MALLEABLE_LOGIN_COOLOFF_MINUTES", "-5", "MALLEABLE_LOGIN_COOLOFF_MINUTES=-5 must be at least 1"),
        ("MALLEABLE_ALARM_QUICK_TRIES", "0", "MALLEABLE_ALARM_QUICK_TRIES=0 must be at least 1"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(variable, value, message):
    result = _run(["-c", "import malleable.settings"], **PRODUCTION, **{variable: value})
    assert result.returncode != 0
    assert message in result.stderr.strip().splitlines()[-1]


def test_https_responses_carry_hsts_and_secure_cookies(personas, client, settings):
    settings.SECURE_HSTS_SECONDS = 31536000
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    page = client.get(reverse("login"), secure=True)
    assert page["Strict-Transport-Security"] == "max-age=31536000"
    assert page.cookies["csrftoken"]["secure"] is True
    response = client.post(
        reverse("login"), {"username": personas.owner.username, "password": PASSWORD}, secure=True
    )
    assert response.status_code == 302
    assert response.cookies["sessionid"]["secure"] is True
    assert response.cookies["sessionid"]["httponly"] is True


def test_plain_http_is_redirected_to_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    response = client.get(reverse("login"))
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/accounts/login/"


def test_behind_the_proxy_its_forwarded_proto_counts_as_https(client, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert client.get(reverse("login"), HTTP_X_FORWARDED_PROTO="https").status_code == 200
    assert client.get(reverse("login"), HTTP_X_FORWARDED_PROTO="http").status_code == 301


@pytest.mark.parametrize("name", ["login", "admin:login"])
def test_every_response_carries_the_content_security_policy(db, client, name):
    assert directives(client.get(reverse(name))) == CSP


def test_pages_carry_it_too(personas, login):
    client = login(personas.owner)
    for url in ["/", "/n/alpha/", "/n/alpha/settings/", "/admin/"]:
        assert directives(client.get(url)) == CSP, url


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        ("postgresql://u@db.example.com/malleable", 300),
        ("postgresql://u@db.example.com/malleable?conn_max_age=0", 0),
    ],
)
def test_database_connections_are_kept_and_checked_unless_the_url_says_how_long(url, kept):
    """Kept between requests and tasks (a worker that connected for each task started a PostgreSQL
    backend for each run; tests/checkers/test_celery_e2e.py counts them), checked before reuse."""
    code = "import malleable.settings as s; d = s.DATABASES['default']"
    code += "; print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"
    result = _run(["-c", code], DATABASE_URL=url)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(kept), "True"]
