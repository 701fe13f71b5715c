"""Issue 13 item 13 (RFC 6750 on the service's own bearer endpoints) and issue 15 item 8
(every HTTP error is OAuth-style JSON)."""

from __future__ import annotations

from typing import Any

import pytest

from .support import Svc

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])

BEARER_ENDPOINTS = [("GET", "/sessions"), ("DELETE", "/sessions/abc"), ("POST", "/logout")]
NO_TOKEN = [{}, {"Authorization": "Basic d2ViOng="}, {"Authorization": "Digest x"}]


@pytest.mark.parametrize(("method", "path"), BEARER_ENDPOINTS)
@pytest.mark.parametrize("headers", NO_TOKEN)
def test_no_token_is_401_with_a_bare_challenge(
    svc: Svc, method: str, path: str, headers: dict[str, str]
) -> None:
    r = svc.http.request(method, path, headers=headers)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == 'Bearer realm="jwtkit"'  # no error= (§3.1)
    assert "error" not in r.json()


@pytest.mark.parametrize(("method", "path"), BEARER_ENDPOINTS)
@pytest.mark.parametrize(
    "credential", ["e30.e30.e30", "not-a-jwt", "a.b.c", "eyJhbGciOiJub25lIn0.e30."]
)
def test_a_bad_token_is_401_invalid_token_with_its_challenge(
    svc: Svc, method: str, path: str, credential: str
) -> None:
    r = svc.http.request(method, path, headers={"Authorization": f"Bearer {credential}"})
    assert r.status_code == 401
    assert r.json()["error"] == "invalid_token"
    challenge = r.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="jwtkit"') and 'error="invalid_token"' in challenge


@pytest.mark.parametrize("path", ["/sessions", "/sessions/abc"])
def test_a_session_less_token_is_invalid_token_with_a_challenge(svc: Svc, path: str) -> None:
    r = svc.token({"grant_type": "client_credentials"}, auth=("rs", "rs-secret"))
    token = r.json()["access_token"]
    method = "GET" if path == "/sessions" else "DELETE"
    r = svc.http.request(method, path, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    assert 'error="invalid_token"' in r.headers["www-authenticate"]


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_a_malformed_bearer_credential_is_400_invalid_request(svc: Svc, method: str) -> None:
    path = "/sessions" if method == "GET" else "/sessions/abc"
    r = svc.http.request(method, path, headers={"Authorization": "Bearer a b"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert 'error="invalid_request"' in r.headers["www-authenticate"]


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/json", b'{"token": "x"}'),
        ("text/plain", b"hello"),
        ("application/octet-stream", b"\x00\x01"),
        ("multipart/form-data; boundary=x", b"--x--"),
        (None, b""),
    ],
)
def test_logout_with_a_bearer_and_any_body(svc: Svc, content_type: str | None, body: bytes) -> None:
    tokens = svc.login()
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    if content_type:
        headers["Content-Type"] = content_type
    r = svc.http.post("/logout", content=body, headers=headers)
    assert r.status_code == 204, r.text
    assert svc.refresh(tokens["refresh_token"]).json()["error"] == "invalid_grant"


ERRORS: list[tuple[str, str, dict[str, Any], int]] = [
    ("GET", "/token", {}, 405),
    ("PUT", "/token", {}, 405),
    ("GET", "/revoke", {}, 405),
    ("DELETE", "/introspect", {}, 405),
    ("POST", "/.well-known/jwks.json", {}, 405),
    ("GET", "/nope", {}, 404),
    ("GET", "/.well-known/nope", {}, 404),
    ("POST", "/sessions/a/b", {}, 404),
    ("GET", "/metrics", {}, 404),
    ("POST", "/token", {"content": b"x" * 20000}, 413),
    ("POST", "/token", {"data": {"grant_type": "password"}}, 401),
    ("POST", "/revoke", {"content": b""}, 400),
]


@pytest.mark.parametrize(("method", "path", "kwargs", "status"), ERRORS)
def test_every_error_is_oauth_json(
    svc: Svc, method: str, path: str, kwargs: dict[str, Any], status: int
) -> None:
    r = svc.http.request(method, path, **kwargs)
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] in {"invalid_request", "invalid_client", "server_error"}
    assert "detail" not in body
    if status == 405:
        assert r.headers.get("allow")


@pytest.mark.parametrize("path", ["/revoke", "/introspect"])
@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded", "text/plain"])
def test_an_empty_body_says_token_is_required(
    svc: Svc, path: str, content_type: str | None
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    r = svc.http.post(path, content=b"", headers=headers, auth=("rs", "rs-secret"))
    assert r.status_code == 400
    assert r.json() == {"error": "invalid_request", "error_description": "token is required"}
