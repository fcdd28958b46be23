"""Datasources, datasets (and their preview) and runbooks over HTTP, written with the pages' forms.

A datasource's URL and password are write-only: accepted here, never serialized back.
"""

from __future__ import annotations

from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from api.base import ApiView, delete_unless_used
from api.schema import DELETE_ERRORS, answers
from api.serializers import (
    DatasetSerializer,
    DatasetWriteSerializer,
    DatasourceSerializer,
    DatasourceWriteSerializer,
    PreviewSerializer,
    RunbookSerializer,
    RunbookWriteSerializer,
)
from api.validation import dataset_form, dataset_preview, datasource_form, runbook_form
from checkers.models import Dataset, Datasource
from namespaces.access import get_in_namespace
from namespaces.models import Role
from runbooks.models import Runbook

DATASETS = Dataset.objects.select_related("datasource", "namespace")
DATASOURCES = Datasource.objects.select_related("namespace")
RUNBOOKS = Runbook.objects.select_related("owner")


def valid(serializer_class: type[serializers.Serializer], request: Request) -> dict:
    """The keys the body gave, in their shapes; the page's form checks their meaning."""
    serializer = serializer_class(data=request.data)
    serializer.is_valid(raise_exception=True)
    return {key: value for key, value in serializer.validated_data.items() if key in request.data}


class DatasourceList(ApiView):
    write_role = Role.OWNER

    @answers(DatasourceSerializer(many=True), tag="data")
    def get(self, request: Request, namespace: str) -> Response:
        return self.listing(DATASOURCES, DatasourceSerializer)

    @answers(
        DatasourceSerializer,
        201,
        tag="data",
        request=DatasourceWriteSerializer,
        description="Owners, validated as the datasource page validates: the operator's outbound "
        "policy, and a role that may only read. The URL and password are never returned.",
    )
    def post(self, request: Request, namespace: str) -> Response:
        saved = datasource_form(
            self.namespace, None, valid(DatasourceWriteSerializer, request)
        ).save_changes()
        return Response(DatasourceSerializer(saved).data, status=status.HTTP_201_CREATED)


class DatasourceDetail(ApiView):
    write_role = Role.OWNER

    @answers(DatasourceSerializer, tag="data")
    def get(self, request: Request, namespace: str, datasource: str) -> Response:
        return self.showing(DATASOURCES, DatasourceSerializer, slug=datasource)

    @answers(
        DatasourceSerializer,
        tag="data",
        request=DatasourceWriteSerializer,
        description="Change the keys given; a URL or password left out keeps the stored one.",
    )
    def patch(self, request: Request, namespace: str, datasource: str) -> Response:
        found = get_in_namespace(DATASOURCES, self.namespace, slug=datasource)
        saved = datasource_form(
            self.namespace, found, valid(DatasourceWriteSerializer, request)
        ).save_changes()
        return Response(DatasourceSerializer(saved).data)

    @answers(None, 204, tag="data", errors=DELETE_ERRORS)
    def delete(self, request: Request, namespace: str, datasource: str) -> Response:
        delete_unless_used(get_in_namespace(DATASOURCES, self.namespace, slug=datasource), "datasets")
        return Response(status=status.HTTP_204_NO_CONTENT)


class DatasetList(ApiView):
    @answers(DatasetSerializer(many=True), tag="data")
    def get(self, request: Request, namespace: str) -> Response:
        return self.listing(DATASETS, DatasetSerializer)

    @answers(DatasetSerializer, 201, tag="data", request=DatasetWriteSerializer)
    def post(self, request: Request, namespace: str) -> Response:
        saved = dataset_form(self.namespace, None, valid(DatasetWriteSerializer, request)).save_changes()
        return Response(DatasetSerializer(saved).data, status=status.HTTP_201_CREATED)


class DatasetDetail(ApiView):
    @answers(DatasetSerializer, tag="data")
    def get(self, request: Request, namespace: str, dataset: str) -> Response:
        return self.showing(DATASETS, DatasetSerializer, slug=dataset)

    @answers(DatasetSerializer, tag="data", request=DatasetWriteSerializer)
    def patch(self, request: Request, namespace: str, dataset: str) -> Response:
        found = get_in_namespace(DATASETS, self.namespace, slug=dataset)
        saved = dataset_form(self.namespace, found, valid(DatasetWriteSerializer, request)).save_changes()
        return Response(DatasetSerializer(saved).data)

    @answers(None, 204, tag="data", errors=DELETE_ERRORS)
    def delete(self, request: Request, namespace: str, dataset: str) -> Response:
        delete_unless_used(get_in_namespace(DATASETS, self.namespace, slug=dataset), "rule checkers")
        return Response(status=status.HTTP_204_NO_CONTENT)


class DatasetPreview(ApiView):
    @answers(
        PreviewSerializer,
        tag="data",
        request=None,
        description="The first rows as a checker gets them, long cells cut (as on the dataset page).",
    )
    def post(self, request: Request, namespace: str, dataset: str) -> Response:
        found = get_in_namespace(DATASETS, self.namespace, slug=dataset)
        preview = dataset_preview(found)
        keys = ("columns", "rows", "total", "shown", "truncated", "error")
        return Response({key: preview[key] for key in keys if key in preview})


class RunbookList(ApiView):
    @answers(RunbookSerializer(many=True), tag="runbooks")
    def get(self, request: Request, namespace: str) -> Response:
        return self.listing(RUNBOOKS, RunbookSerializer)

    @answers(RunbookSerializer, 201, tag="runbooks", request=RunbookWriteSerializer)
    def post(self, request: Request, namespace: str) -> Response:
        saved = runbook_form(self.namespace, None, valid(RunbookWriteSerializer, request)).save_changes()
        return Response(RunbookSerializer(saved).data, status=status.HTTP_201_CREATED)


class RunbookDetail(ApiView):
    @answers(RunbookSerializer, tag="runbooks")
    def get(self, request: Request, namespace: str, runbook: str) -> Response:
        return self.showing(RUNBOOKS, RunbookSerializer, slug=runbook)

    @answers(RunbookSerializer, tag="runbooks", request=RunbookWriteSerializer)
    def patch(self, request: Request, namespace: str, runbook: str) -> Response:
        found = get_in_namespace(RUNBOOKS, self.namespace, slug=runbook)
        saved = runbook_form(self.namespace, found, valid(RunbookWriteSerializer, request)).save_changes()
        return Response(RunbookSerializer(saved).data)
