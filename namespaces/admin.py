from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.auth.models import User
from django.http import HttpRequest

from namespaces.models import Membership, Namespace, Role
from namespaces.tenant_admin import SameNamespaceForm, TenantAdminMixin


@admin.register(Namespace)
class NamespaceAdmin(TenantAdminMixin, admin.ModelAdmin[Namespace]):
    edit_role = Role.OWNER
    list_display = ["name", "slug", "timezone", "member_count", "created"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}

    @admin.display(description="members")
    def member_count(self, obj: Namespace) -> int:
        return obj.memberships.count()

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """New tenants are an operator's decision."""
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return request.user.is_active and request.user.is_superuser


class MembershipForm(SameNamespaceForm):
    """Owners name a member by username: a user picker would list every tenant's users."""

    username = forms.CharField(max_length=150, help_text="The exact username of an existing account.")

    class Meta:
        model = Membership
        fields = ["namespace", "username", "role"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["username"].initial = self.instance.user.get_username()

    def clean_username(self) -> str:
        username: str = self.cleaned_data["username"]
        user = User._default_manager.filter(username=username, is_active=True).first()
        if user is None:
            raise forms.ValidationError(f"There is no active account named {username!r}.")
        self.instance.user = user
        return username

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        namespace, membership = cleaned.get("namespace"), self.instance
        if namespace and membership.user_id:
            others = Membership.objects.filter(namespace=namespace, user=membership.user)
            if others.exclude(pk=membership.pk).exists():
                self.add_error("username", f"{membership.user} is already a member of {namespace}.")
        if membership.pk and cleaned.get("role") != Role.OWNER and membership.is_last_owner():
            self.add_error("role", "A namespace keeps at least one owner: make someone else owner first.")
        return cleaned


@admin.register(Membership)
class MembershipAdmin(TenantAdminMixin, admin.ModelAdmin[Membership]):
    edit_role = Role.OWNER
    form = MembershipForm
    list_display = ["user", "namespace", "role", "created"]
    list_filter = ["role"]
    search_fields = ["user__username", "user__email", "namespace__name"]

    def has_delete_permission(self, request: HttpRequest, obj: Membership | None = None) -> bool:
        if obj is not None and obj.is_last_owner():
            return False
        return super().has_delete_permission(request, obj)
