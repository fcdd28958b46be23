"""Datasource and dataset pages: lists, forms, "test connection" and the dataset preview.

Owners manage datasources (they hold credentials); editors manage datasets. Nobody ever
sees a stored URL or password: forms leave them blank, pages say only where they point.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Count, ProtectedError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from checkers import datasources
from checkers.models import Dataset, Datasource
from namespaces.access import get_in_namespace
from namespaces.models import Namespace, Role
from pages.forms.checkers import DatasetForm, DatasourceForm
from pages.helpers import confirm_delete, is_htmx, may, namespace_page, needs_role, page_context

PREVIEW_ROWS = 50
# Characters of one cell a preview shows: a page stays small whatever the rows hold.
PREVIEW_CELL_CHARS = 200


# --- Datasources ----------------------------------------------------------------------------------


@namespace_page()
def datasource_list(request: HttpRequest, namespace: Namespace) -> HttpResponse:
    sources = namespace.datasources.annotate(dataset_count=Count("datasets"))
    rows = [(source, datasources.describe_target(source.url)) for source in sources]
    return render(request, "checkers/datasource_list.html", page_context(request, namespace, rows=rows))


@namespace_page(post=Role.OWNER)
def datasource_create(request: HttpRequest, namespace: Namespace) -> HttpResponse:
    if not may(request, Role.OWNER):
        return needs_role(request, namespace, "Adding datasources", Role.OWNER)
    return _datasource_form(request, namespace, None)


@namespace_page(post=Role.OWNER)
def datasource_edit(request: HttpRequest, namespace: Namespace, datasource: str) -> HttpResponse:
    return _datasource_form(
        request, namespace, get_in_namespace(Datasource.objects.all(), namespace, slug=datasource)
    )


def _datasource_form(request: HttpRequest, namespace: Namespace, source: Datasource | None) -> HttpResponse:
    form = DatasourceForm(request.POST or None, instance=source, namespace=namespace)
    result = None
    if request.method == "POST" and form.is_valid():
        if request.POST.get("action") != "test":
            saved = form.save_changes()
            messages.success(request, f"Saved datasource {saved.slug}.")
            return redirect("checkers:datasource-list", namespace.slug)
        result = _test_connection(form.instance)
    if is_htmx(request) and request.method == "POST":
        return render(request, "checkers/_connection_result.html", {"result": result, "form": form})
    if not may(request, Role.OWNER):
        form.make_read_only()
    return render(
        request,
        "checkers/datasource_form.html",
        page_context(
            request,
            namespace,
            form=form,
            source=source,
            result=result,
            where=datasources.describe_target(source.url) if source else "",
        ),
    )


def _test_connection(source: Datasource) -> dict:
    try:
        return {"ok": True, "text": source.test_connection()}
    except datasources.DatasourceError as exc:
        return {"ok": False, "text": str(exc)}


@namespace_page(post=Role.OWNER)
def datasource_delete(request: HttpRequest, namespace: Namespace, datasource: str) -> HttpResponse:
    source = get_in_namespace(Datasource.objects.all(), namespace, slug=datasource)
    if request.method == "POST":
        try:
            source.delete()
        except ProtectedError:
            messages.error(request, f"{source.slug} still feeds datasets: delete or move them first.")
            return redirect("checkers:datasource-edit", namespace.slug, source.slug)
        messages.success(request, f"Deleted datasource {source.slug}.")
        return redirect("checkers:datasource-list", namespace.slug)
    return confirm_delete(
        request,
        namespace,
        source,
        Role.OWNER,
        "Datasets that read it must be deleted or moved first.",
        reverse("checkers:datasource-edit", args=[namespace.slug, source.slug]),
    )


# --- Datasets -------------------------------------------------------------------------------------


@namespace_page()
def dataset_list(request: HttpRequest, namespace: Namespace) -> HttpResponse:
    sets = namespace.datasets.select_related("datasource").annotate(
        checker_count=Count("checkers", distinct=True) + Count("rules__checker", distinct=True)
    )
    return render(request, "checkers/dataset_list.html", page_context(request, namespace, datasets=sets))


@namespace_page(post=Role.EDITOR)
def dataset_create(request: HttpRequest, namespace: Namespace) -> HttpResponse:
    if not may(request, Role.EDITOR):
        return needs_role(request, namespace, "Adding datasets", Role.EDITOR)
    return _dataset_form(request, namespace, None)


@namespace_page(post=Role.EDITOR)
def dataset_edit(request: HttpRequest, namespace: Namespace, dataset: str) -> HttpResponse:
    return _dataset_form(request, namespace, get_in_namespace(Dataset.objects.all(), namespace, slug=dataset))


def _dataset_form(request: HttpRequest, namespace: Namespace, dataset: Dataset | None) -> HttpResponse:
    form = DatasetForm(request.POST or None, instance=dataset, namespace=namespace)
    preview = None
    if request.method == "POST" and form.is_valid():
        if request.POST.get("action") != "preview":
            saved = form.save_changes()
            messages.success(request, f"Saved dataset {saved.slug}.")
            return redirect("checkers:dataset-list", namespace.slug)
        preview = _preview(form.instance)
    if is_htmx(request) and request.method == "POST":
        return render(request, "checkers/_dataset_preview.html", {"preview": preview, "form": form})
    if not may(request, Role.EDITOR):
        form.make_read_only()
    users = dataset.readers() if dataset else []
    return render(
        request,
        "checkers/dataset_form.html",
        page_context(request, namespace, form=form, dataset=dataset, preview=preview, used_by=users),
    )


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


@namespace_page(post=Role.EDITOR)
def dataset_delete(request: HttpRequest, namespace: Namespace, dataset: str) -> HttpResponse:
    dataset = get_in_namespace(Dataset.objects.all(), namespace, slug=dataset)
    if request.method == "POST":
        try:
            dataset.delete()
        except ProtectedError:
            messages.error(request, f"A rule checker checks {dataset.slug}: change or delete it first.")
            return redirect("checkers:dataset-edit", namespace.slug, dataset.slug)
        messages.success(request, f"Deleted dataset {dataset.slug}.")
        return redirect("checkers:dataset-list", namespace.slug)
    return confirm_delete(
        request,
        namespace,
        dataset,
        Role.EDITOR,
        "Code checkers that read it stop getting it; rule checkers on it must be changed first.",
        reverse("checkers:dataset-edit", args=[namespace.slug, dataset.slug]),
    )
