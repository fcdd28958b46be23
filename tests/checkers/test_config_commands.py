"""The two commands: their output, exit codes and options."""

from __future__ import annotations

import io
import json

import pytest
import yaml
from django.core.management import call_command
from django.core.management.base import CommandError

from checks_as_code.management.commands.export_config import Command as ExportCommand
from checks_as_code.management.commands.import_config import Command as ImportCommand
from namespaces.models import Namespace
from tests.checkers.config_support import DESIGN_EXAMPLE, ENVIRON, PASSWORD, SECRETS, rich_file, write

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("people")]


@pytest.fixture(autouse=True)
def sqlite_dir(sqlite_dir, monkeypatch):
    """The shared SQLite directory, and the file's ${...} references set in the environment."""
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    return sqlite_dir


def run(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_prints_a_summary(tmp_path):
    path = write(tmp_path, DESIGN_EXAMPLE)

    out, _ = run("import_config", str(path))

    assert out.splitlines() == [
        f"{path}: imported.",
        "  namespaces created: 1: growth",
        "  memberships created: 2: growth/alice, growth/bob",
        "  datasources created: 1: growth/shop",
        "  datasets created: 1: growth/users_with_email_null",
        "  runbooks created: 1: growth/null-emails",
        "  channels created: 1: growth/ops-queue",
        "  checkers created: 1: growth/few-null-emails",
    ]
    assert PASSWORD not in out


def test_import_twice_says_everything_is_unchanged(tmp_path):
    path = write(tmp_path, DESIGN_EXAMPLE)
    run("import_config", str(path))

    out, _ = run("import_config", str(path))

    assert out.startswith(f"{path}: imported; everything was unchanged.")


def test_dry_run_prints_the_plan_and_changes_nothing(tmp_path):
    out, _ = run("import_config", str(write(tmp_path, DESIGN_EXAMPLE)), "--dry-run")

    assert "dry run, nothing was changed" in out
    assert "checkers created: 1: growth/few-null-emails" in out
    assert not Namespace.objects.exists()


def test_json_prints_the_plan(tmp_path):
    out, _ = run("import_config", str(write(tmp_path, DESIGN_EXAMPLE)), "--json", "--dry-run")

    plan = json.loads(out)
    assert (plan["dry_run"], plan["changed"]) == (True, True)
    assert plan["summary"]["checker"] == {"created": 1, "updated": 0, "unchanged": 0}
    assert {"type": "checker", "object": "growth/few-null-emails", "action": "created", "keys": []} in plan[
        "changes"
    ]


def test_an_invalid_file_exits_1_with_every_error_on_stderr(tmp_path):
    text = DESIGN_EXAMPLE.replace('"*/5 * * * *"', '"61 * * * *"').replace("role: viewer", "role: boss")
    path = write(tmp_path, text)
    err = io.StringIO()

    with pytest.raises(CommandError) as refused:
        call_command("import_config", str(path), stdout=io.StringIO(), stderr=err)

    assert refused.value.returncode == 1
    assert str(refused.value) == f"2 errors in {path}: nothing was changed"
    lines = err.getvalue().splitlines()
    assert lines[0].startswith(f"{path}:4:") and "namespaces[0].members[1].role" in lines[0]
    assert lines[1].startswith(
        f"{path}:20:19: namespaces[0].checkers[0].schedule: '61 * * * *' is not a cron"
    )
    assert not Namespace.objects.exists()


def test_an_invalid_file_with_json_prints_the_errors(tmp_path):
    path = write(tmp_path, DESIGN_EXAMPLE.replace('"*/5 * * * *"', '"61 * * * *"'))
    out = io.StringIO()

    with pytest.raises(CommandError):
        call_command("import_config", str(path), "--json", stdout=out, stderr=io.StringIO())

    [error] = json.loads(out.getvalue())["errors"]
    assert (error["line"], error["column"], error["path"]) == (20, 19, "namespaces[0].checkers[0].schedule")


def test_an_unreadable_file_exits_64(tmp_path):
    with pytest.raises(CommandError) as refused:
        run("import_config", str(tmp_path / "nowhere.yaml"))

    assert refused.value.returncode == 64
    assert "cannot read" in str(refused.value) and "No such file or directory" in str(refused.value)


def test_a_file_that_is_not_utf8_exits_64(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: Caf\xe9\n".encode("latin-1"))

    with pytest.raises(CommandError) as refused:
        run("import_config", str(path))

    assert refused.value.returncode == 64


def test_bad_usage_exits_64(capsys):
    with pytest.raises(SystemExit) as exited:
        ImportCommand().run_from_argv(["manage.py", "import_config"])

    assert exited.value.code == 64
    assert "FILE.yaml" in capsys.readouterr().err


def test_create_users_option(tmp_path):
    text = DESIGN_EXAMPLE.replace("user: bob", "user: carol")

    out, _ = run("import_config", str(write(tmp_path, text)), "--create-users")

    assert "users created: 1: carol" in out


def test_export_prints_yaml_that_names_the_password_variable(tmp_path, sqlite_dir):
    run("import_config", str(rich_file(tmp_path, sqlite_dir)))

    out, _ = run("export_config")

    for secret in SECRETS:
        assert secret not in out
    assert "password: ${SHOP_DB_PASSWORD}" in out
    assert [namespace["slug"] for namespace in yaml.safe_load(out)["namespaces"]] == ["growth", "ops"]


def test_export_one_namespace(tmp_path, sqlite_dir):
    run("import_config", str(rich_file(tmp_path, sqlite_dir)))

    out, _ = run("export_config", "--namespace", "ops")

    assert [namespace["slug"] for namespace in yaml.safe_load(out)["namespaces"]] == ["ops"]
    assert "SHOP_DB_PASSWORD" not in out


def test_export_an_unknown_namespace_exits_64(tmp_path, sqlite_dir):
    with pytest.raises(CommandError) as refused:
        run("export_config", "--namespace", "nope")

    assert refused.value.returncode == 64
    assert str(refused.value) == "no namespace nope"


def test_export_bad_usage_exits_64():
    with pytest.raises(SystemExit) as exited:
        ExportCommand().run_from_argv(["manage.py", "export_config", "--colour"])

    assert exited.value.code == 64


def test_export_modules_dir_writes_the_modules(tmp_path, sqlite_dir, monkeypatch):
    run("import_config", str(rich_file(tmp_path, sqlite_dir)))
    monkeypatch.chdir(tmp_path)

    out, _ = run("export_config", "--modules-dir", "out")

    assert "wasm: out/growth/seed-in-wasm.wasm" in out
    assert (tmp_path / "out" / "growth" / "seed-in-wasm.wasm").exists()
