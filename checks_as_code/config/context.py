"""The state of one import: the file, the environment, the errors so far, and what was written."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path as FilePath
from typing import TYPE_CHECKING, TypeVar, cast

from checks_as_code.config.document import ConfigError, Document, Path
from checks_as_code.config.plan import Plan

if TYPE_CHECKING:
    from django.db import models

    from namespaces.models import Namespace

M = TypeVar("M", bound="models.Model")


@dataclass
class Context:
    document: Document
    base_dir: FilePath
    environ: Mapping[str, str]
    plan: Plan
    create_users: bool = False
    errors: list[ConfigError] = field(default_factory=list)

    def error(self, path: Path, message: str, *, key: bool = False) -> None:
        self.errors.append(self.document.error(path, message, key=key))

    def checkpoint(self) -> int:
        return len(self.errors)

    def failed_since(self, checkpoint: int) -> bool:
        return len(self.errors) > checkpoint


@dataclass
class Scope:
    """One namespace of the file: the slugs it declares and the objects this import saved.

    A reference (a dataset's datasource, a checker's datasets) resolves to an object saved
    from the file, else to one already in the database. A slug the file declares but could
    not save resolves to nothing, silently: its own error is already reported.
    """

    slug: str
    namespace: Namespace | None
    declared: dict[str, set[str]] = field(default_factory=dict)
    saved: dict[str, dict[str, models.Model]] = field(default_factory=dict)

    def declare(self, ctx: Context, section: str, slug: str, path: Path) -> None:
        slugs = self.declared.setdefault(section, set())
        if slug in slugs:
            ctx.error(
                (*path, "slug"),
                f"duplicate slug `{slug}`: {section} of namespace `{self.slug}` "
                "already has one by that name above",
            )
        slugs.add(slug)

    def save(self, section: str, slug: str, obj: models.Model) -> None:
        self.saved.setdefault(section, {})[slug] = obj

    def resolve(self, ctx: Context, section: str, model: type[M], slug: str, path: Path) -> M | None:
        """The object ``slug`` names, or None (with an error unless the file declares it)."""
        if slug in self.saved.get(section, {}):
            return cast(M, self.saved[section][slug])  # saved under its model's section
        if slug in self.declared.get(section, set()):
            return None
        manager = model._default_manager
        stored = manager.filter(namespace=self.namespace) if self.namespace else manager.none()
        found = stored.filter(slug=slug).first()
        if found is None:
            known = sorted(self.declared.get(section, set()) | set(stored.values_list("slug", flat=True)))
            close = difflib.get_close_matches(slug, known, n=1)
            hint = (
                f": did you mean `{close[0]}`?"
                if close
                else (f"; it has {', '.join(known)}" if known else f"; it has no {section} yet")
            )
            what = model._meta.verbose_name
            ctx.error(
                path, f"no {what} `{slug}` in namespace `{self.slug}`, in this file or the database{hint}"
            )
        return found
