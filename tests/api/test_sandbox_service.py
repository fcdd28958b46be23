"""POST /api/v1/sandbox/run: sandbox_run --json's object over HTTP, within the operator's limits."""

from __future__ import annotations

import base64
import json

import pytest
import wasmtime
from django.core.management import call_command

from tests.sandbox.test_attacks import GROW_FOREVER, INFINITE_LOOP
from tests.sandbox.wat import DATASETS, REFERENCE

URL = "/api/v1/sandbox/run"
SEED = """
def check():
    users = datasets["users_with_email_null"]
    print("rows:", len(users), "truncated:", users.truncated)
    CheckerCase().assertLessThan(users, 42, "There should be less than 42 users in that state")
"""
USERS_50 = {"columns": ["username"], "rows": [[f"user{i}"] for i in range(50)]}


def test_a_python_checker_answers_with_sandbox_runs_object(personas, bearer, tmp_path, capsys):
    response = bearer(personas.viewer).post(
        URL, {"python": SEED, "datasets": {"users_with_email_null": USERS_50}}, format="json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "red"
    assert body["messages"] == [
        {
            "level": "fail",
            "text": "There should be less than 42 users in that state "
            "(50 rows in users_with_email_null, expected < 42)",
        }
    ]
    assert body["error"] is None
    assert body["logs"] == "rows: 50 truncated: False\n"
    (tmp_path / "seed.py").write_text(SEED)
    (tmp_path / "users.json").write_text(json.dumps(USERS_50))
    with pytest.raises(SystemExit):
        call_command(
            "sandbox_run",
            str(tmp_path / "seed.py"),
            "--dataset",
            f"users_with_email_null={tmp_path / 'users.json'}",
            "--json",
        )
    command = json.loads(capsys.readouterr().out)
    assert set(body) == set(command) == {"status", "messages", "error", "logs", "duration_ms", "fuel_used"}
    assert {k: body[k] for k in ("status", "messages", "error", "logs")} == {
        k: command[k] for k in ("status", "messages", "error", "logs")
    }


def test_a_compiled_module_runs_from_base64(personas, bearer):
    module = base64.b64encode(wasmtime.wat2wasm(REFERENCE)).decode()
    datasets = {"users": DATASETS["users"]}
    response = bearer(personas.viewer).post(URL, {"wasm_base64": module, "datasets": datasets}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["status"] == "green"


@pytest.mark.parametrize(
    ("wat", "kind"), [(INFINITE_LOOP, "timeout"), (GROW_FOREVER, "memory_limit")], ids=["loop", "memory bomb"]
)
def test_hostile_modules_end_in_their_error_kind_with_200(personas, bearer, wat, kind):
    response = bearer(personas.viewer).post(URL, {"wat": wat, "timeout": 0.5, "memory_mb": 64}, format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "error"
    assert body["error"]["kind"] == kind
    assert body["error"]["detail"].startswith(f"{kind}:")


def test_a_python_memory_bomb_is_memory_limit(personas, bearer):
    response = bearer(personas.viewer).post(
        URL, {"python": "x = 'a' * (1 << 34)", "memory_mb": 64}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["error"]["kind"] == "memory_limit"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"datasets": {}}, ""),
        ({"python": "pass", "wat": "(module)"}, ""),
        ({"python": "pass", "timeout": 10_000}, "timeout"),
        ({"python": "pass", "memory_mb": 0}, "memory_mb"),
        ({"python": "pass", "fuel": 10**30}, "fuel"),
        ({"wasm_base64": "not base64!"}, "wasm_base64"),
        ({"python": "pass", "datasets": {"d": {"columns": ["a"], "rows": [[1, 2]]}}}, "datasets.d"),
        ({"python": "pass", "datasets": {"d": {"rows": []}}}, "datasets.d.columns"),
    ],
    ids=[
        "no program",
        "two programs",
        "timeout past the maximum",
        "no memory",
        "fuel past the maximum",
        "bad base64",
        "ragged rows",
        "no columns",
    ],
)
def test_bad_requests_are_400_naming_the_field(personas, bearer, body, field):
    response = bearer(personas.viewer).post(URL, body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert field in error["fields"], error


def test_the_body_is_capped(personas, bearer, settings):
    settings.API_MAX_BODY_BYTES = 2048
    response = bearer(personas.viewer).post(URL, {"python": "#" * 4096}, format="json")
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"


def test_a_user_of_no_namespace_may_not_use_it(personas, bearer):
    response = bearer(personas.stranger).post(URL, {"python": "ok('x')"}, format="json")
    assert response.status_code == 403


def test_a_read_only_token_may_use_it(personas, bearer):
    response = bearer(personas.viewer, read_only=True).post(URL, {"python": "ok('x')"}, format="json")
    assert response.status_code == 200
    assert response.json()["status"] == "green"


def test_it_is_rate_limited_per_token_with_retry_after(personas, bearer, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"api": "100/minute", "sandbox": "2/minute"},
    }
    client, other = bearer(personas.viewer), bearer(personas.viewer)
    assert [client.post(URL, {"python": "ok('x')"}, format="json").status_code for _ in range(2)] == [
        200,
        200,
    ]
    limited = client.post(URL, {"python": "ok('x')"}, format="json")
    assert limited.status_code == 429
    assert int(limited["Retry-After"]) > 0
    assert limited.json()["error"]["code"] == "throttled"
    assert other.post(URL, {"python": "ok('x')"}, format="json").status_code == 200
