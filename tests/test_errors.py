"""One JSON error shape everywhere on the API, whatever produced the error."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_unknown_api_url_is_a_json_404(owner_api):
    response = owner_api.get("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found."}


def test_unsupported_method_is_a_json_405(owner_api):
    response = owner_api.delete("/api/v1/auth/me")

    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
    assert "DELETE" in response.json()["message"]


def test_validation_errors_name_each_field_with_a_code(anon_api):
    response = anon_api.post(
        "/api/v1/auth/register", {"email": "nope", "workspace": {"name": ""}}, format="json"
    )

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert body["message"] == "Some fields are not valid."
    assert body["fields"]["email"] == [
        {"code": "invalid", "message": "Enter a valid email address."}
    ]
    assert body["fields"]["password"][0]["code"] == "required"
    assert body["fields"]["workspace.name"][0]["code"] == "blank"


def test_malformed_json_is_a_400(anon_api):
    response = anon_api.generic(
        "POST", "/api/v1/auth/login", "{not json", content_type="application/json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_wrong_content_type_is_a_415(anon_api):
    response = anon_api.generic(
        "POST", "/api/v1/auth/login", "email=a", content_type="application/x-www-form-urlencoded"
    )

    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_a_non_numeric_workspace_id_is_a_404_not_a_500(owner_api):
    response = owner_api.get("/api/v1/workspaces/abc/onboarding")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_every_response_carries_a_request_id(anon_api):
    response = anon_api.get("/api/v1/auth/me")

    assert len(response["X-Request-ID"]) >= 32


def test_a_given_request_id_is_kept(anon_api):
    response = anon_api.get("/api/v1/auth/me", headers={"X-Request-ID": "trace-123"})

    assert response["X-Request-ID"] == "trace-123"


def test_html_pages_get_html_errors(client):
    response = client.get("/no-such-page/")

    assert response.status_code == 404
    assert b"Page not found" in response.content


@pytest.mark.parametrize("page", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_api_docs_are_served_without_a_cdn(client, page):
    response = client.get(page)

    assert response.status_code == 200
    assert b"cdn.jsdelivr" not in response.content
    assert b"/static/drf_spectacular_sidecar/" in response.content


def test_the_openapi_schema_describes_auth_and_errors(client):
    response = client.get("/api/v1/schema/", headers={"Accept": "application/json"})

    schema = response.json()
    login = schema["paths"]["/api/v1/auth/login"]["post"]
    patch = schema["paths"]["/api/v1/workspaces/{id}"]["patch"]
    assert {"200", "400", "401", "429"} <= set(login["responses"])
    assert {"200", "400", "401", "403", "404"} <= set(patch["responses"])
    assert "jwtAuth" in schema["components"]["securitySchemes"]
