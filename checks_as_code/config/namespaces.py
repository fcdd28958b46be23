"""A namespace of the file and its members."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError

from checks_as_code.config.alarms import apply_defaults
from checks_as_code.config.calendar import apply_calendar, apply_retention
from checks_as_code.config.context import Context, Scope
from checks_as_code.config.document import Path
from checks_as_code.config.plan import Action
from checks_as_code.config.schema import INTEGER, LIST, MAPPING, TEXT, Schema, choice, read
from checks_as_code.config.store import default, upsert
from namespaces.models import Membership, Namespace, Role

# Model field → the file's key, for the fields that are plainly one key.
NAMESPACE_KEYS = {"name": "name", "description": "description", "timezone": "timezone"}

MEMBER = Schema("a member", {"user": TEXT, "role": choice(Role.values)}, required=("user", "role"))


def namespace_schema(sections: list[str]) -> Schema:
    keys = {
        "slug": TEXT,
        "name": TEXT,
        "description": TEXT,
        "timezone": TEXT,
        "alarm_defaults": MAPPING,
        "calendar": MAPPING,
        "retention_days": INTEGER,
        "members": LIST,
    }
    return Schema("a namespace", keys | dict.fromkeys(sections, LIST))


def apply_namespace(
    ctx: Context, path: Path, fields: dict[str, Any], alarm_defaults: dict[str, Any]
) -> Namespace | None:
    """The saved namespace; when the file's version is invalid, the stored one (if any), so
    its datasets and checkers are still checked and their errors reported too."""
    slug = fields["slug"]
    values = {field: fields.get(key, default(Namespace, field)) for field, key in NAMESPACE_KEYS.items()}
    values["name"] = fields.get("name", slug)
    result = upsert(ctx, path, Namespace, {"slug": slug}, values, NAMESPACE_KEYS | {"slug": "slug"})
    if result is None:
        return Namespace.objects.filter(slug=slug).first()
    namespace, action, keys = result
    defaults = apply_defaults(ctx, path, namespace, alarm_defaults)
    if "calendar" in fields:
        defaults = (*defaults, *apply_calendar(ctx, path, namespace, fields["calendar"]))
    if "retention_days" in fields:
        defaults = (*defaults, *apply_retention(ctx, path, namespace, fields["retention_days"]))
    if defaults and action == Action.UNCHANGED:
        action = Action.UPDATED
    ctx.plan.add("namespace", slug, action, () if action == Action.CREATED else (*keys, *defaults))
    return namespace


def apply_members(ctx: Context, scope: Scope, path: Path, members: list[Any]) -> None:
    """Upsert memberships by user; members the file leaves out keep their roles."""
    namespace = scope.namespace
    had_owner = namespace is not None and namespace.memberships.filter(role=Role.OWNER).exists()
    seen: set[str] = set()
    for index, entry in enumerate(members):
        here = (*path, index)
        checkpoint = ctx.checkpoint()
        member = read(ctx, here, entry, MEMBER)
        if member is None or ctx.failed_since(checkpoint):
            continue
        if member["user"] in seen:
            ctx.error((*here, "user"), f"`{member['user']}` is listed twice")
            continue
        seen.add(member["user"])
        user = find_user(ctx, (*here, "user"), member["user"])
        if user is None or namespace is None:
            continue
        lookup = {"namespace": namespace, "user": user}
        result = upsert(ctx, here, Membership, lookup, {"role": member["role"]}, {"role": "role"})
        if result:
            ctx.plan.add("membership", f"{scope.slug}/{member['user']}", result[1], result[2])
    if had_owner and namespace is not None and not namespace.memberships.filter(role=Role.OWNER).exists():
        ctx.error(
            path,
            f"this would leave namespace `{scope.slug}` without an owner: keep one member with role owner",
        )


def find_user(ctx: Context, path: Path, username: str) -> User | None:
    """The user by name; with ``--create-users`` a missing one is created, unable to sign in
    until an administrator sets a password or single sign-on vouches for them."""
    user_model = get_user_model()
    user = user_model.objects.filter(**{user_model.USERNAME_FIELD: username}).first()
    if user is not None:
        return user
    if not ctx.create_users:
        ctx.error(path, f"no user `{username}`: create it first, or import with --create-users")
        return None
    user = user_model(**{user_model.USERNAME_FIELD: username})
    user.set_unusable_password()
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as exc:
        ctx.error(path, " ".join(m for messages in exc.message_dict.values() for m in messages))
        return None
    user.save()
    ctx.plan.add("user", username, Action.CREATED)
    return user
