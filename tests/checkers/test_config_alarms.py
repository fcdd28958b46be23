"""Checks as code: ``channels``, the checker's ``alarm:`` policy and the namespace's ``alarm_defaults``."""

from __future__ import annotations

import pytest
import yaml

from alarms.models import AlarmDefaults, AlarmPolicy, Channel, Policy, ToggleLog
from checkers.models import Checker
from checks_as_code import config
from checks_as_code.config import Action
from namespaces.models import Namespace
from tests.checkers.config_support import (
    ENVIRON,
    HOOK_SECRET,
    SECRETS,
    SLACK_URL,
    locate,
    model_state,
    rich_file,
    timestamps,
    wipe,
    write,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("sqlite_dir", "people")]

FEW_NULL_EMAILS = "namespaces[0].checkers[0]"
ORDER_AMOUNTS = "namespaces[0].checkers[1]"
HOOKS = "namespaces[0].channels[1]"
CHAT = "namespaces[0].channels[2]"
AMOUNTS_ALARM = (
    "        alarm: {enabled: false, on_error: ignore, notify_resolved: false, "
    "channels: [hooks, ops-queue]}\n"
)


@pytest.fixture
def rich(tmp_path, sqlite_dir):
    path = rich_file(tmp_path, sqlite_dir)
    config.import_file(path, environ=ENVIRON)
    return path


def reimport(tmp_path, text: str, name: str = "changed.yaml", environ=ENVIRON) -> config.Plan:
    return config.import_file(write(tmp_path, text, name), environ=environ)


def refused(tmp_path, text: str, environ=ENVIRON) -> list[config.ConfigError]:
    with pytest.raises(config.ConfigInvalid) as raised:
        reimport(tmp_path, text, "refused.yaml", environ)
    return raised.value.errors


def changes(plan: config.Plan) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.kind, c.label, c.keys) for c in plan.changes if c.action != Action.UNCHANGED]


def channel(slug: str) -> Channel:
    return Channel.objects.get(slug=slug)


def policy(slug: str) -> AlarmPolicy:
    return AlarmPolicy.objects.get(checker__slug=slug)


# --- Import ------------------------------------------------------------------------------------


def test_channels_import_with_their_secrets_from_the_environment(rich):
    assert (channel("ops-queue").kind, channel("ops-queue").url, channel("ops-queue").is_default) == (
        "queue",
        "",
        True,
    )
    hooks = channel("hooks")
    assert (hooks.name, hooks.kind, hooks.url, hooks.secret) == (
        "Incident webhook",
        "webhook",
        "https://hooks.example.com/malleable?team=growth",
        HOOK_SECRET,
    )
    assert (hooks.min_severity, hooks.is_default, hooks.enabled) == ("warning", False, True)
    assert (channel("chat").kind, channel("chat").url, channel("chat").min_severity) == (
        "slack",
        SLACK_URL,
        "critical",
    )
    assert channel("mail").transport.recipients() == ["ops@example.com", "dba@example.com"]


def test_alarm_policies_and_defaults_import(rich):
    defaults = AlarmDefaults.objects.get(namespace__slug="growth")
    assert (defaults.after_failures, defaults.repeat_every, defaults.on_error, defaults.notify_resolved) == (
        2,
        3600,
        "alarm",
        True,
    )
    few = policy("few-null-emails")
    assert (few.enabled, few.on_error, few.after_failures, few.repeat_every, few.notify_resolved) == (
        True,
        "alarm",
        1,
        3600,
        None,
    )
    amounts = policy("order-amounts")
    assert (amounts.enabled, amounts.on_error, amounts.after_failures, amounts.notify_resolved) == (
        False,
        "ignore",
        None,
        False,
    )
    assert sorted(amounts.channels.values_list("slug", flat=True)) == ["hooks", "ops-queue"]
    assert (amounts.disabled_by, amounts.disabled_reason) == (None, "set by checks as code (import_config)")
    assert not AlarmPolicy.objects.filter(checker__slug="seed-in-python").exists()


