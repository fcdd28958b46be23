"""The namespace's home (the dashboard, and its live fragment) and its alarm history."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db.models import Prefetch
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_safe

from alarms.models import AlarmEvent, EventKind, MaintenanceWindow, Notification, ToggleLog, Transition
from checkers.models import Severity
from namespaces.models import Namespace
from pages.dashboard import FILTER_CHOICES, Filters, all_tags, checker_rows, state_counts
from pages.helpers import namespace_page, page_context, paginate

REFRESH_SECONDS = 15
EVENTS_PER_PAGE = 25
CHANGES_PER_PAGE = 50


@require_safe
@login_required
def home(request: HttpRequest) -> HttpResponse:
    namespaces = list(Namespace.objects.for_user(request.user))
    if len(namespaces) == 1:
        return redirect(namespaces[0])
    return render(request, "namespaces/home.html", {"namespace_list": namespaces})


def _dashboard_context(request: HttpRequest, namespace: Namespace) -> dict:
    rows = checker_rows(namespace)
    filters = Filters.from_query(request.GET)
    return page_context(
        request,
        namespace,
        rows=filters.apply(rows),
        total=len(rows),
        counts=state_counts(rows, filters),
        silenced=sum(row.silenced for row in rows),
        filters=filters,
        query=request.GET.urlencode(),
        tags=all_tags(rows),
        refresh_seconds=REFRESH_SECONDS,
        updated=timezone.now(),
        window=MaintenanceWindow.open_in(namespace.pk, timezone.now()),
        held_alarms=Notification.held_in(namespace),
    )


@namespace_page()
def detail(request: HttpRequest, namespace: Namespace) -> HttpResponse:
    """The dashboard: counts by state, then every checker, worst first."""
    context = _dashboard_context(request, namespace)
    context.update(
        members=namespace.memberships.select_related("user").order_by("role", "user__username"),
        state_choices=FILTER_CHOICES,
        severity_choices=Severity.choices,
        has_datasources=namespace.datasources.exists(),
        has_datasets=namespace.datasets.exists(),
    )
    return render(request, "namespaces/detail.html", context)


@namespace_page()
def dashboard_live(request: HttpRequest, namespace: Namespace) -> HttpResponse:
    """The part of the dashboard that htmx polls: counts and the checker table, same filters."""
    return render(request, "namespaces/_dashboard_live.html", _dashboard_context(request, namespace))


@namespace_page()
def alarm_history(request: HttpRequest, namespace: Namespace) -> HttpResponse:
    """What fired, where it was sent and whether it arrived; state changes; who silenced what."""
    events = AlarmEvent.objects.filter(namespace=namespace).select_related("checker", "transition")
    checker = request.GET.get("checker", "")
    kind = request.GET.get("kind", "")
    if checker:
        events = events.filter(checker__slug=checker)
    if kind in EventKind.values:
        events = events.filter(kind=kind)
    events = events.prefetch_related(
        Prefetch(
            "notifications",
            queryset=Notification.objects.select_related("channel").prefetch_related("delivery_attempts"),
        )
    )
    page = paginate(request, events, EVENTS_PER_PAGE, anchor="events-heading")
    transitions = Transition.objects.filter(checker__namespace=namespace).select_related("checker", "run")
    if checker:
        transitions = transitions.filter(checker__slug=checker)
    return render(
        request,
        "namespaces/alarms.html",
        page_context(
            request,
            namespace,
            page=page,
            transitions=paginate(request, transitions, CHANGES_PER_PAGE, "changes", "transitions-heading"),
            toggles=paginate(
                request,
                ToggleLog.objects.filter(namespace=namespace).select_related("run"),
                CHANGES_PER_PAGE,
                "toggles",
                "toggles-heading",
            ),
            checkers=namespace.checkers.only("slug", "name"),
            checker_filter=checker,
            kind_filter=kind,
            kinds=EventKind.choices,
        ),
    )
