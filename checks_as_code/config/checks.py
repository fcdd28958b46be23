"""The ``checkers`` section: schedule, datasets, and exactly one kind of check.

A checker is a ``rule``, ``python`` source, ``wat`` text, or a compiled module: ``wasm`` (a
path relative to the file) or ``wasm_base64`` (the module inline, which is how an export
carries it). Each kind is one function in ``KINDS`` returning the model fields it sets;
every other kind's fields are blanked, so switching kinds leaves nothing behind.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any

import wasmtime

from checkers import quotas, schedules
from checkers.models import Checker, CheckerKind, CheckerRule, Dataset, Severity
from checkers.rules import Band, Compare, Days, Metric, Operator, Rule, Season
from checkers.sandbox.engine import get_engine
from checks_as_code.config.alarms import AlarmKey
from checks_as_code.config.context import Context, Scope
from checks_as_code.config.document import Path
from checks_as_code.config.plan import Action
from checks_as_code.config.runbooks import RunbookKey
from checks_as_code.config.schema import (
    BOOLEAN,
    INTEGER,
    LIST,
    MAPPING,
    NUMBER,
    SCHEDULE,
    TEXT,
    TEXTS,
    Schema,
    choice,
    read,
)
from checks_as_code.config.section import CheckerKey, Section
from checks_as_code.config.store import default

# Model field → the file's key, for the fields that are plainly one key.
CHECKER_KEYS = {
    "name": "name",
    "description": "description",
    "enabled": "enabled",
    "severity": "severity",
    "params": "params",
    "timezone": "timezone",
    "timeout_s": "timeout",
    "memory_mb": "memory_mb",
    "fuel": "fuel",
}
SCHEDULE_KEYS = {"schedule_cron": "schedule", "schedule_every": "schedule"}
# What a checker of no particular kind holds: the base every kind writes over.
BLANK = {
    "source": "",
    "wasm_module": None,
}

# The file's words for the choices stored blank: `compare: value`, `band: stddev`.
NAMED_BLANKS = {"compare": "value", "band": "stddev", "days": "every"}
RULE = Schema(
    "a rule",
    {
        "dataset": TEXT,
        "metric": choice(Metric.values),
        "compare": choice([NAMED_BLANKS["compare"], *Compare.values[1:]]),
        "op": choice(Operator.values),
        "value": NUMBER,
        "high": NUMBER,
        "column": TEXT,
        "band": choice([NAMED_BLANKS["band"], *Band.values[1:]]),
        "k": NUMBER,
        "history_runs": INTEGER,
        "history_days": INTEGER,
        "seasonal": choice(Season.values[1:]),
        "min_history": INTEGER,
        "days": choice([NAMED_BLANKS["days"], *Days.values[1:]]),
        "off_value": NUMBER,
        "off_high": NUMBER,
        "key_column": TEXT,
        "message": TEXT,
    },
    required=("dataset",),
)
EVERY = Schema("an interval", {"every": INTEGER}, required=("every",))
WASM_MAGIC = b"\0asm"
# One tag as ``Checker.tag_list`` reads them out of the stored text: no spaces, no commas.
TAG = re.compile(r"[^\s,]+")


def _rule(ctx: Context, path: Path, value: dict[str, Any]) -> dict[str, Any]:
    _read_rule(ctx, path, value)
    return {"kind": CheckerKind.RULE}


def _rules(ctx: Context, path: Path, value: list[Any]) -> dict[str, Any]:
    if not value:
        ctx.error(path, "a rule checker needs at least one rule: rules: [{dataset, metric, op, value}, ...]")
    for index, rule in enumerate(value):
        _read_rule(ctx, (*path, index), rule)
    return {"kind": CheckerKind.RULE}


def _read_rule(ctx: Context, path: Path, value: Any) -> None:
    """One rule's keys and types, then what the rule as a whole lacks (a column, a bound)."""
    checkpoint = ctx.checkpoint()
    fields = read(ctx, path, value, RULE)
    if fields is None or ctx.failed_since(checkpoint):
        return
    rule = Rule.from_dict(stored_rule(fields))
    if rule.compare != Compare.BAND and "op" not in fields:
        ctx.error((*path, "op"), "missing: a rule needs `op` (a band needs none)")
        return
    for key in ("history_runs", "history_days", "min_history"):
        if fields.get(key, 1) < 1:
            ctx.error((*path, key), "expected a whole number of 1 or more")
    try:
        rule.validate()
    except ValueError as exc:
        ctx.error(path, str(exc))


def stored_rule(spec: dict[str, Any]) -> dict[str, Any]:
    """A rule of the file as the model stores it: the named blanks blank again."""
    return spec | {key: "" for key, name in NAMED_BLANKS.items() if spec.get(key) == name}


def rule_entries(fields: dict[str, Any]) -> list[tuple[Path, dict[str, Any]]]:
    """The checker's rules as (path under the checker, rule), whether it says `rule:` or `rules:`."""
    if "rule" in fields:
        return [(("rule",), fields["rule"])]
    return [(("rules", index), rule) for index, rule in enumerate(fields.get("rules", []))]


