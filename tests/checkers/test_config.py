"""import_config: the contract's example imports; all or nothing; idempotent; dry runs change nothing."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from alarms.models import AlarmPolicy, Channel, Policy
from checkers.models import Checker, CheckerKind, Dataset, Datasource
from checks_as_code import config
from checks_as_code.config import Action
from namespaces.models import Membership, Namespace, Role
from runbooks.models import Runbook
from tests.checkers.config_support import (
    DESIGN_EXAMPLE,
    EMPTY_MODULE,
    ENVIRON,
    PASSWORD,
    model_state,
    rich_file,
    timestamps,
    write,
)
from tests.personas import make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sqlite_dir")]


def actions(plan: config.Plan) -> dict[str, str]:
    return {f"{change.kind} {change.label}": str(change.action) for change in plan.changes}


def test_design_example_imports(tmp_path, people):
    plan = config.import_file(write(tmp_path, DESIGN_EXAMPLE), environ=ENVIRON)

    assert actions(plan) == {
        "namespace growth": "created",
        "membership growth/alice": "created",
        "membership growth/bob": "created",
        "datasource growth/shop": "created",
        "dataset growth/users_with_email_null": "created",
        "runbook growth/null-emails": "created",
        "channel growth/ops-queue": "created",
        "checker growth/few-null-emails": "created",
    }
    growth = Namespace.objects.get(slug="growth")
    assert growth.name == "Growth team"
    assert dict(growth.memberships.values_list("user__username", "role")) == {
        "alice": "owner",
        "bob": "viewer",
    }
    shop = Datasource.objects.get(namespace=growth, slug="shop")
    assert (shop.engine, shop.url, shop.password, shop.password_env) == (
        "postgresql",
        "postgresql://reader@127.0.0.1:5432/shop",
        PASSWORD,
        "SHOP_DB_PASSWORD",
    )
    dataset = Dataset.objects.get(namespace=growth, slug="users_with_email_null")
    assert (dataset.datasource, dataset.sql) == (shop, "SELECT username FROM users WHERE email IS NULL")
    checker = Checker.objects.get(namespace=growth, slug="few-null-emails")
    assert checker.name == "few-null-emails"
    assert checker.kind == CheckerKind.RULE
    rule = checker.rules.get()
    assert (rule.dataset, rule.metric, rule.op, rule.value) == (dataset, "row_count", "<", 42)
    assert rule.message == "There should be less than 42 users in that state"
    assert (checker.schedule_cron, checker.schedule_every) == ("*/5 * * * *", None)
    assert list(checker.datasets.all()) == [dataset]
    assert checker.next_run_at is not None
    runbook = Runbook.objects.get(namespace=growth, slug="null-emails")
    assert (runbook.title, runbook.body) == (
        "Users without an e-mail address",
        "Markdown. Who to call, what to run.",
    )
    assert checker.runbook == runbook
    policy = AlarmPolicy.objects.get(checker=checker)
    assert (policy.enabled, policy.on_error, policy.after_failures, policy.repeat_every) == (
        True,
        "alarm",
        1,
        3600,
    )
    assert (policy.notify_resolved, list(policy.channels.all())) == (None, [])
    channel = Channel.objects.get(namespace=growth, slug="ops-queue")
    assert (channel.kind, channel.url, channel.secret, channel.is_default) == ("queue", "", "", True)
    assert Policy.for_checker(checker).channels == (channel,)


def test_alarm_sections_have_their_shape_checked(tmp_path, people):
    text = DESIGN_EXAMPLE.replace("kind: queue", "kind: pigeon").replace(
        "after_failures: 1", "after_failures: x"
    )
    with pytest.raises(config.ConfigInvalid) as refused:
        config.import_file(write(tmp_path, text), environ=ENVIRON)

    paths = {error.path for error in refused.value.errors}
    assert paths == {"namespaces[0].channels[0].kind", "namespaces[0].checkers[0].alarm.after_failures"}
    assert not Namespace.objects.exists()


def test_rich_file_imports_every_kind_and_extension(tmp_path, people, sqlite_dir):
    config.import_file(rich_file(tmp_path, sqlite_dir), environ=ENVIRON)

    growth = Namespace.objects.get(slug="growth")
    assert (growth.description, growth.timezone) == ("Checks of the growth funnel.", "Europe/Berlin")
    shop = Datasource.objects.get(slug="shop")
    assert (shop.name, shop.statement_timeout, shop.row_cap, shop.max_concurrency) == (
        "Shop replica",
        5.5,
        5000,
        2,
    )
    checkers = {checker.slug: checker for checker in Checker.objects.all()}
    amounts = checkers["order-amounts"]
    rule = amounts.rules.get()
    assert (rule.metric, rule.column, rule.op) == ("avg", "amount", "between")
    assert (rule.value, rule.high, amounts.schedule_every) == (10, 200.5, 300)
    assert (amounts.severity, amounts.enabled, amounts.timezone, amounts.next_run_at) == (
        "critical",
        False,
        "UTC",
        None,
    )
    assert (amounts.tags, amounts.tag_list()) == ("billing nightly", ["billing", "nightly"])
    assert checkers["few-null-emails"].tags == ""
    python = checkers["seed-in-python"]
    assert python.kind == CheckerKind.PYTHON
    assert python.source.startswith("CheckerCase().assertLessThan(")
    assert python.params == {"limit": 42, "tags": ["a", "b"]}
    assert (python.timeout_s, python.memory_mb, python.fuel) == (2.5, 64, 1_000_000)
    assert sorted(python.datasets.values_list("slug", flat=True)) == ["orders", "users_with_email_null"]
    assert checkers["seed-in-wat"].kind == CheckerKind.WASM
    assert checkers["seed-in-wat"].source == '(module (func (export "check")))\n'
    wasm = checkers["seed-in-wasm"]
    assert (wasm.kind, bytes(wasm.wasm_module), wasm.source) == (CheckerKind.WASM, EMPTY_MODULE, "")
    assert len(wasm.wasm_sha256) == 64
    assert Datasource.objects.get(slug="warehouse").namespace.slug == "ops"


def test_second_import_changes_nothing(tmp_path, people, sqlite_dir):
    path = rich_file(tmp_path, sqlite_dir)
    config.import_file(path, environ=ENVIRON)
    state, stamps = model_state(), timestamps()

    plan = config.import_file(path, environ=ENVIRON)

    assert not plan.changed
    assert {change.action for change in plan.changes} == {Action.UNCHANGED}
    assert len(plan.changes) == 19
    assert "everything was unchanged" in plan.summary()
    assert (model_state(), timestamps()) == (state, stamps)


def test_an_update_names_the_keys_that_changed_and_touches_only_that_object(tmp_path, people, sqlite_dir):
    path = rich_file(tmp_path, sqlite_dir)
    config.import_file(path, environ=ENVIRON)
    stamps = timestamps()
    text = path.read_text().replace('"0 * * * *"', "{every: 600}").replace("[a, b]", "[a]")

    plan = config.import_file(write(tmp_path, text), environ=ENVIRON)

    changed = [change for change in plan.changes if change.action != Action.UNCHANGED]
    assert [(c.kind, c.label, c.action, c.keys) for c in changed] == [
        ("checker", "growth/seed-in-python", Action.UPDATED, ("params", "schedule")),
    ]
    checker = Checker.objects.get(slug="seed-in-python")
    assert (checker.schedule_cron, checker.schedule_every, checker.params["tags"]) == ("", 600, ["a"])
    after = timestamps()
    assert after["Dataset"] == stamps["Dataset"]
    assert dict(after["Checker"])["few-null-emails"] == dict(stamps["Checker"])["few-null-emails"]
    assert dict(after["Checker"])["seed-in-python"] > dict(stamps["Checker"])["seed-in-python"]


def test_changing_only_the_datasets_updates_the_checker(tmp_path, people, sqlite_dir):
    path = rich_file(tmp_path, sqlite_dir)
    config.import_file(path, environ=ENVIRON)
    text = path.read_text().replace("datasets: [users_with_email_null, orders]", "datasets: [orders]")

    plan = config.import_file(write(tmp_path, text), environ=ENVIRON)

    assert actions(plan)["checker growth/seed-in-python"] == "updated"
    assert list(Checker.objects.get(slug="seed-in-python").datasets.values_list("slug", flat=True)) == [
        "orders"
    ]


def test_switching_kind_leaves_nothing_of_the_old_one(tmp_path, people, sqlite_dir):
    path = rich_file(tmp_path, sqlite_dir)
    config.import_file(path, environ=ENVIRON)
    text = path.read_text().replace("wasm: modules/seed.wasm", "python: ok('fine')")

    config.import_file(write(tmp_path, text), environ=ENVIRON)

    checker = Checker.objects.get(slug="seed-in-wasm")
    assert (checker.kind, checker.source, checker.wasm_module, checker.wasm_sha256) == (
        CheckerKind.PYTHON,
        "ok('fine')",
        None,
        "",
    )


def test_dry_run_changes_nothing_and_reports_the_plan(tmp_path, people, sqlite_dir):
    plan = config.import_file(rich_file(tmp_path, sqlite_dir), environ=ENVIRON, dry_run=True)

    assert plan.dry_run
    assert plan.counts()["checker"] == {"created": 5, "updated": 0, "unchanged": 0}
    assert "dry run, nothing was changed" in plan.summary()
    assert not Namespace.objects.exists()
    assert not Membership.objects.exists()


def test_an_error_in_the_last_checker_leaves_the_database_unchanged(tmp_path, people, sqlite_dir):
    path = rich_file(tmp_path, sqlite_dir)
    config.import_file(path, environ=ENVIRON)
    state, stamps = model_state(), timestamps()
    text = (
        path.read_text()
        .replace("Growth team", "Growth and retention")
        .replace("row_cap: 5000", "row_cap: 6000")
        .replace("wasm: modules/seed.wasm", "wasm: modules/missing.wasm")
    )

    with pytest.raises(config.ConfigInvalid) as refused:
        config.import_file(write(tmp_path, text), environ=ENVIRON)

    assert [error.path for error in refused.value.errors] == ["namespaces[0].checkers[4].wasm"]
    assert (model_state(), timestamps()) == (state, stamps)


def test_a_new_file_with_an_error_creates_nothing(tmp_path, people, sqlite_dir):
    text = rich_file(tmp_path, sqlite_dir).read_text().replace('"*/10 * * * *"', '"61 * * * *"')

    with pytest.raises(config.ConfigInvalid):
        config.import_file(write(tmp_path, text), environ=ENVIRON)

    assert not Namespace.objects.exists()
    assert not Datasource.objects.exists()
    assert not Membership.objects.exists()


def test_objects_the_file_leaves_out_are_left_alone(tmp_path, people, sqlite_dir):
    path = rich_file(tmp_path, sqlite_dir)
    config.import_file(path, environ=ENVIRON)
    carol = make_user("carol")
    Membership.objects.create(namespace=Namespace.objects.get(slug="growth"), user=carol, role=Role.EDITOR)
    text = path.read_text()
    start = text.index("      - slug: seed-in-wat")
    shorter = text[:start] + text[text.index("  - slug: ops\n") :]

    config.import_file(write(tmp_path, shorter), environ=ENVIRON)

    assert Checker.objects.filter(slug="seed-in-wat").exists()
    assert Membership.objects.filter(user=carol).exists()


def test_a_reference_resolves_to_the_database_when_the_file_does_not_declare_it(tmp_path, people, sqlite_dir):
    config.import_file(rich_file(tmp_path, sqlite_dir), environ=ENVIRON)
    text = """\
