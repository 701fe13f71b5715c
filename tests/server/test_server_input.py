# ruff: noqa: E501  (the table of bad requests reads best one request per line)
"""Bad input gets a clear 4xx (never a 500), plus settings, key storage and migration units."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

import jwtkit
from jwtkit.errors import InvalidKeyError
from jwtkit.server import load_settings
from jwtkit.server.keys import KeyEncryptor
from jwtkit.server.migrations import HEAD
from jwtkit.server.oauth import OAuthError, client_credentials_from, parse_form

from .support import free_port

FORM = {"Content-Type": "application/x-www-form-urlencoded"}

# (method, path, request kwargs, expected status, expected OAuth error or None)
BAD_REQUESTS: list[tuple[str, str, dict[str, Any], int, str | None]] = [
    ("POST", "/token", {}, 400, "invalid_request"),
    ("POST", "/token", {"json": {"grant_type": "password"}}, 400, "invalid_request"),
    (
        "POST",
        "/token",
        {"content": b"grant_type=password", "headers": {"Content-Type": "text/plain"}},
        400,
        "invalid_request",
    ),
    ("POST", "/token", {"content": b"grant_type=%FF%FE", "headers": FORM}, 400, "invalid_request"),
    ("POST", "/token", {"content": b"\xff\xfe=\x00", "headers": FORM}, 400, "invalid_request"),
    (
        "POST",
        "/token",
        {"content": b"grant_type=%ED%A0%80", "headers": FORM},
        400,
        "invalid_request",
    ),
    (
        "POST",
        "/token",
        {"content": b"grant_type=password&grant_type=password", "headers": FORM},
        400,
        "invalid_request",
    ),
    ("POST", "/token", {"data": {"grant_type": "implicit"}}, 400, "unsupported_grant_type"),
    ("POST", "/token", {"data": {"client_id": "web"}}, 400, "invalid_request"),
    (
        "POST",
        "/token",
        {
            "data": {
                "grant_type": "password",
                "client_id": "web",
                "username": "a\x00b",
                "password": "x",
            }
        },
        400,
        "invalid_request",
    ),
    (
        "POST",
        "/token",
        {
            "data": {
                "grant_type": "password",
                "client_id": "w\x01",
                "username": "a",
                "password": "x",
            }
        },
        400,
        "invalid_request",
    ),
    (
        "POST",
        "/token",
        {
            "data": {
                "grant_type": "password",
                "client_id": "web",
                "username": "u" * 300,
                "password": "x",
            }
        },
        400,
        "invalid_request",
    ),
    (
        "POST",
        "/token",
        {"data": {"grant_type": "password", "client_id": "c" * 300}},
        400,
        "invalid_request",
    ),
    (
        "POST",
        "/token",
        {"data": {"grant_type": "password", "client_id": "web", "username": "alice"}},
        400,
        "invalid_request",
    ),
    (
        "POST",
        "/token",
        {
            "data": {
                "grant_type": "password",
                "client_id": "nobody",
                "username": "a",
                "password": "b",
            }
        },
        401,
        "invalid_client",
    ),
    ("POST", "/token", {"data": {"grant_type": "password"}}, 401, "invalid_client"),
    (
        "POST",
        "/token",
        {"data": {"grant_type": "refresh_token", "client_id": "web"}},
        400,
        "invalid_request",
    ),
    (
        "POST",
        "/token",
        {
            "data": {
                "grant_type": "refresh_token",
                "client_id": "web",
                "refresh_token": "\u2603" * 50,
            }
        },
        400,
        "invalid_grant",
    ),
    (
        "POST",
        "/token",
        {
            "data": {
                "grant_type": "password",
                "client_id": "web",
                "username": "alice",
                "password": "pw-alice",
                "scope": "read \u2603\u0085",
            }
        },
        400,
        "invalid_scope",
    ),
    (
        "POST",
        "/token",
        {"data": {"grant_type": "client_credentials"}, "headers": {"Authorization": "Basic !!!"}},
        401,
        "invalid_client",
    ),
    (
        "POST",
        "/token",
        {
            "data": {"grant_type": "client_credentials"},
            "headers": {"Authorization": "Basic " + base64.b64encode(b"no-colon").decode()},
        },
        401,
        "invalid_client",
    ),
    (
        "POST",
        "/token",
        {
            "data": {"grant_type": "client_credentials"},
            "headers": {"Authorization": "Basic " + base64.b64encode(b"\xff:\xfe").decode()},
        },
        401,
        "invalid_client",
    ),
    (
        "POST",
        "/token",
        {
            "data": {"grant_type": "client_credentials", "client_secret": "x"},
            "auth": ("rs", "rs-secret"),
        },
        400,
        "invalid_request",
    ),
    (
        "POST",
        "/token",
        {"data": {"grant_type": "client_credentials", "client_secret": "x"}},
        400,
        "invalid_request",
    ),
    ("POST", "/token", {"content": b"a=1&" * 40, "headers": FORM}, 400, "invalid_request"),
    (
        "POST",
        "/token",
        {"content": b"grant_type=" + b"x" * 20000, "headers": FORM},
        413,
        "invalid_request",
    ),
    ("POST", "/introspect", {"data": {"token": "x"}}, 401, "invalid_client"),
    ("POST", "/introspect", {"data": {}, "auth": ("rs", "rs-secret")}, 400, "invalid_request"),
    ("POST", "/revoke", {"data": {"client_id": "web"}}, 400, "invalid_request"),
    ("POST", "/logout", {}, 401, None),  # no token: no error code (RFC 6750 §3.1)
    ("POST", "/logout", {"data": {"token": "unknown"}}, 401, "invalid_token"),
    ("POST", "/logout", {"data": {"token": "e30.e30.e30"}}, 401, "invalid_token"),
    ("GET", "/sessions", {"headers": {"Authorization": "Bearer ..."}}, 401, "invalid_token"),
    (
        "GET",
        "/sessions",
        {"headers": {"Authorization": "Bearer " + "A" * 20000}},
        401,
        "invalid_token",
    ),
    ("GET", "/sessions", {"headers": {"Authorization": "Basic abc"}}, 401, None),
    ("DELETE", "/sessions/x", {}, 401, None),
    ("GET", "/token", {}, 405, None),
    ("GET", "/nope", {}, 404, None),
]


def _chunks() -> Any:
    for _ in range(40):
        yield b"grant_type=" + b"y" * 1000


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_bad_requests_get_clear_4xx(svc: Any) -> None:
    for method, path, kwargs, status, error in BAD_REQUESTS:
        r = svc.http.request(method, path, **kwargs)
        assert r.status_code == status, (path, kwargs, r.status_code, r.text)
        if error is not None:
            body = r.json()
            assert body["error"] == error, (path, kwargs, body)
            assert body["error_description"]
            assert r.headers["cache-control"] == "no-store"
    # A chunked body without Content-Length is capped while it streams.
    r = svc.http.post("/token", content=_chunks(), headers=FORM)
    assert r.status_code == 413
    # The service still works afterwards.
    assert svc.login()["access_token"]


def test_random_tokens_never_crash(svc: Any) -> None:
    good = svc.login()["access_token"]
    h, p, s = good.split(".")
    candidates = [
        f"{h}.{p}.",
        f"{h}.{p}.{s[:-4]}AAAA",
        f"{h}..{s}",
        f"{p}.{h}.{s}",
        "." * 5,
        f"{h}.{p}.{s}.extra",
        base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).decode().rstrip("=")
        + f".{p}.",
        jwtkit.encode({"sub": "x", "iss": svc.url}, b"k" * 32, headers={"typ": "at+jwt"}),
    ]
    for token in candidates:
        assert svc.introspect(token) == {"active": False}, token
        r = svc.http.get("/sessions", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401
        r = svc.http.post("/revoke", data={"token": token}, auth=("rs", "rs-secret"))
        assert r.status_code == 200


def test_parse_form_units() -> None:
    assert parse_form("application/x-www-form-urlencoded; charset=utf-8", b"a=1&b=&c=%20x") == {
        "a": "1",
        "c": " x",
    }
    with pytest.raises(OAuthError) as info:
        parse_form(None, b"")
    assert info.value.code == "invalid_request"
    basic = "Basic " + base64.b64encode(b"my%3Aclient:p%40ss+word").decode()
    creds = client_credentials_from(basic, {})
    assert (creds.client_id, creds.secret, creds.method) == (
        "my:client",
        "p@ss word",
        "client_secret_basic",
    )
    assert "p@ss" not in repr(creds)
    with pytest.raises(OAuthError):
        client_credentials_from(basic, {"client_id": "other"})


def test_settings_env_toml_and_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "jwtkit.toml"
    config.write_text('access_token_ttl = 600\nsigning_alg = "EdDSA"\nport = 9000\n')
    monkeypatch.setenv("JWTKIT_ACCESS_TOKEN_TTL", "300")
    settings = load_settings(config, port=None, host="::1")
    assert settings.access_token_ttl == 300  # env beats the file
    assert settings.signing_alg == "EdDSA"  # file beats the default
    assert settings.effective_issuer == "http://[::1]:9000"
    monkeypatch.setenv("JWTKIT_CONFIG", str(config))
    assert load_settings().port == 9000
    with pytest.raises(FileNotFoundError):
        load_settings(tmp_path / "missing.toml")
    config.write_text("unknown_setting = 1\n")
    with pytest.raises(ValueError):
        load_settings(config)
    monkeypatch.setenv("JWTKIT_KEY_ENCRYPTION_KEY", "s3cret")
    monkeypatch.delenv("JWTKIT_CONFIG")
    assert "s3cret" not in repr(load_settings())
    assert load_settings(database_url="sqlite:///x.db").is_sqlite


def test_private_keys_encrypted_at_rest() -> None:
    key = jwtkit.Key.generate("EC", crv="P-256", alg="ES256")
    sealed = KeyEncryptor("a secret").seal(key.kid or "", key.to_jwk(private=True))
    assert key.to_jwk(private=True)["d"] not in sealed
    assert (
        KeyEncryptor("a secret").open(key.kid or "", sealed)["d"] == key.to_jwk(private=True)["d"]
    )
    for wrong in (KeyEncryptor(None), KeyEncryptor("other")):
        with pytest.raises(InvalidKeyError):
            wrong.open(key.kid or "", sealed)
    with pytest.raises(InvalidKeyError):
        KeyEncryptor("a secret").open("another-kid", sealed)


def test_encrypted_keys_in_the_service(make_svc: Any) -> None:
    s = make_svc(key_encryption_key="kek-123")
    rows = s.store.list_keys()
    assert rows and all(r.private_jwk.startswith("aesgcm1:") for r in rows)
    s.add_user()
    s.add_client()
    assert s.login()["access_token"]


def test_migration_head_matches_scripts() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    import jwtkit.server.migrations as migrations

    config = Config()
    config.set_main_option("script_location", os.path.dirname(migrations.__file__))
    assert ScriptDirectory.from_config(config).get_current_head() == HEAD


@pytest.mark.parametrize("backend", ["sqlite"])
def test_unreachable_redis_is_not_ready_but_db_still_revokes(make_svc: Any) -> None:
    port = free_port()  # nothing listens there
    s = make_svc(redis_url=f"redis://127.0.0.1:{port}/0")
    ready = httpx.get(f"{s.url}/readyz")
    assert ready.status_code == 503
    assert ready.json()["database"] == "ok" and ready.json()["redis"].startswith("error")
    s.add_user()
    s.add_client()
    s.add_client("rs", secret="rs-secret", grants=("client_credentials",), resource_server=True)
    tokens = s.login()
    assert s.http.post("/logout", data={"token": tokens["refresh_token"]}).status_code == 204
    assert s.introspect(tokens["access_token"]) == {"active": False}
    assert s.services.relay.redis_state.startswith("error")  # the relay catches up later
    assert s.store.outbox_latest() >= 1  # the outbox holds the event meanwhile


def test_verified_secret_cache() -> None:
    from jwtkit.server.passwords import VerifiedSecretCache

    cache = VerifiedSecretCache(ttl=300, max_entries=2)
    assert not cache.check("c", "h1", "s")
    cache.remember("c", "h1", "s")
    assert cache.check("c", "h1", "s")
    assert not cache.check("c", "h1", "other")  # a wrong secret is never accepted
    assert not cache.check("c", "h2", "s")  # a changed stored hash invalidates
    cache.remember("d", "h", "s")
    cache.remember("e", "h", "s")  # over the bound: the cache is emptied, never grows
    assert len(cache._entries) <= 2
    off = VerifiedSecretCache(ttl=0)
    off.remember("c", "h1", "s")
    assert not off.check("c", "h1", "s")


@pytest.mark.parametrize("backend", ["sqlite"])
def test_client_secret_cache_in_service(svc: Any) -> None:
    for _ in range(3):
        r = svc.token({"grant_type": "client_credentials"}, auth=("rs", "rs-secret"))
        assert r.status_code == 200
        r = svc.token({"grant_type": "client_credentials"}, auth=("rs", "rs-secreT"))
        assert r.status_code == 401
    assert svc.service.secret_cache.check("rs", svc.store.get_client("rs").secret_hash, "rs-secret")
