"""A test run's result: the editor and the checker page wait for it a bounded time, then poll here.

Any member of the test run's namespace may read it (its result names nothing its checker's
page does not); outsiders get 404 like every page of a namespace.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from checkers import testruns
from checkers.humanize import error_position
from checkers.models import TestRun
from namespaces.access import get_in_namespace
from namespaces.models import Namespace
from pages.helpers import is_htmx, namespace_page, page_context


def waited(test_run: TestRun) -> dict[str, Any]:
    """The result partial's context once the test run finished, or after the page's bound."""
    return result_context(testruns.wait(test_run, settings.TEST_RUN_WAIT_S))


def result_context(test_run: TestRun) -> dict[str, Any]:
    """``evaluation`` when it finished, ``skipped`` when its namespace's budget was spent, else
    the pending ``test_run`` the partial polls for."""
    if test_run.finished is None:
        return {"test_run": test_run, "waited_s": (timezone.now() - test_run.created).total_seconds()}
    result = test_run.result or {}
    if "skipped" in result:
        return {"skipped": result["skipped"]}
    evaluation = testruns.evaluation_of(result)
    error = evaluation.outcome.error
    return {"evaluation": evaluation, "result_error_at": error_position(error.detail) if error else None}


@namespace_page()
def test_run_result(request: HttpRequest, namespace: Namespace, test_run: str) -> HttpResponse:
    found = get_in_namespace(TestRun.objects.select_related("namespace", "checker"), namespace, uuid=test_run)
    result = result_context(found)
    if is_htmx(request):
        return render(request, "checkers/_test_result.html", result)
    return render(
        request,
        "checkers/test_run.html",
        page_context(request, namespace, checker=found.checker, **result),
    )
