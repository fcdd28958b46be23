"""Datasources, datasets (and their preview) and runbooks over HTTP, written with the pages' forms.

A datasource's URL and password are write-only: accepted here, never serialized back.
"""

from __future__ import annotations

from rest_framework.request import Request
from rest_framework.response import Response

from api.base import ApiView
from api.resources import DeletableDetail, ObjectDetail, ObjectList, Resource
from api.schema import answers
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

DATASOURCES = Datasource.objects.select_related("namespace")
DATASETS = Dataset.objects.select_related("datasource", "namespace")
RUNBOOKS = Runbook.objects.select_related("owner")
DATASOURCE = Resource(DATASOURCES, DatasourceSerializer, DatasourceWriteSerializer, datasource_form, "data")
DATASET = Resource(DATASETS, DatasetSerializer, DatasetWriteSerializer, dataset_form, "data")
RUNBOOK = Resource(RUNBOOKS, RunbookSerializer, RunbookWriteSerializer, runbook_form, "runbooks")


class DatasourceList(ObjectList):
    resource = DATASOURCE
    write_role = Role.OWNER
    post_note = (
        "Owners, validated as the datasource page validates: the operator's outbound policy, and a "
        "role that may only read. The URL and password are never returned."
    )


class DatasourceDetail(DeletableDetail):
    resource = DATASOURCE
    write_role = Role.OWNER
    used_by = "datasets"
    patch_note = "Change the keys given; a URL or password left out keeps the stored one."


class DatasetList(ObjectList):
    resource = DATASET


class DatasetDetail(DeletableDetail):
    resource = DATASET
    used_by = "rule checkers"


class DatasetPreview(ApiView):
    @answers(PreviewSerializer, tag="data", request=None)
    def post(self, request: Request, namespace: str, dataset: str) -> Response:
        """The first rows as a checker gets them, long cells cut (as on the dataset page)."""
        preview = dataset_preview(get_in_namespace(DATASETS, self.namespace, slug=dataset))
        keys = ("columns", "rows", "total", "shown", "truncated", "error")
        return Response({key: preview[key] for key in keys if key in preview})


class RunbookList(ObjectList):
    resource = RUNBOOK


class RunbookDetail(ObjectDetail):
    resource = RUNBOOK
