"""Every API error in one shape: ``{"error": {"code", "message", "fields"}}``.

DRF's own errors go through ``exception_handler``; Django's 404 and 500 under ``/api/`` go
through ``not_found`` and ``server_error`` (wired in malleable/urls.py), so a client never
gets an HTML page.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

API_PREFIX = "/api/"
CODES = {
    400: "invalid",
    401: "not_authenticated",
    403: "permission_denied",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "throttled",
    500: "server_error",
}


def body(status_code: int, message: str, fields: dict[str, list[str]] | None = None, code: str = "") -> dict:
    return {
        "error": {"code": code or CODES.get(status_code, "error"), "message": message, "fields": fields or {}}
    }


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested validation errors as ``{"field.sub": [messages]}``; "" for the whole body."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = "" if key == "non_field_errors" else str(key)
            flat.update(_flatten(value, f"{prefix}.{name}" if prefix and name else prefix or name))
        return flat
    if isinstance(detail, list) and detail and all(isinstance(item, str) for item in detail):
        return {prefix: [str(item) for item in detail]}
    if isinstance(detail, list):
        flat = {}
        for index, item in enumerate(detail):
            flat.update(_flatten(item, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    return {prefix: [str(detail)]}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "Permission denied.")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        fields = {k: v for k, v in _flatten(exc.detail).items() if v}
        message = "; ".join(f"{k}: {v[0]}" if k else v[0] for k, v in fields.items()) or "Invalid request."
        response.data = body(response.status_code, message, fields)
    else:
        detail = exc.detail if isinstance(exc, exceptions.APIException) else str(exc)
        code = getattr(detail, "code", "") if response.status_code not in CODES else ""
        response.data = body(response.status_code, str(detail), code=code)
    return response


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """Django's 404 handler: JSON under /api/, the site's page elsewhere."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(body(404, "No such API endpoint."), status=status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """Django's 400 handler (a Host header it refuses, say): JSON under /api/."""
    if request.path.startswith(API_PREFIX):
        return JsonResponse(body(400, "Bad request."), status=status.HTTP_400_BAD_REQUEST)
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith(API_PREFIX):
        message = "The server failed; the error is logged. Try again, or tell the operator."
        return JsonResponse(body(500, message), status=status.HTTP_500_INTERNAL_SERVER_ERROR)
    return defaults.server_error(request)
