"""The create, edit and delete pages every resource has (datasources, datasets, checkers,
runbooks, channels), built once from what differs: the model, the role that may write it,
its form page, and what deleting it means.

Create and edit both render the resource's own form page (``form_page(request, namespace,
obj_or_None)``), which keeps its htmx partials and test buttons; a member below ``role`` sees
the create page explain which role it needs, and the edit page read only (the form page's job).
Delete asks on a confirmation page, then deletes, or says why it cannot (a protected relation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from django.contrib import messages
from django.db import models
from django.db.models import ProtectedError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from namespaces.access import get_in_namespace
from namespaces.models import Namespace, NamespaceOwned, Role
from pages.helpers import confirm_delete, may, namespace_page, needs_role

View = Callable[..., HttpResponse]


class Page(Protocol):
    slug: str

    def get_absolute_url(self) -> str: ...


M = TypeVar("M", bound=NamespaceOwned)


@dataclass(frozen=True)
class Resource(Generic[M]):
    model: type[M]
    kwarg: str  # the URL's name for the slug: "datasource", "checker"...
    role: Role  # who may create, change and delete it
    adding: str  # what the create page tells a member below ``role`` they cannot do
    form_page: Callable[[HttpRequest, Namespace, M | None], HttpResponse]
    queryset: models.QuerySet[M] | None = None  # what edit and delete look up; default: every row
    deleted: str = "Deleted {obj.slug}."  # formatted with ``obj``
    consequence: str = ""  # what the confirmation page says goes with it
    protected: str = ""  # said when a protected relation refuses the delete
    after_delete: str = ""  # the URL name of the namespace's page deleting leads to; default: the namespace
    cancel: str = ""  # the URL name of the object's page a delete returns to; default: get_absolute_url

    def get(self, namespace: Namespace, slug: str) -> M:
        queryset = self.model._default_manager.all() if self.queryset is None else self.queryset
        return get_in_namespace(queryset, namespace, slug=slug)

    def create_view(self) -> View:
        @namespace_page(post=self.role)
        def create(request: HttpRequest, namespace: Namespace) -> HttpResponse:
            if not may(request, self.role):
                return needs_role(request, namespace, self.adding, self.role)
            return self.form_page(request, namespace, None)

        return create

    def edit_view(self) -> View:
        @namespace_page(post=self.role)
        def edit(request: HttpRequest, namespace: Namespace, **slug: str) -> HttpResponse:
            return self.form_page(request, namespace, self.get(namespace, slug[self.kwarg]))

        return edit

    def delete_view(self) -> View:
        @namespace_page(post=self.role)
        def delete(request: HttpRequest, namespace: Namespace, **slug: str) -> HttpResponse:
            obj = self.get(namespace, slug[self.kwarg])
            if self.cancel:
                cancel = reverse(self.cancel, args=[namespace.slug, obj.slug])
            else:
                cancel = _page(obj).get_absolute_url()
            if request.method != "POST":
                return confirm_delete(request, namespace, obj, self.role, self.consequence, cancel)
            said = self.deleted.format(obj=obj)
            try:
                obj.delete()
            except ProtectedError:
                messages.error(request, self.protected.format(obj=obj))
                return redirect(cancel)
            messages.success(request, said)
            return redirect(self.after_delete, namespace.slug) if self.after_delete else redirect(namespace)

        return delete


def _page(obj: models.Model) -> Page:
    """Every resource with pages has its own page (``get_absolute_url``)."""
    assert hasattr(obj, "get_absolute_url"), f"{type(obj).__name__} has no page of its own"
    return obj  # type: ignore[return-value]  # checked above: models declare it, Model does not
