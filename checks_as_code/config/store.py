"""Upsert by slug with the model's own validation, and writes only when something differs.

Skipping the save of an unchanged object is what makes a second import of the same file
harmless: no ``updated`` timestamp moves, no schedule is recomputed.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import models

from checks_as_code.config.context import Context
from checks_as_code.config.document import Path
from checks_as_code.config.plan import Action

M = TypeVar("M", bound=models.Model)


def _field(model: type[models.Model], name: str) -> models.Field[Any, Any]:
    field = model._meta.get_field(name)
    assert isinstance(field, models.Field)  # a column of the model, not a reverse relation
    return field


def default(model: type[models.Model], field: str) -> Any:
    """The model's default, so a key left out of the file means what the form would."""
    return _field(model, field).get_default()


def current(obj: models.Model, field: str) -> Any:
    value = _field(type(obj), field).value_from_object(obj)
    return bytes(value) if isinstance(value, memoryview) else value


def upsert(
    ctx: Context,
    path: Path,
    model: type[M],
    lookup: Mapping[str, Any],
    values: Mapping[str, Any],
    keys: Mapping[str, str],
) -> tuple[M, Action, tuple[str, ...]] | None:
    """Create or update the object ``lookup`` names; None when ``full_clean`` refused it.

    ``keys`` maps model fields to the file's key paths (``rule_op`` → ``rule.op``): model
    errors are reported there, and an update lists the keys that changed.
    """
    obj = model._default_manager.filter(**lookup).first()
    created = obj is None
    if obj is None:
        obj = model(**lookup)
    before = {name: current(obj, name) for name in values}
    for name, value in values.items():
        setattr(obj, name, value)
    try:
        obj.full_clean()
    except ValidationError as exc:
        report(ctx, path, exc, keys)
        return None
    changed = tuple(dict.fromkeys(keys.get(n, n) for n in values if current(obj, n) != before[n]))
    if created:
        obj.save()
        return obj, Action.CREATED, ()
    if changed:
        obj.save()
        return obj, Action.UPDATED, changed
    return obj, Action.UNCHANGED, ()


def upsert_setting(
    ctx: Context,
    path: Path,
    model: type[models.Model],
    namespace: Any,
    values: Mapping[str, Any],
    keys: Mapping[str, str],
) -> tuple[str, ...]:
    """Upsert one settings object of the namespace, at ``path`` (its last part is its key in
    the file): the keys that changed, as the namespace's (``calendar``, ``calendar.country``)."""
    result = upsert(ctx, path, model, {"namespace": namespace}, values, keys)
    if result is None:
        return ()
    _, action, changed = result
    name = path[-1]
    if action == Action.CREATED:
        return (str(name),)
    return tuple(f"{name}.{key}" for key in changed)


def report(ctx: Context, path: Path, exc: ValidationError, keys: Mapping[str, str]) -> None:
    """Each model error at the key it came from, or at the object for errors of the whole."""
    for field, messages in exc.message_dict.items():
        key = keys.get(field) if field != NON_FIELD_ERRORS else None
        where = (*path, *key.split(".")) if key else path
        ctx.error(where, " ".join(messages))
