"""Every API error is one JSON shape, never a Django HTML page; secrets never come back."""

from __future__ import annotations

from checkers.models import Datasource

SHAPE = {"code", "message", "fields"}


def test_an_unknown_api_url_is_json_404(personas, bearer, client):
    for response in (bearer(personas.viewer).get("/api/v1/nothing-here/"), client.get("/api/v2/")):
        assert response.status_code == 404
        assert response["Content-Type"] == "application/json"
        assert set(response.json()["error"]) == SHAPE


def test_pages_keep_their_html_404(personas, login):
    response = login(personas.viewer).get("/n/no-such-namespace/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


def test_a_wrong_method_is_json_405(personas, bearer):
    response = bearer(personas.viewer).delete("/api/v1/namespaces/")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"


def test_malformed_json_is_400_in_the_shape(personas, bearer):
    response = bearer(personas.viewer).post("/api/v1/sandbox/run", "{nope", content_type="application/json")
    assert response.status_code == 400
    assert set(response.json()["error"]) == SHAPE


def test_an_unexpected_failure_is_json_500_without_the_traceback(personas, bearer, monkeypatch):
    from api import namespace_views

    def broken(request):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(namespace_views, "visible_namespaces", broken)
    client = bearer(personas.viewer)
    client.raise_request_exception = False
    response = client.get("/api/v1/namespaces/")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "server_error"
    assert "secret internals" not in response.content.decode()


def test_a_datasource_password_is_in_no_response(seed, personas, bearer):
    source = Datasource.objects.get(slug="shop")
    Datasource.objects.create(
        namespace=personas.a,
        slug="pg",
        engine="postgresql",
        url="postgresql://reader@203.0.113.7/shop",
        password="hunter2-very-secret",
    )
    client = bearer(personas.owner)
    bodies = [
        client.get("/api/v1/namespaces/alpha/config").content,
        client.get("/api/v1/namespaces/alpha/checkers/").content,
        client.get("/api/v1/namespaces/alpha/").content,
    ]
    assert source.slug.encode() in bodies[0]
    assert all(b"hunter2-very-secret" not in body for body in bodies)


def test_secrets_written_through_the_api_come_back_in_no_response(seed, shop, personas, bearer):
    """Every answer a datasource or channel write gives, and every read of them, is searched for
    the URLs' and the secrets' text."""
    client = bearer(personas.owner)
    ns = "/api/v1/namespaces/alpha"
    hook, password, signing = "https://198.51.100.9/hook-path-XYZZY", "pw-PLUGH-77", "sign-FROBOZZ-99"
    source = {"name": "Copy", "slug": "copy", "engine": "sqlite", "url": shop.url, "password": password}
    channel = {"slug": "hook", "kind": "webhook", "url": hook, "secret": signing}
    responses = [
        client.post(f"{ns}/datasources/", source, format="json"),
        client.patch(f"{ns}/datasources/copy/", {"password": password, "url": shop.url}, format="json"),
        client.get(f"{ns}/datasources/"),
        client.get(f"{ns}/datasources/copy/"),
        client.post(f"{ns}/channels/", channel, format="json"),
        client.patch(f"{ns}/channels/hook/", {"secret": signing, "url": hook}, format="json"),
        client.patch(f"{ns}/channels/hook/", {"url": "ftp://nowhere"}, format="json"),
        client.get(f"{ns}/channels/"),
        client.get(f"{ns}/channels/hook/"),
    ]
    assert [r.status_code for r in responses] == [201, 200, 200, 200, 201, 200, 400, 200, 200]
    for response in responses:
        for secret in (password, signing, "XYZZY", shop.url):
            assert secret.encode() not in response.content, (response.request["PATH_INFO"], secret)
    # The owners' checks-as-code export holds URLs, by its contract, but never a password or secret.
    export = client.get(f"{ns}/config").content
    assert b"XYZZY" in export and password.encode() not in export and signing.encode() not in export


def test_a_form_encoded_body_is_415_where_only_json_is_read(personas, bearer):
    """A form's blank field reads as "left out" in DRF, so only checker writes (a module's
    upload) take multipart; the rest take JSON."""
    response = bearer(personas.owner).post("/api/v1/namespaces/alpha/runbooks/", {"slug": "", "title": "x"})
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"


def test_a_refused_host_header_is_json_400(personas, bearer):
    response = bearer(personas.viewer).get("/api/v1/namespaces/", HTTP_HOST="iVkf@,")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_a_number_where_text_belongs_is_400_not_its_digits(personas, bearer):
    body = {"slug": "zero", "title": "Zero", "body": 0}
    response = bearer(personas.editor).post("/api/v1/namespaces/alpha/runbooks/", body, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["fields"] == {"body": ["Not a valid string."]}


def test_base64_with_a_character_outside_ascii_is_400(seed, personas, bearer):
    body = {"slug": "m", "name": "M", "kind": "wasm", "wasm_base64": "AGFzbQ\u00e9"}
    response = bearer(personas.editor).post("/api/v1/namespaces/alpha/checkers/", body, format="json")
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["wasm_base64"]
