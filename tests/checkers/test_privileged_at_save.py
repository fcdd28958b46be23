"""A privileged datasource role is refused where a person or a file enters it, and at every run.

At save (pages, admin, checks as code) the role is checked when the server answers; a server
that cannot be reached then does not stop the save, and every session checks again before
its first query. ``MALLEABLE_DATASOURCE_ALLOW_PRIVILEGED_ROLES`` is the operator's opt-in.
"""

from __future__ import annotations

import pytest

from checkers import runs
from checkers.datasources import PrivilegedRole
from checkers.models import Checker, CheckerKind, Dataset, Datasource
from checks_as_code import config
from tests.personas import make_user

PG_SUPERUSER = "postgresql://postgres@127.0.0.1:5432/postgres"
MARIADB_ROOT = "mysql://root@127.0.0.1:3306/mysql"
SUPERUSER = "PostgreSQL: the role &#x27;postgres&#x27; is a superuser."
FIX = "connect as a role that may only SELECT the tables the checks read"


def page_form(engine: str, url: str, action: str = "save") -> dict:
    return {
        "name": "Shop",
        "slug": "shop",
        "engine": engine,
        "url": url,
        "statement_timeout": "10",
        "row_cap": "10000",
        "max_concurrency": "4",
        "action": action,
    }


@pytest.mark.parametrize("action", ["save", "test"])
def test_a_postgresql_superuser_is_refused_at_save_and_test(personas, login, postgres_service, action):
    response = login(personas.owner).post(
        "/n/alpha/datasources/new/", page_form("postgresql", PG_SUPERUSER, action)
    )
    content = response.content.decode()
    assert SUPERUSER in content
    assert FIX in content
    assert not Datasource.objects.exists()


def test_mariadb_root_is_refused_at_save(personas, login, mariadb_service):
    response = login(personas.owner).post("/n/alpha/datasources/new/", page_form("mysql", MARIADB_ROOT))
    content = response.content.decode()
    assert "MySQL/MariaDB: the role &#x27;root&#x27; holds " in content
    assert "FILE" in content
    assert not Datasource.objects.exists()


def test_the_operators_opt_in_saves_a_superuser(personas, login, postgres_service, settings):
    settings.DATASOURCE_ALLOW_PRIVILEGED_ROLES = True
    response = login(personas.owner).post("/n/alpha/datasources/new/", page_form("postgresql", PG_SUPERUSER))
    assert response.status_code == 302
    assert Datasource.objects.get().url == PG_SUPERUSER


def test_a_server_down_at_save_does_not_stop_the_save(personas, login):
    url = "postgresql://reader@127.0.0.1:1/shop"
    response = login(personas.owner).post("/n/alpha/datasources/new/", page_form("postgresql", url))
    assert response.status_code == 302
    assert Datasource.objects.get().url == url


def test_a_stored_superuser_datasource_is_refused_at_every_run(personas, postgres_service):
    """Saved with the opt-in that was later withdrawn, or written past the forms."""
    source = Datasource.objects.create(namespace=personas.a, slug="su", engine="postgresql", url=PG_SUPERUSER)
    with pytest.raises(PrivilegedRole):
        source.test_connection()
    dataset = Dataset.objects.create(
        namespace=personas.a,
        slug="files",
        datasource=source,
        sql="SELECT U&\"pg\\005fread_file\"('/etc/passwd')",
    )
    checker = Checker.objects.create(
        namespace=personas.a,
        slug="files",
        name="Files",
        kind=CheckerKind.PYTHON,
        source="print(len(datasets['files']))",
    )
    checker.datasets.add(dataset)
    run = runs.execute(checker)
    assert (run.status, run.error_kind) == ("error", "dataset_error")
    assert "the role 'postgres' is a superuser" in run.error_detail
    assert "root:x:" not in run.error_detail + run.logs  # /etc/passwd was never read


def test_checks_as_code_refuses_a_superuser(personas, postgres_service, tmp_path):
    make_user("alice")
    text = f"""\
namespaces:
  - slug: alpha
    name: Alpha team
    members: [{{user: alice, role: owner}}]
    datasources:
      - slug: su
        engine: postgresql
        url: {PG_SUPERUSER}
"""
    with pytest.raises(config.ConfigInvalid) as refused:
        config.import_text(text, environ={}, file=str(tmp_path / "a.yaml"))
    assert "namespaces[0].datasources[0].url: PostgreSQL: the role 'postgres' is a superuser." in str(
        refused.value
    )
