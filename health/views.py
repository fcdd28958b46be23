"""Health endpoints for load balancers and Prometheus, and the superusers' health page."""

from __future__ import annotations

import hmac

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from health import metrics, operator, status
from health.page import snapshot


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    """The process is up and answers; nothing else is asked, the database least of all."""
    return JsonResponse({"status": "ok"})


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    """With ``READYZ_NOTIFIES``, each poll also tells operators what started or ended, as the
    watchdog does (and through its memory): the load balancer's polling becomes a watchdog."""
    report = status.readiness()
    if settings.READYZ_NOTIFIES:
        operator.tell(report, wait=False)
    return JsonResponse(report.as_json(), status=200 if report.ok else 503)


@require_GET
@never_cache
def metrics_view(request: HttpRequest) -> HttpResponse:
    """Bearer-token only; with no token configured there is nothing here at all."""
    if not settings.METRICS_TOKEN:
        raise Http404
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        response = HttpResponse("a bearer token is required\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if not hmac.compare_digest(token.encode(), settings.METRICS_TOKEN.encode()):
        raise PermissionDenied
    return HttpResponse(generate_latest(metrics.registry()), content_type=CONTENT_TYPE_LATEST)


@never_cache
@staff_member_required
def page(request: HttpRequest) -> HttpResponse:
    if not request.user.is_superuser:
        raise PermissionDenied
    return render(request, "health/page.html", {"health": snapshot()})
