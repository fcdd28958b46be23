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
