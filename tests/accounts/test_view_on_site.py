"""The admin's "view on site" (/admin/r/<content type>/<id>/) is scoped like every other admin URL."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.contrib.contenttypes.models import ContentType
from django.contrib.sessions.models import Session
from django.urls import reverse

from checkers.models import Checker
from namespaces.tenant_admin import TenantAdminMixin
from tests.factories import make

TENANT_ADMINS = sorted(
    (model for model, ma in admin.site._registry.items() if isinstance(ma, TenantAdminMixin)),
    key=lambda m: m._meta.label,
)


def view_on_site(obj) -> str:
    content_type = ContentType.objects.get_for_model(obj)
    return reverse("admin:view_on_site", args=[content_type.pk, obj.pk])


def test_a_member_of_another_namespace_gets_404_that_tells_nothing(personas, login):
    checker = Checker.objects.create(namespace=personas.b, slug="beta-secret-plan", name="Beta's secret plan")
    response = login(personas.owner).get(view_on_site(checker))
    assert response.status_code == 404
    assert "Location" not in response
    page = response.content.decode()
    assert "beta" not in page
    assert "secret-plan" not in page


def test_a_member_is_sent_to_the_checker_page(personas, login):
    checker = Checker.objects.create(namespace=personas.b, slug="beta-secret-plan", name="Beta's secret plan")
    response = login(personas.outsider).get(view_on_site(checker))
    assert response.status_code == 302
    assert response["Location"] == "http://testserver/n/beta/checkers/beta-secret-plan/"


@pytest.mark.parametrize("model", TENANT_ADMINS, ids=lambda m: m._meta.label)
def test_outsiders_get_404_for_every_tenant_model(personas, login, model):
    obj = make(model, personas.a)
    response = login(personas.outsider).get(view_on_site(obj))
    assert response.status_code == 404
    assert "Location" not in response


@pytest.mark.parametrize("model", TENANT_ADMINS, ids=lambda m: m._meta.label)
def test_viewers_reach_what_has_a_page(personas, login, model):
    obj = make(model, personas.a)
    response = login(personas.viewer).get(view_on_site(obj))
    if hasattr(obj, "get_absolute_url"):
        assert response.status_code == 302
        assert response["Location"] == f"http://testserver{obj.get_absolute_url()}"
    else:
        assert response.status_code == 404


def test_unknown_ids_and_unregistered_models_are_404(personas, login):
    client = login(personas.owner)
    checker_type = ContentType.objects.get_for_model(Checker).pk
    assert client.get(reverse("admin:view_on_site", args=[checker_type, 987654])).status_code == 404
    assert client.get(reverse("admin:view_on_site", args=[checker_type, "not-a-pk"])).status_code == 404
    assert client.get(reverse("admin:view_on_site", args=[987654, 1])).status_code == 404
    session_type = ContentType.objects.get_for_model(Session).pk
    assert client.get(reverse("admin:view_on_site", args=[session_type, "x"])).status_code == 404


def test_global_objects_are_for_superusers_only(personas, login):
    user_type = ContentType.objects.get_for_model(personas.stranger).pk
    url = reverse("admin:view_on_site", args=[user_type, personas.stranger.pk])
    assert login(personas.owner).get(url).status_code == 404


def test_anonymous_is_sent_to_sign_in(personas, client):
    checker = Checker.objects.create(namespace=personas.b, slug="beta-secret-plan", name="Beta's secret plan")
    response = client.get(view_on_site(checker))
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
