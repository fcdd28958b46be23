"""Checkers over HTTP: the editor's validation, runs, state, toggles audited, run now, test runs."""

from __future__ import annotations

import base64

import pytest
import wasmtime
from django.core.files.uploadedfile import SimpleUploadedFile

from alarms.models import AlarmState, ToggleLog
from checkers import tasks
from checkers.models import Checker, CheckRun, Trigger
from tests.sandbox.wat import REFERENCE

NS = "/api/v1/namespaces/alpha"


def test_the_seed_checkers_list_with_their_state(seed, personas, bearer):
    response = bearer(personas.viewer).get(f"{NS}/checkers/")
    assert response.status_code == 200
    by_slug = {c["slug"]: c for c in response.json()}
    assert set(by_slug) == {"few-null-emails", "few-null-emails-py"}
    assert by_slug["few-null-emails-py"]["datasets"] == ["users_with_email_null"]
    assert by_slug["few-null-emails"]["state"] == "unknown"


def test_an_editor_creates_a_python_checker(seed, personas, bearer):
    body = {
        "slug": "api-made",
        "name": "Made by the API",
        "kind": "python",
        "source": "ok('fine')\n",
        "datasets": ["users_with_email_null"],
        "schedule_every": 600,
    }
    response = bearer(personas.editor).post(f"{NS}/checkers/", body, format="json")
    assert response.status_code == 201, response.json()
    checker = Checker.objects.get(namespace=personas.a, slug="api-made")
    assert checker.source == "ok('fine')\n"
    assert list(checker.datasets.values_list("slug", flat=True)) == ["users_with_email_null"]


def test_a_python_syntax_error_is_400_on_the_source_as_in_the_editor(seed, personas, bearer):
    body = {
        "slug": "broken",
        "name": "Broken",
        "kind": "python",
        "source": "def check(:\n",
        "schedule_every": 600,
    }
    response = bearer(personas.editor).post(f"{NS}/checkers/", body, format="json")
    assert response.status_code == 400
    assert "source" in response.json()["error"]["fields"]
    assert not Checker.objects.filter(slug="broken").exists()


def test_a_dataset_of_another_namespace_is_400(seed, personas, bearer):
    body = {"slug": "x", "name": "X", "kind": "python", "source": "ok('x')", "datasets": ["nope"]}
    response = bearer(personas.editor).post(f"{NS}/checkers/", body, format="json")
    assert response.status_code == 400
    assert "datasets" in response.json()["error"]["fields"]


@pytest.mark.parametrize("how", ["multipart", "base64"])
def test_a_compiled_module_uploads_and_runs(seed, personas, bearer, how):
    module = wasmtime.wat2wasm(REFERENCE)
    client = bearer(personas.editor)
    fields = {"slug": "wasm-one", "name": "Wasm", "kind": "wasm", "schedule_every": "600"}
    if how == "multipart":
        response = client.post(
            f"{NS}/checkers/", {**fields, "wasm": SimpleUploadedFile("c.wasm", module)}, format="multipart"
        )
    else:
        response = client.post(
            f"{NS}/checkers/", {**fields, "wasm_base64": base64.b64encode(module).decode()}, format="json"
        )
    assert response.status_code == 201, response.json()
    assert response.json()["has_wasm_module"] is True
    assert response.json()["enabled"] is True
    assert bytes(Checker.objects.get(slug="wasm-one").wasm_module) == module


def test_a_file_that_is_not_wasm_is_400(seed, personas, bearer):
    body = {
        "slug": "w",
        "name": "W",
        "kind": "wasm",
        "wasm_base64": base64.b64encode(b"MZ not wasm").decode(),
    }
    response = bearer(personas.editor).post(f"{NS}/checkers/", body, format="json")
    assert response.status_code == 400
    assert "wasm" in response.json()["error"]["fields"]


def test_patch_changes_only_what_it_names(seed, personas, bearer):
    response = bearer(personas.editor).patch(
        f"{NS}/checkers/few-null-emails-py/", {"severity": "critical"}, format="json"
    )
    assert response.status_code == 200, response.json()
    checker = Checker.objects.get(slug="few-null-emails-py")
    assert checker.severity == "critical"
    assert checker.source == seed[1].source


