"""The one way views and forms reach tenant objects: by namespace slug, never by a bare pk.

Outsiders get 404, so they cannot even learn that a namespace exists; members whose role is
too low for the action get 403.
"""

from __future__ import annotations

from typing import TypeVar

from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest

from namespaces.models import AnyUser, Namespace, Role

M = TypeVar("M", bound=models.Model)

# Where get_namespace_for_user leaves the role it found, for the page helpers (held_role).
_ROLE_ATTRIBUTE = "namespace_role"


def namespace_path(model: type[models.Model]) -> str:
    """The ORM path from ``model`` to its Namespace, declared as ``NAMESPACE_PATH`` on the model."""
    if model is Namespace:
        return "pk"
    path = getattr(model, "NAMESPACE_PATH", None)
    if not isinstance(path, str):
        raise TypeError(f"{model.__name__} is not tenant-owned: it declares no NAMESPACE_PATH")
    return path


def is_tenant_owned(model: type[models.Model]) -> bool:
    return model is Namespace or hasattr(model, "NAMESPACE_PATH")


def namespace_of(obj: models.Model) -> Namespace:
    if isinstance(obj, Namespace):
        return obj
    owner: object = obj
    for step in namespace_path(type(obj)).split("__"):
        owner = getattr(owner, step)
    if not isinstance(owner, Namespace):
        raise TypeError(f"{type(obj).__name__}.NAMESPACE_PATH leads to {owner!r}, not a namespace")
    return owner


def scope(queryset: models.QuerySet[M], user: AnyUser, role: Role = Role.VIEWER) -> models.QuerySet[M]:
    """Limit ``queryset`` to rows of namespaces where ``user`` holds at least ``role``."""
    if user.is_active and user.is_superuser:
        return queryset
    path = namespace_path(queryset.model)
    return queryset.filter(**{f"{path}__in": Namespace.objects.for_user(user, role)})


def get_namespace_for_user(request: HttpRequest, slug: str, role: Role = Role.VIEWER) -> Namespace:
    """The namespace ``slug`` if the user may act on it with ``role``: 404 for outsiders, 403 if too low."""
    namespace = Namespace.objects.filter(slug=slug).first()
    held = namespace.role_of(request.user) if namespace else None
    if namespace is None or held is None:
        raise Http404("No such namespace.")
    if not held.allows(role):
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role in {namespace.name}.")
    setattr(request, _ROLE_ATTRIBUTE, held)
    return namespace


def held_role(request: HttpRequest) -> Role:
    """The role ``get_namespace_for_user`` found for this request (HttpRequest declares no such field)."""
    role = getattr(request, _ROLE_ATTRIBUTE, None)
    if not isinstance(role, Role):
        raise RuntimeError("the namespace was not looked up with get_namespace_for_user")
    return role


def get_in_namespace(queryset: models.QuerySet[M], namespace: Namespace, **lookup: object) -> M:
    """One object of a namespace the user was checked for, by its slug or UUID in ``lookup``; else 404."""
    obj = queryset.filter(**{namespace_path(queryset.model): namespace}, **lookup).first()
    if obj is None:
        raise Http404(f"No such {queryset.model._meta.verbose_name} in {namespace.name}.")
    return obj