def _python(ctx: Context, path: Path, value: str) -> dict[str, Any]:
    return {"kind": CheckerKind.PYTHON, "source": value}


def _wat(ctx: Context, path: Path, value: str) -> dict[str, Any]:
    try:
        _validate_module(wasmtime.wat2wasm(value))
    except wasmtime.WasmtimeError as exc:
        ctx.error(path, f"the WAT is not a valid module: {_brief(exc)}")
    return {"kind": CheckerKind.WASM, "source": value}


def _wasm_file(ctx: Context, path: Path, value: str) -> dict[str, Any]:
    try:
        module = (ctx.base_dir / value).read_bytes()
    except OSError as exc:
        ctx.error(path, f"cannot read {value} (relative to the file's folder): {exc.strerror or exc}")
        return {"kind": CheckerKind.WASM}
    return _wasm(ctx, path, module, value)


def _wasm_base64(ctx: Context, path: Path, value: str) -> dict[str, Any]:
    try:
        module = base64.b64decode("".join(value.split()), validate=True)
    except binascii.Error as exc:
        ctx.error(path, f"not base64: {exc}")
        return {"kind": CheckerKind.WASM}
    return _wasm(ctx, path, module, "the module")


def _wasm(ctx: Context, path: Path, module: bytes, name: str) -> dict[str, Any]:
    if not module.startswith(WASM_MAGIC):
        ctx.error(path, f"{name} is not a WebAssembly module: it does not start with \\0asm")
    else:
        try:
            _validate_module(module)
        except wasmtime.WasmtimeError as exc:
            ctx.error(path, f"{name} is not a valid WebAssembly module: {_brief(exc)}")
    return {"kind": CheckerKind.WASM, "wasm_module": module}


def _validate_module(module: bytes) -> None:
    """Validate with the sandbox's own engine, so what passes here also compiles there."""
    wasmtime.Module.validate(get_engine(), module)


def _brief(exc: Exception) -> str:
    """wasmtime's first line, and where in the WAT text it points (``--> <anon>:2:26``)."""
    text = str(exc)
    where = re.search(r"<anon>:(\d+):(\d+)", text)
    first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
    return f"{first} (line {where[1]}, column {where[2]} of the WAT)" if where else first


KINDS: dict[str, Callable[[Context, Path, Any], dict[str, Any]]] = {
    "rule": _rule,
    "rules": _rules,
    "python": _python,
    "wat": _wat,
    "wasm": _wasm_file,
    "wasm_base64": _wasm_base64,
}


# Keys stored beside the check itself, in the order an export writes them.
EXTRAS: tuple[CheckerKey, ...] = (RunbookKey(), AlarmKey())


def _tags(ctx: Context, path: Path, tags: list[str]) -> str:
    """The stored text the dashboard filters by: the tags, lower-case, sorted, once each."""
    for index, tag in enumerate(tags):
        if not TAG.fullmatch(tag):
            ctx.error((*path, index), f"`{tag}` is not one tag: a tag has no spaces or commas")
    return " ".join(sorted({tag.lower() for tag in tags}))


def _schedule(ctx: Context, path: Path, value: str | dict[str, Any]) -> dict[str, Any]:
    checkpoint = ctx.checkpoint()
    if isinstance(value, str):
        cron, every = value, None
    else:
        cron, every = "", (read(ctx, path, value, EVERY) or {}).get("every")
    try:
        if schedules.parse(cron, every) is None and not ctx.failed_since(checkpoint):
            ctx.error(
                path, 'the schedule is empty: write a cron string such as "*/5 * * * *" or {every: SECONDS}'
            )
    except ValueError as exc:
        ctx.error(path, str(exc))
    return {"schedule_cron": cron, "schedule_every": every}


