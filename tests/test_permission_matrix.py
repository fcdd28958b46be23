"""Every admin URL of every tenant-owned model, and every page, against every persona.

The URLs are discovered from the admin registry and the URL resolver, so models and pages
added later are covered without anyone listing them here.
"""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.forms import ModelChoiceField
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from alarms.models import Channel
from checkers.models import Checker, CheckRun, Dataset, Datasource, TestRun
from namespaces.access import is_tenant_owned, namespace_of
from namespaces.models import Namespace, Role
from namespaces.tenant_admin import TenantAdminMixin
from runbooks.models import Runbook
from tests.factories import make

TENANT_ADMINS = sorted(
    (model for model, ma in admin.site._registry.items() if isinstance(ma, TenantAdminMixin)),
    key=lambda m: m._meta.label,
)
GLOBAL_ADMINS = sorted(
    (model for model, ma in admin.site._registry.items() if not isinstance(ma, TenantAdminMixin)),
    key=lambda m: m._meta.label,
)
OBJECT_ACTIONS = ["change", "delete", "history"]


def admin_url(model, action: str, obj=None) -> str:
    name = f"admin:{model._meta.app_label}_{model._meta.model_name}_{action}"
    return reverse(name, args=[obj.pk] if obj is not None else [])


# The least role that may add, change and delete each tenant model in the admin; None: nobody
# (history the app writes). Written out rather than read from the admin classes, so an admin that
# lets one role too many fails here; a new model fails test_every_admin_has_its_rights_written_down.
ADMIN_EDIT_ROLES: dict[str, Role | None] = {
    "alarms.AlarmDefaults": Role.OWNER,
    "alarms.AlarmEvent": None,
    "alarms.AlarmPolicy": Role.EDITOR,
    "alarms.AlarmState": None,
    "alarms.Channel": Role.OWNER,
    "alarms.MaintenanceWindow": Role.OWNER,
    "alarms.Notification": None,
    "alarms.ToggleLog": None,
    "alarms.Transition": None,
    "checkers.CheckRun": None,
    "checkers.Checker": Role.EDITOR,
    "checkers.Dataset": Role.EDITOR,
    "checkers.Datasource": Role.OWNER,
    "checkers.Retention": Role.OWNER,
    "namespaces.Membership": Role.OWNER,
    "namespaces.Namespace": Role.OWNER,
    "runbooks.Runbook": Role.EDITOR,
}


def may_edit(role: Role, model) -> bool:
    needed = ADMIN_EDIT_ROLES[model._meta.label]
    return needed is not None and role.allows(needed)


def test_every_admin_has_its_rights_written_down():
    assert sorted(ADMIN_EDIT_ROLES) == [model._meta.label for model in TENANT_ADMINS]


def in_changelist(response, obj) -> bool:
    return obj.pk in {row.pk for row in response.context["cl"].result_list}


@pytest.mark.parametrize("model", TENANT_ADMINS, ids=lambda m: m._meta.label)
class TestTenantAdmin:
    @pytest.mark.parametrize("action", OBJECT_ACTIONS)
    def test_outsider_gets_404_for_another_namespaces_object(self, personas, login, model, action):
        obj = make(model, personas.a)
        client = login(personas.outsider)
        assert client.get(admin_url(model, action, obj)).status_code == 404
        assert client.post(admin_url(model, action, obj), {"post": "yes"}).status_code == 404
        assert type(obj).objects.filter(pk=obj.pk).exists()

    def test_outsider_changelist_shows_no_rows_of_another_namespace(self, personas, login, model):
        obj = make(model, personas.a)
        response = login(personas.outsider).get(admin_url(model, "changelist"))
        assert response.status_code == 200
        assert not in_changelist(response, obj)
        assert personas.a.name not in response.content.decode()

    def test_outsider_choices_hold_nothing_of_another_namespace(self, personas, login, model):
        make(model, personas.a)
        response = login(personas.outsider).get(admin_url(model, "add"))
        assert response.status_code in {200, 403}
        if response.status_code == 403:
            assert not may_edit(Role.OWNER, model) or model is Namespace
            return
        for name, field in response.context["adminform"].form.fields.items():
            if isinstance(field, ModelChoiceField):
                owned = [c for c in field.queryset if is_tenant_owned(type(c))]
                assert personas.a not in {namespace_of(c) for c in owned}, name

    @pytest.mark.parametrize("role", ["owner", "editor", "viewer", "superuser"])
    def test_members_see_their_namespaces_rows(self, personas, login, model, role):
        obj = make(model, personas.a)
        client = login(personas[role])
        response = client.get(admin_url(model, "changelist"))
        assert response.status_code == 200
        assert in_changelist(response, obj)
        assert client.get(admin_url(model, "change", obj)).status_code == 200
        assert client.get(admin_url(model, "history", obj)).status_code == 200

    @pytest.mark.parametrize("role", ["owner", "editor", "viewer", "superuser"])
    def test_edit_rights_follow_the_role(self, personas, login, model, role):
        obj = make(model, personas.a)
        client = login(personas[role])
        change = client.get(admin_url(model, "change", obj))
        assert change.status_code == 200
        if may_edit(Role.OWNER if role == "superuser" else Role(role), model):
            assert 'name="_save"' in change.content.decode()
            if model is not Namespace:
                assert client.get(admin_url(model, "add")).status_code == 200
            return
        before = model.objects.count()
        assert 'name="_save"' not in change.content.decode()
        assert client.get(admin_url(model, "add")).status_code == 403
        assert client.post(admin_url(model, "add"), {}).status_code == 403
        assert client.post(admin_url(model, "change", obj), {}).status_code == 403
        assert client.get(admin_url(model, "delete", obj)).status_code == 403
        assert client.post(admin_url(model, "delete", obj), {"post": "yes"}).status_code == 403
        assert model.objects.count() == before


