"""The ``runbooks`` section and the checker's ``runbook:`` key.

A runbook is upserted by (namespace, slug) like every other object; its ``owner`` (an
extension) is a username that must be a member of the namespace, as the admin's user
picker allows only fellow members. A checker's ``runbook: SLUG`` names a runbook of its own
namespace, declared in the file or already in the database.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User

from checks_as_code.config.context import Context, Scope
from checks_as_code.config.document import Path
from checks_as_code.config.schema import TEXT, Schema
from checks_as_code.config.section import CheckerKey, Section
from runbooks.models import Runbook

# Model field → the file's key, for the fields that are plainly one key.
RUNBOOK_KEYS = {"title": "title", "body": "body"}


class Runbooks(Section):
    key = "runbooks"
    kind = "runbook"
    model = Runbook
    keys = RUNBOOK_KEYS
    schema = Schema(
        "a runbook",
        {"slug": TEXT, "title": TEXT, "body": TEXT, "owner": TEXT},
        required=("slug", "title", "body"),
    )

    def apply(
        self, ctx: Context, scope: Scope, path: Path, fields: dict[str, Any], values: dict[str, Any]
    ) -> None:
        owner = None
        if "owner" in fields:
            owner = member(ctx, scope, (*path, "owner"), fields["owner"])
            if owner is None:
                return
        keys = RUNBOOK_KEYS | {"owner": "owner"}
        result = self.write(ctx, scope, path, Runbook, fields["slug"], values | {"owner": owner}, keys)
        if result:
            self.record(ctx, scope, fields["slug"], result[1], result[2])


def member(ctx: Context, scope: Scope, path: Path, username: str) -> User | None:
    """The user ``username`` if they belong to the namespace (members the file lists count)."""
    user_model = get_user_model()
    user = user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()
    if user is None:
        ctx.error(path, f"no user `{username}`: a runbook's owner is a member of its namespace")
        return None
    if scope.namespace is None:
        return None
    if not scope.namespace.memberships.filter(user=user).exists():
        ctx.error(
            path,
            f"`{username}` is not a member of namespace `{scope.slug}`: "
            "add them under members, or name a member as the owner",
        )
        return None
    return user


class RunbookKey(CheckerKey):
    """``runbook: SLUG``; leaving it out unlinks the checker's runbook."""

    key = "runbook"
    type = TEXT
    fields = ("runbook",)

    def resolve(self, ctx: Context, scope: Scope, path: Path, value: str | None) -> dict[str, Any] | None:
        if value is None:
            return {"runbook": None}
        runbook = scope.resolve(ctx, "runbooks", Runbook, value, path)
        return None if runbook is None else {"runbook": runbook}
