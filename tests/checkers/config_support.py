"""What the checks-as-code tests share: the contract's example, files, and the state to compare."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

from django.db import models

from alarms.models import AlarmDefaults, AlarmPolicy, Channel
from checkers.models import Checker, Dataset, Datasource
from namespaces.models import Membership, Namespace
from runbooks.models import Runbook

PASSWORD = "s3cret-password-plaintext"
HOOK_SECRET = "s3cret-hook-signing-key"
SLACK_URL = "slack://T1234ABCD/B5678EFGH/s3cretslacktokenabcdefgh/#ops"
# What RICH needs, under the names it uses and the names an export of it generates.
ENVIRON = {
    "SHOP_DB_PASSWORD": PASSWORD,
    "HOOK_SECRET": HOOK_SECRET,
    "SLACK_URL": SLACK_URL,
    "MALLEABLE_GROWTH_HOOKS_SECRET": HOOK_SECRET,
    "MALLEABLE_GROWTH_CHAT_URL": SLACK_URL,
}
SECRETS = (PASSWORD, HOOK_SECRET, SLACK_URL, "s3cretslacktoken")

# The example of docs/checks-as-code.md, "The file", verbatim: the contract's shape.
DESIGN_EXAMPLE = """\
namespaces:
  - slug: growth
    name: Growth team
    members: [{user: alice, role: owner}, {user: bob, role: viewer}]   # roles: owner, editor, viewer
    datasources:
      - slug: shop
        engine: postgresql            # postgresql | mysql | sqlite
        url: postgresql://reader@127.0.0.1:5432/shop
        password: ${SHOP_DB_PASSWORD}
    datasets:
      - slug: users_with_email_null
        datasource: shop
        sql: SELECT username FROM users WHERE email IS NULL
    runbooks:
      - slug: null-emails
        title: Users without an e-mail address
        body: "Markdown. Who to call, what to run."
    checkers:
      - slug: few-null-emails
        schedule: "*/5 * * * *"       # cron, or {every: 300} seconds
        runbook: null-emails
        datasets: [users_with_email_null]
        rule: {dataset: users_with_email_null, metric: row_count, op: "<", value: 42,
               message: "There should be less than 42 users in that state"}
        # or   python: |  ...source...      or   wasm: path/to/module.wasm   or   wat: |  ...
        alarm: {enabled: true, on_error: alarm, after_failures: 1, repeat_every: 3600}
    channels:
      - slug: ops-queue
        kind: queue                   # queue | webhook | email | slack | apprise
"""

# A file with every kind of checker and most extensions, on a SQLite datasource in {dir}.
RICH = """\
namespaces:
  - slug: growth
    name: Growth team
    description: Checks of the growth funnel.
    timezone: Europe/Berlin
    alarm_defaults: {after_failures: 2, repeat_every: 3600}
    members: [{user: alice, role: owner}, {user: bob, role: viewer}]
    datasources:
      - slug: shop
        name: Shop replica
        engine: sqlite
        url: sqlite:///{dir}/growth/shop.sqlite3
        password: ${SHOP_DB_PASSWORD}
        statement_timeout: 5.5
        row_cap: 5000
        max_concurrency: 2
    datasets:
      - slug: users_with_email_null
        datasource: shop
        sql: SELECT username FROM users WHERE email IS NULL
        description: Users we cannot write to.
      - slug: orders
        datasource: shop
        sql: SELECT id, amount FROM orders
        sample: true
    runbooks:
      - slug: null-emails
        title: Users without an e-mail address
        body: |
          # Who to call

          The growth on-call. Then run `SELECT count(*) FROM users WHERE email IS NULL`.
        owner: alice
      - slug: orders
        title: Orders look wrong
        body: "Look at the payment provider's status page first."
    checkers:
      - slug: few-null-emails
        schedule: "*/5 * * * *"
        runbook: null-emails
        datasets: [users_with_email_null]
        rule: {dataset: users_with_email_null, metric: row_count, op: "<", value: 42,
               message: "There should be less than 42 users in that state"}
        alarm: {enabled: true, on_error: alarm, after_failures: 1, repeat_every: 3600}
      - slug: order-amounts
        name: Order amounts
        description: The average order is plausible.
        tags: [nightly, Billing]
        schedule: {every: 300}
        runbook: orders
        rule: {dataset: orders, metric: avg, column: amount, op: between, value: 10, high: 200.5}
        alarm: {enabled: false, on_error: ignore, notify_resolved: false, channels: [hooks, ops-queue]}
        severity: critical
        enabled: false
        timezone: UTC
      - slug: seed-in-python
        schedule: "0 * * * *"
        datasets: [users_with_email_null, orders]
        python: |
          CheckerCase().assertLessThan(datasets['users_with_email_null'], params['limit'], 'too many')
        params: {limit: 42, tags: [a, b]}
        timeout: 2.5
        memory_mb: 64
        fuel: 1000000
      - slug: seed-in-wat
        schedule: "*/10 * * * *"
        datasets: [users_with_email_null]
        wat: |
          (module (func (export "check")))
      - slug: seed-in-wasm
        schedule: {every: 60}
        wasm: modules/seed.wasm
    channels:
      - slug: ops-queue
        kind: queue
      - slug: hooks
        name: Incident webhook
        kind: webhook
        url: https://hooks.example.com/malleable?team=growth
        secret: ${HOOK_SECRET}
        min_severity: warning
        default: false
      - slug: chat
        kind: slack
        url: ${SLACK_URL}
        min_severity: critical
      - slug: mail
        kind: email
        url: ops@example.com, dba@example.com
  - slug: ops
    name: Operations
    datasources:
      - slug: warehouse
        engine: sqlite
        url: sqlite:///{dir}/ops/warehouse.sqlite3
