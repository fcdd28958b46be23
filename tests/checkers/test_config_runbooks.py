"""Checks as code: the ``runbooks`` section and the checker's ``runbook:`` key."""

from __future__ import annotations

import pytest
import yaml

from checkers.models import Checker
from checks_as_code import config
from checks_as_code.config import Action
from namespaces.models import Membership, Namespace, Role
from runbooks.models import Runbook
from tests.checkers.config_support import ENVIRON, locate, model_state, rich_file, timestamps, wipe, write
from tests.personas import make_user

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sqlite_dir", "people")]

NULL_EMAILS = "namespaces[0].runbooks[0]"
FEW_NULL_EMAILS = "namespaces[0].checkers[0]"


@pytest.fixture
def rich(tmp_path, sqlite_dir):
    path = rich_file(tmp_path, sqlite_dir)
    config.import_file(path, environ=ENVIRON)
    return path


def reimport(tmp_path, text: str, name: str = "changed.yaml") -> config.Plan:
    return config.import_file(write(tmp_path, text, name), environ=ENVIRON)


def refused(tmp_path, text: str) -> tuple[str, list[config.ConfigError]]:
    with pytest.raises(config.ConfigInvalid) as raised:
        reimport(tmp_path, text, "refused.yaml")
    return text, raised.value.errors


def test_runbooks_and_the_checkers_links_import(rich):
    null_emails = Runbook.objects.get(slug="null-emails")
    assert (null_emails.namespace.slug, null_emails.title, null_emails.owner.username) == (
        "growth",
        "Users without an e-mail address",
        "alice",
    )
    assert null_emails.body.startswith("# Who to call\n\nThe growth on-call.")
    assert Runbook.objects.get(slug="orders").owner is None
    links = dict(Checker.objects.values_list("slug", "runbook__slug"))
    assert links == {
        "few-null-emails": "null-emails",
        "order-amounts": "orders",
        "seed-in-python": None,
        "seed-in-wat": None,
        "seed-in-wasm": None,
    }


def test_a_second_import_saves_no_runbook(tmp_path, rich):
    state, stamps = model_state(), timestamps()

    plan = reimport(tmp_path, rich.read_text())

    runbooks = [c for c in plan.changes if c.kind == "runbook"]
    assert [(c.label, c.action) for c in runbooks] == [
        ("growth/null-emails", Action.UNCHANGED),
        ("growth/orders", Action.UNCHANGED),
    ]
    assert not plan.changed
    assert (model_state(), timestamps()) == (state, stamps)


def test_an_update_names_the_runbook_keys_that_changed(tmp_path, rich):
    text = rich.read_text().replace("Orders look wrong", "Orders are wrong").replace("owner: alice", "")

    plan = reimport(tmp_path, text)

    changed = {(c.kind, c.label): c.keys for c in plan.changes if c.action != Action.UNCHANGED}
    assert changed == {
        ("runbook", "growth/null-emails"): ("owner",),
        ("runbook", "growth/orders"): ("title",),
    }
    assert Runbook.objects.get(slug="null-emails").owner is None


def test_relinking_a_checker_is_an_update_of_the_checker(tmp_path, rich):
    stamps = timestamps()
    text = rich.read_text().replace("runbook: null-emails", "runbook: orders")

    plan = reimport(tmp_path, text)

    changed = [(c.kind, c.label, c.keys) for c in plan.changes if c.action != Action.UNCHANGED]
    assert changed == [("checker", "growth/few-null-emails", ("runbook",))]
    assert Checker.objects.get(slug="few-null-emails").runbook.slug == "orders"
    assert timestamps()["Runbook"] == stamps["Runbook"]


def test_leaving_the_key_out_unlinks_the_runbook_and_keeps_it(tmp_path, rich):
    text = rich.read_text().replace("        runbook: null-emails\n", "")

    plan = reimport(tmp_path, text)

    assert Checker.objects.get(slug="few-null-emails").runbook is None
    assert Runbook.objects.filter(slug="null-emails").exists()
    assert ("checker", "growth/few-null-emails", ("runbook",)) in [
        (c.kind, c.label, c.keys) for c in plan.changes
    ]


def test_a_runbook_in_the_database_can_be_referred_to(tmp_path, rich):
    text = """\
namespaces:
  - slug: growth
    checkers:
      - slug: orders-exist
        schedule: "* * * * *"
        runbook: orders
        rule: {dataset: orders, op: ">", value: 0}
"""
    reimport(tmp_path, text)

    assert Checker.objects.get(slug="orders-exist").runbook == Runbook.objects.get(slug="orders")


def test_a_dangling_runbook_reference_points_at_its_line_and_key(tmp_path, rich):
    text, errors = refused(tmp_path, rich.read_text().replace("runbook: null-emails", "runbook: null-email"))

    assert [(e.path, (e.line, e.column), e.message) for e in errors] == [
        (
            f"{FEW_NULL_EMAILS}.runbook",
            locate(text, "null-email\n"),
            "no runbook `null-email` in namespace `growth`, in this file or the database: "
            "did you mean `null-emails`?",
        )
    ]


