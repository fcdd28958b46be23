"""The alarms' admin, scoped like everything else (TenantAdminMixin).

Viewers read states, transitions, events, notifications and the toggle log; editors
acknowledge, mute and disable alarming (actions that ask for a reason, audited); owners
manage channels (secrets write-only), maintenance windows and the namespace's defaults.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import flatten
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from alarms.models import (
    AlarmDefaults,
    AlarmEvent,
    AlarmPolicy,
    AlarmState,
    Channel,
    DeliveryAttempt,
    MaintenanceWindow,
    Notification,
    State,
    ToggleLog,
    ToggleRefused,
    Transition,
)
from alarms.toggles import TOGGLES, remove_window, toggle, window_saved
from namespaces.access import namespace_of
from namespaces.models import Role
from namespaces.tenant_admin import HistoryAdmin, SecretHidingMixin, TenantAdminMixin

STATE_BADGES = {State.GREEN: "success", State.RED: "danger", State.ERROR: "warning", "enabled": "success"}


def badge(state: str) -> str:
    return format_html(
        '<span class="badge text-bg-{}">{}</span>', STATE_BADGES.get(state, "secondary"), state
    )


class HistoryInline(admin.TabularInline):
    """Rows the application writes, shown under their parent; the parent's admin did the scoping."""

    extra = 0
    can_delete = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str] | tuple[str, ...]:
        """Every field shown: these rows are history, written by the application alone."""
        return flatten(self.fields or ())

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Owners: channels, windows, defaults ------------------------------------------------------


