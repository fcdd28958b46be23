"""The editor's own forms, fed from API payloads: the API accepts exactly what the pages accept.

Every page form the API reuses is imported here and nowhere else in ``api/``, so moving the
forms (to ``pages/``) changes one import.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.forms import model_to_dict
from django.utils.datastructures import MultiValueDict
from rest_framework import exceptions

from checkers.models import Checker, Dataset
from namespaces.access import get_in_namespace
from namespaces.models import Namespace
from pages.forms.checkers import CheckerForm
from pages.forms.runbooks import RunbookForm
from pages.views.data import _preview as dataset_preview
from runbooks.models import Runbook

FORM_FIELDS = CheckerForm._meta.fields
__all__ = ["checker_form", "dataset_preview", "runbook_form"]


def _as_form_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "on" if value else ""
    if isinstance(value, dict):
        return json.dumps(value)
    return value


def _form_data(namespace: Namespace, instance: Checker | None, payload: dict[str, Any]) -> MultiValueDict:
    """The instance's values (a new one's defaults) under the payload's; slugs become the form's choices."""
    current = model_to_dict(instance or Checker(namespace=namespace), fields=FORM_FIELDS)
    current["datasets"] = [d.pk for d in current.get("datasets", [])]
    merged = {**current, **{k: v for k, v in payload.items() if k in FORM_FIELDS}}
    if "runbook" in payload:
        slug = payload["runbook"]
        merged["runbook"] = get_in_namespace(Runbook.objects, namespace, slug=slug).pk if slug else None
    if "datasets" in payload:
        merged["datasets"] = [
            _pk_of(Dataset.objects.filter(namespace=namespace), slug, "datasets")
            for slug in payload["datasets"]
        ]
    data = MultiValueDict()
    for key, value in merged.items():
        if key == "datasets":
            data.setlist(key, [str(pk) for pk in value])
        elif not (isinstance(value, bool) and not value):
            data[key] = _as_form_value(value)
    return data


def _pk_of(queryset, slug: str, field: str) -> int:
    pk = queryset.filter(slug=slug).values_list("pk", flat=True).first()
    if pk is None:
        raise exceptions.ValidationError({field: [f"No dataset {slug} in this namespace."]})
    return pk


def _upload(payload: dict[str, Any]) -> MultiValueDict:
    if payload.get("wasm") is not None:
        upload: UploadedFile = payload["wasm"]
        return MultiValueDict({"wasm_upload": [upload]})
    if payload.get("wasm_base64") is not None:
        try:
            module = base64.b64decode("".join(payload["wasm_base64"].split()), validate=True)
        except binascii.Error as exc:
            raise exceptions.ValidationError({"wasm_base64": [f"not base64: {exc}"]}) from None
        return MultiValueDict(
            {"wasm_upload": [SimpleUploadedFile("module.wasm", module, "application/wasm")]}
        )
    return MultiValueDict()


def checker_form(namespace: Namespace, instance: Checker | None, payload: dict[str, Any]) -> CheckerForm:
    """The editor's form, valid, or a 400 naming each field as the editor would."""
    form = CheckerForm(
        _form_data(namespace, instance, payload), _upload(payload), instance=instance, namespace=namespace
    )
    if not form.is_valid():
        fields = {("wasm" if k == "wasm_upload" else k): list(v) for k, v in form.errors.items()}
        raise exceptions.ValidationError({("" if k == "__all__" else k): v for k, v in fields.items()})
    return form


def runbook_form(namespace: Namespace, instance: Runbook | None, payload: dict[str, Any]) -> RunbookForm:
    """The runbook page's form, valid, or a 400; ``owner`` is a member's username."""
    current = model_to_dict(instance, fields=RunbookForm._meta.fields) if instance else {}
    data = {**current, **{k: v for k, v in payload.items() if k != "owner"}}
    if "owner" in payload:
        owner = payload["owner"]
        members = namespace.memberships.filter(user__username=owner, user__is_active=True)
        data["owner"] = members.values_list("user_id", flat=True).first() if owner else None
        if owner and data["owner"] is None:
            raise exceptions.ValidationError({"owner": [f"{owner} is not an active member here."]})
    form = RunbookForm(
        {k: _as_form_value(v) for k, v in data.items()}, instance=instance, namespace=namespace
    )
    if not form.is_valid():
        raise exceptions.ValidationError(
            {("" if k == "__all__" else k): list(v) for k, v in form.errors.items()}
        )
    return form
