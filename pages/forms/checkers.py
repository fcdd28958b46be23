"""The pages' forms for datasources, datasets and checkers.

Every form receives its namespace and limits every choice to it, so a dataset of A can never
pick a datasource of B, even when B's id is posted by hand. Secrets are write-only.
"""

from __future__ import annotations

import zoneinfo
from typing import Any

import wasmtime
from crispy_forms.helper import FormHelper
from crispy_forms.layout import HTML, Column, Div, Field, Fieldset, Layout, Row
from django import forms
from django.db import models
from django.forms.utils import ErrorDict
from django.utils import timezone
from django.utils.text import slugify

from alarms.models import AlarmPolicy, OnError
from checkers import compilation, datasources, history, quotas, tasks, testruns
from checkers.humanize import SourcePosition, error_position
from checkers.models import Checker, CheckerKind, CheckerRule, Dataset, Datasource, TestRun
from checkers.rules import Band, Compare, Days, Season, number
from checkers.sandbox import Limits, Program
from checkers.sandbox.program import MAX_MODULE_BYTES
from malleable.encryption import SecretInput
from namespaces.access import is_tenant_owned, namespace_path
from namespaces.models import Namespace

# Slugs that are page names in the URLs next to objects' slugs.
RESERVED_SLUGS = {"new", "schedule-preview"}
SYNTAX_CHECK_LIMITS = Limits(timeout_s=2.0, memory_bytes=64 * 1024 * 1024, fuel=2_000_000_000)


# Days the editor's backtest replays unless told otherwise.
BACKTEST_DAYS = 30


