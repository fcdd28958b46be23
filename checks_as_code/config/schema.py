"""The keys each object of the file may have, their types, and the errors for the rest."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from checks_as_code.config.context import Context
    from checks_as_code.config.document import Path


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Type:
    """What a key's value must be, named the way an error message says it."""

    name: str
    accepts: Callable[[Any], bool]


TEXT = Type("a string", lambda value: isinstance(value, str))
INTEGER = Type("a whole number", _is_int)
NUMBER = Type("a number", lambda value: _is_int(value) or isinstance(value, float))
BOOLEAN = Type("true or false", lambda value: isinstance(value, bool))
MAPPING = Type("a mapping of keys to values", lambda value: isinstance(value, dict))
LIST = Type("a list", lambda value: isinstance(value, list))
TEXTS = Type(
    "a list of strings", lambda value: isinstance(value, list) and all(isinstance(v, str) for v in value)
)
SCHEDULE = Type(
    'a cron string such as "*/5 * * * *" or {every: SECONDS}', lambda v: isinstance(v, str | dict)
)


def choice(values: list[str]) -> Type:
    return Type("one of " + ", ".join(values), lambda value: isinstance(value, str) and value in values)


@dataclass(frozen=True)
class Schema:
    """One kind of object in the file: its keys, which are required, and which are secret."""

    what: str
    keys: Mapping[str, Type]
    required: tuple[str, ...] = ("slug",)
    secret: tuple[str, ...] = ()


def describe(value: Any, *, reveal: bool = True) -> str:
    """How an unexpected value is named in an error; a secret's value never is."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    kind = {bool: "a boolean", int: "a number", float: "a number", str: "a string"}.get(
        type(value), "a value"
    )
    if not reveal:
        return kind
    shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
    return f"{kind}, {shown}"


def unknown_key(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"unknown key `{key}`: did you mean `{close[0]}`?"
    return f"unknown key `{key}`: the keys here are {', '.join(known)}"


def read(ctx: Context, path: Path, value: Any, schema: Schema) -> dict[str, Any] | None:
    """Report unknown, missing and mistyped keys, and keep the rest.

    The result holds only known keys with values of the right type, so later checks can go
    on and report their own errors too; None when ``value`` is not a mapping at all.
    """
    if not isinstance(value, dict):
        ctx.error(
            path,
            f"expected {schema.what}, a mapping with keys such as "
            f"{', '.join(list(schema.keys)[:3])}; got {describe(value)}",
        )
        return None
    for key in value:
        if key not in schema.keys:
            ctx.error((*path, key), unknown_key(key, list(schema.keys)), key=True)
    for key in schema.required:
        if key not in value:
            ctx.error((*path, key), f"missing: {schema.what} needs `{key}`")
    for key, expected in schema.keys.items():
        if key in value and not expected.accepts(value[key]):
            got = describe(value[key], reveal=key not in schema.secret)
            ctx.error((*path, key), f"expected {expected.name}, got {got}")
    return {key: v for key, v in value.items() if key in schema.keys and schema.keys[key].accepts(v)}
