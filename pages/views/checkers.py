"""Checker pages: the checker and its runs, the editor, test runs, run now and the alarm toggles.

A test run goes to a worker; these pages wait for it a bounded time (``pages/views/test_runs.py``).

Every view goes through ``namespace_page``: outsiders 404, viewers read, editors act.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from alarms import toggles
from alarms.models import (
    AlarmDefaults,
    AlarmPolicy,
    AlarmState,
    MaintenanceWindow,
    Policy,
    ToggleLog,
    ToggleRefused,
)
from checkers import history, runs, tasks, testruns
from checkers.humanize import error_position, preview_schedule
from checkers.models import Checker, CheckerKind, CheckRun, RunStatus, State, Trigger
from checkers.rules import NOUNS, Rule, bounds_by_figure, metric_names
from namespaces.access import get_in_namespace
from namespaces.models import Namespace, Role
from pages.charts import duration_chart, figure_chart, state_timeline
from pages.crud import Resource
from pages.dashboard import markers_for
from pages.forms.checkers import AlarmPolicyForm, CheckerForm, RuleFormSet
from pages.helpers import is_htmx, may, namespace_page, page_context, paginate
from pages.views.test_runs import waited

CHECKERS = Checker.objects.select_related("namespace", "runbook")
TIMELINE_DAYS = 7
RUNS_CHARTED = 50
RUNS_PER_PAGE = 50


def _checker(namespace: Namespace, slug: str) -> Checker:
    return get_in_namespace(CHECKERS, namespace, slug=slug)


def _state(checker: Checker) -> AlarmState:
    state = AlarmState.objects.select_related("acknowledged_by", "muted_by").get_or_create(checker=checker)[0]
    state.checker = checker
    return state


@namespace_page()
def checker_detail(request: HttpRequest, namespace: Namespace, checker: str) -> HttpResponse:
    return render(
        request, "checkers/detail.html", _detail_context(request, namespace, _checker(namespace, checker))
    )


def _detail_context(
    request: HttpRequest, namespace: Namespace, checker: Checker, **extra: Any
) -> dict[str, Any]:
    now = timezone.now()
    state = _state(checker)
    recent = list(checker.runs.order_by("-queued")[:RUNS_CHARTED])
    table = paginate(request, checker.runs.order_by("-queued"), RUNS_PER_PAGE, "runs", "runs-heading")
    for run in table:
        run.headline = _headline(run) or next((m["text"] for m in run.messages), "No messages")
        run.error_at = error_position(run.error_detail) if run.error_detail else None
    finished = [run for run in reversed(recent) if run.finished and run.status in RunStatus.finished()]
    start = max(now - timedelta(days=TIMELINE_DAYS), checker.known_since())
    before = checker.transitions.filter(created__lt=start).order_by("-created").first()
    transitions = list(checker.transitions.filter(created__gte=start).order_by("created"))
    last = state.last_run or next(iter(recent), None)
    rules = [rule.spec() for rule in checker.rule_list()]
    return page_context(
        request,
        namespace,
        checker=checker,
        state=state,
        is_muted=bool(state.muted_until and state.muted_until > now),
        markers=markers_for(checker, MaintenanceWindow.open_in(namespace.pk, now), now),
        silence=state.silence(now),
        policy=Policy.for_checker(checker),
        last_run=last,
        error_at=error_position(last.error_detail) if last and last.error_detail else None,
        runs=table,
        timeline=state_timeline(transitions, before.new if before else State.UNKNOWN, start, now),
        timeline_days=TIMELINE_DAYS if now - start >= timedelta(days=TIMELINE_DAYS) else None,
        timeline_start=start,
        durations=duration_chart(finished),
        schedule=preview_schedule(checker.schedule_cron, checker.schedule_every, checker.zone.key),
        toggles=ToggleLog.objects.filter(checker=checker).select_related("run")[:10],
        rules=rules,
        figure_charts=_figure_charts(checker, rules, finished),
        mute_form=toggles.MuteForm(),
        reason_form=toggles.ReasonForm(),
        disable_form=toggles.DisableAlarmingForm(),
        **extra,
    )


def _figure_charts(
    checker: Checker, rules: list[Rule], finished: list[CheckRun]
) -> list[tuple[str, Any, str]]:
    """Each figure charted with its bounds; a figure a rule on history holds shaded with what
    that rule accepted at each run (the first such rule, when several hold one figure)."""
    on_history: dict[str, Rule] = {}
    for rule in rules:
        if rule.on_history:
            on_history.setdefault(rule.describe(), rule)
    charts = []
    for name, bounds in bounds_by_figure(rules) or metric_names(finished):
        rule = on_history.get(name)
        if rule is None:
            charts.append((name, figure_chart(name, finished, bounds), ""))
            continue
        expected = history.expected_for(checker, rule, finished)
        words = history.expected_words(rule)
        charts.append((name, figure_chart(name, finished, bounds, expected, words), words))
    return charts


@namespace_page(post=Role.EDITOR, get=False)
def run_now(request: HttpRequest, namespace: Namespace, checker: str) -> HttpResponse:
    checker = _checker(namespace, checker)
    run = runs.execute(checker, Trigger.MANUAL)
    level = {RunStatus.GREEN: messages.SUCCESS, RunStatus.RED: messages.WARNING}.get(
        run.status, messages.ERROR
    )
    messages.add_message(request, level, f"Ran {checker.name}: {run.status}. {_headline(run)}")
    return redirect(checker)


def _headline(run: CheckRun) -> str:
    fails = [m["text"] for m in run.messages if m.get("level") == "fail"]
    return run.error_detail.splitlines()[0] if run.error_detail else (fails or [""])[0]


@namespace_page(post=Role.EDITOR, get=False)
def test_run(request: HttpRequest, namespace: Namespace, checker: str) -> HttpResponse:
    """The saved checker against live datasets, recording nothing and alarming nobody."""
    checker = _checker(namespace, checker)
    result = waited(tasks.start_test_run(testruns.create(checker, request.user)))
    if is_htmx(request):
        return render(request, "checkers/_test_result.html", result)
    return render(request, "checkers/detail.html", _detail_context(request, namespace, checker, **result))


@namespace_page()
def run_detail(request: HttpRequest, namespace: Namespace, run: str) -> HttpResponse:
    run = get_in_namespace(CheckRun.objects.select_related("checker__namespace"), namespace, uuid=run)
    return render(
        request,
        "checkers/run.html",
        page_context(
            request,
            namespace,
            run=run,
            checker=run.checker,
            error_at=error_position(run.error_detail) if run.error_detail else None,
        ),
    )


# --- The editor --------------------------------------------------------------------------------


def _editor(request: HttpRequest, namespace: Namespace, checker: Checker | None) -> HttpResponse:
    data, files = (request.POST, request.FILES) if request.method == "POST" else (None, None)
    form = CheckerForm(data, files, instance=checker, namespace=namespace)
    policy = AlarmPolicy.objects.filter(checker=checker).first() if checker else None
    policy_form = AlarmPolicyForm(
        data,
        instance=policy or AlarmPolicy(),
        namespace=namespace,
        defaults=AlarmDefaults.objects.filter(namespace=namespace).first() or AlarmDefaults(),
        prefix="alarm",
    )
    rule_formset = RuleFormSet(
        data,
        instance=checker or Checker(namespace=namespace),
        prefix="rules",
        form_kwargs={"namespace": namespace},
    )
    result: dict = {}
    if data is not None and _valid(form, policy_form, rule_formset):
        if request.POST.get("action") not in ("test", "backtest"):
            return _save_checker(request, form, policy_form, rule_formset)
        is_rule = form.cleaned_data["kind"] == CheckerKind.RULE
        if is_rule and request.POST.get("action") == "backtest":
            result = {"backtests": form.backtest(rule_formset.rules(), request.POST.get("backtest_days"))}
        else:
            result = waited(form.test_run(request.user, rule_formset.rules() if is_rule else []))
    if is_htmx(request) and data is not None:
        return render(request, "checkers/_test_result.html", {**result, "form": form, "htmx": True})
    if not may(request, Role.EDITOR):
        form.make_read_only()
        policy_form.make_read_only()
        for rule_form in rule_formset:
            rule_form.make_read_only()
    zone = form["timezone"].value() or namespace.timezone
    preview = preview_schedule(
        form["schedule_cron"].value() or "", _int(form["schedule_every"].value()), zone
    )
    return render(
        request,
        "checkers/editor.html",
        page_context(
            request,
            namespace,
            checker=checker,
            form=form,
            policy_form=policy_form,
            rule_formset=rule_formset,
            metric_nouns={str(metric): noun for metric, noun in NOUNS.items()},
            schedule=preview,
            error_line=(form.source_error or result.get("result_error_at")),
            **result,
        ),
    )


def _valid(form: CheckerForm, policy_form: AlarmPolicyForm, rule_formset: RuleFormSet) -> bool:
    """The rules are read, and must hold, only when the checker is a rule checker."""
    valid = form.is_valid() & policy_form.is_valid()
    if form.cleaned_data.get("kind") == CheckerKind.RULE:
        valid &= rule_formset.is_valid()
    else:
        rule_formset.set_aside()
    return valid


def _save_checker(
    request: HttpRequest, form: CheckerForm, policy_form: AlarmPolicyForm, rule_formset: RuleFormSet
) -> HttpResponse:
    with transaction.atomic():
        checker = form.save_changes()
        if checker.kind == CheckerKind.RULE:
            rule_formset.save_in_order(checker)
        else:
            checker.rules.all().delete()
        if policy_form.instance.pk or policy_form.has_changed():
            policy_form.instance.checker = checker
            policy_form.save_changes()
    messages.success(request, f"Saved {checker.name}.")
    return redirect(checker)


def _int(value: object) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


@namespace_page()
def schedule_preview(request: HttpRequest, namespace: Namespace) -> HttpResponse:
    """The editor's live sentence for the schedule fields (GET, so htmx can ask as you type)."""
    query = request.GET
    preview = preview_schedule(
        query.get("schedule_cron", ""),
        _int(query.get("schedule_every")),
        query.get("timezone") or namespace.timezone,
    )
    return render(request, "checkers/_schedule_preview.html", {"schedule": preview})


CHECKER_PAGES = Resource(
    Checker,
    "checker",
    Role.EDITOR,
    "Creating checkers",
    _editor,
    queryset=CHECKERS,
    deleted="Deleted {obj.name} and its runs.",
    consequence="Its runs, state history and alarm settings go with it.",
)
checker_create = CHECKER_PAGES.create_view()
checker_edit = CHECKER_PAGES.edit_view()
checker_delete = CHECKER_PAGES.delete_view()


# --- Alarm toggles --------------------------------------------------------------------------------


@namespace_page(post=Role.EDITOR, get=False)
def toggle(request: HttpRequest, namespace: Namespace, checker: str, action: str) -> HttpResponse:
    state = _state(_checker(namespace, checker))
    try:
        messages.success(request, toggles.toggle(state, action, request.user, request.POST))
    except ToggleRefused as exc:
        messages.error(request, str(exc))
    return redirect(state.checker)
