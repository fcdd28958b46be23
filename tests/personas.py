"""The people every permission test is about, across namespaces A and B.

owner, editor and viewer belong to A; the outsider owns B and holds nothing in A; the
stranger is active but belongs nowhere; the superuser operates the installation.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractUser

from namespaces.models import Membership, Namespace, Role

PASSWORD = "correct horse battery staple"
ROLES = ["owner", "editor", "viewer", "outsider", "superuser"]


@dataclass
class Personas:
    a: Namespace
    b: Namespace
    owner: AbstractUser
    editor: AbstractUser
    viewer: AbstractUser
    outsider: AbstractUser
    stranger: AbstractUser
    superuser: AbstractUser

    def __getitem__(self, name: str) -> AbstractUser:
        return getattr(self, name)


def make_user(username: str, **extra) -> AbstractUser:
    return get_user_model().objects.create_user(username, f"{username}@example.com", PASSWORD, **extra)


def make_personas() -> Personas:
    a = Namespace.objects.create(slug="alpha", name="Alpha team")
    b = Namespace.objects.create(slug="beta", name="Beta team")
    people = Personas(
        a=a,
        b=b,
        owner=make_user("olivia"),
        editor=make_user("eddie"),
        viewer=make_user("vera"),
        outsider=make_user("otto"),
        stranger=make_user("sam"),
        superuser=get_user_model().objects.create_superuser("root", "root@example.com", PASSWORD),
    )
    Membership.objects.create(namespace=a, user=people.owner, role=Role.OWNER)
    Membership.objects.create(namespace=a, user=people.editor, role=Role.EDITOR)
    Membership.objects.create(namespace=a, user=people.viewer, role=Role.VIEWER)
    Membership.objects.create(namespace=b, user=people.outsider, role=Role.OWNER)
    return people
