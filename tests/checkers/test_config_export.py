"""export_config: the contract's shape, no secrets, and a round trip that changes nothing."""

from __future__ import annotations

import base64

import pytest
import yaml
from django.conf import settings

from checkers.models import Checker, CheckerKind, Dataset, Datasource
from checks_as_code import config
from namespaces.models import Namespace
from tests.checkers.config_support import (
    DESIGN_EXAMPLE,
    EMPTY_MODULE,
    ENVIRON,
    PASSWORD,
    model_state,
    rich_file,
    wipe,
    write,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sqlite_dir")]


@pytest.fixture
def imported(tmp_path, people, sqlite_dir):
    config.import_file(rich_file(tmp_path, sqlite_dir), environ=ENVIRON)


def test_the_design_example_exports_in_the_contract_shape(tmp_path, people):
    config.import_file(write(tmp_path, DESIGN_EXAMPLE), environ=ENVIRON)

    exported = config.export_yaml()

    assert yaml.safe_load(exported) == {
        "namespaces": [
            {
                "slug": "growth",
                "name": "Growth team",
                "members": [{"user": "alice", "role": "owner"}, {"user": "bob", "role": "viewer"}],
                "datasources": [
                    {
                        "slug": "shop",
                        "engine": "postgresql",
                        "url": "postgresql://reader@127.0.0.1:5432/shop",
                        "password": "${SHOP_DB_PASSWORD}",
                    }
                ],
                "datasets": [
                    {
                        "slug": "users_with_email_null",
                        "datasource": "shop",
                        "sql": "SELECT username FROM users WHERE email IS NULL",
                    }
                ],
                "runbooks": [
                    {
                        "slug": "null-emails",
                        "title": "Users without an e-mail address",
                        "body": "Markdown. Who to call, what to run.",
                    }
                ],
                "checkers": [
                    {
                        "slug": "few-null-emails",
                        "schedule": "*/5 * * * *",
                        "runbook": "null-emails",
                        "datasets": ["users_with_email_null"],
                        "rule": {
                            "dataset": "users_with_email_null",
                            "metric": "row_count",
                            "op": "<",
                            "value": 42,
                            "message": "There should be less than 42 users in that state",
                        },
                        "alarm": {"on_error": "alarm", "after_failures": 1, "repeat_every": 3600},
                    }
                ],
                "channels": [{"slug": "ops-queue", "kind": "queue"}],
            }
        ]
    }
    assert exported.startswith("# Malleable checks as code")
    assert "#   SHOP_DB_PASSWORD  password of datasource growth/shop\n" in exported
    assert "        alarm: {on_error: alarm, after_failures: 1, repeat_every: 3600}\n" in exported


def test_round_trip_gives_the_same_yaml_and_the_same_state(tmp_path, imported):
    first = config.export_yaml()
    state = model_state()
    wipe()

    config.import_file(write(tmp_path, first, "exported.yaml"), environ=ENVIRON)

    assert config.export_yaml() == first
    assert model_state() == state


def test_round_trip_with_modules_as_files(tmp_path, imported, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = config.export_yaml(modules_dir="exported-modules")
    state = model_state()
    wipe()

    assert (tmp_path / "exported-modules" / "growth" / "seed-in-wasm.wasm").read_bytes() == EMPTY_MODULE
    assert "wasm: exported-modules/growth/seed-in-wasm.wasm" in first
    config.import_file(write(tmp_path, first, "exported.yaml"), environ=ENVIRON)

    assert model_state() == state


def test_modules_are_inline_base64_by_default(imported):
    checker = next(
        c
        for c in yaml.safe_load(config.export_yaml())["namespaces"][0]["checkers"]
        if c["slug"] == "seed-in-wasm"
    )

    assert base64.b64decode(checker["wasm_base64"]) == EMPTY_MODULE
    assert "wasm" not in checker


def test_keys_are_in_the_contract_order_and_defaults_are_left_out(imported):
    checkers = yaml.safe_load(config.export_yaml())["namespaces"][0]["checkers"]
    python = next(c for c in checkers if c["slug"] == "seed-in-python")

    assert list(python) == [
        "slug",
        "schedule",
        "datasets",
        "python",
        "params",
        "timeout",
        "memory_mb",
        "fuel",
    ]
    assert python["datasets"] == ["orders", "users_with_email_null"]
    amounts = next(c for c in checkers if c["slug"] == "order-amounts")
    assert amounts["rule"] == {
        "dataset": "orders",
        "metric": "avg",
        "column": "amount",
        "op": "between",
        "value": 10,
        "high": 200.5,
    }
    assert (amounts["enabled"], amounts["severity"], amounts["timezone"]) == (False, "critical", "UTC")
    assert list(amounts)[-1] == "tags"
    assert amounts["tags"] == ["billing", "nightly"]
    assert "tags: [billing, nightly]" in config.export_yaml()


def test_only_a_sample_dataset_says_sample(imported):
    exported = config.export_yaml()

    assert yaml.safe_load(exported)["namespaces"][0]["datasets"] == [
        {"slug": "orders", "datasource": "shop", "sql": "SELECT id, amount FROM orders", "sample": True},
        {
            "slug": "users_with_email_null",
            "datasource": "shop",
            "sql": "SELECT username FROM users WHERE email IS NULL",
            "description": "Users we cannot write to.",
        },
    ]
    assert "        sample: true\n" in exported


def test_a_dataset_stops_being_a_sample_when_the_file_drops_the_key(tmp_path, imported, sqlite_dir):
    assert Dataset.objects.get(slug="orders").sample is True
    text = rich_file(tmp_path, sqlite_dir).read_text().replace("        sample: true\n", "", 1)

    plan = config.import_file(write(tmp_path, text, "again.yaml"), environ=ENVIRON)

    assert Dataset.objects.get(slug="orders").sample is False
    assert "sample: true" not in config.export_yaml()
    [change] = [c for c in plan.changes if (c.kind, c.label) == ("dataset", "growth/orders")]
    assert (str(change.action), change.keys) == ("updated", ("sample",))


def test_python_source_is_a_literal_block(imported):
    exported = config.export_yaml()

    assert "        python: |\n          CheckerCase().assertLessThan(" in exported


def test_export_never_contains_a_password(tmp_path, imported):
    namespace = Namespace.objects.get(slug="ops")
    Datasource.objects.create(
        namespace=namespace,
        slug="made-in-the-admin",
        engine="sqlite",
        url=f"sqlite:///{settings.DATASOURCE_SQLITE_DIR / 'admin.sqlite3'}",
        password="typed-into-the-admin",
    )
    Datasource.objects.create(
        namespace=namespace,
        slug="password-in-url",
        engine="postgresql",
        url="postgresql://reader:url-secret@127.0.0.1:5432/shop?sslmode=prefer&password=query-secret",
    )

    exported = config.export_yaml()

    for secret in (PASSWORD, "typed-into-the-admin", "url-secret", "query-secret"):
        assert secret not in exported
    sources = {d["slug"]: d for d in yaml.safe_load(exported)["namespaces"][1]["datasources"]}
    assert sources["made-in-the-admin"]["password"] == "${MALLEABLE_OPS_MADE_IN_THE_ADMIN_PASSWORD}"
    assert sources["password-in-url"]["url"] == "postgresql://reader@127.0.0.1:5432/shop?sslmode=prefer"
    assert sources["password-in-url"]["password"] == "${MALLEABLE_OPS_PASSWORD_IN_URL_PASSWORD}"
    assert "warehouse" in sources and "password" not in sources["warehouse"]
    header = exported.split("namespaces:")[0]
    for variable in ("SHOP_DB_PASSWORD", "MALLEABLE_OPS_MADE_IN_THE_ADMIN_PASSWORD"):
        assert f"#   {variable}" in header


def test_a_namespace_can_be_exported_alone(imported):
    exported = yaml.safe_load(config.export_yaml(Namespace.objects.filter(slug="ops")))

    assert [namespace["slug"] for namespace in exported["namespaces"]] == ["ops"]


def test_a_wat_checker_exports_its_text(imported):
    checker = Checker.objects.get(slug="seed-in-wat")
    assert checker.kind == CheckerKind.WASM

    exported = yaml.safe_load(config.export_yaml())["namespaces"][0]["checkers"]

    assert (
        next(c for c in exported if c["slug"] == "seed-in-wat")["wat"] == '(module (func (export "check")))\n'
    )