@pytest.mark.parametrize("model", GLOBAL_ADMINS, ids=lambda m: m._meta.label)
@pytest.mark.parametrize("role", ["owner", "editor", "viewer", "outsider"])
def test_global_models_are_for_superusers_only(personas, login, model, role):
    client = login(personas[role])
    assert client.get(admin_url(model, "changelist")).status_code == 403
    assert client.get(admin_url(model, "add")).status_code == 403


@pytest.mark.parametrize("model", GLOBAL_ADMINS, ids=lambda m: m._meta.label)
def test_superuser_reaches_global_models(personas, login, model):
    assert login(personas.superuser).get(admin_url(model, "changelist")).status_code == 200


def test_editors_cannot_manage_members(personas, login):
    from namespaces.models import Membership

    client = login(personas.editor)
    response = client.post(
        admin_url(Membership, "add"),
        {"namespace": personas.a.pk, "username": personas.stranger.username, "role": "owner"},
    )
    assert response.status_code == 403
    assert not personas.stranger.memberships.exists()


def test_stranger_without_a_namespace_cannot_use_the_admin(personas, login):
    response = login(personas.stranger).get(reverse("admin:index"))
    assert response.status_code == 302
    assert reverse("admin:login") in response["Location"]


def test_global_permissions_grant_no_tenant_rows(personas, login):
    """A user holding every Django model permission still sees only their own namespace."""
    from django.contrib.auth.models import Permission

    personas.outsider.user_permissions.set(Permission.objects.all())
    obj = make(Namespace, personas.a)
    client = login(personas.outsider)
    assert client.get(admin_url(Namespace, "change", obj)).status_code == 404
    response = client.get(admin_url(Namespace, "changelist"))
    assert not in_changelist(response, obj)


def _app_patterns(resolver: URLResolver | None = None, prefix: str = ""):
    """Every app URL pattern outside the admin, as (route, name, kwarg names)."""
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            if entry.app_name != "admin":
                name_prefix = f"{entry.namespace}:" if entry.namespace else ""
                for sub_route, name, kwargs in _app_patterns(entry, route):
                    yield sub_route, name_prefix + name if name else None, kwargs
        elif isinstance(entry, URLPattern):
            yield route, entry.name, list(entry.pattern.converters)


# The API's routes answer 401 and JSON, not a sign-in redirect: tests/api/test_api_permission_matrix.py.
NAMESPACED_PAGES = sorted(
    name
    for _, name, kwargs in _app_patterns()
    if name and "namespace" in kwargs and not name.startswith("api:")
)
# Values for every URL argument a namespaced page may take, for objects of namespace A.
URL_ARGUMENTS = {
    "namespace": lambda personas: personas.a.slug,
    "runbook": lambda personas: make(Runbook, personas.a).slug,
    "checker": lambda personas: make(Checker, personas.a).slug,
    "run": lambda personas: make(CheckRun, personas.a).uuid,
    "test_run": lambda personas: make(TestRun, personas.a).uuid,
    "datasource": lambda personas: make(Datasource, personas.a).slug,
    "dataset": lambda personas: make(Dataset, personas.a).slug,
    "channel": lambda personas: make(Channel, personas.a).slug,
    "member": lambda personas: personas.viewer.username,
}


