"""Checks as code over HTTP: the export equals export_config, imports are all or nothing."""

from __future__ import annotations

from io import StringIO

import yaml
from django.core.management import call_command

from checkers.models import Checker

URL = "/api/v1/namespaces/alpha/config"


def export(client) -> str:
    response = client.get(URL)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/yaml")
    return response.content.decode()


def test_the_export_is_export_configs(seed, personas, bearer):
    out = StringIO()
    call_command("export_config", "--namespace", "alpha", stdout=out)
    assert export(bearer(personas.owner)) == out.getvalue()


def test_a_round_trip_changes_nothing(seed, personas, bearer):
    client = bearer(personas.owner)
    text = export(client)
    response = client.post(URL, text, content_type="application/yaml")
    assert response.status_code == 200, response.json()
    assert response.json()["changed"] is False
    assert export(client) == text


def test_a_dry_run_returns_the_plan_and_changes_nothing(seed, personas, bearer):
    client = bearer(personas.owner)
    document = yaml.safe_load(export(client))
    document["namespaces"][0]["checkers"][1]["python"] = "ok('changed')\n"
    response = client.post(f"{URL}?dry_run=1", {"yaml": yaml.safe_dump(document)}, format="json")
    assert response.status_code == 200, response.json()
    plan = response.json()
    assert plan["dry_run"] is True and plan["changed"] is True
    changed = [c for c in plan["changes"] if c["action"] == "updated"]
    assert changed == [
        {"type": "checker", "object": "alpha/few-null-emails-py", "action": "updated", "keys": ["python"]}
    ]
    assert Checker.objects.get(slug="few-null-emails-py").source != "ok('changed')\n"


def test_errors_carry_line_and_column_and_nothing_changes(seed, personas, bearer):
    text = (
        "namespaces:\n  - slug: alpha\n    checkers:\n      - slug: new-one\n"
        "        python: ok('x')\n        schedule: nonsense\n"
    )
    response = bearer(personas.owner).post(URL, text, content_type="application/yaml")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_config"
    assert any(e["line"] == 6 and e["path"].endswith("schedule") for e in error["errors"]), error
    assert not Checker.objects.filter(slug="new-one").exists()


def test_a_file_for_another_namespace_is_refused(seed, personas, bearer):
    response = bearer(personas.owner).post(
        URL, "namespaces:\n  - slug: beta\n", content_type="application/yaml"
    )
    assert response.status_code == 400
    assert "namespaces" in response.json()["error"]["fields"]


def test_wasm_paths_on_the_server_are_refused(seed, personas, bearer):
    text = "namespaces:\n  - slug: alpha\n    checkers:\n      - slug: x\n        wasm: /etc/hostname\n"
    response = bearer(personas.owner).post(URL, text, content_type="application/yaml")
    assert response.status_code == 400
    assert "checkers" in response.json()["error"]["fields"]


def test_secret_references_read_the_requests_env_never_the_servers(seed, personas, bearer, monkeypatch):
    monkeypatch.setenv("SERVER_SECRET", "s3cret")
    text = (
        "namespaces:\n  - slug: alpha\n    datasources:\n      - slug: pg\n        engine: postgresql\n"
        "        url: postgresql://reader@203.0.113.7/shop\n        password: ${SERVER_SECRET}\n"
    )
    response = bearer(personas.owner).post(f"{URL}?dry_run=1", {"yaml": text}, format="json")
    assert response.status_code == 400
    assert "SERVER_SECRET" in response.json()["error"]["message"]
    allowed = bearer(personas.owner).post(
        f"{URL}?dry_run=1", {"yaml": text, "env": {"SERVER_SECRET": "given"}}, format="json"
    )
    assert allowed.status_code == 200, allowed.json()
    assert "given" not in allowed.content.decode()


def test_editors_may_not_import_or_export(seed, personas, bearer):
    client = bearer(personas.editor)
    assert client.get(URL).status_code == 403
    assert client.post(URL, "namespaces: []\n", content_type="application/yaml").status_code == 403
