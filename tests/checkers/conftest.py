import pytest

from tests.personas import make_user


@pytest.fixture
def sqlite_dir(settings, tmp_path):
    """For checks as code: SQLite datasources live here, the checks refuse SQLite files anywhere
    else, and no host is allowed, so nothing in a test file can reach a real database."""
    folder = tmp_path / "datasources"
    folder.mkdir()
    settings.DATASOURCE_SQLITE_DIR = folder
    settings.DATASOURCE_ALLOWED_HOSTS = []
    return folder


@pytest.fixture
def people(db):
    return make_user("alice"), make_user("bob")
