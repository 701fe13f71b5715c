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
