"""Import a checks-as-code file: validate everything, then write all of it or nothing.

The import runs inside one transaction and always goes to the end, collecting every error:
each object is validated by its model's ``full_clean()`` with its references really
resolved, which needs the objects before it saved. When anything was wrong, or in a dry
run, the transaction is rolled back, so the database never sees half a file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path as FilePath
from typing import Any

from django.db import transaction

from checks_as_code.config.alarms import Channels, read_defaults
from checks_as_code.config.calendar import check_retention
from checks_as_code.config.checks import Checkers
from checks_as_code.config.context import Context, Scope
from checks_as_code.config.document import ConfigInvalid, Path, load
from checks_as_code.config.namespaces import apply_members, apply_namespace, namespace_schema
from checks_as_code.config.plan import Plan
from checks_as_code.config.runbooks import Runbooks
from checks_as_code.config.schema import LIST, Schema, read
from checks_as_code.config.section import Section
from checks_as_code.config.sources import Datasets, Datasources
from namespaces.models import Namespace

# In the order they import: each may refer to the ones before it.
SECTIONS: tuple[Section, ...] = (Datasources(), Datasets(), Runbooks(), Channels(), Checkers())
ROOT = Schema("a Malleable configuration", {"namespaces": LIST}, required=("namespaces",))
NAMESPACE = namespace_schema([section.key for section in SECTIONS])


def import_file(
    path: str | os.PathLike[str],
    *,
    dry_run: bool = False,
    create_users: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Plan:
    """Import the file at ``path``; ``OSError`` or ``UnicodeDecodeError`` when it cannot be read."""
    text = FilePath(path).read_text(encoding="utf-8")
    return import_text(
        text,
        file=str(path),
        base_dir=FilePath(path).parent,
        dry_run=dry_run,
        create_users=create_users,
        environ=environ,
    )


def import_text(
    text: str,
    *,
    file: str = "<config>",
    base_dir: FilePath | None = None,
    dry_run: bool = False,
    create_users: bool = False,
    environ: Mapping[str, str] | None = None,
) -> Plan:
    """Import YAML ``text``: the plan of what changed, or ``ConfigInvalid`` and nothing changed.

    ``environ`` is where ``${VAR}`` references are read (the process environment by default);
    ``base_dir`` is where ``wasm:`` paths are relative to.
    """
    ctx = Context(
        document=load(text, file),
        base_dir=base_dir or FilePath.cwd(),
        environ=os.environ if environ is None else environ,
        plan=Plan(file, dry_run),
        create_users=create_users,
    )
    with transaction.atomic():
        _import(ctx)
        if ctx.errors or dry_run:
            transaction.set_rollback(True)
    if ctx.errors:
        raise ConfigInvalid(ctx.errors)
    return ctx.plan


def _import(ctx: Context) -> None:
    root = read(ctx, (), ctx.document.root, ROOT)
    seen: set[str] = set()
    for index, entry in enumerate((root or {}).get("namespaces", [])):
        _import_namespace(ctx, ("namespaces", index), entry, seen)


def _import_namespace(ctx: Context, path: Path, entry: Any, seen: set[str]) -> None:
    checkpoint = ctx.checkpoint()
    fields = read(ctx, path, entry, NAMESPACE)
    if fields is None or "slug" not in fields:
        return
    slug = fields["slug"]
    if slug in seen:
        ctx.error((*path, "slug"), f"namespace `{slug}` is already declared above: merge the two")
        return
    seen.add(slug)
    alarm_defaults = read_defaults(ctx, path, fields)
    if ctx.failed_since(checkpoint):
        namespace = Namespace.objects.filter(slug=slug).first()
    else:
        namespace = apply_namespace(ctx, path, fields, alarm_defaults)
    scope = Scope(slug, namespace)
    if "members" in fields:
        apply_members(ctx, scope, (*path, "members"), fields["members"])
    for section in SECTIONS:
        if section.key in fields:
            section.process(ctx, scope, (*path, section.key), fields[section.key])
    if namespace is not None:
        check_retention(ctx, path, namespace)
