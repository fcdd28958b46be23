"""Every API route with a namespace, every method it answers, against every persona and token scope.

Routes are discovered from the URL resolver, and an explicit table of the roles each needs is
checked both ways against what was discovered, so a new route fails here until it is listed.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import resolve, reverse
from django.utils import timezone
from rest_framework.test import APIClient

from alarms.models import MaintenanceWindow
from api.models import ApiToken
from tests.test_permission_matrix import URL_ARGUMENTS, _app_patterns

ARGUMENTS = {
    **URL_ARGUMENTS,
    "window": lambda personas: (
        MaintenanceWindow.objects.create(
            namespace=personas.a, name="deploy", cron="0 2 * * 0", duration_minutes=30
        ).uuid
    ),
}

# route name: (role to read, role to write); None where the route has no such method.
ROLES = {
    "api:namespace-detail": ("viewer", None),
    "api:namespace-config": ("owner", "owner"),
    "api:checker-list": ("viewer", "editor"),
    "api:checker-detail": ("viewer", "editor"),
    "api:checker-state": ("viewer", None),
    "api:checker-alarms": ("viewer", None),
    "api:checker-toggle": (None, "editor"),
    "api:checker-run": (None, "editor"),
    "api:checker-test": (None, "editor"),
    "api:run-list": ("viewer", None),
    "api:member-list": ("viewer", "owner"),
    "api:member-detail": ("viewer", "owner"),
    "api:datasource-list": ("viewer", "owner"),
    "api:datasource-detail": ("viewer", "owner"),
    "api:dataset-list": ("viewer", "editor"),
    "api:dataset-detail": ("viewer", "editor"),
    "api:dataset-preview": (None, "editor"),
    "api:runbook-list": ("viewer", "editor"),
    "api:runbook-detail": ("viewer", "editor"),
    "api:channel-list": ("viewer", "owner"),
    "api:channel-detail": ("viewer", "owner"),
    "api:channel-test": (None, "owner"),
    "api:window-list": ("viewer", "owner"),
    "api:window-detail": ("viewer", "owner"),
    "api:run-detail": ("viewer", None),
}
RANK = {"viewer": 1, "editor": 2, "owner": 3}
WRITES = ["post", "put", "patch", "delete"]
API_ROUTES = sorted(
    name for _, name, kwargs in _app_patterns() if name and name.startswith("api:") and "namespace" in kwargs
)


def methods(name: str, personas) -> list[str]:
    view = resolve(url(personas, name)).func.view_class
    return [m for m in ["get", *WRITES] if hasattr(view, m)]


def url(personas, name: str) -> str:
    kwargs_needed = next(kwargs for _, n, kwargs in _app_patterns() if n == name)
    return reverse(name, kwargs={k: ARGUMENTS[k](personas) for k in kwargs_needed})


def call(client: APIClient, method: str, path: str):
    return getattr(client, method)(path, {}, format="json")


def test_every_api_route_is_in_the_role_table_and_back():
    assert set(API_ROUTES) == set(ROLES)


@pytest.mark.parametrize("name", API_ROUTES)
class TestApiRoutes:
    def test_anonymous_gets_401(self, personas, name):
        for method in methods(name, personas):
            response = call(APIClient(), method, url(personas, name))
            assert response.status_code == 401, method
            assert set(response.json()["error"]) == {"code", "message", "fields"}

    @pytest.mark.parametrize("who", ["outsider", "stranger"])
    def test_outsiders_get_404_whatever_the_method(self, personas, bearer, name, who):
        client = bearer(personas[who])
        for method in methods(name, personas):
            response = call(client, method, url(personas, name))
            assert response.status_code == 404, method
            assert response.json()["error"]["code"] == "not_found"

    def test_a_token_for_another_namespace_gets_404(self, personas, bearer, name):
        client = bearer(personas.superuser, namespace=personas.b)
        for method in methods(name, personas):
            assert call(client, method, url(personas, name)).status_code == 404, method

    @pytest.mark.parametrize("state", ["expired", "revoked"])
    def test_expired_and_revoked_tokens_get_401(self, personas, bearer, name, state):
        client = bearer(personas.owner)
        if state == "expired":
            ApiToken.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
        else:
            ApiToken.objects.update(revoked_at=timezone.now())
        for method in methods(name, personas):
            assert call(client, method, url(personas, name)).status_code == 401, method

    @pytest.mark.parametrize("role", ["viewer", "editor", "owner"])
    def test_reads_follow_the_role(self, personas, bearer, name, role):
        needed = ROLES[name][0]
        if needed is None:
            return
        response = bearer(personas[role]).get(url(personas, name))
        assert response.status_code == (200 if RANK[role] >= RANK[needed] else 403)

    @pytest.mark.parametrize("role", ["viewer", "editor"])
    def test_writes_below_the_role_get_403(self, personas, bearer, name, role):
        needed = ROLES[name][1]
        if needed is None or RANK[role] >= RANK[needed]:
            return
        client = bearer(personas[role])
        for method in [m for m in methods(name, personas) if m in WRITES]:
            response = call(client, method, url(personas, name))
            assert response.status_code == 403, method
            assert response.json()["error"]["code"] == "permission_denied"

    def test_a_read_only_tokens_writes_get_403(self, personas, bearer, name):
        client = bearer(personas.owner, read_only=True)
        for method in [m for m in methods(name, personas) if m in WRITES]:
            response = call(client, method, url(personas, name))
            assert response.status_code == 403, method
            assert "read-only" in response.json()["error"]["message"]
        if ROLES[name][0]:
            assert client.get(url(personas, name)).status_code == 200

    def test_writes_at_the_role_pass_the_gate(self, personas, bearer, name):
        """The table's other way: the lowest role it names for writes is let through (a 400 for
        the empty body, a 2xx, never a 403 or 404), so a route too strict fails here too."""
        needed = ROLES[name][1]
        if needed is None:
            return
        client = bearer(personas[needed])
        for method in [m for m in methods(name, personas) if m in WRITES]:
            response = call(client, method, url(personas, name))
            assert response.status_code not in {401, 403, 404, 405}, (method, response.json())