def test_a_runbook_of_another_namespace_is_not_found(tmp_path, rich):
    text = rich.read_text() + (
        "    checkers:\n      - {slug: ops-check, schedule: '* * * * *', runbook: orders, python: pass}\n"
    )
    _, errors = refused(tmp_path, text)

    assert [(e.path, e.message) for e in errors] == [
        (
            "namespaces[1].checkers[0].runbook",
            "no runbook `orders` in namespace `ops`, in this file or the database; it has no runbooks yet",
        )
    ]


@pytest.mark.parametrize(
    ("owner", "message"),
    [
        ("carol", "no user `carol`: a runbook's owner is a member of its namespace"),
        ("dave", "`dave` is not a member of namespace `growth`: add them under members"),
    ],
)
def test_a_runbook_owner_must_be_a_member(tmp_path, rich, owner, message):
    make_user("dave")
    text, errors = refused(tmp_path, rich.read_text().replace("owner: alice", f"owner: {owner}"))

    line, column = locate(text, f"owner: {owner}")
    assert [(e.path, (e.line, e.column)) for e in errors] == [
        (f"{NULL_EMAILS}.owner", (line, column + len("owner: ")))
    ]
    assert message in errors[0].message


def test_a_runbook_needs_a_body_and_a_title(tmp_path, rich):
    text = rich.read_text().replace("        title: Orders look wrong\n", "")
    text = text.replace('        body: "Look at the payment provider\'s status page first."\n', "")

    _, errors = refused(tmp_path, text)

    assert [(e.path, e.message) for e in errors] == [
        ("namespaces[0].runbooks[1].body", "missing: a runbook needs `body`"),
        ("namespaces[0].runbooks[1].title", "missing: a runbook needs `title`"),
    ]


def test_a_model_error_points_at_the_runbook_key(tmp_path, rich):
    text, errors = refused(tmp_path, rich.read_text().replace("Orders look wrong", "x" * 201))

    assert [(e.path, (e.line, e.column)) for e in errors] == [
        ("namespaces[0].runbooks[1].title", locate(text, "x" * 201))
    ]
    assert "at most 200 characters" in errors[0].message


def test_a_bad_runbook_changes_nothing_else(tmp_path, rich):
    state, stamps = model_state(), timestamps()
    text = (
        rich.read_text()
        .replace("Orders look wrong", "Orders are wrong")
        .replace("runbook: null-emails", "runbook: orders")
        .replace("owner: alice", "owner: nobody")
    )

    with pytest.raises(config.ConfigInvalid):
        reimport(tmp_path, text)

    assert (model_state(), timestamps()) == (state, stamps)


def test_a_dangling_reference_in_a_new_file_creates_no_runbook(tmp_path, sqlite_dir):
    text = rich_file(tmp_path, sqlite_dir).read_text().replace("runbook: orders", "runbook: refunds")

    with pytest.raises(config.ConfigInvalid):
        reimport(tmp_path, text)

    assert not Runbook.objects.exists()
    assert not Namespace.objects.exists()


def test_a_dry_run_creates_no_runbook(tmp_path, sqlite_dir):
    plan = config.import_file(rich_file(tmp_path, sqlite_dir), environ=ENVIRON, dry_run=True)

    assert plan.counts()["runbook"] == {"created": 2, "updated": 0, "unchanged": 0}
    assert "runbooks created: 2: growth/null-emails, growth/orders" in plan.summary()
    assert not Runbook.objects.exists()


def test_export_carries_runbooks_and_links_in_the_contract_order(rich):
    growth = yaml.safe_load(config.export_yaml())["namespaces"][0]

    assert list(growth) == [
        "slug",
        "name",
        "description",
        "timezone",
        "alarm_defaults",
        "members",
        "datasources",
        "datasets",
        "runbooks",
        "checkers",
        "channels",
    ]
    assert growth["runbooks"] == [
        {
            "slug": "null-emails",
            "title": "Users without an e-mail address",
            "body": "# Who to call\n\nThe growth on-call. Then run "
            "`SELECT count(*) FROM users WHERE email IS NULL`.\n",
            "owner": "alice",
        },
        {
            "slug": "orders",
            "title": "Orders look wrong",
            "body": "Look at the payment provider's status page first.",
        },
    ]
    few = next(c for c in growth["checkers"] if c["slug"] == "few-null-emails")
    assert list(few)[:4] == ["slug", "schedule", "runbook", "datasets"]
    assert few["runbook"] == "null-emails"


def test_round_trip_keeps_every_runbook_and_link(tmp_path, rich):
    Runbook.objects.filter(slug="orders").update(body="Line one\r\nline two \n\ttabbed: yes # not a comment")
    first = config.export_yaml()
    state = model_state()
    wipe()

    reimport(tmp_path, first, "exported.yaml")

    assert config.export_yaml() == first
    assert model_state() == state
    assert Checker.objects.get(slug="order-amounts").runbook.slug == "orders"


def test_an_owner_who_left_the_namespace_is_not_exported(tmp_path, rich):
    Membership.objects.create(
        namespace=Namespace.objects.get(slug="growth"), user=make_user("carol"), role=Role.EDITOR
    )
    Runbook.objects.filter(slug="orders").update(owner=Membership.objects.get(user__username="carol").user)
    Membership.objects.filter(user__username="carol").delete()

    exported = config.export_yaml()

    runbooks = yaml.safe_load(exported)["namespaces"][0]["runbooks"]
    assert "owner" not in runbooks[1]
    reimport(tmp_path, exported, "exported.yaml")
    assert Runbook.objects.get(slug="orders").owner is None
