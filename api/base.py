"""What every API view shares: authentication, the body cap, the namespace check, the roles.

A view declares ``read_role`` and ``write_role``; a URL with ``<namespace>`` is checked in
``initial`` (api/access.py), before the handler runs, so no handler can forget it.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models import ProtectedError, QuerySet
from rest_framework import exceptions, status
from rest_framework.parsers import JSONParser
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from api.access import namespace_for
from namespaces.models import Namespace, Role


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


def delete_unless_used(obj: Any, used_by: str) -> None:
    """Delete, or a 409 when other objects still point at it (PROTECT), as the pages refuse."""
    try:
        obj.delete()
    except ProtectedError:
        raise Conflict(f"{obj} is still used by {used_by}: change or delete them first.") from None


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "too_large"


def refuse_large_body(request: Request) -> None:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise exceptions.ParseError("Content-Length is not a number.") from None
    if length > settings.API_MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"The request body is {length:,} bytes; the limit is {settings.API_MAX_BODY_BYTES:,} "
            "(MALLEABLE_API_MAX_BODY_BYTES)."
        )


class ApiView(APIView):
    """JSON bodies only, unless a view says otherwise (a checker's module comes as multipart):
    a form-encoded blank reads as "left out" in DRF, which would accept what the schema refuses."""

    parser_classes = [JSONParser]
    read_role: Role = Role.VIEWER
    write_role: Role = Role.EDITOR
    namespace: Namespace

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        refuse_large_body(request)
        if "namespace" in kwargs and not getattr(self, "swagger_fake_view", False):
            role = self.read_role if request.method in SAFE_METHODS else self.write_role
            self.namespace = namespace_for(request, kwargs["namespace"], role)

    def listing(self, objects: QuerySet[Any], serializer: type[BaseSerializer], *order: str) -> Response:
        """The namespace's objects of one kind, by slug unless ``order`` says otherwise."""
        listed = objects.filter(namespace=self.namespace).order_by(*(order or ("slug",)))
        return Response(serializer(listed, many=True).data)
