from __future__ import annotations

import hashlib
import time
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from checkers import datasources, quotas, runs, testruns
from checkers.humanize import describe_every
from checkers.models import (
    Checker,
    CheckerRule,
    CheckRun,
    Dataset,
    Datasource,
    Retention,
    RunStatus,
    State,
    TestRun,
    Trigger,
)
from checkers.sandbox.program import MAX_MODULE_BYTES
from namespaces.access import namespace_of
from namespaces.models import Role
from namespaces.tenant_admin import HistoryAdmin, SameNamespaceForm, SecretHidingMixin, TenantAdminMixin


class DatasourceForm(SameNamespaceForm):
    """The URL and password are write-only (``SecretInput``): blank on edit keeps the stored ones."""

    class Meta:
        model = Datasource
        fields = ["namespace", "slug", "name", *Datasource.FIELDS]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and "url" in self.fields:
            self.fields["url"].required = False

    def clean_url(self) -> str:
        """A URL is required, but on edit a blank box means the stored one."""
        return self.cleaned_data["url"] or self.instance.url

    def clean(self) -> dict[str, Any]:
        """A password typed in the box is entered for the URL's target, even the same text again."""
        cleaned = super().clean()
        self.instance.password_entered = "password" in self.changed_data
        return cleaned

    def save(self, commit: bool = True) -> Any:
        if "password" in self.changed_data:
            self.instance.password_env = ""
        return super().save(commit)


