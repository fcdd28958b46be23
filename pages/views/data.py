"""Datasource and dataset pages: lists, forms, "test connection" and the dataset preview.

Owners manage datasources (they hold credentials); editors manage datasets. Nobody ever
sees a stored URL or password: forms leave them blank, pages say only where they point.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from checkers import datasources
from checkers.models import Dataset, Datasource
from namespaces.models import Namespace, Role
from pages.crud import Resource
from pages.forms.checkers import DatasetForm, DatasourceForm
from pages.helpers import form_page, is_htmx, namespace_page, page_context, saved

PREVIEW_ROWS = 50
# Characters of one cell a preview shows: a page stays small whatever the rows hold.
PREVIEW_CELL_CHARS = 200


@dataclass(frozen=True)
class FormPage:
    """A datasource's or dataset's form page, whose second button tries the unsaved object
    instead of saving it (test the connection, preview the rows)."""

    template: str
    role: Role  # below it, the form is read only
    list_page: str  # where saving leads (a URL name)
    action: str  # the second button's value
    attempt: Callable[[Any], dict]
    partial: str  # the template htmx swaps in for the attempt's result
    name: str  # the result's name in both templates

    def respond(
        self, request: HttpRequest, namespace: Namespace, form: DatasourceForm | DatasetForm, **extra: Any
    ) -> HttpResponse:
        result = None
        if request.method == "POST" and form.is_valid():
            if request.POST.get("action") != self.action:
                form.save_changes()
                said = f"Saved {form._meta.model._meta.verbose_name} {form.cleaned_data['slug']}."
                return saved(request, said, self.list_page, namespace)
            result = self.attempt(form.instance)
        if is_htmx(request) and request.method == "POST":
            return render(request, self.partial, {self.name: result, "form": form})
        return form_page(request, namespace, self.template, form, self.role, **{self.name: result}, **extra)


# --- Datasources ----------------------------------------------------------------------------------


@namespace_page()
def datasource_list(request: HttpRequest, namespace: Namespace) -> HttpResponse:
    sources = namespace.datasources.annotate(dataset_count=Count("datasets"))
    rows = [(source, datasources.describe_target(source.url)) for source in sources]
    return render(request, "checkers/datasource_list.html", page_context(request, namespace, rows=rows))


def _datasource_form(request: HttpRequest, namespace: Namespace, source: Datasource | None) -> HttpResponse:
    form = DatasourceForm(request.POST or None, instance=source, namespace=namespace)
    where = datasources.describe_target(source.url) if source else ""
    return DATASOURCE_FORM.respond(request, namespace, form, source=source, where=where)


def _test_connection(source: Datasource) -> dict:
    try:
        return {"ok": True, "text": source.test_connection()}
    except datasources.DatasourceError as exc:
        return {"ok": False, "text": str(exc)}


DATASOURCE_FORM = FormPage(
    "checkers/datasource_form.html",
    Role.OWNER,
    "checkers:datasource-list",
    "test",
    _test_connection,
    "checkers/_connection_result.html",
    "result",
)

DATASOURCES = Resource(
    Datasource,
    "datasource",
    Role.OWNER,
    "Adding datasources",
    _datasource_form,
    deleted="Deleted datasource {obj.slug}.",
    consequence="Datasets that read it must be deleted or moved first.",
    protected="{obj.slug} still feeds datasets: delete or move them first.",
    after_delete="checkers:datasource-list",
    cancel="checkers:datasource-edit",
)
datasource_create = DATASOURCES.create_view()
datasource_edit = DATASOURCES.edit_view()
datasource_delete = DATASOURCES.delete_view()


# --- Datasets -------------------------------------------------------------------------------------


@namespace_page()
def dataset_list(request: HttpRequest, namespace: Namespace) -> HttpResponse:
    sets = namespace.datasets.select_related("datasource").annotate(
        checker_count=Count("checkers", distinct=True) + Count("rules__checker", distinct=True)
    )
    return render(request, "checkers/dataset_list.html", page_context(request, namespace, datasets=sets))


def _dataset_form(request: HttpRequest, namespace: Namespace, dataset: Dataset | None) -> HttpResponse:
    form = DatasetForm(request.POST or None, instance=dataset, namespace=namespace)
    users = dataset.readers() if dataset else []
    return DATASET_FORM.respond(request, namespace, form, dataset=dataset, used_by=users)


def _preview(dataset: Dataset) -> dict:
    """The first rows of the dataset as a checker would get it, long cells cut; nothing is saved.

    Only the rows shown are converted (``json_rows[:N]``), however many the fetch kept.
    """
    try:
        result = dataset.fetch()
    except datasources.DatasetTooLarge as exc:
        return {"error": dataset.too_large_error(exc)}
    except datasources.DatasourceError as exc:
        return {"error": str(exc)}
    rows = [[_cell(value) for value in row] for row in result.json_rows[:PREVIEW_ROWS]]
    total = len(result.values)
    return {
        "columns": [_cut(column) for column in result.columns],
        "rows": rows,
        "cut_cells": sum(isinstance(value, Cut) for row in rows for value in row),
        "cell_chars": PREVIEW_CELL_CHARS,
        "total": total,
        "shown": min(total, PREVIEW_ROWS),
        "truncated": result.truncated,
        "row_cap": dataset.datasource.row_cap,
        "datasource": dataset.datasource.slug,
        "sample": dataset.sample,
        "ms": result.duration_ms,
    }


class Cut(str):
    """A cell's text cut to ``PREVIEW_CELL_CHARS`` characters (the page marks it)."""


def _cut(text: str) -> str:
    return Cut(text[:PREVIEW_CELL_CHARS] + "…") if len(text) > PREVIEW_CELL_CHARS else text


def _cell(value: object) -> object:
    """A value as the table shows it: as it is when short, else its text cut."""
    if value is None or isinstance(value, bool | int | float):
        return value
    return _cut(value if isinstance(value, str) else str(value))


DATASET_FORM = FormPage(
    "checkers/dataset_form.html",
    Role.EDITOR,
    "checkers:dataset-list",
    "preview",
    _preview,
    "checkers/_dataset_preview.html",
    "preview",
)

DATASETS = Resource(
    Dataset,
    "dataset",
    Role.EDITOR,
    "Adding datasets",
    _dataset_form,
    deleted="Deleted dataset {obj.slug}.",
    consequence="Code checkers that read it stop getting it; rule checkers on it must be changed first.",
    protected="A rule checker checks {obj.slug}: change or delete it first.",
    after_delete="checkers:dataset-list",
    cancel="checkers:dataset-edit",
)
dataset_create = DATASETS.create_view()
dataset_edit = DATASETS.edit_view()
dataset_delete = DATASETS.delete_view()