namespaces:
  - slug: growth
    name: Growth team
    datasets:
      - {slug: big_orders, datasource: shop, sql: SELECT id FROM orders WHERE amount > 100}
    checkers:
      - slug: no-big-orders
        schedule: "* * * * *"
        rule: {dataset: big_orders, op: "==", value: 0}
      - slug: reads-stored-dataset
        schedule: "* * * * *"
        datasets: [orders]
        python: fail('always')
"""
    plan = config.import_file(write(tmp_path, text, "more.yaml"))

    assert actions(plan)["checker growth/no-big-orders"] == "created"
    assert Checker.objects.get(slug="reads-stored-dataset").datasets.get().slug == "orders"


def test_memberships_are_upserted_by_user(tmp_path, people):
    path = write(tmp_path, DESIGN_EXAMPLE)
    config.import_file(path, environ=ENVIRON)

    config.import_file(
        write(tmp_path, path.read_text().replace("role: viewer", "role: editor")), environ=ENVIRON
    )

    assert Membership.objects.get(user__username="bob").role == Role.EDITOR
    assert Membership.objects.filter(user__username="bob").count() == 1


def test_demoting_the_last_owner_is_refused(tmp_path, people):
    path = write(tmp_path, DESIGN_EXAMPLE)
    config.import_file(path, environ=ENVIRON)

    with pytest.raises(config.ConfigInvalid) as refused:
        config.import_file(
            write(tmp_path, path.read_text().replace("role: owner", "role: editor")), environ=ENVIRON
        )

    assert "without an owner" in str(refused.value)
    assert Membership.objects.get(user__username="alice").role == Role.OWNER


def test_create_users_makes_missing_members_without_a_usable_password(tmp_path):
    plan = config.import_file(write(tmp_path, DESIGN_EXAMPLE), environ=ENVIRON, create_users=True)

    alice = get_user_model().objects.get(username="alice")
    assert not alice.has_usable_password()
    assert actions(plan)["user alice"] == "created"


def test_url_references_are_expanded_from_the_environment(tmp_path, people, sqlite_dir):
    text = DESIGN_EXAMPLE.replace(
        "engine: postgresql            # postgresql | mysql | sqlite", "engine: sqlite"
    ).replace("url: postgresql://reader@127.0.0.1:5432/shop", "url: sqlite:///${SHOP_DIR}/shop.sqlite3")

    shop_dir = sqlite_dir / "growth"
    config.import_file(write(tmp_path, text), environ=ENVIRON | {"SHOP_DIR": str(shop_dir)})

    assert Datasource.objects.get().url == f"sqlite:///{shop_dir}/shop.sqlite3"


def test_wasm_base64_is_accepted(tmp_path, people, sqlite_dir):
    text = (
        rich_file(tmp_path, sqlite_dir)
        .read_text()
        .replace("wasm: modules/seed.wasm", "wasm_base64: AGFzbQEAAAABBAFgAAADAgEABwkBBWNoZWNrAAAKBAECAAs=")
    )

    config.import_file(write(tmp_path, text), environ=ENVIRON)

    assert bytes(Checker.objects.get(slug="seed-in-wasm").wasm_module) == EMPTY_MODULE


def test_tags_left_out_clear_them_and_a_tag_is_one_word(tmp_path, people, sqlite_dir):
    path = rich_file(tmp_path, sqlite_dir)
    config.import_file(path, environ=ENVIRON)

    text = path.read_text()
    untagged = write(tmp_path, text.replace("        tags: [nightly, Billing]\n", ""))
    plan = config.import_file(untagged, environ=ENVIRON)

    assert [(c.label, c.keys) for c in plan.changes if c.action == Action.UPDATED] == [
        ("growth/order-amounts", ("tags",)),
    ]
    assert Checker.objects.get(slug="order-amounts").tags == ""
    with pytest.raises(config.ConfigInvalid) as refused:
        bad = write(tmp_path, text.replace("[nightly, Billing]", "[nightly, a b]"))
        config.import_file(bad, environ=ENVIRON)
    assert "`a b` is not one tag" in str(refused.value)
