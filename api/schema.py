"""The OpenAPI pieces every view shares: the error body, the bearer scheme, a handler's answers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.fields import empty

F = TypeVar("F", bound=Callable[..., Any])

ERROR = inline_serializer(
    "Error",
    {
        "error": inline_serializer(
            "ErrorDetail",
            {
                "code": serializers.CharField(),
                "message": serializers.CharField(),
                "fields": serializers.DictField(child=serializers.ListField(child=serializers.CharField())),
            },
        )
    },
)
ERRORS = {
    code: OpenApiResponse(ERROR, text)
    for code, text in {
        400: "The request is invalid; `fields` says where.",
        401: "No token, or an unknown, revoked or expired one.",
        403: "The role, or the token's scope, does not allow it.",
        404: "No such object, or not yours to see.",
        413: "The body is larger than MALLEABLE_API_MAX_BODY_BYTES.",
        429: "Too many requests: wait for Retry-After seconds.",
    }.items()
}


class BearerScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.BearerTokenAuthentication"
    name = "bearer"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {"type": "http", "scheme": "bearer", "description": "A personal API token (mlb_...)."}


DELETE_ERRORS = {
    **ERRORS,
    409: OpenApiResponse(ERROR, "Other objects still use it (a dataset its datasource, a rule its dataset)."),
}


def answers(
    answer: Any,
    status: int = 200,
    *,
    tag: str,
    request: Any = empty,
    errors: dict[int, OpenApiResponse] = ERRORS,
    **more: Any,
) -> Callable[[F], F]:
    """A handler's schema: what it answers, with which status, beside the errors every handler may give.

    ``request`` left out is read from the handler as drf-spectacular reads it; ``None`` is no body.
    """
    return extend_schema(request=request, responses={status: answer, **errors}, tags=[tag], **more)