class Checkers(Section):
    key = "checkers"
    kind = "checker"
    model = Checker
    keys = CHECKER_KEYS
    schema = Schema(
        "a checker",
        {
            "slug": TEXT,
            "name": TEXT,
            "description": TEXT,
            "schedule": SCHEDULE,
            "datasets": TEXTS,
            "tags": TEXTS,
            **dict.fromkeys(KINDS, TEXT),
            "rule": MAPPING,
            "rules": LIST,
            **{extra.key: extra.type for extra in EXTRAS},
            "enabled": BOOLEAN,
            "severity": choice(Severity.values),
            "params": MAPPING,
            "timezone": TEXT,
            "timeout": NUMBER,
            "memory_mb": INTEGER,
            "fuel": INTEGER,
        },
        required=("slug", "schedule"),
    )

    def values(self, ctx: Context, path: Path, fields: dict[str, Any]) -> dict[str, Any]:
        values = super().values(ctx, path, fields)
        values["name"] = fields.get("name", fields.get("slug", ""))
        values["tags"] = _tags(ctx, (*path, "tags"), fields.get("tags", []))
        if "schedule" in fields:
            values |= _schedule(ctx, (*path, "schedule"), fields["schedule"])
        for extra in EXTRAS:
            if extra.key in fields:
                values |= extra.values(ctx, (*path, extra.key), fields[extra.key])
        kind = self._kind(ctx, path, fields)
        if kind:
            values |= BLANK | KINDS[kind](ctx, (*path, kind), fields[kind])
        self._check_duplicates(ctx, path, fields.get("datasets", []))
        return values

    def _kind(self, ctx: Context, path: Path, fields: dict[str, Any]) -> str | None:
        present = [key for key in KINDS if key in fields]
        if len(present) == 1:
            return present[0]
        kinds = "rule (or rules), python, wat or wasm"
        if not present:
            ctx.error(path, f"missing: a checker needs one of {kinds}")
        else:
            ctx.error(
                (*path, present[1]),
                f"a checker is exactly one of {kinds}: this one also has `{present[0]}`",
                key=True,
            )
        return None

    def _check_duplicates(self, ctx: Context, path: Path, slugs: list[str]) -> None:
        for index, slug in enumerate(slugs):
            if slug in slugs[:index]:
                ctx.error((*path, "datasets", index), f"`{slug}` is listed twice")

    def apply(
        self, ctx: Context, scope: Scope, path: Path, fields: dict[str, Any], values: dict[str, Any]
    ) -> None:
        references = self._references(ctx, scope, path, fields)
        found = [extra.resolve(ctx, scope, (*path, extra.key), fields.get(extra.key)) for extra in EXTRAS]
        extras = [resolved for resolved in found if resolved is not None]
        if references is None or len(extras) < len(EXTRAS):
            return
        rules, datasets = references
        for extra, resolved in zip(EXTRAS, extras, strict=True):
            values |= {field: resolved[field] for field in extra.fields}
        kind_key = next(key for key in KINDS if key in fields)
        keys = (
            CHECKER_KEYS
            | SCHEDULE_KEYS
            | {"tags": "tags"}
            | dict.fromkeys(("kind", "source", "wasm_module"), kind_key)
            | {field: extra.key for extra in EXTRAS for field in extra.fields}
        )
        result = self.write(ctx, scope, path, Checker, fields["slug"], values, keys)
        if result:
            checker, action, changed = result
            action, changed = _set_datasets(checker, datasets, action, changed)
            if _set_rules(checker, rules):
                changed = (*changed, kind_key)
            for extra, resolved in zip(EXTRAS, extras, strict=True):
                here, value = (*path, extra.key), fields.get(extra.key)
                changed = (*changed, *extra.save(ctx, scope, here, checker, value, resolved))
            self.record(ctx, scope, fields["slug"], *_updated(checker, action, changed))

    def _references(
        self, ctx: Context, scope: Scope, path: Path, fields: dict[str, Any]
    ) -> tuple[list[CheckerRule], list[Dataset]] | None:
        """The rules (unsaved, datasets resolved) and the datasets read; None if a slug dangles."""
        rules, dangling = [], False
        for where, spec in rule_entries(fields):
            dataset = scope.resolve(ctx, "datasets", Dataset, spec["dataset"], (*path, *where, "dataset"))
            spec = stored_rule(spec)
            fields_ = {key: spec.get(key, default(CheckerRule, key)) for key in CheckerRule.FIELDS}
            if dataset is None:
                dangling = True
            else:
                rules.append(CheckerRule(**(fields_ | {"dataset": dataset})))
        found = [
            scope.resolve(ctx, "datasets", Dataset, slug, (*path, "datasets", index))
            for index, slug in enumerate(fields.get("datasets", []))
        ]
        datasets = [dataset for dataset in found if dataset is not None]
        if dangling or len(datasets) < len(found):
            return None
        read = {dataset.slug for dataset in datasets} | {rule.dataset.slug for rule in rules}
        if too_many := quotas.datasets_error(len(read)):
            ctx.error(path, too_many)
            return None
        return rules, datasets


def _set_rules(checker: Checker, rules: list[CheckerRule]) -> bool:
    """Replace the checker's rules when they differ from the file's (a code checker has none)."""
    stored = [_rule_row(rule) for rule in checker.rules.all()]
    if stored == [_rule_row(rule) for rule in rules]:
        return False
    checker.rules.all().delete()
    for position, rule in enumerate(rules):
        rule.checker, rule.position = checker, position
        rule.save()
    return True


def _rule_row(rule: CheckerRule) -> tuple[Any, ...]:
    return tuple(rule.dataset_id if name == "dataset" else getattr(rule, name) for name in CheckerRule.FIELDS)


def _set_datasets(
    checker: Checker, datasets: list[Dataset], action: Action, changed: tuple[str, ...]
) -> tuple[Action, tuple[str, ...]]:
    """The datasets a code checker reads; a change to them alone is an update of the checker."""
    if set(checker.datasets.values_list("pk", flat=True)) == {dataset.pk for dataset in datasets}:
        return action, changed
    checker.datasets.set(datasets)
    return action, (*changed, "datasets")


def _updated(checker: Checker, action: Action, changed: tuple[str, ...]) -> tuple[Action, tuple[str, ...]]:
    """A change to related objects alone (datasets, ...) is an update of the checker too."""
    if action == Action.CREATED:
        return action, ()
    if action == Action.UNCHANGED and changed:
        checker.save()
        return Action.UPDATED, changed
    return action, changed
