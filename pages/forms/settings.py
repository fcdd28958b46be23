"""Namespace settings forms: members and roles, channels, maintenance windows, alarm defaults."""

from __future__ import annotations

from typing import Any, cast

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Column, Layout, Row
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.db import transaction

from alarms.models import AlarmDefaults, Channel, MaintenanceWindow
from malleable.encryption import SecretInput
from namespaces.models import AnyUser, Membership, Namespace, Role
from pages.forms.checkers import NamespaceForm, WriteOnlyTextInput, name_and_slug, timezone_choices

LAST_OWNER = "A namespace keeps at least one owner: make someone else owner first."


class MemberAddForm(forms.Form):
    """Owners name a member by username: a user picker would list every tenant's users."""

    username = forms.CharField(max_length=150, help_text="The exact username of an existing account.")
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)

    def __init__(self, *args: Any, namespace: Namespace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.namespace = namespace
        self.user: User | None = None  # the account ``clean_username`` found

    def clean_username(self) -> str:
        username = self.cleaned_data["username"].strip()
        user = get_user_model()._default_manager.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(f"There is no active account named {username!r}.")
        if self.namespace.memberships.filter(user=user).exists():
            raise forms.ValidationError(f"{username} is already a member of {self.namespace}.")
        self.user = user
        return username

    def save(self) -> Membership:
        if self.user is None:
            raise ValueError("save() before is_valid(): no account was found")
        return Membership.objects.create(
            namespace=self.namespace, user=self.user, role=self.cleaned_data["role"]
        )


class MemberRoleForm(forms.Form):
    role = forms.ChoiceField(
        choices=Role.choices, widget=forms.Select(attrs={"class": "form-select form-select-sm"})
    )

    def __init__(self, *args: Any, membership: Membership, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.membership = membership

    def clean_role(self) -> str:
        role = self.cleaned_data["role"]
        if role != Role.OWNER and self.membership.is_last_owner():
            raise forms.ValidationError(LAST_OWNER)
        return role


class ChannelForm(NamespaceForm):
    slug_from = "name"

    class Meta:
        model = Channel
        fields = ["name", "slug", "kind", "url", "secret", "min_severity", "is_default", "enabled"]
        labels = {
            "url": "Where to (URL or addresses)",
            "secret": "Signing secret",
            "min_severity": "Only alarms of",
        }
        widgets = {"url": WriteOnlyTextInput(clearable=True), "secret": SecretInput}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.url:
            self.fields["url"].help_text = (
                f"Now: {self.instance.where()} (the full address is never shown). "
                + self.fields["url"].help_text
            )
        self.fields["min_severity"].help_text = "severity or higher are sent here."
        self.helper.layout = Layout(
            name_and_slug(),
            "kind",
            "url",
            "secret",
            Row(
                Column("min_severity", css_class="col-md-6"),
                Column("is_default", "enabled", css_class="col-md-6"),
            ),
        )

    def save_toggling(self, by: AnyUser, where: str) -> tuple[Channel, int | None]:
        """Save; switching ``enabled`` goes through the model, so it is audited and held alarms resume.

        Returns the channel and, when this save enabled it, how many waiting notifications resume.
        """
        toggled = self.instance.pk is not None and "enabled" in self.changed_data
        wanted = self.cleaned_data["enabled"]
        if toggled:
            self.instance.enabled = not wanted
        released = None
        with transaction.atomic():
            channel = cast(Channel, self.save_changes())
            if toggled and wanted:
                released = channel.enable(by, f"enabled {where}")
            elif toggled:
                channel.disable(f"disabled by {by.get_username()} {where}", by=by)
        return channel, released


class MaintenanceWindowForm(NamespaceForm):
    class Meta:
        model = MaintenanceWindow
        fields = ["name", "reason", "starts", "ends", "cron", "duration_minutes", "timezone"]
        labels = {"cron": "Or recurring: cron", "duration_minutes": "for … minutes"}
        widgets = {
            "starts": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "ends": forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
            "reason": forms.TextInput(),
            "cron": forms.TextInput(attrs={"placeholder": "0 2 * * 0", "class": "font-monospace"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["timezone"].widget = forms.Select(choices=timezone_choices(self.namespace))
        self.fields["starts"].help_text = f"Once: from (in {self.namespace.timezone})."
        self.fields["ends"].help_text = "until."
        self.helper.form_show_labels = True


def window_formset(blank_rows: int) -> type[forms.BaseModelFormSet]:
    """Every window of a namespace as one form; ``blank_rows`` empty forms add new ones."""
    return forms.modelformset_factory(
        MaintenanceWindow, form=MaintenanceWindowForm, extra=blank_rows, can_delete=True
    )


class AlarmDefaultsForm(NamespaceForm):
    class Meta:
        model = AlarmDefaults
        fields = ["after_failures", "on_error", "repeat_every", "notify_resolved"]
        labels = {
            "after_failures": "Alarm after … failing runs in a row",
            "on_error": "When a checker cannot run",
            "repeat_every": "Repeat every … seconds while it lasts",
            "notify_resolved": "Say when an alarm resolves",
        }


def formset_helper() -> FormHelper:
    helper = FormHelper()
    helper.form_tag = False
    helper.disable_csrf = True
    return helper
