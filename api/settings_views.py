"""Members, alarm channels and maintenance windows over HTTP: the settings pages' rules.

Owners write, every member reads. A namespace keeps at least one owner; a channel's URL and
secret are write-only; a window added, changed or removed is audited like a toggle.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from rest_framework import exceptions, status
from rest_framework.request import Request
from rest_framework.response import Response

from alarms.models import Channel, MaintenanceWindow, Notification
from alarms.toggles import remove_window, window_saved
from api.base import ApiView
from api.resources import DeletableDetail, ObjectList, Resource, valid
from api.schema import answers
from api.serializers import (
    ChannelSerializer,
    ChannelWriteSerializer,
    MemberAddSerializer,
    MemberRoleSerializer,
    MemberSerializer,
    TestAlarmSerializer,
    WindowSerializer,
    WindowWriteSerializer,
)
from api.validation import LAST_OWNER, channel_form, member_add_form, member_role, window_form
from namespaces.access import get_in_namespace
from namespaces.models import Membership, Role

MEMBERS = Membership.objects.select_related("user", "namespace")
CHANNELS = Channel.objects.select_related("namespace")
WINDOWS = MaintenanceWindow.objects.select_related("namespace", "created_by")
CHANNEL = Resource(CHANNELS, ChannelSerializer, ChannelWriteSerializer, channel_form, "channels")
WINDOW = Resource(WINDOWS, WindowSerializer, WindowWriteSerializer, window_form, "maintenance")


class OwnersWrite(ApiView):
    write_role = Role.OWNER


class MemberList(OwnersWrite):
    @answers(MemberSerializer(many=True), tag="namespaces")
    def get(self, request: Request, namespace: str) -> Response:
        return self.listing(MEMBERS, MemberSerializer, "user__username")

    @answers(MemberSerializer, 201, tag="namespaces", request=MemberAddSerializer)
    def post(self, request: Request, namespace: str) -> Response:
        """Add an existing account by its username (owners), as on the members page."""
        membership = member_add_form(self.namespace, valid(MemberAddSerializer, request)).save()
        return Response(MemberSerializer(membership).data, status=status.HTTP_201_CREATED)


class MemberDetail(OwnersWrite):
    def membership(self, member: str) -> Membership:
        return get_in_namespace(MEMBERS, self.namespace, user__username=member)

    @answers(MemberSerializer, tag="namespaces")
    def get(self, request: Request, namespace: str, member: str) -> Response:
        return Response(MemberSerializer(self.membership(member)).data)

    @answers(
        MemberSerializer,
        tag="namespaces",
        request=MemberRoleSerializer,
        description="Change the role; the last owner stays owner.",
    )
    def patch(self, request: Request, namespace: str, member: str) -> Response:
        membership = self.membership(member)
        role = valid(MemberRoleSerializer, request).get("role")
        if role is None:
            raise exceptions.ValidationError({"role": ["Give the new role."]})
        membership.role = member_role(membership, role)
        membership.save(update_fields=["role"])
        return Response(MemberSerializer(membership).data)

    @answers(None, 204, tag="namespaces")
    def delete(self, request: Request, namespace: str, member: str) -> Response:
        membership = self.membership(member)
        if membership.is_last_owner():
            raise exceptions.ValidationError({"": [LAST_OWNER]})
        membership.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class ChannelList(OwnersWrite, ObjectList):
    resource = CHANNEL
    post_note = "Owners, validated as the channel page validates; the URL and secret are never returned."


class ChannelDetail(OwnersWrite, DeletableDetail):
    resource = CHANNEL
    patch_note = (
        "Change the keys given; a URL or secret left out stays, `null` clears it. Switching "
        "`enabled` is audited, and enabling releases held notifications, as on the page."
    )

    def change(self, form: Any) -> Channel:
        saved, _ = form.save_toggling(self.request.user, "through the API")
        return CHANNELS.get(pk=saved.pk)


class ChannelTest(OwnersWrite):
    @answers(TestAlarmSerializer, tag="channels", request=None)
    def post(self, request: Request, namespace: str, channel: str) -> Response:
        """Send a test alarm through the outbox, delivered now, as the channel page's button."""
        found = get_in_namespace(CHANNELS, self.namespace, slug=channel)
        notification = found.send_test(request.user)
        delivered = notification.status == Notification.Status.DELIVERED
        return Response(
            {"delivered": delivered, "status": notification.status, "error": notification.last_error}
        )


class WindowList(OwnersWrite, ObjectList):
    resource = WINDOW
    order = "name"
    post_note = "Once (`starts`, `ends`) or recurring (`cron`, `duration_minutes`); audited."

    def create(self, form: Any) -> MaintenanceWindow:
        form.instance.created_by = self.request.user
        with transaction.atomic():
            window = form.save_changes()
            window_saved(window, self.request.user, added=True)
        return window


class WindowDetail(OwnersWrite, DeletableDetail):
    resource = WINDOW
    lookup = "uuid"

    def change(self, form: Any) -> MaintenanceWindow:
        with transaction.atomic():
            saved = form.save_changes()
            if form.has_changed():
                window_saved(saved, self.request.user, added=False)
        return saved

    def remove(self, obj: MaintenanceWindow) -> None:
        with transaction.atomic():
            remove_window(obj, self.request.user)
