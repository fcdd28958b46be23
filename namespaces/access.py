"""The one way views and forms reach tenant objects: by namespace slug, never by a bare pk.

Outsiders get 404, so they cannot even learn that a namespace exists; members whose role is
too low for the action get 403.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import models
from django.http import Http404, HttpRequest

from namespaces.models import Namespace, Role


def namespace_path(model: type[models.Model]) -> str:
    """The ORM path from ``model`` to its Namespace, declared as ``NAMESPACE_PATH`` on the model."""
    if model is Namespace:
        return "pk"
    try:
        return model.NAMESPACE_PATH
    except AttributeError:
        raise TypeError(f"{model.__name__} is not tenant-owned: it declares no NAMESPACE_PATH") from None


def is_tenant_owned(model: type[models.Model]) -> bool:
    return model is Namespace or hasattr(model, "NAMESPACE_PATH")


def namespace_of(obj: models.Model) -> Namespace:
    if isinstance(obj, Namespace):
        return obj
    for step in namespace_path(type(obj)).split("__"):
        obj = getattr(obj, step)
    return obj


def scope(queryset: models.QuerySet, user, role: Role = Role.VIEWER) -> models.QuerySet:
    """Limit ``queryset`` to rows of namespaces where ``user`` holds at least ``role``."""
    if user.is_active and user.is_superuser:
        return queryset
    path = namespace_path(queryset.model)
    return queryset.filter(**{f"{path}__in": Namespace.objects.for_user(user, role)})


def get_namespace_for_user(request: HttpRequest, slug: str, role: Role = Role.VIEWER) -> Namespace:
    """The namespace ``slug`` if the user may act on it with ``role``: 404 for outsiders, 403 if too low."""
    namespace = Namespace.objects.filter(slug=slug).first()
    held = namespace.role_of(request.user) if namespace else None
    if held is None:
        raise Http404("No such namespace.")
    if not held.allows(role):
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role in {namespace.name}.")
    request.namespace_role = held
    return namespace


def get_in_namespace(queryset: models.QuerySet, namespace: Namespace, **lookup) -> models.Model:
    """One object of a namespace the user was checked for, by its slug or UUID in ``lookup``; else 404."""
    obj = queryset.filter(**{namespace_path(queryset.model): namespace}, **lookup).first()
    if obj is None:
        raise Http404(f"No such {queryset.model._meta.verbose_name} in {namespace.name}.")
    return obj
