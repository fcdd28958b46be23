import pytest

from tests.personas import Personas, make_personas


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def personas(db) -> Personas:
    return make_personas()


@pytest.fixture
def login(client):
    """Sign the test client in as a user and hand it back."""

    def sign_in(user):
        client.force_login(user)
        return client

    return sign_in
