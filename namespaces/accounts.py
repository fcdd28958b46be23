"""Sign-in throttling's hooks into django-axes: the page a locked-out client sees, and who the client is."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

LOCKED_OUT_STATUS = 429


def locked_out(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict[str, Any] | None
) -> HttpResponse:
    """Say when to try again: each try during a lockout restarts the cool-off, so now plus the cool-off."""
    cooloff = settings.AXES_COOLOFF_TIME
    context = {
        "username": (credentials or {}).get("username", ""),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "cooloff_minutes": int(cooloff.total_seconds() // 60),
        "retry_at": timezone.now() + cooloff,
    }
    response = render(request, "registration/locked_out.html", context, status=LOCKED_OUT_STATUS)
    response["Retry-After"] = str(int(cooloff.total_seconds()))
    return response


def client_ip(request: HttpRequest) -> str:
    """Behind the operator's proxy, the address it appended last; a client can forge any before it."""
    forwarded: str = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if settings.BEHIND_PROXY and forwarded.strip():
        return forwarded.split(",")[-1].strip()
    address: str = request.META.get("REMOTE_ADDR", "")
    return address
