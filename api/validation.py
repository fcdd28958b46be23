"""The editor's own forms, fed from API payloads: the API accepts exactly what the pages accept.

Every page form the API reuses is imported here and nowhere else in ``api/``, so moving the
forms (to ``pages/``) changes one import.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any, cast

from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.db.models import QuerySet
from django.forms import model_to_dict
from django.utils.datastructures import MultiValueDict
from rest_framework import exceptions

from alarms.models import Channel, MaintenanceWindow
from checkers.models import Checker, CheckerRule, Dataset, Datasource
from malleable.encryption import SecretInput
from namespaces.access import get_in_namespace
from namespaces.models import Membership, Namespace
from pages.forms.checkers import BaseRuleFormSet, CheckerForm, DatasetForm, DatasourceForm, RuleFormSet
from pages.forms.runbooks import RunbookForm
from pages.forms.settings import LAST_OWNER, ChannelForm, MaintenanceWindowForm, MemberAddForm, MemberRoleForm
from pages.views.data import _preview as dataset_preview
from runbooks.models import Runbook

FORM_FIELDS = CheckerForm._meta.fields
__all__ = [
    "LAST_OWNER",
    "channel_form",
    "checker_form",
    "dataset_form",
    "dataset_preview",
    "datasource_form",
    "member_add_form",
    "member_role",
    "rule_formset",
    "runbook_form",
    "window_form",
]


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


def _pk_of(queryset: QuerySet[Any], slug: str, field: str) -> int:
    pk = queryset.filter(slug=slug).values_list("pk", flat=True).first()
    if pk is None:
        noun = queryset.model._meta.verbose_name
        raise exceptions.ValidationError({field: [f"No {noun} {slug} in this namespace."]})
    return pk


def _upload(payload: dict[str, Any]) -> MultiValueDict:
    if payload.get("wasm") is not None:
        upload: UploadedFile = payload["wasm"]
        return MultiValueDict({"wasm_upload": [upload]})
    if payload.get("wasm_base64") is not None:
        try:
            module = base64.b64decode("".join(payload["wasm_base64"].split()), validate=True)
        except ValueError as exc:  # binascii.Error, or a character outside ASCII
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
        raise _invalid(form)
    return form


def _invalid(form: forms.BaseForm) -> exceptions.ValidationError:
    return exceptions.ValidationError(
        {("" if k == "__all__" else k): list(v) for k, v in form.errors.items()}
    )


def page_form(
    form_class: Callable[..., forms.BaseForm],
    namespace: Namespace,
    instance: Any,
    payload: dict[str, Any],
    *,
    secrets: tuple[str, ...] = (),
    slugs: dict[str, Any] | None = None,
) -> Any:
    """A page's model form over the instance's values (a new one's defaults), the payload's on
    top, valid or a 400.

    Secrets are never read back into the form: left out, the form keeps the stored value (as a
    blank password box does); ``null`` clears a clearable one. ``slugs`` maps a field named by
    slug in the API to the queryset its choices come from.
    """
    fields = [name for name in form_class._meta.fields if name not in secrets]
    current = model_to_dict(instance if instance is not None else form_class._meta.model(), fields=fields)
    data = MultiValueDict()
    for key, value in {**current, **payload}.items():
        if key in secrets and value is None:
            data[SecretInput.clear_name(key)] = "on"
        elif key in (slugs or {}) and key in payload:
            data[key] = str(_pk_of(slugs[key].filter(namespace=namespace), value, key)) if value else ""
        elif not (isinstance(value, bool) and not value):
            data[key] = _as_form_value(value)
    form = form_class(data, instance=instance, namespace=namespace)
    if not form.is_valid():
        raise _invalid(form)
    return form


def datasource_form(
    namespace: Namespace, instance: Datasource | None, payload: dict[str, Any]
) -> DatasourceForm:
    """The datasource page's form: its outbound policy and privileged-role refusal included."""
    return page_form(DatasourceForm, namespace, instance, payload, secrets=("url", "password"))


def dataset_form(namespace: Namespace, instance: Dataset | None, payload: dict[str, Any]) -> DatasetForm:
    return page_form(DatasetForm, namespace, instance, payload, slugs={"datasource": Datasource.objects})


def channel_form(namespace: Namespace, instance: Channel | None, payload: dict[str, Any]) -> ChannelForm:
    return page_form(ChannelForm, namespace, instance, payload, secrets=("url", "secret"))


def window_form(
    namespace: Namespace, instance: MaintenanceWindow | None, payload: dict[str, Any]
) -> MaintenanceWindowForm:
    return page_form(MaintenanceWindowForm, namespace, instance, payload)


def member_add_form(namespace: Namespace, payload: dict[str, Any]) -> MemberAddForm:
    form = MemberAddForm(payload, namespace=namespace)
    if not form.is_valid():
        raise _invalid(form)
    return form


def member_role(membership: Membership, role: str) -> str:
    """The settings page's check: a namespace keeps at least one owner."""
    form = MemberRoleForm({"role": role}, membership=membership)
    if not form.is_valid():
        raise _invalid(form)
    return form.cleaned_data["role"]


def rule_formset(namespace: Namespace, checker: Checker, rules: list[dict[str, Any]]) -> BaseRuleFormSet:
    """The editor's rule rows, valid, replacing the checker's rules with ``rules`` in order.

    A key left out of a rule takes the model's default, as the editor's blank row shows it.
    The stored rows are posted as deleted, as if each row were removed in the editor and the
    new ones typed in; ``dataset`` is a slug. Errors name the row: ``rules.0.value``.
    """
    stored = list(checker.rules.order_by("position")) if checker.pk else []
    data = {
        "rules-TOTAL_FORMS": str(len(stored) + len(rules)),
        "rules-INITIAL_FORMS": str(len(stored)),
        "rules-MIN_NUM_FORMS": "1",
        "rules-MAX_NUM_FORMS": "50",
    }
    for index, rule in enumerate(stored):
        data.update({f"rules-{index}-id": str(rule.pk), f"rules-{index}-DELETE": "on"})
    datasets = Dataset.objects.filter(namespace=namespace)
    defaults = model_to_dict(CheckerRule(), fields=CheckerRule.FIELDS)
    for offset, rule in enumerate(rules):
        prefix = f"rules-{len(stored) + offset}-"
        for key, value in {**defaults, **rule}.items():
            if key == "dataset":
                pk = datasets.filter(slug=value).values_list("pk", flat=True).first()
                if pk is None:
                    raise exceptions.ValidationError(
                        {f"rules.{offset}.dataset": [f"No dataset {value} here."]}
                    )
                value = pk
            data[prefix + key] = "" if value is None else str(value)
    # RuleFormSet's class is BaseRuleFormSet (``formset=`` of the factory), which django-stubs cannot say.
    formset = cast(
        BaseRuleFormSet,
        RuleFormSet(data, instance=checker, prefix="rules", form_kwargs={"namespace": namespace}),
    )
    if not formset.is_valid():
        errors: dict[str, list[str]] = {}
        for index, form_errors in enumerate(formset.errors[len(stored) :]):
            for key, messages in form_errors.items():
                errors[f"rules.{index}" + ("" if key == "__all__" else f".{key}")] = list(messages)
        if formset.non_form_errors():
            errors["rules"] = list(formset.non_form_errors())
        raise exceptions.ValidationError(errors)
    return formset