def test_the_policy_a_checker_follows_combines_its_own_and_the_namespaces(rich):
    amounts = Policy.for_checker(Checker.objects.get(slug="order-amounts"))
    assert (amounts.after_failures, amounts.repeat_every, amounts.on_error) == (2, 3600, "ignore")
    assert {c.slug for c in amounts.channels} == {"hooks", "ops-queue"}
    python = Policy.for_checker(Checker.objects.get(slug="seed-in-python"))
    assert (python.enabled, python.after_failures, python.notify_resolved) == (True, 2, True)
    assert {c.slug for c in python.channels} == {"ops-queue", "chat", "mail"}


def test_disabling_alarms_from_the_file_is_in_the_toggle_log(rich):
    [entry] = ToggleLog.objects.all()
    assert (entry.action, entry.subject, entry.by, entry.by_name) == (
        ToggleLog.Action.DISABLED,
        "order-amounts",
        None,
        "Malleable",
    )


# --- Idempotence and updates -------------------------------------------------------------------


def test_a_second_import_saves_no_channel_policy_or_default(tmp_path, rich):
    state, stamps, log = model_state(), timestamps(), ToggleLog.objects.count()

    plan = reimport(tmp_path, rich.read_text())

    assert not plan.changed
    assert [c.action for c in plan.changes if c.kind == "channel"] == [Action.UNCHANGED] * 4
    assert (model_state(), timestamps(), ToggleLog.objects.count()) == (state, stamps, log)


def test_an_update_names_the_alarm_keys_that_changed(tmp_path, rich):
    stamps = timestamps()
    text = (
        rich.read_text()
        .replace("after_failures: 1, repeat_every: 3600}", "after_failures: 3, repeat_every: 3600}")
        .replace("channels: [hooks, ops-queue]", "channels: [hooks]")
        .replace("min_severity: critical", "min_severity: warning")
        .replace("{after_failures: 2, repeat_every: 3600}", "{after_failures: 2, repeat_every: 600}")
    )

    plan = reimport(tmp_path, text)

    assert changes(plan) == [
        ("namespace", "growth", ("alarm_defaults.repeat_every",)),
        ("channel", "growth/chat", ("min_severity",)),
        ("checker", "growth/few-null-emails", ("alarm.after_failures",)),
        ("checker", "growth/order-amounts", ("alarm.channels",)),
    ]
    assert policy("few-null-emails").after_failures == 3
    assert list(policy("order-amounts").channels.values_list("slug", flat=True)) == ["hooks"]
    assert timestamps()["Runbook"] == stamps["Runbook"]


def test_enabling_alarms_again_is_an_update_and_logged(tmp_path, rich):
    plan = reimport(tmp_path, rich.read_text().replace("{enabled: false, ", "{"))

    assert ("checker", "growth/order-amounts", ("alarm.enabled",)) in changes(plan)
    assert policy("order-amounts").enabled
    assert ToggleLog.objects.first().action == ToggleLog.Action.ENABLED


def test_leaving_alarm_out_returns_the_checker_to_the_defaults(tmp_path, rich):
    text = rich.read_text().replace(AMOUNTS_ALARM, "")

    plan = reimport(tmp_path, text)

    [change] = [c for c in changes(plan) if c[1] == "growth/order-amounts"]
    assert set(change[2]) == {"alarm.on_error", "alarm.notify_resolved", "alarm.enabled", "alarm.channels"}
    amounts = policy("order-amounts")
    assert (amounts.enabled, amounts.on_error, amounts.notify_resolved, amounts.channels.count()) == (
        True,
        "",
        None,
        0,
    )
    assert "alarm" not in next(
        c
        for c in yaml.safe_load(config.export_yaml())["namespaces"][0]["checkers"]
        if c["slug"] == "order-amounts"
    )


def test_leaving_alarm_defaults_out_resets_them(tmp_path, rich):
    plan = reimport(
        tmp_path,
        rich.read_text().replace("    alarm_defaults: {after_failures: 2, repeat_every: 3600}\n", ""),
    )

    assert (
        "namespace",
        "growth",
        ("alarm_defaults.after_failures", "alarm_defaults.repeat_every"),
    ) in changes(plan)
    defaults = AlarmDefaults.objects.get(namespace__slug="growth")
    assert (defaults.after_failures, defaults.repeat_every) == (1, 0)


