"""SQLite datasources live in a directory per namespace: A can never open B's file.

``MALLEABLE_DATASOURCE_SQLITE_DIR/<namespace slug>/`` is the only place a namespace's SQLite
URLs reach: a relative name resolves inside it, an absolute path must lead inside it once
``..`` and symbolic links are resolved. Before, every namespace shared the directory.
"""

from __future__ import annotations

import pytest

from checkers.datasources import TargetRefused
from checkers.models import Datasource
from checks_as_code import config
from tests.personas import make_user
from tests.shop import Shop

OUTSIDE = "is outside the directory allowed for SQLite datasources"


@pytest.fixture
def b_shop(tmp_path, shop) -> Shop:
    """Namespace B's (beta) file, beside A's (alpha) under the same operator directory."""
    b = Shop(tmp_path / "beta" / "shop.sqlite3")
    b.set_null_emails(3, with_email=0)
    return b


def page_form(url: str, action: str = "save") -> dict:
    return {
        "name": "Stolen",
        "slug": "stolen",
        "engine": "sqlite",
        "url": url,
        "statement_timeout": "10",
        "row_cap": "10000",
        "max_concurrency": "4",
        "action": action,
    }


def b_urls(tmp_path, b_shop) -> dict[str, str]:
    (tmp_path / "alpha" / "link.sqlite3").symlink_to(b_shop.path)
    return {
        "absolute": b_shop.url,
        "relative": "sqlite:../beta/shop.sqlite3",
        "dotted absolute": f"sqlite:///{tmp_path}/alpha/../beta/shop.sqlite3",
        "symlink": "sqlite:link.sqlite3",
        "the shared directory": f"sqlite:///{tmp_path}/shared.sqlite3",
    }


@pytest.mark.parametrize(
    "how", ["absolute", "relative", "dotted absolute", "symlink", "the shared directory"]
)
@pytest.mark.parametrize("action", ["save", "test"])
def test_a_namespace_cannot_point_a_datasource_at_another_namespaces_file(
    personas, login, tmp_path, b_shop, how, action
):
    url = b_urls(tmp_path, b_shop)[how]
    response = login(personas.owner).post("/n/alpha/datasources/new/", page_form(url, action))
    assert response.status_code == 200
    assert OUTSIDE in response.content.decode()
    assert not Datasource.objects.filter(slug="stolen").exists()


@pytest.mark.parametrize("how", ["absolute", "relative", "symlink"])
def test_a_stored_datasource_on_another_namespaces_file_is_refused_at_every_session(
    personas, tmp_path, b_shop, how
):
    """Datasources saved before the directories were split (or written past the forms)."""
    source = Datasource.objects.create(
        namespace=personas.a, slug="stolen", engine="sqlite", url=b_urls(tmp_path, b_shop)[how]
    )
    with pytest.raises(TargetRefused) as refused:
        source.fetch("SELECT username FROM users")
    assert OUTSIDE in str(refused.value)


def test_a_relative_name_opens_the_namespaces_own_file(personas, shop):
    shop.set_null_emails(2, with_email=1)
    source = Datasource.objects.create(
        namespace=personas.a, slug="own", engine="sqlite", url="sqlite:shop.sqlite3"
    )
    assert source.fetch("SELECT count(*) FROM users").rows == [[3]]


def test_the_same_file_name_in_two_namespaces_is_two_files(personas, shop, b_shop):
    shop.set_null_emails(1, with_email=0)
    a = Datasource.objects.create(namespace=personas.a, slug="s", engine="sqlite", url="sqlite:shop.sqlite3")
    b = Datasource.objects.create(namespace=personas.b, slug="s", engine="sqlite", url="sqlite:shop.sqlite3")
    assert a.fetch("SELECT count(*) FROM users").rows == [[1]]
    assert b.fetch("SELECT count(*) FROM users").rows == [[3]]


def test_checks_as_code_cannot_reach_another_namespaces_file(personas, tmp_path, b_shop):
    make_user("alice")
    text = """\
namespaces:
  - slug: alpha
    name: Alpha team
    members: [{user: alice, role: owner}]
    datasources:
      - slug: stolen
        engine: sqlite
        url: sqlite:../beta/shop.sqlite3
"""
    with pytest.raises(config.ConfigInvalid) as refused:
        config.import_text(text, environ={}, file=str(tmp_path / "a.yaml"))
    assert OUTSIDE in str(refused.value)
    assert not Datasource.objects.filter(slug="stolen").exists()
