"""The OpenAPI schema is complete, and its pages are served from this app, with no CDN."""

from __future__ import annotations

import re

import yaml


def test_the_schema_is_openapi_31_with_the_bearer_scheme(personas, bearer):
    response = bearer(personas.viewer).get("/api/v1/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"] == "3.1.0"
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "A personal API token (mlb_...).",
    }
    operations = [op for path in schema["paths"].values() for op in path.values() if isinstance(op, dict)]
    assert len(operations) == 48
    for operation in operations:
        assert {"bearer": []} in operation["security"], operation["operationId"]
        assert any(code.startswith("2") for code in operation["responses"]), operation["operationId"]
        assert "401" in operation["responses"], operation["operationId"]


def test_swagger_ui_and_redoc_load_nothing_from_elsewhere(personas, login):
    client = login(personas.viewer)
    for page in ("/api/v1/docs/", "/api/v1/redoc/"):
        response = client.get(page)
        assert response.status_code == 200
        html = response.content.decode()
        assert "drf_spectacular_sidecar" in html
        assert not re.search(r"""(src|href)=["']https?://""", html), page