def test_a_channel_in_the_database_can_be_routed_to(tmp_path, rich):
    text = """\
namespaces:
  - slug: growth
    checkers:
      - slug: orders-exist
        schedule: "* * * * *"
        rule: {dataset: orders, op: ">", value: 0}
        alarm: {channels: [chat]}
"""
    plan = reimport(tmp_path, text)

    assert ("checker", "growth/orders-exist", ()) in changes(plan)
    assert list(policy("orders-exist").channels.all()) == [channel("chat")]


# --- Errors --------------------------------------------------------------------------------------


def test_a_dangling_channel_reference_points_at_its_line_and_key(tmp_path, rich):
    text = rich.read_text().replace("channels: [hooks, ops-queue]", "channels: [hooks, ops-queu]")

    errors = refused(tmp_path, text)

    assert [(e.path, (e.line, e.column), e.message) for e in errors] == [
        (
            f"{ORDER_AMOUNTS}.alarm.channels[1]",
            locate(text, "ops-queu]"),
            "no channel `ops-queu` in namespace `growth`, in this file or the database: "
            "did you mean `ops-queue`?",
        )
    ]


def test_a_channel_of_another_namespace_is_not_found(tmp_path, rich):
    text = rich.read_text() + (
        "    checkers:\n"
        "      - {slug: ops-check, schedule: '* * * * *', python: pass, alarm: {channels: [hooks]}}\n"
    )

    errors = refused(tmp_path, text)

    assert [(e.path, e.message) for e in errors] == [
        (
            "namespaces[1].checkers[0].alarm.channels[0]",
            "no channel `hooks` in namespace `ops`, in this file or the database; it has no channels yet",
        )
    ]


# (what, old, new, where the error points, key path, words of the message)
CASES = [
    (
        "a channel listed twice",
        "channels: [hooks, ops-queue]",
        "channels: [hooks, hooks]",
        "hooks]",
        f"{ORDER_AMOUNTS}.alarm.channels[1]",
        "`hooks` is listed twice",
    ),
    (
        "an unknown on_error",
        "on_error: ignore",
        "on_error: shrug",
        "shrug",
        f"{ORDER_AMOUNTS}.alarm.on_error",
        "expected one of alarm, ignore, keep, got a string, 'shrug'",
    ),
    (
        "an unknown alarm key",
        "notify_resolved: false",
        "notify_resolve: false",
        "notify_resolve:",
        f"{ORDER_AMOUNTS}.alarm.notify_resolve",
        "unknown key `notify_resolve`: did you mean `notify_resolved`?",
    ),
    (
        "a repeat more often than once a minute (the model's validator)",
        "after_failures: 1, repeat_every: 3600}",
        "after_failures: 1, repeat_every: 30}",
        "30}",
        f"{FEW_NULL_EMAILS}.alarm.repeat_every",
        "Repeat at most once a minute (60 s), or 0 for never.",
    ),
    (
        "a default flap guard out of range",
        "{after_failures: 2, repeat_every: 3600}",
        "{after_failures: 0, repeat_every: 3600}",
        "0, repeat_every: 3600}",
        "namespaces[0].alarm_defaults.after_failures",
        "Ensure this value is greater than or equal to 1.",
    ),
    (
        "an unknown channel kind",
        "kind: webhook",
        "kind: pigeon",
        "pigeon",
        f"{HOOKS}.kind",
        "expected one of queue, webhook, email, apprise, slack, got a string, 'pigeon'",
    ),
    (
        "a webhook without its secret (the transport's validation)",
        "        secret: ${HOOK_SECRET}\n",
        "",
        "slug: hooks",
        f"{HOOKS}.secret",
        "A webhook signs every message: set a secret.",
    ),
    (
        "a webhook URL that is not http",
        "url: https://hooks.example.com/malleable?team=growth",
        "url: ftp://hooks.example.com/malleable",
        "ftp://",
        f"{HOOKS}.url",
        "A webhook needs an http:// or https:// URL.",
    ),
    (
        "a missing secret variable",
        "secret: ${HOOK_SECRET}",
        "secret: ${NOT_SET_ANYWHERE}",
        "${NOT_SET_ANYWHERE}",
        f"{HOOKS}.secret",
        "environment variable NOT_SET_ANYWHERE is not set; it holds the secret of channel `hooks`",
    ),
    (
        "a duplicate channel slug",
        "      - slug: mail\n",
        "      - slug: chat\n",
        "chat\n        kind: email",
        "namespaces[0].channels[3].slug",
        "duplicate slug `chat`: channels of namespace `growth` already has one by that name above",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "needle", "path", "message"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_error_points_at_the_line_column_and_key(tmp_path, rich, old, new, needle, path, message):
    text = rich.read_text()
    assert old in text
    text = text.replace(old, new, 1)
    state = model_state()

    errors = refused(tmp_path, text)

    matching = [error for error in errors if error.path == path]
    assert matching, f"no error at {path}; got: {[str(e) for e in errors]}"
    assert (matching[0].line, matching[0].column) == locate(text, needle), str(matching[0])
    assert message in matching[0].message
    assert model_state() == state


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        (
            "secret: ${HOOK_SECRET}",
            "secret: hunter2-literal",
            f"{HOOKS}.secret",
            "a secret is never written in the file: reference an environment variable instead",
        ),
        (
            "url: ${SLACK_URL}",
            "url: slack://T1234ABCD/B5678EFGH/hunter2-literal/#ops",
            f"{CHAT}.url",
            "a slack URL carries its tokens: keep it in an environment variable",
        ),
        (
            "url: https://hooks.example.com/malleable?team=growth",
            "url: https://hooks.example.com/malleable?token=hunter2-literal",
            f"{HOOKS}.url",
            "the URL spells out a secret (token=): put it in an environment variable",
        ),
        (
            "        kind: queue\n",
            "        kind: queue\n        url: amqp://alarms:hunter2-literal@127.0.0.1:5672/\n",
            "namespaces[0].channels[0].url",
            "the URL spells out a password: put it in an environment variable",
        ),
        (
            "secret: ${HOOK_SECRET}",
            "secret: 123456789",
            f"{HOOKS}.secret",
            "expected a string, got a number",
        ),
    ],
    ids=["literal secret", "literal slack URL", "token in a URL", "password in a URL", "mistyped secret"],
)
def test_a_written_secret_is_refused_and_never_echoed(tmp_path, rich, old, new, path, message):
    errors = refused(tmp_path, rich.read_text().replace(old, new, 1))

    assert [e.path for e in errors] == [path]
    assert errors[0].message.startswith(message)
    assert "hunter2" not in str(errors[0]) and "123456789" not in str(errors[0])