class NamespaceForm(forms.ModelForm):
    """A model form of one namespace: choices limited to it, slugs unique in it, rendered by crispy.

    ``slug_from`` names the field a new object's blank slug is made from (the pages' slug.js
    fills it as the name is typed; this is for when the script did not run)."""

    slug_from: str | None = None

    def __init__(self, *args: Any, namespace: Namespace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.namespace = namespace
        if self.slug_from and self.instance.pk is None and "slug" in self.fields:
            self.fields["slug"].required = False
            self.fields[
                "slug"
            ].help_text = f"Left blank: made from the {self.fields[self.slug_from].label.lower()}."
            self.fields["slug"].widget.attrs["data-slug-from"] = f"id_{self.slug_from}"
        if namespace_path(self._meta.model) == "namespace":
            self.instance.namespace = namespace
        for field in self.fields.values():
            queryset = getattr(field, "queryset", None)
            if queryset is not None and is_tenant_owned(queryset.model):
                field.queryset = queryset.filter(**{namespace_path(queryset.model): namespace})
        self.extra_update_fields: set[str] = set()
        self.helper = FormHelper()
        self.helper.form_tag = False
        self.helper.disable_csrf = True

    def clean_slug(self) -> str:
        slug = self.cleaned_data["slug"]
        if not slug and self.slug_from and self.instance.pk is None:
            slug = slugify(self.cleaned_data.get(self.slug_from) or "")[:50].strip("-_")
            if not slug:
                label = self.fields[self.slug_from].label.lower()
                raise forms.ValidationError(
                    f"Type a slug: the {label} has no letters or digits to make it from."
                )
        if slug in RESERVED_SLUGS:
            raise forms.ValidationError(f"“{slug}” is the name of a page here: pick another slug.")
        taken = self._meta.model._default_manager.filter(namespace=self.namespace, slug=slug)
        if taken.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(f"{slug} is already taken in {self.namespace}: pick another slug.")
        return slug

    def make_read_only(self) -> None:
        """What members below the editing role see: the same form, every field disabled."""
        for field in self.fields.values():
            field.disabled = True

    def save_changes(self) -> models.Model:
        """Create the object, or write only the fields the form changed (and ``updated``)."""
        instance = self.save(commit=False)
        if instance._state.adding:
            instance.save()
        else:
            columns = {field.name for field in instance._meta.concrete_fields}
            changed = {name for name in self.changed_data if name in columns} | self.extra_update_fields
            if changed and "updated" in columns:
                changed.add("updated")
            instance.save(update_fields=sorted(changed))
        self.save_m2m()
        return instance


class WriteOnlyTextInput(SecretInput):
    """A URL box that shows what is typed but, like a password box, never the stored value."""

    input_type = "text"

    def __init__(self, attrs: dict[str, Any] | None = None, *, clearable: bool = False) -> None:
        super().__init__({"autocomplete": "off", "spellcheck": "false", **(attrs or {})}, clearable=clearable)


def side_by_side(*names: str) -> Row:
    """A row of equally wide columns, a field each."""
    return Row(*(Column(name, css_class=f"col-md-{12 // len(names)}") for name in names))


def name_and_slug() -> Row:
    """The row every named object's form starts with."""
    return Row(Column("name", css_class="col-md-7"), Column("slug", css_class="col-md-5"))


class DatasourceForm(NamespaceForm):
    slug_from = "name"

    class Meta:
        model = Datasource
        fields = ["name", "slug", *Datasource.FIELDS]
        widgets = {"url": WriteOnlyTextInput, "password": SecretInput}
        labels = {"url": "Connection URL", "statement_timeout": "Query timeout (s)"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["url"].required = False
            self.fields[
                "url"
            ].help_text = (
                f"Now: {datasources.describe_target(self.instance.url)} (the full URL is never shown)."
            )
        self.fields[
            "password"
        ].help_text = (
            "Stored encrypted and never shown again. Or put it in the URL; either way it is never displayed."
        )
        self.helper.layout = Layout(
            name_and_slug(),
            "engine",
            "url",
            "password",
            side_by_side("statement_timeout", "row_cap", "max_concurrency"),
        )

    def clean_url(self) -> str:
        """Required, but on edit a blank box means the stored URL."""
        return self.cleaned_data["url"] or self.instance.url

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if "password" in self.changed_data:
            self.instance.password_env = ""
            self.instance.password_entered = True
            self.extra_update_fields.add("password_env")
        return cleaned


class DatasetForm(NamespaceForm):
    class Meta:
        model = Dataset
        fields = ["slug", "datasource", "sql", "description", "sample"]
        labels = {"sql": "SQL", "slug": "Name (slug)", "sample": "A sample: checks see only the first rows"}
        widgets = {
            "sql": forms.Textarea(attrs={"rows": 8, "spellcheck": "false", "class": "font-monospace"}),
            "description": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["datasource"].empty_label = None if self.fields["datasource"].queryset.exists() else "—"
        self.helper.layout = Layout(
            side_by_side("slug", "datasource"),
            "sql",
            "description",
            "sample",
        )


def dataset_label(dataset: Dataset) -> str:
    """A dataset as the editor lists it, saying when it is a sample."""
    return f"{dataset.slug} ({dataset.sample_note})" if dataset.sample else dataset.slug


def timezone_choices(namespace: Namespace) -> list[tuple[str, str]]:
    """The namespace's zone first, so a narrow select still shows which zone the blank choice is."""
    return [("", f"{namespace.timezone} (namespace's)")] + [
        (name, name) for name in sorted(zoneinfo.available_timezones())
    ]


def python_syntax_error(source: str) -> str | None:
    """The guest's own parser, in the sandbox: the CPython that will run the checker decides."""
    program = Program.from_python(f"compile({source!r}, '<checker>', 'exec')\n")
    outcome = compilation.sandbox().run(program, {}, SYNTAX_CHECK_LIMITS)
    if outcome.error is None:
        return None
    return outcome.error.detail.removeprefix("python_exception: ")


def wat_error(source: str) -> str | None:
    try:
        wasmtime.wat2wasm(source)
    except wasmtime.WasmtimeError as exc:
        return str(exc)
    return None


def located(detail: str) -> tuple[str, SourcePosition | None]:
    """One line that says what is wrong and where: "SyntaxError at line 2: expected ':'"."""
    position = error_position(detail)
    lines = detail.strip().splitlines() or [detail]
    headline = lines[-1] if lines[0].startswith("Traceback") else lines[0]
    if position and f"line {position.line}" not in headline:
        headline = f"{headline} (at {position})"
    return headline, position


class CheckerForm(NamespaceForm):
    slug_from = "name"

    wasm_upload = forms.FileField(
        required=False,
        label="Upload a .wasm module",
        help_text="A compiled core module exporting check(); it is used instead of the WAT text.",
        widget=forms.ClearableFileInput(attrs={"accept": ".wasm,application/wasm"}),
    )
    remove_module = forms.BooleanField(
        required=False, label="Remove the uploaded module and use the WAT text instead"
    )

    class Meta:
        model = Checker
        fields = ["name", "slug", *Checker.FIELDS]
        labels = {
            "kind": "How it checks",
            "datasets": "Datasets the code reads",
            "source": "Code",
            "schedule_cron": "Cron schedule",
            "schedule_every": "Or every … seconds",
            "timezone": "Time zone",
            "enabled": "Run on its schedule",
            "timeout_s": "Time limit (s)",
            "memory_mb": "Memory limit (MB)",
            "fuel": "Fuel (instructions)",
        }
        help_texts = {
            "source": "Python: datasets['name'], ok(), fail(), print(), CheckerCase().assertLessThan(...). "
            "WebAssembly: WAT text importing the malleable module (docs/checkers.md).",
            "params": "JSON object, passed to code as params.",
            "enabled": "Off: it runs only when someone presses Run now.",
        }
        widgets = {
            "kind": forms.RadioSelect,
            "datasets": forms.CheckboxSelectMultiple,
            "description": forms.Textarea(attrs={"rows": 2}),
            "source": forms.Textarea(
                attrs={"rows": 16, "spellcheck": "false", "class": "font-monospace code-source"}
            ),
            "params": forms.Textarea(attrs={"rows": 2, "class": "font-monospace"}),
            "schedule_cron": forms.TextInput(attrs={"placeholder": "*/5 * * * *", "class": "font-monospace"}),
            "schedule_every": forms.NumberInput(attrs={"placeholder": "300"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.source_error: SourcePosition | None = None
        self.fields["timezone"].widget = forms.Select(choices=timezone_choices(self.namespace))
        self.fields["runbook"].empty_label = "No runbook yet"
        self.fields["kind"].choices = [
            (CheckerKind.RULE, "Rule: no code, built with this form"),
            (CheckerKind.PYTHON, "Python code"),
            (CheckerKind.WASM, "WebAssembly: WAT text or a .wasm module"),
        ]
        self.fields["source"].strip = False
        datasets = self.fields["datasets"]
        datasets.queryset = datasets.queryset.select_related("datasource")
        datasets.label_from_instance = dataset_label
        if self.instance.pk is None:
            self.initial.setdefault("schedule_cron", "*/5 * * * *")
        if not self.instance.wasm_module:
            del self.fields["remove_module"]
        self.helper.layout = self._layout()

    def _layout(self) -> Layout:
        module_note = (
            HTML(
                '<p class="small text-body-secondary" data-testid="module-note">A .wasm module is stored '
                f"(sha256 {self.instance.wasm_sha256[:12]}…); it runs instead of the WAT text.</p>"
            )
            if self.instance.wasm_module
            else HTML("")
        )
        return Layout(
            Fieldset(
                "What it checks",
                name_and_slug(),
                "description",
                side_by_side("severity", "runbook", "tags"),
                "kind",
            ),
            Div(
                Fieldset(
                    "Rules",
                    HTML('{% include "checkers/_rule_rows.html" %}'),
                ),
                css_id="rule-builder",
                css_class="kind-section",
                data_kind="rule",
            ),
            Div(
                Fieldset(
                    "Code",
                    Field("source", wrapper_class="label-under-legend"),
                    Div(
                        module_note,
                        "wasm_upload",
                        *(["remove_module"] if "remove_module" in self.fields else []),
                    ),
                    side_by_side("datasets", "params"),
                ),
                css_id="code-editor",
                css_class="kind-section",
                data_kind="python wasm",
            ),
            Fieldset(
                "Schedule",
                side_by_side("schedule_cron", "schedule_every", "timezone"),
                HTML('{% include "checkers/_schedule_preview_slot.html" %}'),
                "enabled",
            ),
            Fieldset(
                "Limits",
                side_by_side("timeout_s", "memory_mb", "fuel"),
                css_class="limits",
            ),
        )

    def clean_source(self) -> str:
        """As typed, with the browser's CRLF line ends made plain newlines."""
        return self.cleaned_data["source"].replace("\r\n", "\n")

    def clean_wasm_upload(self) -> Any:
        upload = self.cleaned_data.get("wasm_upload")
        if not upload:
            return upload
        data = upload.read(MAX_MODULE_BYTES + 1)
        if len(data) > MAX_MODULE_BYTES:
            raise forms.ValidationError(f"{upload.name} is over {MAX_MODULE_BYTES // 2**20} MB, the limit.")
        if not data.startswith(b"\0asm"):
            raise forms.ValidationError(
                f"{upload.name} is not a WebAssembly module: it does not start with the \\0asm header."
            )
        try:
            wasmtime.Module.validate(wasmtime.Engine(), data)
        except wasmtime.WasmtimeError as exc:
            raise forms.ValidationError(f"{upload.name} is not a valid module: {exc}") from None
        refusal = compilation.compile_limit_error(Program.from_wasm(data))
        if refusal:
            raise forms.ValidationError(f"{upload.name}: {refusal}")
        self.instance.wasm_module = data
        self.extra_update_fields.add("wasm_module")
        return upload

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if cleaned.get("remove_module"):
            self.instance.wasm_module = None
            self.extra_update_fields.add("wasm_module")
        kind, source = cleaned.get("kind"), cleaned.get("source") or ""
        if kind != CheckerKind.RULE and (
            too_many := quotas.datasets_error(len(cleaned.get("datasets") or []))
        ):
            self.add_error("datasets", too_many)
        if kind == CheckerKind.PYTHON and source.strip():
            self._source_error(python_syntax_error(source), source)
        elif kind == CheckerKind.WASM and source.strip() and not self._has_module():
            self._source_error(wat_error(source), source)
        return cleaned

    def _has_module(self) -> bool:
        return bool(self.cleaned_data.get("wasm_upload")) or bool(self.instance.wasm_module)

    def _source_error(self, detail: str | None, source: str) -> None:
        if detail:
            message, self.source_error = located(detail)
            self.add_error("source", message)
            # The field's error keeps it off the instance; the model's own checks must still see
            # that there is code (only wrong), or they would also ask for the code to be written.
            self.instance.source = source

    def sample_datasets(self) -> list[Dataset]:
        """The datasets it may read that are marked as samples, for the editor's side panel."""
        return [dataset for dataset in self.fields["datasets"].queryset if dataset.sample]

    def backtest(self, rules: list[CheckerRule], days: str | None) -> list[history.Backtest]:
        """The rules as typed, replayed over the checker's stored figures; nothing is saved."""
        try:
            days_ = min(max(int(days or BACKTEST_DAYS), 1), 3650)
        except ValueError:
            days_ = BACKTEST_DAYS
        return history.backtest_rules(self.instance, [rule.spec() for rule in rules], days_, timezone.now())

    def test_run(self, user: Any, rules: list[CheckerRule]) -> TestRun:
        """The checker as typed, sent to a worker to run against live datasets; nothing is saved."""
        declared = list(self.cleaned_data.get("datasets") or [])
        return tasks.start_test_run(testruns.create(self.instance, user, declared, rules))


class CheckerRuleForm(NamespaceForm):
    """One row of the rule builder."""

    class Meta:
        model = CheckerRule
        fields = CheckerRule.FIELDS
        widgets = {
            "value": forms.NumberInput(attrs={"step": "any"}),
            "high": forms.NumberInput(attrs={"step": "any"}),
            "k": forms.NumberInput(attrs={"step": "any"}),
            "off_value": forms.NumberInput(attrs={"step": "any"}),
            "off_high": forms.NumberInput(attrs={"step": "any"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("value", "high", "k", "off_value", "off_high"):
            self.initial[name] = number(self.initial.get(name))
        for name, choices in (("compare", Compare), ("band", Band), ("seasonal", Season), ("days", Days)):
            self.fields[name].choices = choices.choices
        self.fields["dataset"].empty_label = "Pick a dataset"
        self.fields["dataset"].error_messages["required"] = "A rule checks one dataset: pick it."
        self.fields["value"].error_messages["required"] = "A rule compares with a value: set it."
        self.fields["column"].widget.attrs["placeholder"] = "column"


class BaseRuleFormSet(forms.BaseInlineFormSet):
    """The rule builder's rows: at least one rule, saved in the order shown."""

    default_error_messages = {
        "too_few_forms": "A rule checker needs at least one rule: add one.",
        "too_many_forms": "A checker holds at most %(num)d rules.",
    }

    def clean(self) -> None:
        super().clean()
        read = {rule.dataset_id for rule in self.rules() if rule.dataset_id}
        if too_many := quotas.datasets_error(len(read)):
            raise forms.ValidationError(too_many)

    def add_fields(self, form: forms.Form, index: int | None) -> None:
        super().add_fields(form, index)
        form.fields["DELETE"].widget.attrs["class"] = "form-check-input"

    def set_aside(self) -> None:
        """For a checker that is not a rule checker: its rows are neither read nor checked, so
        they keep what was typed (should the kind be switched back) and show no errors."""
        self._errors, self._non_form_errors = [], self.error_class()
        for form in self.forms:
            form._errors = ErrorDict()

    def rules(self) -> list[CheckerRule]:
        """The rows as rules, unsaved: what a test run of the form as typed measures."""
        kept = [form for form in self.forms if form.has_changed() or not form.empty_permitted]
        return [form.instance for form in kept if not self._should_delete_form(form)]

    def save_in_order(self, checker: Checker) -> None:
        for form in self.deleted_forms:
            if form.instance.pk:
                form.instance.delete()
        for position, rule in enumerate(self.rules()):
            rule.checker, rule.position = checker, position
            rule.save()


RuleFormSet = forms.inlineformset_factory(
    Checker,
    CheckerRule,
    form=CheckerRuleForm,
    formset=BaseRuleFormSet,
    fields=CheckerRule.FIELDS,
    extra=0,
    min_num=1,
    validate_min=True,
    max_num=50,
    validate_max=True,
    can_delete=True,
)


class AlarmPolicyForm(NamespaceForm):
    """A checker's own alarm settings; blank follows the namespace's defaults."""

    notify_resolved = forms.NullBooleanField(
        required=False,
        label="Say when it resolves",
        widget=forms.Select(choices=[("", "As the namespace's default"), ("true", "Yes"), ("false", "No")]),
    )

    class Meta:
        model = AlarmPolicy
        fields = ["after_failures", "on_error", "repeat_every", "notify_resolved", "channels"]
        labels = {
            "after_failures": "Alarm after … failing runs",
            "on_error": "When the checker cannot run",
            "repeat_every": "Repeat every … seconds",
            "channels": "Channels",
        }
        widgets = {"channels": forms.CheckboxSelectMultiple}

    def __init__(self, *args: Any, defaults: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["on_error"].choices = [("", "As the namespace's default"), *OnError.choices]
        if defaults is not None:
            self.fields["after_failures"].widget.attrs["placeholder"] = f"{defaults.after_failures} (default)"
            self.fields["repeat_every"].widget.attrs["placeholder"] = f"{defaults.repeat_every} (default)"
        self.fields["channels"].help_text = "None ticked: the namespace's default channels."
        self.helper.layout = Layout(
            Fieldset(
                "Alarms",
                side_by_side("after_failures", "on_error"),
                side_by_side("repeat_every", "notify_resolved"),
                "channels",
            )
        )
