"""Rate limits per token (a session counts as its user), by the view's ``throttle_scope``."""

from __future__ import annotations

from rest_framework.throttling import SimpleRateThrottle

from api.authentication import token_of


class TokenRateThrottle(SimpleRateThrottle):
    """``throttle_scope`` on a view picks its rate; views without one share the ``api`` rate."""

    def get_cache_key(self, request, view) -> str | None:
        self.scope = getattr(view, "throttle_scope", "api")
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        token = token_of(request)
        ident = (
            f"token-{token.pk}"
            if token
            else f"user-{request.user.pk}"
            if request.user.is_authenticated
            else None
        )
        if ident is None:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}

    def __init__(self) -> None:
        """The rate depends on the view, so it is read in ``get_cache_key``."""
