"""The ``channels`` section, the checker's ``alarm:`` key and the namespace's ``alarm_defaults:``.

A channel's secrets stay out of the file as ``${VAR}`` references: its ``secret`` always, and
any password or token in its ``url`` (a slack or apprise URL is all tokens, so it is always a
reference). The model keeps no variable names, so an export names them itself.

A checker's ``alarm:`` is its own policy: a key left out follows the namespace's defaults
(``alarm_defaults:``, or the model's when the namespace has none). Switching alarming on or
off goes through ``AlarmPolicy.set_enabled``, so the toggle log says who did it: Malleable.
"""

from __future__ import annotations

from typing import Any

from django.db import models

from alarms.models import AlarmDefaults, AlarmPolicy, Channel, OnError
from alarms.transports import TRANSPORTS
from checkers.models import Checker, Severity
from checks_as_code.config import credentials
from checks_as_code.config.context import Context, Scope
from checks_as_code.config.document import Path
from checks_as_code.config.plan import Action
from checks_as_code.config.schema import BOOLEAN, INTEGER, MAPPING, TEXT, TEXTS, Schema, choice, read
from checks_as_code.config.section import CheckerKey, Section
from checks_as_code.config.store import default, upsert, upsert_setting

# Model field → the file's key, for the fields that are plainly one key.
CHANNEL_KEYS = {
    "name": "name",
    "kind": "kind",
    "url": "url",
    "secret": "secret",
    "min_severity": "min_severity",
    "is_default": "default",
}
# Kinds whose URL is a credential as a whole (apprise and slack URLs hold the tokens).
TOKEN_URLS = ("slack", "apprise")
POLICY_KEYS = {
    "on_error": "on_error",
    "after_failures": "after_failures",
    "repeat_every": "repeat_every",
    "notify_resolved": "notify_resolved",
}
POLICY = {
    "on_error": choice(OnError.values),
    "after_failures": INTEGER,
    "repeat_every": INTEGER,
    "notify_resolved": BOOLEAN,
}
ALARM = Schema("an alarm policy", {"enabled": BOOLEAN, **POLICY, "channels": TEXTS}, required=())
DEFAULTS = Schema("the namespace's alarm defaults", POLICY, required=())
TOGGLE_REASON = "set by checks as code (import_config)"


class Channels(Section):
    key = "channels"
    kind = "channel"
    model = Channel
    keys = CHANNEL_KEYS
    schema = Schema(
        "a channel",
        {
            "slug": TEXT,
            "name": TEXT,
            "kind": choice(list(TRANSPORTS)),
            "url": TEXT,
            "secret": TEXT,
            "min_severity": choice(Severity.values),
            "default": BOOLEAN,
        },
        required=("slug", "kind"),
        secret=("url", "secret"),
    )

    def values(self, ctx: Context, path: Path, fields: dict[str, Any]) -> dict[str, Any]:
        owner = f"channel `{fields.get('slug', '?')}`"
        values = super().values(ctx, path, fields)
        values["url"] = _url(ctx, (*path, "url"), fields, owner)
        values["secret"], _ = credentials.reference(
            ctx,
            (*path, "secret"),
            fields.get("secret"),
            f"the secret of {owner}",
            "secret: ${OPS_HOOK_SECRET}",
        )
        return values

    def apply(
        self, ctx: Context, scope: Scope, path: Path, fields: dict[str, Any], values: dict[str, Any]
    ) -> None:
        result = self.write(ctx, scope, path, Channel, fields["slug"], values, CHANNEL_KEYS)
        if result:
            self.record(ctx, scope, fields["slug"], result[1], result[2])


def _url(ctx: Context, path: Path, fields: dict[str, Any], owner: str) -> str:
    """The URL with its ``${VAR}`` references expanded; what it spells out is never echoed."""
    text = fields.get("url", "")
    written = credentials.written_secret(text)
    if written:
        ctx.error(
            path,
            f"the URL spells out {written}: put it in an environment variable and write "
            "${VAR} in its place, or the whole URL as url: ${VAR}",
        )
    elif fields.get("kind") in TOKEN_URLS and text and not credentials.REFERENCE.search(text):
        ctx.error(
            path,
            f"a {fields['kind']} URL carries its tokens: keep it in an environment variable and "
            f"write url: ${{VAR}} (or reference the tokens, slack://${{SLACK_TOKENS}}/#ops)",
        )
    return credentials.expand(ctx, path, text, owner)


