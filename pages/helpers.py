"""What every namespaced page shares: sign-in, the namespace check, methods and roles, in that order.

The order matters: an outsider gets 404 whatever the method (they may not learn that a page
exists), a member using the wrong method gets 405, and a member whose role is too low for a
POST gets 403 before the view runs. Views receive the checked ``Namespace`` and run in its
time zone, so every time on its pages (and in its forms) is the team's.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Protocol

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page, Paginator
from django.db import models
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from namespaces.access import get_namespace_for_user, held_role
from namespaces.models import Namespace, Role
from pages.forms.checkers import NamespaceForm

READ = ("GET", "HEAD")


def namespace_page(*, post: Role | None = None, get: bool = True) -> Callable:
    """A page of one namespace: GET for every member (unless ``get=False``), POST for ``post`` and up."""

    allowed = [*(READ if get else ()), *(["POST"] if post else [])]

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def page(request: HttpRequest, namespace: str, **kwargs: Any) -> HttpResponse:
            checked = get_namespace_for_user(request, namespace)
            if request.method not in allowed:
                return HttpResponseNotAllowed(allowed)
            if request.method == "POST" and post is not None:  # else not allowed, above
                require_role(request, checked, post)
            with timezone.override(checked.timezone):
                return view(request, checked, **kwargs)

        return page

    return decorate


def require_role(request: HttpRequest, namespace: Namespace, role: Role) -> None:
    if not held_role(request).allows(role):
        raise PermissionDenied(f"This needs the {Role(role).label.lower()} role in {namespace.name}.")


def may(request: HttpRequest, role: Role) -> bool:
    return held_role(request).allows(role)


SECTIONS = [
    ("checkers", "Checkers", "namespaces:detail"),
    ("datasets", "Datasets", "checkers:dataset-list"),
    ("datasources", "Datasources", "checkers:datasource-list"),
    ("runbooks", "Runbooks", "runbooks:list"),
    ("alarms", "Alarm history", "namespaces:alarms"),
    ("settings", "Settings", "namespaces:settings"),
]
SETTINGS_PAGES = {"settings", "member", "channels", "maintenance", "alarm-defaults"}


def section_of(request: HttpRequest) -> str:
    """Which part of the namespace a page belongs to, for the navigation bar."""
    match = request.resolver_match
    name = (match.url_name if match else None) or ""
    if match and match.app_name == "runbooks":
        return "runbooks"
    if name.startswith("datasource"):
        return "datasources"
    if name.startswith("dataset"):
        return "datasets"
    if name == "alarms":
        return "alarms"
    if name in SETTINGS_PAGES or name.startswith("channel"):
        return "settings"
    return "checkers"


def page_context(request: HttpRequest, namespace: Namespace, **extra: Any) -> dict[str, Any]:
    """The namespace, the user's role and what it allows: templates show buttons by these."""
    role = held_role(request)
    return {
        "namespace": namespace,
        "role": role,
        "may_edit": role.allows(Role.EDITOR),
        "may_own": role.allows(Role.OWNER),
        "section": section_of(request),
        "section_links": [
            (key, label, reverse(name, args=[namespace.slug])) for key, label, name in SECTIONS
        ],
        **extra,
    }


class EditForm(Protocol):
    def make_read_only(self) -> None: ...


def form_page(
    request: HttpRequest, namespace: Namespace, template: str, form: EditForm, role: Role, **extra: Any
) -> HttpResponse:
    """A form in its namespace's page; members below ``role`` see it read only."""
    if not may(request, role):
        form.make_read_only()
    return render(request, template, page_context(request, namespace, form=form, **extra))


def namespace_row_form(request: HttpRequest, namespace: Namespace, form_class: type[NamespaceForm]) -> Any:
    """The form of the namespace's one row of a settings model (its alarm defaults, calendar,
    retention), a new row until it is first saved, bound to the POST."""
    model = form_class._meta.model
    stored = model.objects.filter(namespace=namespace).first() or model(namespace=namespace)
    return form_class(request.POST or None, instance=stored, namespace=namespace)


def namespace_row_page(
    request: HttpRequest,
    namespace: Namespace,
    form_class: type[NamespaceForm],
    template: str,
    page: str,
    said: str,
    **extra: Any,
) -> HttpResponse:
    """A settings tab of the namespace's one row of a model (``namespace_row_form``): owners save
    it and are told ``said`` (formatted with the row as ``obj``) on the tab's ``page`` (a URL
    name); the others read it."""
    form = namespace_row_form(request, namespace, form_class)
    if request.method == "POST" and form.is_valid():
        form.save_changes()
        return saved(request, said.format(obj=form.instance), page, namespace)
    return form_page(request, namespace, template, form, Role.OWNER, **extra)


def saved(request: HttpRequest, text: str, page: str, namespace: Namespace) -> HttpResponse:
    """After a save: say what was saved and go to the namespace's ``page`` (a URL name)."""
    messages.success(request, text)
    return redirect(page, namespace.slug)


def is_htmx(request: HttpRequest) -> bool:
    """A request from htmx wants a fragment of the page, not the page."""
    return request.headers.get("HX-Request") == "true"


def needs_role(request: HttpRequest, namespace: Namespace, what: str, role: Role) -> HttpResponse:
    """A page a member may look at but not use: say which role it needs and who can grant it."""
    owners = namespace.memberships.filter(role=Role.OWNER).select_related("user")
    return render(
        request,
        "pages/needs_role.html",
        page_context(request, namespace, what=what, needed=Role(role).label.lower(), owners=owners),
    )


def confirm_delete(
    request: HttpRequest,
    namespace: Namespace,
    obj: models.Model,
    role: Role,
    consequence: str,
    cancel_url: str,
) -> HttpResponse:
    return render(
        request,
        "pages/confirm_delete.html",
        page_context(
            request,
            namespace,
            object=obj,
            kind=obj._meta.verbose_name,
            allowed=may(request, role),
            needed=Role(role).label.lower(),
            consequence=consequence,
            cancel_url=cancel_url,
        ),
    )


class LinkedPage(Page[Any]):
    """A page that knows the links to its neighbours (``paginate``)."""

    newer_url = ""
    older_url = ""


class _LinkedPaginator(Paginator[Any]):
    def _get_page(self, *args: Any, **kwargs: Any) -> LinkedPage:
        return LinkedPage(*args, **kwargs)


def paginate(
    request: HttpRequest, items: Any, per_page: int, param: str = "page", anchor: str = ""
) -> LinkedPage:
    """One page of ``items`` by the query parameter ``param``, with ``newer_url`` and ``older_url``
    that keep every other parameter (filters, the other lists' pages) and jump to ``anchor``."""
    page = _LinkedPaginator(items, per_page).get_page(request.GET.get(param))
    assert isinstance(page, LinkedPage)
    query = request.GET.copy()

    def link(number: int) -> str:
        query[param] = str(number)
        return f"?{query.urlencode()}{f'#{anchor}' if anchor else ''}"

    page.newer_url = link(page.previous_page_number()) if page.has_previous() else ""
    page.older_url = link(page.next_page_number()) if page.has_next() else ""
    return page