@admin.register(Channel)
class ChannelAdmin(SecretHidingMixin, TenantAdminMixin, admin.ModelAdmin):
    edit_role = Role.OWNER
    list_display = ["slug", "name", "namespace", "kind", "where", "min_severity", "is_default", "status"]
    list_filter = ["kind", "enabled", "min_severity"]
    search_fields = ["slug", "name"]
    readonly_fields = ["disabled_reason", "disabled_at"]
    fields = [
        "namespace",
        "slug",
        "name",
        "kind",
        "url",
        "secret",
        "min_severity",
        "is_default",
        "enabled",
        "disabled_reason",
        "disabled_at",
    ]
    actions = ["send_test_alarm"]
    hidden_field = "secret"

    @admin.display(description="where")
    def where(self, obj: Channel) -> str:
        return obj.where()

    @admin.display(description="status")
    def status(self, obj: Channel) -> str:
        if obj.enabled:
            return badge("enabled")
        return format_html('<span class="badge text-bg-danger">disabled</span> {}', obj.disabled_reason)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Switching ``enabled`` goes through the model, so it is audited and held alarms resume."""
        toggled = change and "enabled" in form.changed_data
        wanted = obj.enabled
        if toggled:
            obj.enabled = not wanted
        super().save_model(request, obj, form, change)
        if toggled and wanted:
            released = obj.enable(request.user, "enabled in the admin")
            self.message_user(request, f"{obj.slug}: enabled; {released} waiting notification(s) resume.")
        elif toggled:
            obj.disable(f"disabled by {request.user.get_username()} in the admin", by=request.user)

    @admin.action(description="Send test alarm", permissions=["change"])
    def send_test_alarm(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for channel in queryset:
            if not self.has_change_permission(request, channel):
                self.message_user(request, f"{channel.slug}: only owners send test alarms.", messages.ERROR)
                continue
            notification = channel.send_test(request.user)
            if notification.status == Notification.Status.DELIVERED:
                self.message_user(request, f"{channel.slug}: test alarm delivered.", messages.SUCCESS)
            else:
                text = f"{channel.slug}: test alarm not delivered: {notification.last_error}"
                self.message_user(request, text, messages.ERROR)


class AuditedOwnerAdmin(TenantAdminMixin, admin.ModelAdmin):
    edit_role = Role.OWNER


@admin.register(MaintenanceWindow)
class MaintenanceWindowAdmin(AuditedOwnerAdmin):
    list_display = ["name", "namespace", "when", "reason", "open_now", "created_by"]
    search_fields = ["name", "reason"]
    readonly_fields = ["created_by"]

    @admin.display(description="when")
    def when(self, obj: MaintenanceWindow) -> str:
        if obj.cron:
            return f"{obj.cron} for {obj.duration_minutes} min ({obj.timezone or obj.namespace.timezone})"
        return f"{obj.starts:%Y-%m-%d %H:%M} to {obj.ends:%Y-%m-%d %H:%M} UTC"

    @admin.display(description="open now", boolean=True)
    def open_now(self, obj: MaintenanceWindow) -> bool:
        return obj.open_until(timezone.now()) is not None

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
        window_saved(obj, request.user, added=not change)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        remove_window(obj, request.user)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for window in queryset:
            self.delete_model(request, window)


@admin.register(AlarmDefaults)
class AlarmDefaultsAdmin(AuditedOwnerAdmin):
    list_display = ["namespace", "after_failures", "on_error", "repeat_every", "notify_resolved"]


# --- Editors: a checker's policy, and the toggles ---------------------------------------------


@admin.register(AlarmPolicy)
class AlarmPolicyAdmin(TenantAdminMixin, admin.ModelAdmin):
    """Alarming on/off is a toggle with a reason (the alarm states' actions), so it is shown here only."""

    list_display = ["checker", "enabled", "after_failures", "on_error", "repeat_every", "notify_resolved"]
    list_filter = ["enabled", "on_error"]
    search_fields = ["checker__slug", "checker__name"]
    filter_horizontal = ["channels"]
    readonly_fields = ["enabled", "disabled_reason", "disabled_by", "disabled_at"]


def _toggle_action(name: str) -> Callable[..., TemplateResponse | None]:
    """The admin action for one of ``alarms.toggles.TOGGLES``, named like it."""

    def action(
        model_admin: AlarmStateAdmin, request: HttpRequest, queryset: QuerySet[AlarmState]
    ) -> TemplateResponse | None:
        return model_admin.toggle_states(request, queryset, name)

    action.__name__ = name.replace("-", "_")
    return admin.action(description=f"{TOGGLES[name].title}…", permissions=["toggle"])(action)


@admin.register(AlarmState)
class AlarmStateAdmin(HistoryAdmin):
    list_display = [
        "checker",
        "namespace",
        "state_badge",
        "since",
        "consecutive_reds",
        "consecutive_errors",
        "open_alarm",
        "silent_because",
    ]
    list_filter = ["state"]
    search_fields = ["checker__slug", "checker__name"]
    list_select_related = ["checker__namespace", "alarm", "acknowledged_by", "muted_by"]
    readonly_fields = ["silent_because", "recent_transitions", "recent_events", "recent_toggles"]
    actions = ["acknowledge", "unacknowledge", "mute", "unmute", "disable_alarming", "enable_alarming"]

    @admin.display(description="namespace")
    def namespace(self, obj: AlarmState) -> str:
        return obj.checker.namespace.name

    @admin.display(description="state", ordering="state")
    def state_badge(self, obj: AlarmState) -> str:
        return badge(obj.state)

    @admin.display(description="open alarm")
    def open_alarm(self, obj: AlarmState) -> str:
        if obj.alarm is None:
            return "-"
        told = f"sent {obj.alarm_announced:%Y-%m-%d %H:%M}" if obj.alarm_announced else "not sent (silent)"
        return f"{obj.alarm.old} → {obj.alarm.new}, {told}"

    @admin.display(description="silent because")
    def silent_because(self, obj: AlarmState) -> str:
        silence = obj.silence()
        return str(silence) if silence else "-"

    @admin.display(description="recent transitions")
    def recent_transitions(self, obj: AlarmState) -> str:
        rows = Transition.objects.filter(checker=obj.checker)[:20]
        return _table(
            ["when", "old", "new", "processed"], ((t.created, t.old, t.new, t.processed) for t in rows)
        )

    @admin.display(description="recent alarms")
    def recent_events(self, obj: AlarmState) -> str:
        rows = AlarmEvent.objects.filter(checker=obj.checker)[:20]
        return _table(
            ["when", "event", "dedup key", "suppressed"],
            ((e.created, e.kind, e.dedup_key, e.suppressed or "-") for e in rows),
        )

    @admin.display(description="toggle log")
    def recent_toggles(self, obj: AlarmState) -> str:
        rows = ToggleLog.objects.filter(checker=obj.checker)[:20]
        return _table(
            ["when", "action", "by", "why", "until"],
            ((t.created, t.get_action_display(), t.by_name, t.reason, t.until or "-") for t in rows),
        )

    def has_toggle_permission(self, request: HttpRequest) -> bool:
        return self._namespaces(request, Role.EDITOR).exists()

    acknowledge = _toggle_action("acknowledge")
    unacknowledge = _toggle_action("unacknowledge")
    mute = _toggle_action("mute")
    unmute = _toggle_action("unmute")
    disable_alarming = _toggle_action("disable-alarming")
    enable_alarming = _toggle_action("enable-alarming")

    def toggle_states(
        self, request: HttpRequest, queryset: QuerySet[Any], action: str
    ) -> TemplateResponse | None:
        """Ask why (and for how long) on an intermediate page, then toggle each state the user edits."""
        form = TOGGLES[action].form(request.POST if "apply" in request.POST else None)
        if not form.is_bound or not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": TOGGLES[action].title,
                "form": form,
                "states": queryset,
                "action": action.replace("-", "_"),
                "opts": self.model._meta,
                "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            }
            return TemplateResponse(request, "admin/alarms/toggle.html", context)
        for state in queryset.select_related("checker__namespace"):
            role = namespace_of(state).role_of(request.user)
            if role is None or not role.allows(Role.EDITOR):
                self.message_user(
                    request, f"{state.checker.slug}: this needs the editor role.", messages.ERROR
                )
                continue
            try:
                said = toggle(state, action, request.user, request.POST)
            except ToggleRefused as exc:
                self.message_user(request, str(exc), messages.WARNING)
            else:
                self.message_user(request, said, messages.SUCCESS)
        return None


def _table(headers: list[str], rows: Iterable[Iterable[object]]) -> str:
    head = format_html_join("", "<th>{}</th>", ((h,) for h in headers))
    body = format_html_join(
        "", "<tr>{}</tr>", ((format_html_join("", "<td>{}</td>", ((c,) for c in r)),) for r in rows)
    )
    return format_html(
        '<table class="table table-sm"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body
    )


# --- History: read-only for everyone ---------------------------------------------------------


@admin.register(Transition)
class TransitionAdmin(HistoryAdmin):
    list_display = ["checker", "old", "new", "created", "processed", "run"]
    list_filter = ["new", "checker"]
    search_fields = ["checker__slug"]
    date_hierarchy = "created"


class NotificationInline(HistoryInline):
    model = Notification
    fields = ["channel", "status", "attempts", "due", "delivered", "last_error"]


@admin.register(AlarmEvent)
class AlarmEventAdmin(HistoryAdmin):
    list_display = ["created", "kind", "routing_key", "dedup_key", "suppressed"]
    list_filter = ["kind", "checker"]
    search_fields = ["routing_key", "dedup_key"]
    date_hierarchy = "created"
    inlines = [NotificationInline]


class DeliveryAttemptInline(HistoryInline):
    model = DeliveryAttempt
    fields = ["started", "finished", "ok", "permanent", "error", "worker"]


@admin.register(Notification)
class NotificationAdmin(HistoryAdmin):
    list_display = ["event", "channel", "status", "attempts", "due", "delivered", "last_error"]
    list_filter = ["status", "channel"]
    search_fields = ["event__dedup_key", "last_error"]
    list_select_related = ["event", "channel"]
    inlines = [DeliveryAttemptInline]


@admin.register(ToggleLog)
class ToggleLogAdmin(HistoryAdmin):
    list_display = ["created", "action", "subject", "by_name", "reason", "until"]
    list_filter = ["action"]
    search_fields = ["subject", "by_name", "reason"]
    date_hierarchy = "created"
