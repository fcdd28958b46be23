"""The checkers' admin: secrets stay write-only, actions respect roles, uploads are checked."""

import pytest
from django.urls import reverse

from checkers.models import Checker, CheckRun, Datasource

PASSWORD = "hunter2-very-secret"


@pytest.fixture
def datasource(personas, shop):
    return Datasource.objects.create(
        namespace=personas.a, slug="shop", engine="sqlite", url=shop.url, password=PASSWORD
    )


# The rules inline's management form, for a checker posted without rules.
NO_RULES = {"rules-TOTAL_FORMS": "0", "rules-INITIAL_FORMS": "0"}


def change_url(obj) -> str:
    return reverse(f"admin:checkers_{obj._meta.model_name}_change", args=[obj.pk])


@pytest.mark.parametrize("role", ["owner", "editor", "viewer", "superuser"])
def test_datasource_secrets_are_never_rendered(personas, login, datasource, shop, role):
    content = login(personas[role]).get(change_url(datasource)).content.decode()
    assert PASSWORD not in content
    assert str(shop.path) not in content
    assert "shop.sqlite3" in content or role in {"owner", "superuser"}


def test_blank_secrets_on_edit_keep_the_stored_ones(personas, login, datasource):
    form = {
        "namespace": personas.a.pk,
        "slug": "shop",
        "name": "Shop",
        "engine": "sqlite",
        "url": "",
        "password": "",
        "statement_timeout": 5,
        "row_cap": 100,
        "max_concurrency": 2,
    }
    response = login(personas.owner).post(change_url(datasource), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    datasource.refresh_from_db()
    assert datasource.password == PASSWORD
    assert datasource.url.startswith("sqlite:///")
    assert datasource.name == "Shop"


def test_datasource_outside_the_sqlite_directory_is_refused(personas, login):
    form = {
        "namespace": personas.a.pk,
        "slug": "etc",
        "engine": "sqlite",
        "url": "sqlite:////etc/passwd",
        "statement_timeout": 5,
        "row_cap": 100,
        "max_concurrency": 2,
    }
    response = login(personas.owner).post(reverse("admin:checkers_datasource_add"), form)
    assert response.status_code == 200
    assert not Datasource.objects.filter(slug="etc").exists()
    assert "errorlist" in response.content.decode()


def test_only_owners_test_connections(personas, login, datasource):
    data = {"action": "test_connection", "_selected_action": [datasource.pk]}
    url = reverse("admin:checkers_datasource_changelist")
    viewer = login(personas.viewer).post(url, data, follow=True)
    assert "Connected" not in viewer.content.decode()
    owner = login(personas.owner).post(url, data, follow=True)
    assert "SQLite" in owner.content.decode()


def test_viewer_cannot_run_a_checker(personas, login, seed):
    data = {"action": "run_now", "_selected_action": [seed[0].pk]}
    login(personas.viewer).post(reverse("admin:checkers_checker_changelist"), data, follow=True)
    assert not CheckRun.objects.exists()


def test_editor_runs_a_checker_from_the_admin(personas, login, seed, shop):
    shop.set_null_emails(50)
    data = {"action": "run_now", "_selected_action": [seed[0].pk]}
    response = login(personas.editor).post(reverse("admin:checkers_checker_changelist"), data, follow=True)
    assert CheckRun.objects.get().status == "red"
    assert "few-null-emails: red" in next(str(m) for m in response.context["messages"])


def test_a_non_wasm_upload_is_refused(personas, login, seed):
    from django.core.files.uploadedfile import SimpleUploadedFile

    checker = seed[1]
    form = {
        "namespace": personas.a.pk,
        "slug": checker.slug,
        "name": checker.name,
        "kind": "wasm",
        "severity": "warning",
        "schedule_every": 300,
        "params": "{}",
        "enabled": "on",
        "wasm_upload": SimpleUploadedFile("evil.wasm", b"MZ\x90\x00not wasm"),
        **NO_RULES,
    }
    response = login(personas.editor).post(change_url(checker), form)
    assert "is not a WebAssembly module" in response.content.decode()
    assert Checker.objects.get(pk=checker.pk).kind == "python"


def test_a_new_password_forgets_its_environment_variable(personas, login, datasource):
    Datasource.objects.filter(pk=datasource.pk).update(password_env="SHOP_DB_PASSWORD")
    form = {
        "namespace": personas.a.pk,
        "slug": "shop",
        "engine": "sqlite",
        "url": "",
        "password": "new-one",
        "statement_timeout": 5,
        "row_cap": 100,
        "max_concurrency": 2,
    }
    assert login(personas.owner).post(change_url(datasource), form).status_code == 302
    datasource.refresh_from_db()
    assert (datasource.password, datasource.password_env) == ("new-one", "")


def test_the_checker_form_shows_and_edits_tags(personas, login, seed):
    checker = seed[1]
    Checker.objects.filter(pk=checker.pk).update(tags="billing")
    client = login(personas.editor)
    assert 'name="tags" value="billing"' in client.get(change_url(checker)).content.decode()
    form = {
        "namespace": personas.a.pk,
        "slug": checker.slug,
        "name": checker.name,
        "kind": checker.kind,
        "severity": checker.severity,
        "tags": "Nightly, billing",
        "source": checker.source,
        "datasets": [d.pk for d in checker.datasets.all()],
        "schedule_cron": checker.schedule_cron,
        "schedule_every": checker.schedule_every or "",
        "params": "{}",
        "enabled": "on",
        **NO_RULES,
    }
    assert client.post(change_url(checker), form).status_code == 302
    assert Checker.objects.get(pk=checker.pk).tags == "billing nightly"
