"""A namespace-level list of the file (``datasources``, ``checkers``, ...) and how it imports.

Each section is one small class in the importer's registry: its schema, the model values it
checks without the database, and an ``apply`` that resolves references and writes. A checker
key stored beside the check itself (a runbook, an alarm policy) is a ``CheckerKey`` in the
checkers section's registry.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from django.db import models

from checks_as_code.config.context import Context, Scope
from checks_as_code.config.document import Path
from checks_as_code.config.plan import Action
from checks_as_code.config.schema import Schema, Type, read
from checks_as_code.config.store import default, upsert

if TYPE_CHECKING:
    from checkers.models import Checker

M = TypeVar("M", bound=models.Model)


class Section:
    key: ClassVar[str]
    kind: ClassVar[str]
    schema: ClassVar[Schema]
    model: ClassVar[type[models.Model]]
    # Model field → the file's key, for the fields taken as they are written.
    keys: ClassVar[Mapping[str, str]]

    def process(self, ctx: Context, scope: Scope, path: Path, entries: list[Any]) -> None:
        for index, entry in enumerate(entries):
            self.process_one(ctx, scope, (*path, index), entry)

    def process_one(self, ctx: Context, scope: Scope, path: Path, entry: Any) -> None:
        """Check the entry's shape and values; resolve and write it when they are sound."""
        checkpoint = ctx.checkpoint()
        fields = read(ctx, path, entry, self.schema)
        if fields is None:
            return
        if "slug" in fields:
            scope.declare(ctx, self.key, fields["slug"], path)
        values = self.values(ctx, path, fields)
        if not ctx.failed_since(checkpoint):
            self.apply(ctx, scope, path, fields, values)

    def values(self, ctx: Context, path: Path, fields: dict[str, Any]) -> dict[str, Any]:
        """Model values from the entry, checking what needs no database (types are checked);
        a key left out is the model's default, as in the form."""
        return {field: fields.get(key, default(self.model, field)) for field, key in self.keys.items()}

    def apply(
        self, ctx: Context, scope: Scope, path: Path, fields: dict[str, Any], values: dict[str, Any]
    ) -> None:
        """Resolve references (reporting dangling ones), then ``write``."""
        raise NotImplementedError

    def write(
        self,
        ctx: Context,
        scope: Scope,
        path: Path,
        model: type[M],
        slug: str,
        values: Mapping[str, Any],
        keys: Mapping[str, str],
    ) -> tuple[M, Action, tuple[str, ...]] | None:
        """Upsert by slug in the namespace; nothing is written into a namespace that failed."""
        if scope.namespace is None:
            return None
        lookup = {"namespace": scope.namespace, "slug": slug}
        result = upsert(ctx, path, model, lookup, values, {"slug": "slug", **keys})
        if result:
            scope.save(self.key, slug, result[0])
        return result

    def record(self, ctx: Context, scope: Scope, slug: str, action: Action, keys: tuple[str, ...]) -> None:
        ctx.plan.add(self.kind, f"{scope.slug}/{slug}", action, keys)


class CheckerKey:
    """A checker key beyond the check itself, in three steps: its shape, its references
    (before the checker is written), and related objects (after). ``value`` is None when the
    checker leaves the key out, which, as for every key, means the default."""

    key: ClassVar[str]
    type: ClassVar[Type]
    # The fields of Checker this key sets, out of what ``resolve`` returns.
    fields: ClassVar[tuple[str, ...]] = ()

    def values(self, ctx: Context, path: Path, value: Any) -> dict[str, Any]:
        """Checker fields from the value, checking what needs no database (the type is checked)."""
        return {}

    def resolve(self, ctx: Context, scope: Scope, path: Path, value: Any) -> dict[str, Any] | None:
        """The objects the value refers to (``fields`` among them go on the checker); None when
        a reference dangles."""
        return {}

    def save(
        self,
        ctx: Context,
        scope: Scope,
        path: Path,
        checker: Checker,
        value: Any,
        resolved: dict[str, Any],
    ) -> tuple[str, ...]:
        """Write what hangs off the saved checker; the keys that changed."""
        return ()