def test_secrets_inside_references_are_fine(tmp_path, rich):
    text = rich.read_text().replace(
        "        kind: queue\n",
        "        kind: queue\n        url: amqp://alarms:${QUEUE_PASSWORD}@127.0.0.1:5672/\n",
    )

    reimport(tmp_path, text, environ=ENVIRON | {"QUEUE_PASSWORD": "hunter2-queue"})

    assert channel("ops-queue").url == "amqp://alarms:hunter2-queue@127.0.0.1:5672/"
    exported = config.export_yaml()
    assert "hunter2" not in exported
    assert "url: ${MALLEABLE_GROWTH_OPS_QUEUE_URL}" in exported
    assert "#   MALLEABLE_GROWTH_OPS_QUEUE_URL" in exported


# --- All or nothing ------------------------------------------------------------------------------


def test_an_error_in_a_channel_changes_nothing(tmp_path, rich):
    state, stamps, log = model_state(), timestamps(), ToggleLog.objects.count()
    text = (
        rich.read_text()
        .replace("{enabled: false, ", "{")
        .replace("{after_failures: 2, repeat_every: 3600}", "{after_failures: 5}")
        .replace("min_severity: critical", "min_severity: warning")
        .replace("secret: ${HOOK_SECRET}", "secret: ${NOT_SET_ANYWHERE}")
    )

    with pytest.raises(config.ConfigInvalid):
        reimport(tmp_path, text)

    assert (model_state(), timestamps(), ToggleLog.objects.count()) == (state, stamps, log)
    assert not policy("order-amounts").enabled


def test_a_dangling_channel_in_a_new_file_creates_nothing(tmp_path, sqlite_dir):
    text = rich_file(tmp_path, sqlite_dir).read_text().replace("[hooks, ops-queue]", "[hooks, pager]")

    with pytest.raises(config.ConfigInvalid):
        reimport(tmp_path, text)

    assert not Namespace.objects.exists()
    assert not Channel.objects.exists()
    assert not AlarmPolicy.objects.exists()
    assert not ToggleLog.objects.exists()


