import pytest

from checkers.models import Datasource

NEW = "/n/alpha/datasources/new/"
PASSWORD = "pa55-Never-Shown"


def form(shop, **extra) -> dict:
    return {
        "name": "Shop",
        "slug": "shop",
        "engine": "sqlite",
        "url": shop.url,
        "password": PASSWORD,
        "statement_timeout": "10",
        "row_cap": "10000",
        "max_concurrency": "4",
        "action": "save",
        **extra,
    }


@pytest.fixture
def source(personas, shop) -> Datasource:
    return Datasource.objects.create(
        namespace=personas.a, slug="shop", engine="sqlite", url=shop.url, password=PASSWORD
    )


def test_owner_creates_a_datasource(personas, login, shop):
    response = login(personas.owner).post(NEW, form(shop))
    assert response["Location"] == "/n/alpha/datasources/"
    source = Datasource.objects.get(namespace=personas.a, slug="shop")
    assert (source.url, source.password) == (shop.url, PASSWORD)


@pytest.mark.parametrize("role", ["owner", "editor", "viewer"])
def test_stored_secrets_are_never_rendered(personas, login, source, shop, role):
    client = login(personas[role])
    for url in ("/n/alpha/datasources/", "/n/alpha/datasources/shop/", "/n/alpha/datasets/new/"):
        content = client.get(url).content.decode()
        assert PASSWORD not in content, url
        assert shop.url not in content, url
        assert str(shop.path.parent) not in content, url
    assert "shop.sqlite3" in client.get("/n/alpha/datasources/").content.decode()


def test_a_failed_save_does_not_echo_the_typed_secrets(personas, login, shop):
    response = login(personas.owner).post(NEW, form(shop, row_cap="0"))
    content = response.content.decode()
    assert response.status_code == 200
    assert PASSWORD not in content
    assert shop.url not in content


def test_blank_url_and_password_keep_the_stored_ones(personas, login, source, shop):
    data = form(shop, url="", password="", name="Renamed shop")
    assert login(personas.owner).post("/n/alpha/datasources/shop/", data).status_code == 302
    source.refresh_from_db()
    assert (source.name, source.url, source.password) == ("Renamed shop", shop.url, PASSWORD)


def test_a_blank_slug_is_made_from_the_name_and_test_connection_needs_none(personas, login, shop):
    client = login(personas.owner)
    tested = client.post(NEW, form(shop, slug="", action="test"), HTTP_HX_REQUEST="true").content.decode()
    assert "Connected." in tested and "This field is required" not in tested
    assert 'data-slug-from="id_name"' in client.get(NEW).content.decode()
    assert client.post(NEW, form(shop, slug="", name="Shop replica (EU)")).status_code == 302
    assert Datasource.objects.get(namespace=personas.a).slug == "shop-replica-eu"


def test_test_connection_saves_nothing(personas, login, shop):
    response = login(personas.owner).post(NEW, form(shop, action="test"), HTTP_HX_REQUEST="true")
    content = response.content.decode()
    assert "Connected." in content
    assert "SQLite" in content
    assert PASSWORD not in content
    assert not Datasource.objects.exists()


def test_test_connection_of_a_stored_datasource_uses_its_stored_secrets(personas, login, source, shop):
    data = form(shop, url="", password="", action="test")
    content = login(personas.owner).post("/n/alpha/datasources/shop/", data).content.decode()
    assert 'data-testid="connection-result"' in content
    assert "Connected." in content


def test_a_refused_target_is_a_form_error(personas, login, shop):
    data = form(shop, url="sqlite:////etc/passwd.sqlite3", action="test")
    content = login(personas.owner).post(NEW, data, HTTP_HX_REQUEST="true").content.decode()
    assert "Fix the form first" in content
    assert "Connection URL" in content
    assert not Datasource.objects.exists()


def test_test_connection_reports_a_server_that_does_not_answer(personas, login, shop, settings):
    settings.DATASOURCE_ALLOWED_HOSTS = ["127.0.0.1"]
    data = form(shop, engine="postgresql", url="postgresql://reader@127.0.0.1:1/shop", action="test")
    content = login(personas.owner).post(NEW, data, HTTP_HX_REQUEST="true").content.decode()
    assert "Could not connect." in content
    assert PASSWORD not in content
    assert not Datasource.objects.exists()


@pytest.mark.parametrize("role", ["editor", "viewer"])
def test_only_owners_manage_datasources(personas, login, source, shop, role):
    client = login(personas[role])
    assert "needs the owner role" in client.get(NEW).content.decode()
    edit = client.get("/n/alpha/datasources/shop/").content.decode()
    assert 'data-testid="datasource-details"' in edit
    assert 'data-testid="save"' not in edit
    assert 'data-testid="new-datasource"' not in client.get("/n/alpha/datasources/").content.decode()
    assert client.post(NEW, form(shop, slug="other")).status_code == 403
    assert client.post("/n/alpha/datasources/shop/", form(shop, name="Hacked")).status_code == 403
    assert client.post("/n/alpha/datasources/shop/", form(shop, action="test")).status_code == 403
    assert client.post("/n/alpha/datasources/shop/delete/").status_code == 403
    assert Datasource.objects.get(pk=source.pk).name == ""


def test_a_datasource_feeding_datasets_is_not_deleted(personas, login, seed):
    client = login(personas.owner)
    response = client.post("/n/alpha/datasources/shop/delete/", follow=True)
    assert "still feeds datasets" in response.content.decode()
    assert Datasource.objects.filter(slug="shop").exists()


def test_another_namespaces_datasource_is_404(personas, login, b_objects):
    assert login(personas.owner).get("/n/alpha/datasources/b-shop/").status_code == 404