class AlarmKey(CheckerKey):
    """``alarm: {enabled, on_error, after_failures, repeat_every, notify_resolved, channels}``."""

    key = "alarm"
    type = MAPPING

    def values(self, ctx: Context, path: Path, value: dict[str, Any]) -> dict[str, Any]:
        alarm = read(ctx, path, value, ALARM) or {}
        slugs = alarm.get("channels", [])
        for index, slug in enumerate(slugs):
            if slug in slugs[:index]:
                ctx.error((*path, "channels", index), f"`{slug}` is listed twice")
        return {}

    def resolve(
        self, ctx: Context, scope: Scope, path: Path, value: dict[str, Any] | None
    ) -> dict[str, Any] | None:
        slugs = (value or {}).get("channels", [])
        channels = [
            scope.resolve(ctx, "channels", Channel, slug, (*path, "channels", index))
            for index, slug in enumerate(slugs)
        ]
        return None if None in channels else {"channels": channels}

    def save(
        self,
        ctx: Context,
        scope: Scope,
        path: Path,
        checker: Checker,
        value: dict[str, Any] | None,
        resolved: dict[str, Any],
    ) -> tuple[str, ...]:
        """Upsert the checker's policy; a checker that leaves everything to the defaults and
        has no policy yet gets none."""
        alarm = value or {}
        values = _own(alarm)
        enabled, channels = alarm.get("enabled", True), resolved["channels"]
        if values == _own({}) and enabled and not channels and not _has_policy(checker):
            return ()
        result = upsert(ctx, path, AlarmPolicy, {"checker": checker}, values, POLICY_KEYS)
        if result is None:
            return ()
        policy, action, changed = result
        if policy.enabled != enabled:
            policy.set_enabled(enabled, None, TOGGLE_REASON)
            changed = (*changed, "enabled")
        if {c.pk for c in policy.channels.all()} != {c.pk for c in channels}:
            policy.channels.set(channels)
            changed = (*changed, "channels")
        if action == Action.CREATED:
            return ("alarm",)
        return tuple(f"alarm.{key}" for key in changed)


def _own(alarm: dict[str, Any]) -> dict[str, Any]:
    """The policy's own fields: what the file leaves out is blank, following the defaults."""
    return {
        "on_error": alarm.get("on_error", ""),
        "after_failures": alarm.get("after_failures"),
        "repeat_every": alarm.get("repeat_every"),
        "notify_resolved": alarm.get("notify_resolved"),
    }


def _has_policy(checker: Checker) -> bool:
    return AlarmPolicy.objects.filter(checker=checker).exists()


def read_defaults(ctx: Context, path: Path, fields: dict[str, Any]) -> dict[str, Any]:
    """The namespace's ``alarm_defaults`` as model values; a key left out is the model's default."""
    given = {}
    if "alarm_defaults" in fields:
        given = read(ctx, (*path, "alarm_defaults"), fields["alarm_defaults"], DEFAULTS) or {}
    return {field: given.get(key, default(AlarmDefaults, field)) for field, key in POLICY_KEYS.items()}


def apply_defaults(
    ctx: Context, path: Path, namespace: models.Model, values: dict[str, Any]
) -> tuple[str, ...]:
    """Upsert the namespace's defaults; the keys that changed, as the namespace's."""
    path = (*path, "alarm_defaults")
    model_defaults = {field: default(AlarmDefaults, field) for field in POLICY_KEYS}
    if values == model_defaults and not AlarmDefaults.objects.filter(namespace_id=namespace.pk).exists():
        return ()
    return upsert_setting(ctx, path, AlarmDefaults, namespace, values, POLICY_KEYS)
