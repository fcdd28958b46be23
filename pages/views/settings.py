"""Namespace settings: members and roles, channels, maintenance windows and alarm defaults.

Owners change them; every member may read them (never a channel's URL or secret).
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db import transaction
from django.forms import BaseModelFormSet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from alarms.models import Channel, Notification
from alarms.toggles import remove_window, window_saved
from alarms.transports import default_broker, describe_broker
from namespaces.access import get_in_namespace
from namespaces.models import Membership, Namespace, Role
from pages.crud import Resource
from pages.forms.settings import (
    AlarmDefaultsForm,
    ChannelForm,
    MemberAddForm,
    MemberRoleForm,
    formset_helper,
    window_formset,
)
from pages.helpers import form_page, is_htmx, may, namespace_page, namespace_row_page, page_context, saved

# --- Members ----------------------------------------------------------------------------------------


@namespace_page(post=Role.OWNER)
def members(request: HttpRequest, namespace: Namespace) -> HttpResponse:
    """The members and their roles; owners add members here (POST)."""
    form = MemberAddForm(request.POST or None, namespace=namespace)
    if request.method == "POST" and form.is_valid():
        membership = form.save()
        messages.success(
            request, f"Added {membership.user.get_username()} as {membership.get_role_display().lower()}."
        )
        return redirect("namespaces:settings", namespace.slug)
    memberships = namespace.memberships.select_related("user").order_by("user__username")
    rows = [
        (m, MemberRoleForm(initial={"role": m.role}, membership=m, prefix=m.user.get_username()))
        for m in memberships
    ]
    return render(
        request,
        "namespaces/settings/members.html",
        page_context(request, namespace, rows=rows, add_form=form, tab="members"),
    )


@namespace_page(post=Role.OWNER, get=False)
def member_change(request: HttpRequest, namespace: Namespace, member: str) -> HttpResponse:
    """Change a member's role (``role``) or remove them (``action=remove``); never the last owner."""
    membership = get_in_namespace(Membership.objects.select_related("user"), namespace, user__username=member)
    name = membership.user.get_username()
    if request.POST.get("action") == "remove":
        if membership.is_last_owner():
            messages.error(request, "A namespace keeps at least one owner: make someone else owner first.")
        else:
            membership.delete()
            messages.success(request, f"Removed {name} from {namespace.name}.")
        return redirect("namespaces:settings", namespace.slug)
    form = MemberRoleForm(request.POST, membership=membership, prefix=name)
    if form.is_valid():
        membership.role = form.cleaned_data["role"]
        membership.save(update_fields=["role"])
        messages.success(request, f"{name} is now {membership.get_role_display().lower()}.")
    else:
        messages.error(request, " ".join(map(str, form.errors.get("role", ["Pick a role."]))))
    return redirect("namespaces:settings", namespace.slug)


# --- Channels ---------------------------------------------------------------------------------------


@namespace_page()
def channel_list(request: HttpRequest, namespace: Namespace) -> HttpResponse:
    rows = [
        (channel, channel.where(), channel.notifications.select_related("event").order_by("-created").first())
        for channel in namespace.channels.all()
    ]
    return render(
        request,
        "namespaces/settings/channels.html",
        page_context(request, namespace, rows=rows, tab="channels"),
    )


def _channel_form(request: HttpRequest, namespace: Namespace, channel: Channel | None) -> HttpResponse:
    form = ChannelForm(request.POST or None, instance=channel, namespace=namespace)
    if request.method == "POST" and form.is_valid():
        stored, released = form.save_toggling(request.user, "on the settings page")
        if released is not None:
            messages.info(request, f"{stored.slug}: {released} waiting notification(s) resume.")
        return saved(request, f"Saved channel {stored.slug}.", "namespaces:channels", namespace)
    broker = describe_broker(default_broker())
    return form_page(
        request,
        namespace,
        "namespaces/settings/channel_form.html",
        form,
        Role.OWNER,
        channel=channel,
        tab="channels",
        installation_broker=broker,
    )


@namespace_page(post=Role.OWNER, get=False)
def channel_test(request: HttpRequest, namespace: Namespace, channel: str) -> HttpResponse:
    """A test alarm through the outbox, delivered now; the page says what happened."""
    target = get_in_namespace(Channel.objects.select_related("namespace"), namespace, slug=channel)
    notification = target.send_test(request.user)
    if notification.status == Notification.Status.DELIVERED:
        text, ok = f"Test alarm delivered to {target.slug}.", True
    else:
        text, ok = f"Test alarm to {target.slug} not delivered: {notification.last_error}", False
    if is_htmx(request):
        return render(request, "namespaces/settings/_test_alarm_result.html", {"ok": ok, "text": text})
    messages.add_message(request, messages.SUCCESS if ok else messages.ERROR, text)
    return redirect("namespaces:channels", namespace.slug)


CHANNELS = Resource(
    Channel,
    "channel",
    Role.OWNER,
    "Adding alarm channels",
    _channel_form,
    deleted="Deleted channel {obj.slug}.",
    consequence=(
        "Its notifications go with it; checkers that named only this channel fall back to the defaults."
    ),
    after_delete="namespaces:channels",
    cancel="namespaces:channel-edit",
)
channel_create = CHANNELS.create_view()
channel_edit = CHANNELS.edit_view()
channel_delete = CHANNELS.delete_view()


# --- Maintenance windows ------------------------------------------------------------------------------


@namespace_page(post=Role.OWNER)
def maintenance(request: HttpRequest, namespace: Namespace) -> HttpResponse:
    """Every window of the namespace in one form: change, add (the blank row) or remove."""
    windows = namespace.maintenance_windows.all()
    formset_class = window_formset(blank_rows=1 if may(request, Role.OWNER) else 0)
    formset = formset_class(request.POST or None, queryset=windows, form_kwargs={"namespace": namespace})
    if request.method == "POST" and formset.is_valid():
        with transaction.atomic():
            changed = _save_windows(request, namespace, formset)
        messages.success(
            request, f"Saved maintenance windows ({changed} change{'s' if changed != 1 else ''})."
        )
        return redirect("namespaces:maintenance", namespace.slug)
    if not may(request, Role.OWNER):
        for form in formset:
            form.make_read_only()
    open_now = {window.pk for window in windows if window.open_until(timezone.now()) is not None}
    return render(
        request,
        "namespaces/settings/maintenance.html",
        page_context(
            request, namespace, formset=formset, helper=formset_helper(), open_now=open_now, tab="maintenance"
        ),
    )


def _save_windows(request: HttpRequest, namespace: Namespace, formset: BaseModelFormSet[Any, Any]) -> int:
    """Each window added, changed or removed is audited like a toggle."""
    changed = 0
    for form in formset.forms:
        window = form.instance
        if form in formset.deleted_forms:
            if window.pk:
                remove_window(window, request.user)
                changed += 1
            continue
        if not form.has_changed():
            continue
        adding = window.pk is None
        if adding:
            window.created_by = request.user
        form.save_changes()
        window_saved(window, request.user, added=adding)
        changed += 1
    return changed


# --- Alarm defaults -----------------------------------------------------------------------------------


@namespace_page(post=Role.OWNER)
def alarm_defaults(request: HttpRequest, namespace: Namespace) -> HttpResponse:
    return namespace_row_page(
        request,
        namespace,
        AlarmDefaultsForm,
        "namespaces/settings/alarm_defaults.html",
        "namespaces:alarm-defaults",
        "Saved the alarm policy defaults.",
        tab="alarm-defaults",
    )
