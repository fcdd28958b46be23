"""The API's way to a namespace: the pages' rules, then the token's scope.

In order: an outsider, or a token narrowed to another namespace, gets 404 whatever the
method; then a read-only token's write gets 403; then a role too low for the action gets 403.
"""

from __future__ import annotations

from django.db.models import QuerySet
from django.http import Http404
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request

from api.authentication import token_of
from namespaces.access import get_namespace_for_user, held_role
from namespaces.models import Namespace, Role


def namespace_for(request: Request, slug: str, role: Role) -> Namespace:
    token = token_of(request)
    if token is not None and token.namespace is not None and token.namespace.slug != slug:
        raise Http404("No such namespace.")
    namespace = get_namespace_for_user(request, slug, Role.VIEWER)
    if request.method not in SAFE_METHODS:
        refuse_read_only(request)
    if not held_role(request).allows(role):
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role in {namespace.name}.")
    return namespace


def refuse_read_only(request: Request) -> None:
    token = token_of(request)
    if token is not None and token.read_only:
        raise PermissionDenied("This token is read-only.")


def visible_namespaces(request: Request) -> QuerySet[Namespace]:
    """The namespaces a request may read: the user's, narrowed to the token's one."""
    namespaces = Namespace.objects.for_user(request.user)
    token = token_of(request)
    if token is not None and token.namespace_id is not None:
        namespaces = namespaces.filter(pk=token.namespace_id)
    return namespaces