@admin.register(Datasource)
class DatasourceAdmin(SecretHidingMixin, TenantAdminMixin, admin.ModelAdmin):
    edit_role = Role.OWNER
    form = DatasourceForm
    list_display = ["slug", "name", "namespace", "engine", "where", "statement_timeout", "row_cap", "updated"]
    list_filter = ["engine"]
    search_fields = ["slug", "name"]
    actions = ["test_connection"]
    hidden_field = "password"

    @admin.display(description="host / database")
    def where(self, obj: Datasource) -> str:
        return datasources.describe_target(obj.url)

    @admin.action(description="Test connection", permissions=["change"])
    def test_connection(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for datasource in queryset:
            if namespace_of(datasource).role_of(request.user) != Role.OWNER:
                self.message_user(
                    request, f"{datasource.slug}: only owners test connections.", messages.ERROR
                )
                continue
            try:
                self.message_user(
                    request, f"{datasource.slug}: {datasource.test_connection()}", messages.SUCCESS
                )
            except datasources.DatasourceError as exc:
                self.message_user(request, f"{datasource.slug}: {exc}", messages.ERROR)


@admin.register(Dataset)
class DatasetAdmin(TenantAdminMixin, admin.ModelAdmin):
    list_display = ["slug", "namespace", "datasource", "sample", "description"]
    list_filter = ["datasource", "sample"]
    search_fields = ["slug", "sql", "description"]


class CheckerForm(SameNamespaceForm):
    wasm_upload = forms.FileField(
        required=False, label="Upload .wasm", help_text="A compiled core module; replaces the stored one."
    )

    class Meta:
        model = Checker
        exclude = ["wasm_module"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        upload = cleaned.get("wasm_upload")
        if upload:
            data = upload.read(MAX_MODULE_BYTES + 1)
            if len(data) > MAX_MODULE_BYTES:
                self.add_error(
                    "wasm_upload", f"{upload.name} is over {MAX_MODULE_BYTES // 2**20} MB, the limit."
                )
            elif not data.startswith(b"\0asm"):
                header = "it does not start with the \\0asm header"
                self.add_error("wasm_upload", f"{upload.name} is not a WebAssembly module: {header}.")
            else:
                self.instance.wasm_module = data
        if too_many := quotas.datasets_error(len(cleaned.get("datasets") or [])):
            self.add_error("datasets", too_many)
        return cleaned


class CheckerRuleInline(TenantAdminMixin, admin.StackedInline):
    """A rule checker's rules, in order: the fields of the editor's rule builder."""

    model = CheckerRule
    form = forms.ModelForm
    fields = ["position", *CheckerRule.FIELDS]
    extra = 0
    verbose_name = "rule (for rule checkers)"


@admin.register(Checker)
class CheckerAdmin(TenantAdminMixin, admin.ModelAdmin):
    form = CheckerForm
    list_display = [
        "slug",
        "name",
        "namespace",
        "kind",
        "state",
        "enabled",
        "severity",
        "schedule_text",
        "next_run_at",
        "last_run_at",
    ]
    list_filter = ["kind", "enabled", "severity"]
    search_fields = ["slug", "name", "description", "tags"]
    filter_horizontal = ["datasets"]
    inlines = [CheckerRuleInline]
    readonly_fields = ["module_sha256", "next_run_at", "last_run_at"]
    actions = ["run_now", "test_run"]
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "namespace",
                    "slug",
                    "name",
                    "description",
                    "kind",
                    "enabled",
                    "severity",
                    "tags",
                    "runbook",
                ]
            },
        ),
        ("Code", {"fields": ["datasets", "source", "wasm_upload", "module_sha256", "params"]}),
        (
            "Schedule",
            {"fields": ["schedule_cron", "schedule_every", "timezone", "next_run_at", "last_run_at"]},
        ),
        ("Limits", {"fields": ["timeout_s", "memory_mb", "fuel"], "classes": ["collapse"]}),
    ]

    @admin.display(description="schedule")
    def schedule_text(self, obj: Checker) -> str:
        return obj.schedule_cron or describe_every(obj.schedule_every or 0)

    @admin.display(description="state")
    def state(self, obj: Checker) -> str:
        state = obj.current_state()
        colour = {State.GREEN: "success", State.RED: "danger", State.ERROR: "warning"}.get(state, "secondary")
        return format_html('<span class="badge text-bg-{}">{}</span>', colour, state)

    @admin.display(description="module sha256")
    def module_sha256(self, obj: Checker) -> str:
        return obj.wasm_sha256 or (hashlib.sha256(obj.source.encode()).hexdigest() if obj.source else "-")

    def _editable(self, request: HttpRequest, queryset: QuerySet[Checker]) -> list[Checker]:
        return [c for c in queryset if self.has_change_permission(request, c)]

    @admin.action(description="Run now", permissions=["change"])
    def run_now(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for checker in self._editable(request, queryset):
            run = runs.execute(checker, Trigger.MANUAL)
            level = messages.SUCCESS if run.status == RunStatus.GREEN else messages.WARNING
            self.message_user(request, f"{checker.slug}: {run.status} {_first_message(run.messages)}", level)

    @admin.action(description="Test run (records nothing)", permissions=["change"])
    def test_run(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        """On the workers, like the pages' test runs; the page waits for them all one bound."""
        # Celery is imported here, not with the admin: Django loads every admin at start-up, and a
        # cron-style run_checker must not pay for Celery (tests/checkers/test_run_checker_imports.py).
        from checkers.tasks import start_test_run

        editable = self._editable(request, queryset)
        started = [start_test_run(testruns.create(checker, request.user)) for checker in editable]
        deadline = time.monotonic() + settings.TEST_RUN_WAIT_S
        for test_run in started:
            testruns.wait(test_run, max(deadline - time.monotonic(), 0))
            self.message_user(request, _test_run_message(test_run), messages.INFO)


def _test_run_message(test_run: TestRun) -> str:
    slug = test_run.checker.slug if test_run.checker else "a new checker"
    if test_run.finished is None:
        url = test_run.get_absolute_url()
        return format_html('{} (test run): still running; <a href="{}">its result</a>', slug, url)
    result = test_run.result or {}
    if "skipped" in result:
        return f"{slug} (test run): {result['skipped']}"
    outcome = testruns.evaluation_of(result).outcome
    detail = (
        outcome.error.detail if outcome.error else _first_message([m.to_dict() for m in outcome.messages])
    )
    return f"{slug} (test run): {outcome.status} {detail}"


def _first_message(messages_: list[dict]) -> str:
    failing = [m["text"] for m in messages_ if m["level"] == "fail"]
    return (failing or [m["text"] for m in messages_] or [""])[0]


@admin.register(Retention)
class RetentionAdmin(TenantAdminMixin, admin.ModelAdmin):
    """Also on the settings page (Retention); owners change it, members read it."""

    edit_role = Role.OWNER
    list_display = ["namespace", "days"]


@admin.register(CheckRun)
class CheckRunAdmin(HistoryAdmin):
    """Runs are history: readable by every member, written only by the pipeline."""

    list_display = ["checker", "status", "trigger", "finished", "duration_ms", "error_kind"]
    list_filter = ["status", "trigger", "checker"]
    search_fields = ["checker__slug", "error_detail"]
    date_hierarchy = "finished"