def test_a_test_run_of_a_draft_records_nothing(seed, personas, bearer):
    draft = {"source": "fail('draft says no')\n"}
    response = bearer(personas.editor).post(f"{NS}/checkers/few-null-emails-py/test", draft, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "red"
    assert response.json()["messages"] == [{"level": "fail", "text": "draft says no"}]
    assert not CheckRun.objects.exists()
    assert Checker.objects.get(slug="few-null-emails-py").source == seed[1].source


def test_run_now_queues_a_run_a_worker_records(seed, personas, bearer, django_capture_on_commit_callbacks):
    client = bearer(personas.editor)
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(f"{NS}/checkers/few-null-emails/run")
    assert response.status_code == 202
    run = CheckRun.objects.get(uuid=response.json()["id"])
    assert (run.trigger, run.status, len(queued)) == (Trigger.API, "queued", 1)
    tasks.run_checker(run.pk)
    detail = client.get(f"{NS}/runs/{run.uuid}").json()
    assert detail["status"] == "green"
    state = client.get(f"{NS}/checkers/few-null-emails/state").json()
    assert state["state"] == "green"
    assert state["last_run"]["id"] == str(run.uuid)


def test_runs_list_filters_and_pages_with_a_cursor(seed, personas, bearer):
    rule, python = seed
    for status in ["green", "red", "green"]:
        CheckRun.objects.create(checker=rule, trigger="manual", status=status)
    CheckRun.objects.create(checker=python, trigger="manual", status="error")
    client = bearer(personas.viewer)
    page = client.get(f"{NS}/runs/", {"checker": "few-null-emails", "limit": 2}).json()
    assert len(page["results"]) == 2 and page["next"]
    rest = client.get(page["next"]).json()
    assert len(rest["results"]) == 1 and rest["next"] is None
    reds = client.get(f"{NS}/runs/", {"status": "red"}).json()["results"]
    assert [r["status"] for r in reds] == ["red"]


def test_toggles_are_audited_as_on_the_pages(seed, personas, bearer):
    rule, _ = seed
    AlarmState.objects.update_or_create(checker=rule, defaults={"state": "red"})
    client = bearer(personas.editor)
    url = f"{NS}/checkers/few-null-emails/toggle"
    assert client.post(url, {"action": "acknowledge", "reason": "on it"}, format="json").status_code == 200
    muted = client.post(url, {"action": "mute", "minutes": 30, "reason": "deploy"}, format="json")
    assert muted.status_code == 200 and muted.json()["muted_until"]
    assert client.post(url, {"action": "disable-alarming"}, format="json").status_code == 400
    assert (
        client.post(url, {"action": "disable-alarming", "reason": "noisy"}, format="json").status_code == 200
    )
    actions = list(
        ToggleLog.objects.filter(checker=rule).order_by("created").values_list("action", "by__username")
    )
    assert [a for a, _ in actions] == ["acknowledged", "muted", "disabled"]
    assert {by for _, by in actions} == {"eddie"}


def test_a_refused_toggle_is_400(seed, personas, bearer):
    response = bearer(personas.editor).post(
        f"{NS}/checkers/few-null-emails/toggle", {"action": "acknowledge"}, format="json"
    )
    assert response.status_code == 400
    assert "nothing to acknowledge" in response.json()["error"]["message"]


def test_a_mute_longer_than_a_year_in_minutes_is_400_not_a_server_error(seed, personas, bearer):
    """Found by the schema fuzzer: ten to the hundredth minutes overflowed the clock arithmetic."""
    url = f"{NS}/checkers/few-null-emails/toggle"
    response = bearer(personas.editor).post(url, {"action": "mute", "minutes": 10**100}, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"]["minutes"]
    year = bearer(personas.editor).post(url, {"action": "mute", "minutes": 366 * 24 * 60}, format="json")
    assert year.status_code == 200 and year.json()["muted_until"]
