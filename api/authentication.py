"""``Authorization: Bearer TOKEN`` for the API, checked on every request.

The user's activity and memberships are read each time (the roles by the namespace lookup),
so deactivating a user or removing a membership takes effect on the next request.
"""

from __future__ import annotations

from typing import Any

from rest_framework import authentication, exceptions
from rest_framework.request import Request

from api.models import ApiToken


class BearerTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[Any, ApiToken] | None:
        header = authentication.get_authorization_header(request).decode("latin-1")
        keyword, _, text = header.partition(" ")
        if keyword.lower() != self.keyword.lower():
            return None
        token = ApiToken.find(text.strip())
        if token is None:
            raise exceptions.AuthenticationFailed("The token is unknown, revoked or expired.")
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("The token's user is deactivated.")
        token.touch()
        return token.user, token

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


def token_of(request: Request) -> ApiToken | None:
    """The token a request came with; None when it came with a session."""
    return request.auth if isinstance(request.auth, ApiToken) else None
