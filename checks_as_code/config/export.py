"""Export namespaces as checks-as-code YAML that ``import_config`` reads back to the same state.

Stable by construction: objects sorted by slug, keys in the contract's order, values left
out when they equal the model's default (an import fills them back in), and no timestamp.
Passwords and other secrets never appear: each is the ``${VAR}`` reference it was imported
from, or a generated variable name, and the header lists the variables an import needs.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any, Protocol, TypeVar

import yaml
from django.db import models

from alarms.models import AlarmDefaults, AlarmPolicy, Channel
from checkers import schedules
from checkers.models import Checker, CheckerKind, CheckerRule, Dataset, Datasource
from checkers.rules import Compare, Days, Metric, Operator, number
from checks_as_code.config import credentials
from checks_as_code.config.alarms import CHANNEL_KEYS, POLICY_KEYS, TOKEN_URLS
from checks_as_code.config.calendar import export_calendar, export_retention
from checks_as_code.config.checks import CHECKER_KEYS
from checks_as_code.config.namespaces import NAMESPACE_KEYS
from checks_as_code.config.sources import DATASET_KEYS, DATASOURCE_KEYS
from checks_as_code.config.store import current, default
from namespaces.models import Namespace
from runbooks.models import Runbook


class _Slugged(Protocol):
    slug: str


S = TypeVar("S", bound=_Slugged)


class Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key, multi-line text as ``|`` blocks, no aliases."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        return super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


class Inline(dict):
    """A small mapping written on one line, as the contract writes members and intervals."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


def _represent_inline(dumper: yaml.SafeDumper, value: Inline) -> yaml.MappingNode:
    return dumper.represent_mapping("tag:yaml.org,2002:map", value.items(), flow_style=True)


def _represent_list(dumper: yaml.SafeDumper, value: list) -> yaml.SequenceNode:
    """Lists of slugs on one line (``datasets: [a, b]``); lists of objects in block style."""
    flow = all(isinstance(item, str) and "\n" not in item for item in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flow)


Dumper.add_representer(str, _represent_str)
Dumper.add_representer(Inline, _represent_inline)
Dumper.add_representer(list, _represent_list)


@dataclass
class Exporter:
    """``modules_dir``: write compiled modules there as files instead of inline base64."""

    modules_dir: str | None = None
    variables: dict[str, str] = field(default_factory=dict)

    def dump(self, namespaces: Iterable[Namespace]) -> str:
        data = {"namespaces": [self.namespace(namespace) for namespace in namespaces]}
        body = yaml.dump(data, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=100)
        return self.header() + body

    def header(self) -> str:
        lines = [
            "# Malleable checks as code, from `manage.py export_config`; `manage.py import_config` reads it."
        ]
        if self.variables:
            lines.append(
                "# Passwords and secrets are not in this file. "
                "Set these environment variables before importing:"
            )
            width = max(len(name) for name in self.variables)
            lines += [f"#   {name:<{width}}  {what}" for name, what in self.variables.items()]
        else:
            lines.append("# No passwords or secrets: the import needs no environment variables.")
        return "\n".join(lines) + "\n"

    def namespace(self, namespace: Namespace) -> dict[str, Any]:
        data: dict[str, Any] = {"slug": namespace.slug, "name": namespace.name}
        data |= _non_default(namespace, _except(NAMESPACE_KEYS, "name"))
        defaults = AlarmDefaults.objects.filter(namespace=namespace).first()
        if defaults and _non_default(defaults, POLICY_KEYS):
            data["alarm_defaults"] = Inline(_non_default(defaults, POLICY_KEYS))
        calendar = export_calendar(namespace)
        if calendar:
            data["calendar"] = calendar
        if retention_days := export_retention(namespace):
            data["retention_days"] = retention_days
        members = sorted(namespace.memberships.select_related("user"), key=lambda m: m.user.get_username())
        sections = {
            "members": [Inline(user=m.user.get_username(), role=m.role) for m in members],
            "datasources": [self.datasource(d) for d in _by_slug(namespace.datasources.all())],
            "datasets": [self.dataset(d) for d in _by_slug(namespace.datasets.select_related("datasource"))],
            "runbooks": [self.runbook(r) for r in _by_slug(namespace.runbooks.select_related("owner"))],
            "checkers": [self.checker(c) for c in _by_slug(namespace.checkers.select_related("runbook"))],
            "channels": [self.channel(c) for c in _by_slug(namespace.channels.all())],
        }
        return data | {key: items for key, items in sections.items() if items}

    def datasource(self, datasource: Datasource) -> dict[str, Any]:
        data = {"slug": datasource.slug}
        data |= _non_default(datasource, {"name": "name"})
        data |= {"engine": datasource.engine, "url": credentials.without_password(datasource.url)}
        if datasource.password or datasource.password_env or credentials.has_password(datasource.url):
            name = datasource.password_env or credentials.env_name(datasource.namespace.slug, datasource.slug)
            self.variables.setdefault(
                name, f"password of datasource {datasource.namespace.slug}/{datasource.slug}"
            )
            data["password"] = f"${{{name}}}"
        return data | _non_default(datasource, _except(DATASOURCE_KEYS, "name", "engine", "url"))

    def dataset(self, dataset: Dataset) -> dict[str, Any]:
        data = {"slug": dataset.slug, "datasource": dataset.datasource.slug, "sql": dataset.sql}
        return data | _non_default(dataset, _except(DATASET_KEYS, "sql"))

    def runbook(self, runbook: Runbook) -> dict[str, Any]:
        """The owner only while a member: an import refuses anyone else, as the admin does."""
        data = {"slug": runbook.slug, "title": runbook.title, "body": runbook.body}
        if runbook.owner and runbook.namespace.memberships.filter(user=runbook.owner).exists():
            data["owner"] = runbook.owner.get_username()
        return data

    def checker(self, checker: Checker) -> dict[str, Any]:
        data: dict[str, Any] = {"slug": checker.slug}
        if checker.name != checker.slug:
            data["name"] = checker.name
        data |= _non_default(checker, {"description": "description"})
        schedule = schedules.Schedule(checker.schedule_cron, checker.schedule_every).as_config()
        data["schedule"] = Inline(schedule) if isinstance(schedule, dict) else schedule
        if checker.runbook:
            data["runbook"] = checker.runbook.slug
        datasets = sorted(checker.datasets.values_list("slug", flat=True))
        if datasets:
            data["datasets"] = datasets
        data |= self.kind(checker)
        alarm = _alarm(checker)
        if alarm:
            data["alarm"] = alarm
        data |= _non_default(checker, _except(CHECKER_KEYS, "name", "description"))
        if checker.tag_list():
            data["tags"] = checker.tag_list()
        return data

    def channel(self, channel: Channel) -> dict[str, Any]:
        """A URL with a password or token in it, and every slack or apprise URL, as a reference."""
        label = f"{channel.namespace.slug}/{channel.slug}"
        data = {"slug": channel.slug} | _non_default(channel, {"name": "name"}) | {"kind": channel.kind}
        if channel.url:
            secret = channel.kind in TOKEN_URLS or credentials.written_secret(channel.url)
            data["url"] = self.variable(channel, "URL", f"URL of channel {label}") if secret else channel.url
        if channel.secret:
            data["secret"] = self.variable(channel, "SECRET", f"secret of channel {label}")
        return data | _non_default(channel, _except(CHANNEL_KEYS, "name", "kind", "url", "secret"))

    def variable(self, obj: Channel, what: str, description: str) -> str:
        name = credentials.env_name(obj.namespace.slug, obj.slug, what=what)
        self.variables.setdefault(name, description)
        return f"${{{name}}}"

    def kind(self, checker: Checker) -> dict[str, Any]:
        if checker.kind == CheckerKind.RULE:
            rules = [_rule(rule) for rule in checker.rules.select_related("dataset")]
            return {"rule": rules[0]} if len(rules) == 1 else {"rules": rules}
        if checker.kind == CheckerKind.PYTHON:
            return {"python": checker.source}
        if not checker.wasm_module:
            return {"wat": checker.source}
        module = bytes(checker.wasm_module)
        if self.modules_dir is None:
            return {"wasm_base64": base64.encodebytes(module).decode("ascii")}
        relative = PurePath(self.modules_dir, checker.namespace.slug, f"{checker.slug}.wasm")
        Path(relative).parent.mkdir(parents=True, exist_ok=True)
        Path(relative).write_bytes(module)
        return {"wasm": relative.as_posix()}


