from typing import Any

from django.http import HttpRequest

from namespaces.models import Namespace


def namespaces(request: HttpRequest) -> dict[str, Any]:
    """The namespace switcher's entries, for every page of a signed-in user."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    return {"switcher_namespaces": Namespace.objects.for_user(user).only("slug", "name")}
