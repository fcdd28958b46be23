"""A stored password stays with its target, and PostgreSQL never gets it in clear text.

The attack: edit a datasource, point it at your own server, leave the password blank and
press *Test connection*; a fake PostgreSQL server asking for a cleartext password received
the stored secret (one an operator imported from the environment, say). Now the password is
only ever sent to the engine, host, port, database and user it was entered for: the pages,
the admin and checks as code ask for it again, a save without it clears it, and libpq refuses
cleartext password authentication whatever the target.
"""

from __future__ import annotations

import json

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from checkers.datasources import AuthenticationFailed, ConnectionSpec, TargetPolicy, test_connection
from checkers.models import Datasource
from checks_as_code import config
from tests.fake_postgres import FakePostgres
from tests.personas import make_user

SECRET = "St0red-Secret-From-The-Env"
STORED_URL = "postgresql://reader@localhost:5432/shop"
ASK_AGAIN = "changed: enter the password again, it is only ever sent to the server it was entered for."


@pytest.fixture
def stored(personas) -> Datasource:
    """A PostgreSQL datasource whose password was entered for localhost:5432."""
    return Datasource.objects.create(
        namespace=personas.a,
        slug="shop",
        engine="postgresql",
        url=STORED_URL,
        password=SECRET,
        password_env="SHOP_DB_PASSWORD",
    )


@pytest.fixture
def fake():
    with FakePostgres() as server:
        yield server


def page_form(url: str, password: str = "", action: str = "test") -> dict:
    return {
        "name": "Shop",
        "slug": "shop",
        "engine": "postgresql",
        "url": url,
        "password": password,
        "statement_timeout": "10",
        "row_cap": "10000",
        "max_concurrency": "4",
        "action": action,
    }


EDIT = "/n/alpha/datasources/shop/"


def test_a_new_password_is_bound_to_its_target(stored):
    assert json.loads(stored.password_target) == {
        "database": "shop",
        "engine": "postgresql",
        "host": "localhost",
        "port": 5432,
        "user": "reader",
    }


# --- The attack, through the page ---------------------------------------------------------------


@pytest.mark.parametrize("action", ["test", "save"])
def test_test_connection_after_the_host_changed_never_sends_the_stored_password(
    personas, login, stored, fake, action
):
    response = login(personas.owner).post(EDIT, page_form(fake.url(), action=action), HTTP_HX_REQUEST="true")
    content = response.content.decode()
    assert f"The host and port {ASK_AGAIN}" in content
    assert fake.startups == []
    assert SECRET.encode() not in fake.received
    stored.refresh_from_db()
    assert (stored.url, stored.password) == (STORED_URL, SECRET)


def test_test_connection_with_the_password_entered_again_still_never_sends_it_in_clear_text(
    personas, login, stored, fake
):
    data = page_form(fake.url(), password=SECRET)
    content = login(personas.owner).post(EDIT, data, HTTP_HX_REQUEST="true").content.decode()
    assert "server requested a cleartext password" in content
    assert fake.startups  # the server was reached, and asked
    assert SECRET.encode() not in fake.received


def test_entering_the_password_again_binds_it_to_the_new_target(personas, login, stored, fake):
    response = login(personas.owner).post(EDIT, page_form(fake.url(), password=SECRET, action="save"))
    assert response.status_code == 302
    stored.refresh_from_db()
    assert (stored.url, stored.password, stored.password_env) == (fake.url(), SECRET, "")
    assert json.loads(stored.password_target)["port"] == fake.port
    assert SECRET.encode() not in fake.received  # the save's role check met the cleartext request too


def test_a_blank_password_on_an_unchanged_target_keeps_it(personas, login, stored):
    data = page_form("", action="save") | {"name": "Renamed", "statement_timeout": "20"}
    assert login(personas.owner).post(EDIT, data).status_code == 302
    stored.refresh_from_db()
    assert (stored.name, stored.statement_timeout, stored.password) == ("Renamed", 20.0, SECRET)


# --- Every part of the target, on the model ---------------------------------------------------


@pytest.mark.parametrize(
    ("url", "engine", "changed"),
    [
        ("postgresql://reader@127.0.0.1:5432/shop", "postgresql", "host"),
        ("postgresql://reader@localhost:6543/shop", "postgresql", "port"),
        ("postgresql://reader@localhost:5432/other", "postgresql", "database"),
        ("postgresql://postgres@localhost:5432/shop", "postgresql", "user"),
        ("mysql://reader@localhost:5432/shop", "mysql", "engine"),
        ("mysql://root@127.0.0.1:3306/shop", "mysql", "engine, host, port and user"),
    ],
)
def test_each_part_of_the_target_asks_for_the_password_again(stored, url, engine, changed):
    stored.url, stored.engine = url, engine
    assert stored.connection_spec().password == ""
    with pytest.raises(ValidationError) as refused:
        stored.clean()
    assert refused.value.message_dict == {"password": [f"The {changed} {ASK_AGAIN}"]}