def test_a_dry_run_creates_no_channel_policy_or_log(tmp_path, sqlite_dir):
    plan = config.import_file(rich_file(tmp_path, sqlite_dir), environ=ENVIRON, dry_run=True)

    assert plan.counts()["channel"] == {"created": 4, "updated": 0, "unchanged": 0}
    assert not Channel.objects.exists()
    assert not AlarmPolicy.objects.exists()
    assert not AlarmDefaults.objects.exists()
    assert not ToggleLog.objects.exists()


# --- Export --------------------------------------------------------------------------------------


def test_export_writes_channels_policies_and_defaults_in_the_contract_shape(rich):
    exported = config.export_yaml()
    growth = yaml.safe_load(exported)["namespaces"][0]

    assert growth["alarm_defaults"] == {"after_failures": 2, "repeat_every": 3600}
    assert list(growth)[-2:] == ["checkers", "channels"]
    assert growth["channels"] == [
        {"slug": "chat", "kind": "slack", "url": "${MALLEABLE_GROWTH_CHAT_URL}", "min_severity": "critical"},
        {
            "slug": "hooks",
            "name": "Incident webhook",
            "kind": "webhook",
            "url": "https://hooks.example.com/malleable?team=growth",
            "secret": "${MALLEABLE_GROWTH_HOOKS_SECRET}",
            "min_severity": "warning",
            "default": False,
        },
        {"slug": "mail", "kind": "email", "url": "ops@example.com, dba@example.com"},
        {"slug": "ops-queue", "kind": "queue"},
    ]
    checkers = {c["slug"]: c for c in growth["checkers"]}
    assert checkers["few-null-emails"]["alarm"] == {
        "on_error": "alarm",
        "after_failures": 1,
        "repeat_every": 3600,
    }
    assert list(checkers["order-amounts"])[:7] == [
        "slug",
        "name",
        "description",
        "schedule",
        "runbook",
        "rule",
        "alarm",
    ]
    assert checkers["order-amounts"]["alarm"] == {
        "enabled": False,
        "on_error": "ignore",
        "notify_resolved": False,
        "channels": ["hooks", "ops-queue"],
    }
    assert "alarm" not in checkers["seed-in-python"]
    assert AMOUNTS_ALARM in exported


def test_export_never_contains_a_secret(rich):
    namespace = Namespace.objects.get(slug="ops")
    Channel.objects.create(
        namespace=namespace, slug="pager", kind="apprise", url="pagerduty://s3cret-key@s3cret-api"
    )
    Channel.objects.create(
        namespace=namespace,
        slug="hook",
        kind="webhook",
        url="https://example.com/hook?api_key=s3cret-query",
        secret="s3cret-typed-in-admin",
    )
    Channel.objects.create(namespace=namespace, slug="mq", kind="queue", url="amqp://u:s3cret-pw@127.0.0.1/")

    exported = config.export_yaml()

    for secret in (*SECRETS, "s3cret"):
        assert secret not in exported
    channels = {c["slug"]: c for c in yaml.safe_load(exported)["namespaces"][1]["channels"]}
    assert channels["pager"]["url"] == "${MALLEABLE_OPS_PAGER_URL}"
    assert (channels["hook"]["url"], channels["hook"]["secret"]) == (
        "${MALLEABLE_OPS_HOOK_URL}",
        "${MALLEABLE_OPS_HOOK_SECRET}",
    )
    assert channels["mq"]["url"] == "${MALLEABLE_OPS_MQ_URL}"
    header = exported.split("namespaces:")[0]
    for variable in (
        "MALLEABLE_GROWTH_CHAT_URL      URL of channel growth/chat",
        "MALLEABLE_GROWTH_HOOKS_SECRET  secret of channel growth/hooks",
        "MALLEABLE_OPS_PAGER_URL",
        "MALLEABLE_OPS_HOOK_SECRET",
        "MALLEABLE_OPS_MQ_URL",
    ):
        assert f"#   {variable}" in header


def test_round_trip_keeps_channels_policies_and_defaults(tmp_path, rich):
    first = config.export_yaml()
    state = model_state()
    wipe()

    reimport(tmp_path, first, "exported.yaml")

    assert config.export_yaml() == first
    assert model_state() == state
    assert channel("hooks").secret == HOOK_SECRET
    assert channel("chat").url == SLACK_URL
