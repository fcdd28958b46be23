"""The admin as a tenant-scoped workspace for team members.

Every tenant-owned model's ModelAdmin goes through ``TenantAdminMixin``: rows, choices,
filters and permissions all come from the user's memberships, never from Django's global
model permissions. Admins of everything else (users, beat schedules, ...) are for
superusers only; ``MalleableAdminSite.register`` enforces that for third-party apps too.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.contrib.contenttypes import views as contenttype_views
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, URLResolver, path

from namespaces.access import is_tenant_owned, namespace_of, namespace_path, scope
from namespaces.models import AnyUser, Namespace, Role

if TYPE_CHECKING:
    # The mixins below are only ever mixed into a ModelAdmin: mypy checks them as one.
    _ModelAdmin = admin.ModelAdmin[Any]
else:
    _ModelAdmin = object


class NamespaceListFilter(admin.SimpleListFilter):
    """A namespace filter listing only the user's namespaces (Django's default lists all)."""

    title = "namespace"
    parameter_name = "namespace"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin[Any]) -> list[tuple[str, str]]:
        return [(ns.slug, ns.name) for ns in Namespace.objects.for_user(request.user)]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> models.QuerySet[Any]:
        if self.value():
            path = namespace_path(queryset.model)
            return queryset.filter(**{f"{path}__slug": self.value()})
        return queryset


class SameNamespaceForm(forms.ModelForm[Any]):
    """Refuses links from an object to another namespace's objects (a dataset to B's datasource)."""

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        own = self._own_namespace(cleaned)
        if own is None:
            return cleaned
        for name, value in cleaned.items():
            related = value if isinstance(value, models.QuerySet | list) else [value]
            for obj in related:
                if (
                    isinstance(obj, models.Model)
                    and not isinstance(obj, Namespace)
                    and is_tenant_owned(type(obj))
                    and namespace_of(obj) != own
                ):
                    self.add_error(name, f"{obj} belongs to namespace {namespace_of(obj)}, not {own}.")
        return cleaned

    def _own_namespace(self, cleaned: dict[str, Any]) -> Namespace | None:
        model = self._meta.model
        if model is Namespace:
            return None
        first = namespace_path(model).split("__")[0]
        value = cleaned.get(first) or getattr(self.instance, first, None)
        if value is None:
            return None
        return value if isinstance(value, Namespace) else namespace_of(value)


def fellow_members(user: AnyUser) -> models.QuerySet[User]:
    """Users who share a namespace with ``user``: the only accounts a member may pick or see."""
    users = User._default_manager.filter(is_active=True)
    if user.is_superuser:
        return users
    return users.filter(memberships__namespace__in=Namespace.objects.for_user(user)).distinct()


class TenantAdminMixin(_ModelAdmin):
    """Scope a ModelAdmin to the requesting user's namespaces and roles.

    ``edit_role`` is the role needed to add, change or delete; viewers of a namespace can
    always look. ``read_only`` admins show history that only the application writes.
    """

    edit_role: Role = Role.EDITOR
    read_only: bool = False
    form: type[forms.ModelForm[Any]] = SameNamespaceForm

    def _namespaces(self, request: HttpRequest, role: Role) -> models.QuerySet[Namespace]:
        return Namespace.objects.for_user(request.user, role)

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Any]:
        return scope(super().get_queryset(request), request.user)

    def get_object(self, request: HttpRequest, object_id: str, from_field: str | None = None) -> Any:
        """Outsiders get a 404, not the admin's "does not exist" redirect that confirms nothing."""
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            raise Http404("No such object in your namespaces.")
        return obj

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        scoped: list[Any] = [NamespaceListFilter] if self.model is not Namespace else []
        for entry in super().get_list_filter(request):
            if entry == "namespace":
                continue
            if isinstance(entry, str) and self._is_relation(entry):
                entry = (entry, admin.RelatedOnlyFieldListFilter)
            scoped.append(entry)
        return scoped

    def _is_relation(self, path: str) -> bool:
        field = self.model._meta.get_field(path.split("__")[0])
        return bool(field.is_relation)

    def _role_in(self, request: HttpRequest, obj: models.Model) -> Role | None:
        return namespace_of(obj).role_of(request.user)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._namespaces(request, Role.VIEWER).exists()

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is None:
            return self.has_module_permission(request)
        return self._role_in(request, obj) is not None

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self.read_only and self._namespaces(request, self.edit_role).exists()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if self.read_only:
            return False
        if obj is None:
            return self._namespaces(request, self.edit_role).exists()
        role = self._role_in(request, obj)
        return role is not None and role.allows(self.edit_role)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_change_permission(request, obj)

    def formfield_for_foreignkey(
        self, db_field: models.ForeignKey[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.ModelChoiceField[Any] | None:
        self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(
        self, db_field: models.ManyToManyField[Any, Any], request: HttpRequest, **kwargs: Any
    ) -> forms.ModelMultipleChoiceField[Any] | None:
        self._scope_choices(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def _scope_choices(
        self, db_field: models.Field[Any, Any], request: HttpRequest, kwargs: dict[str, Any]
    ) -> None:
        related = db_field.related_model
        if related is Namespace:
            kwargs["queryset"] = self._namespaces(request, self.edit_role)
        elif isinstance(related, type) and is_tenant_owned(related):
            kwargs["queryset"] = scope(related._default_manager.all(), request.user, self.edit_role)
        elif related is User:
            kwargs["queryset"] = fellow_members(request.user)


class HistoryAdmin(TenantAdminMixin, admin.ModelAdmin[Any]):
    """Rows only the application writes (states, runs, transitions, events): members read them."""

    read_only = True


class SuperuserOnlyMixin(_ModelAdmin):
    """For admins of models that belong to no namespace: global, so superusers only."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.has_module_permission(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.has_module_permission(request)


class SecretHidingMixin(_ModelAdmin):
    """For objects with a ``url`` and a secret (datasources, channels): a member who may only read
    sees ``where`` the URL points, never the URL or the secret (``hidden_field``)."""

    hidden_field: str

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any] | tuple[Any, ...]:
        fields = super().get_fields(request, obj)
        if self.has_change_permission(request, obj):
            return fields
        return ["where" if name == "url" else name for name in fields if name != self.hidden_field]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str] | tuple[str, ...]:
        if self.has_change_permission(request, obj):
            return self.readonly_fields
        return ["where", *self.readonly_fields]


class MemberAuthenticationForm(AuthenticationForm):
    def confirm_login_allowed(self, user: User) -> None:
        super().confirm_login_allowed(user)
        if not (user.is_superuser or user.memberships.exists()):
            raise ValidationError(
                "This account belongs to no namespace yet: ask a namespace owner to add you.",
                code="no_namespace",
            )


class MalleableAdminSite(admin.AdminSite):
    site_header = "Malleable administration"
    site_title = "Malleable"
    index_title = "Your namespaces"
    login_form = MemberAuthenticationForm

    def has_permission(self, request: HttpRequest) -> bool:
        """Any active member of a namespace may use the admin; ``is_staff`` plays no part."""
        user = request.user
        return isinstance(user, User) and user.is_active and (user.is_superuser or user.memberships.exists())

    def register(
        self,
        model_or_iterable: type[models.Model] | Iterable[type[models.Model]],
        admin_class: type[admin.ModelAdmin[Any]] | None = None,
        **options: Any,
    ) -> None:
        admin_class = admin_class or admin.ModelAdmin
        if not issubclass(admin_class, TenantAdminMixin | SuperuserOnlyMixin):
            admin_class = type(admin_class.__name__, (SuperuserOnlyMixin, admin_class), {})
        super().register(model_or_iterable, admin_class, **options)

    def get_urls(self) -> list[URLResolver | URLPattern]:
        """Django's "view on site" finds any object by content type and pk; ours goes through its admin."""
        urls = [url for url in super().get_urls() if getattr(url, "name", None) != "view_on_site"]
        view = self.admin_view(self.view_on_site)
        return [path("r/<int:content_type_id>/<path:object_id>/", view, name="view_on_site"), *urls]

    def view_on_site(self, request: HttpRequest, content_type_id: int, object_id: str) -> HttpResponse:
        """Redirect only to an object the user may view here: the redirect tells outsiders nothing."""
        content_type = ContentType.objects.filter(pk=content_type_id).first()
        model = content_type.model_class() if content_type else None
        model_admin = self._registry.get(model) if model else None
        if model_admin is None:
            raise Http404("No such object in your namespaces.")
        obj = model_admin.get_object(request, unquote(object_id))
        if obj is None or not model_admin.has_view_permission(request, obj):
            raise Http404("No such object in your namespaces.")
        return contenttype_views.shortcut(request, content_type_id, obj.pk)
