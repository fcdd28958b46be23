from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_safe

from namespaces.access import get_namespace_for_user
from namespaces.models import Namespace


@require_safe
@login_required
def home(request: HttpRequest) -> HttpResponse:
    namespaces = list(Namespace.objects.for_user(request.user))
    if len(namespaces) == 1:
        return redirect(namespaces[0])
    return render(request, "namespaces/home.html", {"namespace_list": namespaces})


@require_safe
@login_required
def detail(request: HttpRequest, namespace: str) -> HttpResponse:
    namespace = get_namespace_for_user(request, namespace)
    members = namespace.memberships.select_related("user").order_by("role", "user__username")
    return render(request, "namespaces/detail.html", {"namespace": namespace, "members": members})