"""

# The smallest valid module: a ``check`` that does nothing.
EMPTY_MODULE = base64.b64decode("AGFzbQEAAAABBAFgAAADAgEABwkBBWNoZWNrAAAKBAECAAs=")


def write(folder: Path, text: str, name: str = "growth.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def rich_file(folder: Path, sqlite_dir: Path) -> Path:
    (folder / "modules").mkdir(exist_ok=True)
    (folder / "modules" / "seed.wasm").write_bytes(EMPTY_MODULE)
    return write(folder, RICH.replace("{dir}", str(sqlite_dir)))


def locate(text: str, needle: str) -> tuple[int, int]:
    """The 1-based line and column where ``needle`` first appears: where an error should point."""
    offset = text.index(needle)
    line = text.count("\n", 0, offset) + 1
    return line, offset - (text.rfind("\n", 0, offset) + 1) + 1


def _value(obj: models.Model, field: models.Field) -> Any:
    if field.is_relation:
        target = getattr(obj, field.name)
        return None if target is None else getattr(target, "slug", None) or target.get_username()
    value = field.value_from_object(obj)
    return bytes(value) if isinstance(value, memoryview) else value


SKIPPED = {"id", "created", "updated", "next_run_at", "last_run_at", "disabled_at"}


def _rows(model: type[models.Model]) -> list[dict[str, Any]]:
    fields = [f for f in model._meta.concrete_fields if f.name not in SKIPPED]
    return sorted(
        ({f.name: _value(obj, f) for f in fields} for obj in model.objects.all()),
        key=lambda row: repr(sorted(row.items(), key=lambda item: item[0])),
    )


def model_state() -> dict[str, Any]:
    """Everything an import writes, with references as slugs, so two databases compare equal."""
    checkers = {
        (c.namespace.slug, c.slug): sorted(c.datasets.values_list("slug", flat=True))
        for c in Checker.objects.all()
    }
    policies = {
        (p.checker.namespace.slug, p.checker.slug): sorted(p.channels.values_list("slug", flat=True))
        for p in AlarmPolicy.objects.all()
    }
    written = (
        Namespace,
        Membership,
        Datasource,
        Dataset,
        Runbook,
        Checker,
        Channel,
        AlarmDefaults,
        AlarmPolicy,
    )
    return {model.__name__: _rows(model) for model in written} | {
        "checker datasets": checkers,
        "policy channels": policies,
    }


def wipe() -> None:
    """Delete everything an import writes, in the order PROTECT allows."""
    for model in (Checker, Dataset, Datasource, Runbook, Channel, Membership, Namespace):
        model.objects.all().delete()


def timestamps() -> dict[str, Any]:
    stamps = {
        model.__name__: sorted(model.objects.values_list("slug", "updated"))
        for model in (Datasource, Dataset, Runbook, Checker, Channel)
    }
    return stamps | {
        "AlarmDefaults": sorted(AlarmDefaults.objects.values_list("namespace__slug", "updated")),
        "AlarmPolicy": sorted(AlarmPolicy.objects.values_list("checker__slug", "updated")),
        "next runs": sorted(Checker.objects.values_list("slug", "next_run_at")),
    }