def test_the_same_target_written_differently_keeps_the_password(stored):
    stored.url = "postgres://reader@LOCALHOST/shop"  # another scheme, the default port
    assert stored.password_moves() == []
    assert stored.connection_spec().password == SECRET


def test_a_save_without_the_password_clears_it(stored):
    stored.url = "postgresql://reader@127.0.0.1:5432/shop"
    stored.save(update_fields=["url"])
    stored.refresh_from_db()
    assert (stored.password, stored.password_env, stored.password_target) == ("", "", "")


def test_the_model_never_sends_a_moved_password_even_unsaved(stored, fake):
    stored.url = fake.url()
    with pytest.raises(AuthenticationFailed):
        stored.test_connection()
    assert fake.startups
    assert SECRET.encode() not in fake.received


def test_a_password_set_in_code_is_entered_for_the_new_target(stored):
    stored.url = "postgresql://reader@replica.internal:5432/shop"
    stored.password = "new-secret"
    assert stored.password_moves() == []
    stored.save()
    assert json.loads(stored.password_target)["host"] == "replica.internal"


# --- The admin --------------------------------------------------------------------------------


def admin_form(personas, url: str, password: str = "") -> dict:
    return {
        "namespace": personas.a.pk,
        "slug": "shop",
        "name": "Shop",
        "engine": "postgresql",
        "url": url,
        "password": password,
        "statement_timeout": 5,
        "row_cap": 100,
        "max_concurrency": 2,
    }


def test_the_admin_asks_for_the_password_again_when_the_host_changes(personas, login, stored, fake):
    change = reverse("admin:checkers_datasource_change", args=[stored.pk])
    response = login(personas.owner).post(change, admin_form(personas, fake.url()))
    assert response.status_code == 200
    assert f"The host and port {ASK_AGAIN}" in response.content.decode()
    stored.refresh_from_db()
    assert (stored.url, stored.password) == (STORED_URL, SECRET)
    assert SECRET.encode() not in fake.received


def test_the_admin_binds_a_password_typed_again(personas, login, stored, fake):
    change = reverse("admin:checkers_datasource_change", args=[stored.pk])
    response = login(personas.owner).post(change, admin_form(personas, fake.url(), SECRET))
    assert response.status_code == 302
    stored.refresh_from_db()
    assert (stored.url, stored.password) == (fake.url(), SECRET)
    assert SECRET.encode() not in fake.received


# --- Checks as code ---------------------------------------------------------------------------

YAML = """\
namespaces:
  - slug: alpha
    name: Alpha team
    members: [{{user: alice, role: owner}}]
    datasources:
      - slug: shop
        engine: postgresql
        url: {url}
{password}"""


@pytest.fixture
def alice(db):
    return make_user("alice")


def test_an_import_that_moves_the_target_without_a_password_clears_it(alice, personas, stored, fake):
    config.import_text(YAML.format(url=fake.url(), password=""), environ={})
    stored.refresh_from_db()
    assert (stored.url, stored.password, stored.password_env) == (fake.url(), "", "")


def test_an_import_gives_the_password_for_its_url(alice, personas, stored, fake):
    text = YAML.format(url=fake.url(), password="        password: ${SHOP_DB_PASSWORD}\n")
    config.import_text(text, environ={"SHOP_DB_PASSWORD": SECRET})
    stored.refresh_from_db()
    assert (stored.url, stored.password, stored.password_env) == (fake.url(), SECRET, "SHOP_DB_PASSWORD")
    assert json.loads(stored.password_target)["port"] == fake.port
    assert SECRET.encode() not in fake.received
    plan = config.import_text(text, environ={"SHOP_DB_PASSWORD": SECRET})
    assert "unchanged" in plan.summary()


# --- Clear text, whatever the target ------------------------------------------------------------


def test_postgresql_never_answers_a_cleartext_password_request(fake):
    spec = ConnectionSpec("postgresql", fake.url(), password=SECRET)
    with pytest.raises(AuthenticationFailed) as refused:
        test_connection(spec, policy=TargetPolicy(allowed_hosts=["127.0.0.1"]))
    assert "server requested a cleartext password" in str(refused.value)
    assert refused.value.permanent
    assert fake.startups
    assert SECRET.encode() not in fake.received


def test_a_refreshed_datasource_compares_with_what_the_database_holds(stored):
    Datasource.objects.filter(pk=stored.pk).update(password="rotated-by-the-operator")
    stored.refresh_from_db()
    stored.url = "postgresql://reader@127.0.0.1:5432/shop"
    assert stored.password_moves() == ["host"]
