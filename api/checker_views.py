"""Checkers, their runs, state, alarm history and toggles, run now and test runs, over HTTP.

Every view is an ``ApiView``: the namespace is checked before the handler (outsiders 404,
viewers' writes 403, a read-only token's writes 403); objects are found by slug or UUID in it.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, cast

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.pagination import CursorPagination
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from alarms.models import AlarmState, ToggleRefused, Transition
from api.base import ApiView
from api.schema import ERRORS, answers
from api.serializers import (
    CheckerSerializer,
    CheckerWriteSerializer,
    OutcomeSerializer,
    RunSerializer,
    StateSerializer,
    ToggleSerializer,
    TransitionSerializer,
)
from api.validation import checker_form, rule_formset
from checkers import dispatch, runs, tasks
from checkers.models import Checker, CheckerKind, CheckRun, RunStatus, Trigger
from namespaces.access import get_in_namespace
from namespaces.models import Namespace

CHECKERS = Checker.objects.select_related("namespace", "runbook").prefetch_related(
    "datasets", "rules__dataset"
)
MAX_WAIT_S = 60
SLUG = re.compile(r"[-a-zA-Z0-9_]+")
TAG = "checkers"
# A checker comes as JSON, or as a form with its module uploaded.
CHECKER_BODY = {"application/json": CheckerWriteSerializer, "multipart/form-data": CheckerWriteSerializer}


def checker_in(view: ApiView, slug: str) -> Checker:
    return get_in_namespace(CHECKERS, view.namespace, slug=slug)


def state_of(checker: Checker) -> AlarmState:
    state = AlarmState.objects.select_related(
        "last_run__checker", "acknowledged_by", "muted_by"
    ).get_or_create(checker=checker)[0]
    state.checker = checker
    return state


class CheckerList(ApiView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @answers(CheckerSerializer(many=True), tag=TAG)
    def get(self, request: Request, namespace: str) -> Response:
        return self.listing(CHECKERS, CheckerSerializer)

    @answers(
        CheckerSerializer,
        201,
        tag=TAG,
        request=CHECKER_BODY,
        description="Rules (a `rules` list), Python, WAT or a compiled module (wasm_base64, or a "
        "multipart `wasm` file), validated as the editor validates.",
    )
    def post(self, request: Request, namespace: str) -> Response:
        checker = save_checker(self.namespace, None, _payload(request))
        return Response(CheckerSerializer(CHECKERS.get(pk=checker.pk)).data, status=status.HTTP_201_CREATED)


def save_checker(namespace: Namespace, found: Checker | None, payload: dict) -> Checker:
    """The editor's save: the checker's form, and a rule checker's rows, all or nothing.

    A rule checker's stored rules stay unless ``rules`` is given; a checker that is no longer a
    rule checker loses them, as in the editor."""
    form = checker_form(namespace, found, payload)
    is_rule = form.cleaned_data["kind"] == CheckerKind.RULE
    rows = None
    if is_rule and ("rules" in payload or found is None or found.kind != CheckerKind.RULE):
        rows = rule_formset(namespace, form.instance, payload.get("rules", []))
    with transaction.atomic():
        checker = cast(Checker, form.save_changes())
        if rows is not None:
            rows.save_in_order(checker)
        elif not is_rule:
            checker.rules.all().delete()
    return checker


def _payload(request: Request) -> dict:
    """The keys the request gave: a form field left out keeps its value (a multipart body
    leaves out a false checkbox, which DRF would otherwise read as false)."""
    serializer = CheckerWriteSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return {key: value for key, value in serializer.validated_data.items() if key in request.data}


class CheckerDetail(ApiView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @answers(CheckerSerializer, tag=TAG)
    def get(self, request: Request, namespace: str, checker: str) -> Response:
        return Response(CheckerSerializer(checker_in(self, checker)).data)

    @answers(
        CheckerSerializer,
        tag=TAG,
        request=CHECKER_BODY,
        description="Change the keys given; the others keep their values.",
    )
    def patch(self, request: Request, namespace: str, checker: str) -> Response:
        saved = save_checker(self.namespace, checker_in(self, checker), _payload(request))
        return Response(CheckerSerializer(CHECKERS.get(pk=saved.pk)).data)

    @answers(None, 204, tag=TAG)
    def delete(self, request: Request, namespace: str, checker: str) -> Response:
        checker_in(self, checker).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class RunCursor(CursorPagination):
    ordering = "-queued"
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or int(raw) < 1:
            raise exceptions.ValidationError({"limit": [f"a whole number from 1 to {self.max_page_size}"]})
        return min(int(raw), self.max_page_size)


class RunList(ApiView, generics.ListAPIView):
    serializer_class = RunSerializer
    pagination_class = RunCursor

    def get_queryset(self) -> QuerySet[CheckRun]:
        if getattr(self, "swagger_fake_view", False):
            return CheckRun.objects.none()
        runs_ = CheckRun.objects.filter(checker__namespace=self.namespace).select_related("checker")
        query = self.request.query_params
        if query.get("checker"):
            if not SLUG.fullmatch(query["checker"]):
                raise exceptions.ValidationError({"checker": ["a checker's slug: letters, digits, - and _"]})
            runs_ = runs_.filter(checker__slug=query["checker"])
        for key, choices in {"status": RunStatus, "trigger": Trigger}.items():
            if key not in query:
                continue
            if query[key] not in choices.values:
                raise exceptions.ValidationError({key: [f"one of {', '.join(choices.values)}"]})
            runs_ = runs_.filter(**{key: query[key]})
        return runs_

    @answers(
        RunSerializer(many=True),
        tag="runs",
        parameters=[
            OpenApiParameter("checker", str, description="Only this checker's runs (slug)."),
            OpenApiParameter("status", str, enum=[s.value for s in RunStatus]),
            OpenApiParameter("trigger", str, enum=[t.value for t in Trigger]),
        ],
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)


class RunDetail(ApiView):
    @answers(RunSerializer, tag="runs")
    def get(self, request: Request, namespace: str, run: str) -> Response:
        found = get_in_namespace(CheckRun.objects.select_related("checker"), self.namespace, uuid=run)
        return Response(RunSerializer(found).data)


class CheckerState(ApiView):
    @answers(
        StateSerializer,
        tag=TAG,
        description="The alarm state a deploy can gate on: green, red, error or unknown.",
    )
    def get(self, request: Request, namespace: str, checker: str) -> Response:
        return Response(StateSerializer(state_of(checker_in(self, checker))).data)


class AlarmHistory(ApiView):
    @answers(TransitionSerializer(many=True), tag=TAG)
    def get(self, request: Request, namespace: str, checker: str) -> Response:
        found = checker_in(self, checker)
        transitions = Transition.objects.filter(checker=found).select_related("checker", "run")[:200]
        return Response(TransitionSerializer(transitions, many=True).data)


class Toggle(ApiView):
    @answers(StateSerializer, tag=TAG, request=ToggleSerializer)
    def post(self, request: Request, namespace: str, checker: str) -> Response:
        """Acknowledge, mute, disable alarming, or undo one: audited as on the pages."""
        serializer = ToggleSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        state = state_of(checker_in(self, checker))
        user, reason, action = request.user, data["reason"], data["action"]
        try:
            if action == "mute":
                until = data.get("until") or timezone.now() + timedelta(minutes=data["minutes"])
                state.mute(user, until, reason)
            elif action in {"disable-alarming", "enable-alarming"}:
                state.set_alarming(action == "enable-alarming", user, reason)
            else:
                getattr(state, action)(user, reason)
        except ToggleRefused as exc:
            raise exceptions.ValidationError({"action": [str(exc)]}) from None
        return Response(StateSerializer(state_of(state.checker)).data)


class RunNow(ApiView):
    @extend_schema(
        parameters=[
            OpenApiParameter(
                "wait", float, description=f"Seconds to wait for the outcome, up to {MAX_WAIT_S}."
            )
        ],
        request=None,
        responses={
            200: OpenApiResponse(RunSerializer, "The run finished within `wait`."),
            202: OpenApiResponse(RunSerializer, "The run is queued or running: poll it."),
            **ERRORS,
        },
        tags=[TAG],
    )
    def post(self, request: Request, namespace: str, checker: str) -> Response:
        """Queue a run for a worker, as the schedule would; trigger `api`."""
        wait = _wait(request)
        found = checker_in(self, checker)
        with transaction.atomic():
            run = CheckRun.objects.create(checker=found, trigger=Trigger.API)
            tasks.enqueue(run, dispatch.time_limits([found])[found.pk])
        deadline = time.monotonic() + wait
        while run.status in {RunStatus.QUEUED, RunStatus.RUNNING} and time.monotonic() < deadline:
            time.sleep(0.2)
            run.refresh_from_db()
        finished = run.status not in {RunStatus.QUEUED, RunStatus.RUNNING}
        return Response(
            RunSerializer(run).data, status=status.HTTP_200_OK if finished else status.HTTP_202_ACCEPTED
        )


def _wait(request: Request) -> float:
    raw = request.query_params.get("wait", "0")
    try:
        wait = float(raw)
    except ValueError:
        raise exceptions.ValidationError({"wait": [f"{raw!r} is not a number of seconds."]}) from None
    if not 0 <= wait <= MAX_WAIT_S:
        raise exceptions.ValidationError({"wait": [f"must be between 0 and {MAX_WAIT_S} seconds."]})
    return wait


class TestRun(ApiView):
    parser_classes = [JSONParser, MultiPartParser, FormParser]

    @answers(
        OutcomeSerializer,
        tag=TAG,
        request=CHECKER_BODY,
        description="The checker against live datasets, as saved or with the changes in the body "
        "(a draft, validated as the editor validates): records nothing, saves nothing, alarms nobody.",
    )
    def post(self, request: Request, namespace: str, checker: str) -> Response:
        found = checker_in(self, checker)
        if not isinstance(request.data, Mapping):
            raise exceptions.ValidationError({"": ["The body is an object: the draft's changes, or {}."]})
        payload = _payload(request) if request.data else {}
        if not payload:
            return Response(runs.evaluate(found).outcome.to_dict())
        form = checker_form(self.namespace, found, payload)
        rules: list = []
        if form.cleaned_data["kind"] == CheckerKind.RULE:
            rules = (
                rule_formset(self.namespace, form.instance, payload["rules"]).rules()
                if "rules" in payload
                else list(found.rules.order_by("position"))
            )
        declared = list(form.cleaned_data.get("datasets") or [])
        return Response(runs.evaluate(form.instance, declared=declared, rules=rules).outcome.to_dict())
