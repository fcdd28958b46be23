"""API clients: a DRF client holding a bearer token for a persona, narrowed as a test asks."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from api.models import ApiToken


@pytest.fixture(autouse=True)
def _fresh_throttles():
    """Rate-limit counters live in the cache: every test starts with none."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def bearer(db):
    """``bearer(user, **scope)``: an API client sending a new token of ``user``."""

    def client_for(user, **scope) -> APIClient:
        _, text = ApiToken.issue(user, "test", **scope)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {text}")
        client.token_text = text
        return client

    return client_for
