"""Issue 13 item 15 and issue 15 item 7: /metrics is opt-in (and can need a token), every
response says ``X-Content-Type-Options: nosniff``, /docs loads nothing from a third party."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .support import Svc

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])

REQUESTS = [
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/.well-known/oauth-authorization-server"),
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/docs"),
    ("GET", "/openapi.json"),
    ("GET", "/static/swagger-ui/swagger-ui.css"),
    ("GET", "/static/swagger-ui/nope.js"),
    ("GET", "/metrics"),
    ("GET", "/token"),
    ("POST", "/token"),
    ("POST", "/revoke"),
    ("POST", "/introspect"),
    ("POST", "/logout"),
    ("GET", "/sessions"),
    ("DELETE", "/sessions/x"),
    ("GET", "/no/such/path"),
    ("PUT", "/token"),
    ("OPTIONS", "/token"),
    ("HEAD", "/healthz"),
]


@pytest.mark.parametrize(("method", "path"), REQUESTS)
def test_every_response_says_nosniff(svc: Svc, method: str, path: str) -> None:
    r = svc.http.request(method, path)
    assert r.headers.get("x-content-type-options") == "nosniff", (r.status_code, r.headers)


def test_an_oversized_body_answer_says_nosniff_too(svc: Svc) -> None:
    r = svc.http.post("/token", content=b"x" * (svc.settings.max_body_bytes + 1))
    assert r.status_code == 413
    assert r.headers.get("x-content-type-options") == "nosniff"


def test_metrics_are_off_by_default(svc: Svc) -> None:
    r = svc.http.get("/metrics")
    assert r.status_code == 404
    assert r.json()["error"] == "invalid_request"
    assert "jwtkit_" not in r.text


def test_metrics_when_enabled_and_behind_a_token(make_svc: Any) -> None:
    open_svc: Svc = make_svc(metrics_enabled=True)
    assert "jwtkit_tokens_issued" in open_svc.http.get("/metrics").text
    locked: Svc = make_svc(metrics_enabled=True, metrics_token="m" * 32)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic bW06bQ=="}):
        r = locked.http.get("/metrics", headers=headers)
        assert r.status_code == 401, headers
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert "jwtkit_" not in r.text
    ok = locked.http.get("/metrics", headers={"Authorization": f"Bearer {'m' * 32}"})
    assert ok.status_code == 200 and "jwtkit_tokens_issued" in ok.text


def test_docs_load_no_third_party_assets(svc: Svc) -> None:
    page = svc.http.get("/docs")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)""", page.text)
    urls += re.findall(r"""url:\s*['"]([^'"]+)""", page.text)
    assert urls
    for url in urls:
        assert url.startswith("/"), url  # same origin only
        assert svc.http.get(url).status_code == 200, url
    assert "cdn" not in page.text.lower()
    assert svc.http.get("/redoc").status_code == 404


FORM_ENDPOINTS = {"/token": "grant_type", "/revoke": "token", "/introspect": "token"}


def test_openapi_documents_every_endpoint(svc: Svc) -> None:
    """Issue 15 item 7: typed form fields, a response model per status, errors in the shape
    the service sends, security schemes (the Authorize button)."""
    spec = svc.http.get("/openapi.json").json()
    schemes = spec["components"]["securitySchemes"]
    assert schemes["clientBasic"]["scheme"] == "basic"
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    schemas = spec["components"]["schemas"]
    assert "HTTPValidationError" not in schemas  # FastAPI's shape is never sent
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            responses = op["responses"]
            assert "422" not in responses, (method, path)
            ok = [code for code in responses if code.startswith("2")]
            assert ok, (method, path)
            for code in ok:
                if code != "204" and path not in ("/revoke", "/metrics"):
                    content = next(iter(responses[code]["content"].values()))
                    assert "$ref" in content["schema"], (method, path, code)
            error = responses["default"]["content"]["application/json"]["schema"]
            assert error["$ref"].endswith("/ErrorResponse"), (method, path)
    for path, required in FORM_ENDPOINTS.items():
        body = spec["paths"][path]["post"]["requestBody"]["content"]
        ref = body["application/x-www-form-urlencoded"]["schema"]["$ref"].rsplit("/", 1)[1]
        assert required in schemas[ref]["required"]
        assert spec["paths"][path]["post"]["security"]
    grant = schemas["TokenForm"]["properties"]["grant_type"]
    assert set(grant["enum"]) == {
        "authorization_code",
        "password",
        "refresh_token",
        "client_credentials",
    }
    assert spec["paths"]["/sessions"]["get"]["security"] == [{"bearerAuth": []}]


def test_docs_in_a_browser_authorize_and_nothing_from_elsewhere(svc: Svc) -> None:
    from web.browser import chromium

    requested: list[str] = []
    with chromium() as browser:
        page = browser.new_page()
        page.on("request", lambda request: requested.append(request.url))
        page.goto(f"{svc.url}/docs", timeout=20_000)
        page.wait_for_selector("button.authorize", timeout=20_000)
        page.wait_for_selector("text=/token", timeout=20_000)
        page.click("button.authorize")
        page.wait_for_selector("text=clientBasic", timeout=10_000)
        assert page.locator("text=bearerAuth").count() >= 1
    assert requested
    foreign = [url for url in requested if not url.startswith(svc.url)]
    assert foreign == [], foreign


def test_fastapi_opentelemetry_is_off_unless_asked(backend: str, tmp_path: Any) -> None:
    """FastAPI's native OpenTelemetry looks for providers on every request (~3 us, issue 12):
    the service turns its three signals off unless ``opentelemetry`` is set."""
    from jwtkit.server import Settings, create_app

    signals = ("tracing", "metrics", "logs")
    off = create_app(Settings(data_dir=tmp_path / "off"))
    assert [off._telemetry[s] for s in signals] == [False, False, False]
    assert off._native_telemetry.enabled() is False
    on = create_app(Settings(data_dir=tmp_path / "on", opentelemetry=True))
    assert [on._telemetry[s] for s in signals] == [True, True, True]
