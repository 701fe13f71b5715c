"""CORS for public browser clients at /token, /revoke and /userinfo (jwtkit.server.cors)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from pydantic import ValidationError

from jwtkit.server.settings import Settings

from .support import Svc

SPA = "http://127.0.0.1:5173"
OTHER = "https://other.example"
ORIGINS = {"web": [SPA], "rs": [OTHER], "nobody": ["https://third.example"]}


@pytest.fixture
def backend() -> str:
    return "sqlite"  # CORS does not touch the store


@pytest.fixture
def cors(make_svc: Any) -> Svc:
    s: Svc = make_svc(cors_origins=ORIGINS)
    s.add_user()
    s.add_client()
    s.add_client(
        "rs", secret="rs-secret", grants=("client_credentials", "password"), resource_server=True
    )
    return s


def _preflight(svc: Svc, path: str, origin: str, method: str = "POST") -> Any:
    return svc.http.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type",
        },
    )


def test_preflight(cors: Svc) -> None:
    for path, method in (("/token", "POST"), ("/revoke", "POST"), ("/userinfo", "GET")):
        r = _preflight(cors, path, SPA, method)
        assert r.status_code == 204, (path, r.text)
        assert r.headers["access-control-allow-origin"] == SPA
        assert method in r.headers["access-control-allow-methods"]
        assert "Content-Type" in r.headers["access-control-allow-headers"]
        assert r.headers["vary"] == "Origin"
        assert "access-control-allow-credentials" not in r.headers


@pytest.mark.parametrize(
    ("path", "origin", "method"),
    [
        ("/token", "https://evil.example", "POST"),
        ("/token", "null", "POST"),
        ("/token", SPA + "/", "POST"),
        ("/token", SPA, "GET"),
        ("/token", SPA, "DELETE"),
        ("/revoke", "http://127.0.0.1:5174", "POST"),
    ],
)
def test_preflight_refused(cors: Svc, path: str, origin: str, method: str) -> None:
    r = _preflight(cors, path, origin, method)
    assert r.status_code == 403
    assert "access-control-allow-origin" not in r.headers


def test_no_cors_elsewhere(cors: Svc) -> None:
    r = _preflight(cors, "/introspect", SPA)
    assert "access-control-allow-origin" not in r.headers
    r = cors.http.get("/.well-known/jwks.json", headers={"Origin": SPA})
    assert "access-control-allow-origin" not in r.headers


def _password(svc: Svc, origin: str | None, **extra: Any) -> Any:
    headers = {"Origin": origin} if origin else {}
    form = {"grant_type": "password", "username": "alice", "password": "pw-alice", **extra}
    return svc.http.post("/token", data=form, headers=headers)


def test_token_request_from_its_clients_origin(cors: Svc) -> None:
    r = _password(cors, SPA, client_id="web", scope="read")
    assert r.status_code == 200, r.text  # the body was read for client_id, then replayed
    assert r.headers["access-control-allow-origin"] == SPA
    assert r.headers["vary"] == "Origin"
    assert "WWW-Authenticate" in r.headers["access-control-expose-headers"]
    token = r.json()
    # /revoke with the same client: readable by the SPA.
    r = cors.http.post(
        "/revoke",
        data={"token": token["refresh_token"], "client_id": "web"},
        headers={"Origin": SPA},
    )
    assert r.status_code == 200
    assert r.headers["access-control-allow-origin"] == SPA


def test_origin_of_another_client_is_not_enough(cors: Svc) -> None:
    r = _password(cors, OTHER, client_id="web", scope="read")  # OTHER belongs to "rs"
    assert r.status_code == 200  # CORS decides who may read, not who may call
    assert "access-control-allow-origin" not in r.headers
    assert r.headers["vary"] == "Origin"
    r = _password(cors, "https://evil.example", client_id="web", scope="read")
    assert "access-control-allow-origin" not in r.headers


def test_client_from_basic_authentication(cors: Svc) -> None:
    basic = base64.b64encode(b"rs:rs-secret").decode()
    r = cors.http.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers={"Origin": OTHER, "Authorization": f"Basic {basic}"},
    )
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == OTHER
    r = cors.http.post(
        "/token",
        data={"grant_type": "client_credentials"},
        headers={"Origin": SPA, "Authorization": f"Basic {basic}"},
    )
    assert "access-control-allow-origin" not in r.headers


def test_errors_keep_working_behind_cors(cors: Svc) -> None:
    r = _password(cors, SPA, client_id="web", password="wrong")
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert r.headers["access-control-allow-origin"] == SPA  # the SPA can read the error
    big = {"grant_type": "password", "client_id": "web", "x": "a" * 20000}
    r = cors.http.post("/token", data=big, headers={"Origin": SPA})
    assert r.status_code == 413


def test_settings_refuse_what_is_not_an_origin() -> None:
    for bad in ("https://spa.example/path", "*", "spa.example", "https://spa.example:443"):
        with pytest.raises(ValidationError):
            Settings(cors_origins={"web": [bad]})
    assert Settings(cors_origins={"web": [SPA]}).cors_origins == {"web": [SPA]}
