"""Namespaces are Malleable's tenants; a membership gives a user one role in one namespace."""

from __future__ import annotations

import zoneinfo
from typing import TypeAlias

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse


class Role(models.TextChoices):
    """Roles nest: an owner can do all an editor can, an editor all a viewer can."""

    OWNER = "owner", "Owner"
    EDITOR = "editor", "Editor"
    VIEWER = "viewer", "Viewer"

    @property
    def rank(self) -> int:
        return {Role.VIEWER: 1, Role.EDITOR: 2, Role.OWNER: 3}[self]

    def allows(self, needed: Role) -> bool:
        return self.rank >= Role(needed).rank


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not a known time zone (for example Europe/Berlin or UTC).")


# Who asks: ``request.user``, signed in or not.
AnyUser: TypeAlias = User | AnonymousUser


class NamespaceQuerySet(models.QuerySet["Namespace"]):
    def for_user(self, user: AnyUser, role: Role = Role.VIEWER) -> NamespaceQuerySet:
        """The namespaces where ``user`` holds at least ``role``; superusers hold every role."""
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self.all()
        allowed = [r for r in Role if r.allows(role)]
        return self.filter(memberships__user=user, memberships__role__in=allowed).distinct()


class Namespace(models.Model):
    slug = models.SlugField(unique=True, help_text="Used in URLs, alarm routing keys and checks-as-code.")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    created = models.DateTimeField(auto_now_add=True)

    objects = NamespaceQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("namespaces:detail", args=[self.slug])

    def role_of(self, user: AnyUser) -> Role | None:
        """The role ``user`` holds here: superusers are owners everywhere, outsiders None."""
        if not user.is_authenticated or not user.is_active:
            return None
        if user.is_superuser:
            return Role.OWNER
        role = self.memberships.filter(user=user).values_list("role", flat=True).first()
        return Role(role) if role else None


class NamespaceOwned(models.Model):
    """A tenant object named by a slug unique within its namespace: checkers, datasets, channels…

    The constraint's name follows the class (``checker_slug_per_namespace``), so every subclass
    keeps the name it had. Each declares its own ``namespace`` foreign key: a reverse name given
    here as ``%(class)ss`` would reach migrations unexpanded.
    """

    NAMESPACE_PATH = "namespace"

    slug = models.SlugField()
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True
        ordering = ["namespace", "slug"]
        constraints = [
            models.UniqueConstraint(fields=["namespace", "slug"], name="%(class)s_slug_per_namespace")
        ]

    def __str__(self) -> str:
        return self.slug


class Membership(models.Model):
    NAMESPACE_PATH = "namespace"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    namespace = models.ForeignKey(Namespace, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["namespace__name", "user__username"]
        constraints = [
            models.UniqueConstraint(fields=["user", "namespace"], name="one_membership_per_namespace")
        ]

    def __str__(self) -> str:
        return f"{self.user} is {self.get_role_display().lower()} of {self.namespace}"

    def is_last_owner(self) -> bool:
        """Whether removing or demoting this membership would leave its namespace ownerless."""
        stored = Membership.objects.filter(pk=self.pk).values_list("role", flat=True).first()
        if stored != Role.OWNER:
            return False
        return not self.namespace.memberships.filter(role=Role.OWNER).exclude(pk=self.pk).exists()
