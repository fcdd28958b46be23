"""Datasources, datasets (and their preview), runbooks, members and channels over HTTP.

Secrets (datasource URLs and passwords, channel URLs and secrets) are never serialized: they
are set on the pages or by checks as code, and no response carries them.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from alarms.models import Channel, Notification
from api.base import ApiView
from api.schema import ERRORS
from api.serializers import (
    ChannelSerializer,
    DatasetSerializer,
    DatasourceSerializer,
    MemberSerializer,
    PreviewSerializer,
    RunbookSerializer,
    RunbookWriteSerializer,
    TestAlarmSerializer,
)
from api.validation import dataset_preview, runbook_form
from checkers.models import Dataset, Datasource
from namespaces.access import get_in_namespace
from namespaces.models import Role
from runbooks.models import Runbook

DATASETS = Dataset.objects.select_related("datasource", "namespace")
RUNBOOKS = Runbook.objects.select_related("owner")


class DatasourceList(ApiView):
    @extend_schema(responses={200: DatasourceSerializer(many=True), **ERRORS}, tags=["data"])
    def get(self, request: Request, namespace: str) -> Response:
        sources = Datasource.objects.filter(namespace=self.namespace).order_by("slug")
        return Response(DatasourceSerializer(sources, many=True).data)


class DatasetList(ApiView):
    @extend_schema(responses={200: DatasetSerializer(many=True), **ERRORS}, tags=["data"])
    def get(self, request: Request, namespace: str) -> Response:
        datasets = DATASETS.filter(namespace=self.namespace).order_by("slug")
        return Response(DatasetSerializer(datasets, many=True).data)


class DatasetDetail(ApiView):
    @extend_schema(responses={200: DatasetSerializer, **ERRORS}, tags=["data"])
    def get(self, request: Request, namespace: str, dataset: str) -> Response:
        return Response(DatasetSerializer(get_in_namespace(DATASETS, self.namespace, slug=dataset)).data)


class DatasetPreview(ApiView):
    @extend_schema(
        request=None,
        responses={200: PreviewSerializer, **ERRORS},
        tags=["data"],
        description="The first rows as a checker gets them, long cells cut (as on the dataset page).",
    )
    def post(self, request: Request, namespace: str, dataset: str) -> Response:
        found = get_in_namespace(DATASETS, self.namespace, slug=dataset)
        preview = dataset_preview(found)
        keys = ("columns", "rows", "total", "shown", "truncated", "error")
        return Response({key: preview[key] for key in keys if key in preview})


class RunbookList(ApiView):
    @extend_schema(responses={200: RunbookSerializer(many=True), **ERRORS}, tags=["runbooks"])
    def get(self, request: Request, namespace: str) -> Response:
        runbooks = RUNBOOKS.filter(namespace=self.namespace).order_by("slug")
        return Response(RunbookSerializer(runbooks, many=True).data)

    @extend_schema(
        request=RunbookWriteSerializer, responses={201: RunbookSerializer, **ERRORS}, tags=["runbooks"]
    )
    def post(self, request: Request, namespace: str) -> Response:
        payload = _runbook_payload(request)
        saved = runbook_form(self.namespace, None, payload).save_changes()
        return Response(RunbookSerializer(saved).data, status=status.HTTP_201_CREATED)


def _runbook_payload(request: Request) -> dict:
    serializer = RunbookWriteSerializer(data=request.data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class RunbookDetail(ApiView):
    @extend_schema(responses={200: RunbookSerializer, **ERRORS}, tags=["runbooks"])
    def get(self, request: Request, namespace: str, runbook: str) -> Response:
        return Response(RunbookSerializer(get_in_namespace(RUNBOOKS, self.namespace, slug=runbook)).data)

    @extend_schema(
        request=RunbookWriteSerializer, responses={200: RunbookSerializer, **ERRORS}, tags=["runbooks"]
    )
    def patch(self, request: Request, namespace: str, runbook: str) -> Response:
        found = get_in_namespace(RUNBOOKS, self.namespace, slug=runbook)
        saved = runbook_form(self.namespace, found, _runbook_payload(request)).save_changes()
        return Response(RunbookSerializer(saved).data)


class MemberList(ApiView):
    @extend_schema(responses={200: MemberSerializer(many=True), **ERRORS}, tags=["namespaces"])
    def get(self, request: Request, namespace: str) -> Response:
        members = self.namespace.memberships.select_related("user").order_by("user__username")
        return Response(MemberSerializer(members, many=True).data)


class ChannelList(ApiView):
    @extend_schema(responses={200: ChannelSerializer(many=True), **ERRORS}, tags=["channels"])
    def get(self, request: Request, namespace: str) -> Response:
        channels = Channel.objects.filter(namespace=self.namespace).order_by("slug")
        return Response(ChannelSerializer(channels, many=True).data)


class ChannelTest(ApiView):
    write_role = Role.OWNER

    @extend_schema(request=None, responses={200: TestAlarmSerializer, **ERRORS}, tags=["channels"])
    def post(self, request: Request, namespace: str, channel: str) -> Response:
        """Send a test alarm through the outbox, delivered now, as the channel page's button."""
        found = get_in_namespace(Channel.objects.select_related("namespace"), self.namespace, slug=channel)
        notification = found.send_test(request.user)
        delivered = notification.status == Notification.Status.DELIVERED
        return Response(
            {"delivered": delivered, "status": notification.status, "error": notification.last_error}
        )
