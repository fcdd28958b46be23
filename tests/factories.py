"""One factory per tenant-owned model: it makes a representative object in a namespace.

The permission matrix discovers every admin and page by itself and needs an object of each
model to aim at; a model without a factory here fails the matrix with a message saying so.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

from django.db import models

from namespaces.models import Membership, Namespace, Role
from tests.personas import make_user

_serial = itertools.count(1)
FACTORIES: dict[type[models.Model], Callable[[Namespace], models.Model]] = {}


def factory(model: type[models.Model]):
    def register(make: Callable[[Namespace], models.Model]):
        FACTORIES[model] = make
        return make

    return register


def make(model: type[models.Model], namespace: Namespace) -> models.Model:
    try:
        return FACTORIES[model](namespace)
    except KeyError:
        raise AssertionError(f"No factory for {model.__name__}: add one to tests/factories.py") from None


@factory(Namespace)
def _namespace(namespace: Namespace) -> Namespace:
    return namespace


@factory(Membership)
def _membership(namespace: Namespace) -> Membership:
    user = make_user(f"member{next(_serial)}")
    return Membership.objects.create(namespace=namespace, user=user, role=Role.VIEWER)
