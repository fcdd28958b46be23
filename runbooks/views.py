from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from namespaces.access import get_namespace_for_user, get_object_for_user
from runbooks.models import Runbook


@require_safe
@login_required
def runbook_list(request: HttpRequest, namespace: str) -> HttpResponse:
    namespace = get_namespace_for_user(request, namespace)
    runbooks = namespace.runbooks.select_related("owner").prefetch_related("checkers")
    return render(request, "runbooks/list.html", {"namespace": namespace, "runbooks": runbooks})


@require_safe
@login_required
def runbook_detail(request: HttpRequest, namespace: str, runbook: str) -> HttpResponse:
    runbook = get_object_for_user(
        request, Runbook.objects.select_related("namespace", "owner"), namespace, slug=runbook
    )
    checkers = runbook.checkers.order_by("name")
    return render(
        request,
        "runbooks/detail.html",
        {
            "namespace": runbook.namespace,
            "runbook": runbook,
            "checkers": checkers,
            "recent": runbook.recent_runs(),
        },
    )
