"""Rate limits per token (a session counts as its user), by the view's ``throttle_scope``.

The counts live in Django's cache: per process unless the operator configures a shared cache.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from api.authentication import token_of

if TYPE_CHECKING:  # DRF's settings import this module while rest_framework.views loads
    from rest_framework.request import Request
    from rest_framework.views import APIView


class TokenRateThrottle(SimpleRateThrottle):
    """``throttle_scope`` on a view picks its rate; views without one share the ``api`` rate."""

    def __init__(self) -> None:
        """The rate depends on the view, so it is read in ``allow_request``."""

    def allow_request(self, request: Request, view: APIView) -> bool:
        self.scope = getattr(view, "throttle_scope", "api")
        # "60/min": DRF's stubs type the rates as numbers, but a rate is its text.
        self.rate = str(api_settings.DEFAULT_THROTTLE_RATES[self.scope])
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: APIView) -> str:
        token = token_of(request)
        if token is not None:
            ident = f"token-{token.pk}"
        elif request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