def page_url(personas, name: str) -> str:
    kwargs_needed = next(kwargs for _, n, kwargs in _app_patterns() if n == name)
    missing = [k for k in kwargs_needed if k not in URL_ARGUMENTS]
    assert not missing, f"Add URL_ARGUMENTS for {missing} (used by {name})"
    return reverse(name, kwargs={k: URL_ARGUMENTS[k](personas) for k in kwargs_needed})


def test_pages_are_discovered():
    assert "namespaces:detail" in NAMESPACED_PAGES


# Eager tasks: an editor's POST to a test run finishes in the request instead of waiting for a worker.
@pytest.mark.usefixtures("eager_tasks")
@pytest.mark.parametrize("name", NAMESPACED_PAGES)
class TestNamespacedPages:
    def test_anonymous_is_sent_to_sign_in(self, personas, client, name):
        response = client.get(page_url(personas, name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("login"))

    @pytest.mark.parametrize("role", ["outsider", "stranger"])
    def test_outsiders_get_404(self, personas, login, name, role):
        client = login(personas[role])
        assert client.get(page_url(personas, name)).status_code == 404
        assert client.post(page_url(personas, name)).status_code in {404, 405}

    @pytest.mark.parametrize("role", ["owner", "editor", "viewer", "superuser"])
    def test_each_role_gets_exactly_its_rights(self, personas, login, name, role):
        """GET and POST answer by the table below, so a page that lets one role too many (an
        editor deleting a channel) or too few fails here."""
        reads, writer = PAGE_ROLES[name]
        holds = Role.OWNER if role == "superuser" else Role(role)
        client = login(personas[role])
        assert client.get(page_url(personas, name)).status_code == (200 if reads else 405)
        answer = client.post(page_url(personas, name)).status_code
        if writer is None:
            assert answer == 405
        elif holds.allows(writer):
            assert answer not in {403, 404, 405} and answer < 500, answer
        else:
            assert answer == 403


# Every namespaced page: (members may GET it, the least role that may POST to it or None).
# Written out rather than read from the views, so that a view that lets one role too many
# fails the matrix; a new page fails test_every_page_has_its_rights_written_down.
EDITOR, OWNER = Role.EDITOR, Role.OWNER
PAGE_ROLES: dict[str, tuple[bool, Role | None]] = {
    "namespaces:detail": (True, None),
    "namespaces:dashboard-live": (True, None),
    "namespaces:alarms": (True, None),
    "namespaces:settings": (True, OWNER),
    "namespaces:member": (False, OWNER),
    "namespaces:channels": (True, None),
    "namespaces:channel-create": (True, OWNER),
    "namespaces:channel-edit": (True, OWNER),
    "namespaces:channel-test": (False, OWNER),
    "namespaces:channel-delete": (True, OWNER),
    "namespaces:maintenance": (True, OWNER),
    "namespaces:alarm-defaults": (True, OWNER),
    "checkers:calendar": (True, OWNER),
    "checkers:retention": (True, OWNER),
    "runbooks:list": (True, None),
    "runbooks:create": (True, EDITOR),
    "runbooks:detail": (True, None),
    "runbooks:edit": (True, EDITOR),
    "checkers:create": (True, EDITOR),
    "checkers:schedule-preview": (True, None),
    "checkers:detail": (True, None),
    "checkers:edit": (True, EDITOR),
    "checkers:delete": (True, EDITOR),
    "checkers:run": (False, EDITOR),
    "checkers:test": (False, EDITOR),
    "checkers:acknowledge": (False, EDITOR),
    "checkers:unacknowledge": (False, EDITOR),
    "checkers:mute": (False, EDITOR),
    "checkers:unmute": (False, EDITOR),
    "checkers:disable-alarming": (False, EDITOR),
    "checkers:enable-alarming": (False, EDITOR),
    "checkers:run-detail": (True, None),
    "checkers:test-run": (True, None),
    "checkers:datasource-list": (True, None),
    "checkers:datasource-create": (True, OWNER),
    "checkers:datasource-edit": (True, OWNER),
    "checkers:datasource-delete": (True, OWNER),
    "checkers:dataset-list": (True, None),
    "checkers:dataset-create": (True, EDITOR),
    "checkers:dataset-edit": (True, EDITOR),
    "checkers:dataset-delete": (True, EDITOR),
}


def test_every_page_has_its_rights_written_down():
    assert sorted(PAGE_ROLES) == NAMESPACED_PAGES
