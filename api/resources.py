"""One kind of namespace object over HTTP, the same way for every kind: the list, one by the
URL's key (a slug, or a UUID), added and changed through its page's own form, deleted unless
still in use.

A view names its ``Resource``; its handlers and their schema come from it, so datasources,
datasets, runbooks, channels and maintenance windows cannot drift apart. A kind with a rule of
its own on saving (a channel's toggle audit, a window's) overrides ``create``, ``change`` or
``remove``, never a handler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from django.db.models import Model, QuerySet
from drf_spectacular.utils import extend_schema_view
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import ApiView, delete_unless_used
from api.schema import DELETE_ERRORS, ERRORS, answers
from namespaces.access import get_in_namespace
from namespaces.models import Namespace


def valid(serializer_class: type[serializers.Serializer], request: Request) -> dict[str, Any]:
    """The keys the body gave, in their shapes; the page's form checks their meaning."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return {key: value for key, value in serializer.validated_data.items() if key in request.data}


@dataclass(frozen=True)
class Resource:
    """A kind: its objects, how it reads and is written, and its tag in the schema."""

    objects: QuerySet[Any]
    serializer: type[serializers.Serializer]
    write_serializer: type[serializers.Serializer]
    # The page's form, valid or a 400: (namespace, the object or None for a new one, the body).
    form: Callable[[Namespace, Any, dict[str, Any]], Any]
    tag: str


class ResourceView(ApiView):
    # A view of one ``Resource``: its handlers' schema is read from it when the class is made.
    # (No docstrings on these bases: the schema would take one for every handler's description.)
    resource: ClassVar[Resource]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if hasattr(cls, "resource"):  # a view, not one of the bases below
            extend_schema_view(**cls.handlers(cls.resource))(cls)

    @classmethod
    def handlers(cls, kind: Resource) -> dict[str, Callable[[Any], Any]]:
        raise NotImplementedError


class ObjectList(ResourceView):
    order = "slug"
    # The schema's description of ``post``, where it has more to say.
    post_note: str | None = None

    @classmethod
    def handlers(cls, kind: Resource) -> dict[str, Callable[[Any], Any]]:
        return {
            "get": answers(kind.serializer(many=True), tag=kind.tag),
            "post": answers(
                kind.serializer, 201, tag=kind.tag, request=kind.write_serializer, description=cls.post_note
            ),
        }

    def get(self, request: Request, namespace: str) -> Response:
        return self.listing(self.resource.objects, self.resource.serializer, self.order)

    def post(self, request: Request, namespace: str) -> Response:
        kind = self.resource
        saved = self.create(kind.form(self.namespace, None, valid(kind.write_serializer, request)))
        return Response(kind.serializer(saved).data, status=status.HTTP_201_CREATED)

    def create(self, form: Any) -> Model:
        return form.save_changes()


class ObjectDetail(ResourceView):
    lookup = "slug"
    patch_note: str | None = None

    @classmethod
    def handlers(cls, kind: Resource) -> dict[str, Callable[[Any], Any]]:
        handlers = {
            "get": answers(kind.serializer, tag=kind.tag),
            "patch": answers(
                kind.serializer, tag=kind.tag, request=kind.write_serializer, description=cls.patch_note
            ),
        }
        if hasattr(cls, "delete"):
            used = getattr(cls, "used_by", "")
            handlers["delete"] = answers(None, 204, tag=kind.tag, errors=DELETE_ERRORS if used else ERRORS)
        return handlers

    def found(self) -> Any:
        """The object the URL names, in the namespace, or 404."""
        (key,) = (value for name, value in self.kwargs.items() if name != "namespace")
        return get_in_namespace(self.resource.objects, self.namespace, **{self.lookup: key})

    def get(self, request: Request, namespace: str, **key: str) -> Response:
        return Response(self.resource.serializer(self.found()).data)

    def patch(self, request: Request, namespace: str, **key: str) -> Response:
        kind = self.resource
        saved = self.change(kind.form(self.namespace, self.found(), valid(kind.write_serializer, request)))
        return Response(kind.serializer(saved).data)

    def change(self, form: Any) -> Model:
        return form.save_changes()


class DeletableDetail(ObjectDetail):
    # What may still point at one (PROTECT): a delete is then refused with a 409.
    used_by = ""

    def delete(self, request: Request, namespace: str, **key: str) -> Response:
        self.remove(self.found())
        return Response(status=status.HTTP_204_NO_CONTENT)

    def remove(self, obj: Any) -> None:
        delete_unless_used(obj, self.used_by)