def _rule(rule: CheckerRule) -> dict[str, Any]:
    data: dict[str, Any] = {"dataset": rule.dataset.slug, "metric": rule.metric}
    if rule.column and Metric(rule.metric).needs_column:
        data["column"] = rule.column
    if rule.compare == Compare.BAND:
        data["compare"] = rule.compare
        if rule.band:
            data["band"] = rule.band
        data |= {key: number(getattr(rule, key)) for key in BAND_KEYS if getattr(rule, key) is not None}
        if rule.seasonal:
            data["seasonal"] = rule.seasonal
    else:
        data |= {"compare": rule.compare} if rule.compare else {}
        data |= {"op": rule.op, "value": number(rule.value)}
        if rule.high is not None and rule.op == Operator.BETWEEN:
            data["high"] = number(rule.high)
    if rule.min_history is not None and rule.compare:
        data["min_history"] = rule.min_history
    if rule.days:
        data["days"] = rule.days
    if rule.days == Days.BOUND:
        data["off_value"] = number(rule.off_value)
        if rule.off_high is not None and rule.op == Operator.BETWEEN:
            data["off_high"] = number(rule.off_high)
    if rule.key_column:
        data["key_column"] = rule.key_column
    if rule.message:
        data["message"] = rule.message
    return data


# A band's numbers, written when set.
BAND_KEYS = ("k", "history_runs", "history_days")


def _alarm(checker: Checker) -> Inline | None:
    """The checker's own policy, as the contract writes it; None when it all follows the defaults."""
    policy = AlarmPolicy.objects.filter(checker=checker).first()
    if policy is None:
        return None
    alarm = Inline({} if policy.enabled else {"enabled": False})
    alarm |= _non_default(policy, POLICY_KEYS)
    channels = sorted(policy.channels.values_list("slug", flat=True))
    if channels:
        alarm["channels"] = channels
    return alarm or None


def _non_default(obj: models.Model, keys: Mapping[str, str]) -> dict[str, Any]:
    """The file's keys for the fields that differ from the model's default."""
    model = type(obj)
    return {
        key: current(obj, field)
        for field, key in keys.items()
        if current(obj, field) != default(model, field)
    }


def _by_slug(objects: Iterable[S]) -> list[S]:
    """Sorted in Python: database collations disagree on where ``-`` and ``_`` go."""
    return sorted(objects, key=lambda obj: obj.slug)


def _except(keys: Mapping[str, str], *fields: str) -> dict[str, str]:
    return {field: key for field, key in keys.items() if field not in fields}


def export_yaml(namespaces: Iterable[Namespace] | None = None, *, modules_dir: str | None = None) -> str:
    """The YAML for ``namespaces`` (all of them by default), sorted by slug."""
    if namespaces is None:
        namespaces = Namespace.objects.all()
    return Exporter(modules_dir=modules_dir).dump(_by_slug(namespaces))
