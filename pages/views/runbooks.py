from typing import cast

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from alarms.models import AlarmEvent, MaintenanceWindow
from namespaces.access import get_in_namespace
from namespaces.models import Namespace, Role
from pages.crud import Resource
from pages.dashboard import markers_for
from pages.forms.runbooks import RunbookForm
from pages.helpers import form_page, is_htmx, namespace_page, page_context
from runbooks.models import Runbook, render_markdown


@namespace_page()
def runbook_list(request: HttpRequest, namespace: Namespace) -> HttpResponse:
    runbooks = namespace.runbooks.select_related("owner").prefetch_related("checkers")
    return render(request, "runbooks/list.html", page_context(request, namespace, runbooks=runbooks))


@namespace_page()
def runbook_detail(request: HttpRequest, namespace: Namespace, runbook: str) -> HttpResponse:
    """Where alarms send people, often on a phone: the body first, the live state above it."""
    found = get_in_namespace(Runbook.objects.select_related("namespace", "owner"), namespace, slug=runbook)
    checkers = list(
        found.checkers.select_related(
            "alarm_state__acknowledged_by", "alarm_state__muted_by", "alarm_policy__disabled_by"
        ).order_by("name")
    )
    recent = found.recent_runs()
    now = timezone.now()
    window = MaintenanceWindow.open_in(namespace.pk, now)
    for checker in checkers:
        checker.latest_failure = next((run for run in recent if run.checker_id == checker.pk), None)
        checker.markers = markers_for(checker, window, now)
    alarms = AlarmEvent.objects.filter(checker__runbook=found).select_related("checker")[:10]
    return render(
        request,
        "runbooks/detail.html",
        page_context(request, namespace, runbook=found, checkers=checkers, recent=recent, alarms=alarms),
    )


def _runbook_form(request: HttpRequest, namespace: Namespace, runbook: Runbook | None) -> HttpResponse:
    form = RunbookForm(request.POST or None, instance=runbook, namespace=namespace)
    html: str | None = None
    if request.method == "POST" and request.POST.get("action") == "preview":
        html = render_markdown(request.POST.get("body", ""))
        if is_htmx(request):
            return render(request, "runbooks/_preview.html", {"html": html})
    elif request.method == "POST" and form.is_valid():
        saved = cast(Runbook, form.save_changes())
        messages.success(request, f"Saved runbook {saved.title}.")
        return redirect(saved)
    else:
        html = runbook.html() if runbook else None
    return form_page(
        request, namespace, "runbooks/form.html", form, Role.EDITOR, runbook=runbook, preview=html
    )


RUNBOOKS = Resource(Runbook, "runbook", Role.EDITOR, "Writing runbooks", _runbook_form)
runbook_create = RUNBOOKS.create_view()
runbook_edit = RUNBOOKS.edit_view()
