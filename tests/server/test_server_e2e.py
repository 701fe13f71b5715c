"""End to end: the real ``jwtkit serve`` process, the admin CLI, and real HTTP on loopback."""

from __future__ import annotations

import json
import signal
import uuid
from typing import Any

import httpx
import psycopg
import pytest
import redis

import jwtkit
from jwtkit.revocation import redis_keys

from .support import REDIS_PREFIX, REDIS_URL, jwtkit_cmd, redis_cleanup

pytestmark = pytest.mark.slow

ALGS = ["ES256", "RS256", "PS256", "EdDSA"]

RS_SECRET = "Zq3vN8rT1yK6wP0sL4mB9xC2hJ7dF5gA-ue_oi"  # random-looking, 38 characters


@pytest.fixture(params=["sqlite", "postgresql+redis"])
def e2e_env(request: pytest.FixtureRequest, server_env: dict[str, str]) -> Any:
    """The server/CLI environment for one backend (a fresh, empty database)."""
    env = dict(server_env)
    prefix = None
    if request.param.startswith("postgresql"):
        url = request.getfixturevalue("pg_url")
        name = f"jwtkit_e2e_{uuid.uuid4().hex[:8]}"
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{name}"')
        env["JWTKIT_DATABASE_URL"] = url.rsplit("/", 1)[0] + f"/{name}"
        prefix = f"{REDIS_PREFIX}:{uuid.uuid4().hex[:8]}"
        env.update(
            JWTKIT_REDIS_URL=REDIS_URL,
            JWTKIT_REDIS_PREFIX=prefix,
            JWTKIT_REVOCATION_PREFIX=f"{prefix}:revocations",
        )
    server_env.clear()
    server_env.update(env)
    yield request.param, prefix
    if prefix:
        redis_cleanup(prefix)
    if "JWTKIT_DATABASE_URL" in env:
        name = env["JWTKIT_DATABASE_URL"].rsplit("/", 1)[1]
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def setup_principals(env: dict[str, str]) -> None:
    jwtkit_cmd(
        "users",
        "add",
        "alice",
        "--password-stdin",
        "--scope",
        "read write",
        env=env,
        stdin="correct horse\n",
    )
    jwtkit_cmd(
        "clients", "add", "web", "--public", "--scope", "read write", "--grant", "password",
        "--grant", "refresh_token", env=env,
    )  # fmt: skip
    jwtkit_cmd(
        "clients",
        "add",
        "rs",
        "--secret-stdin",
        "--resource-server",
        "--grant",
        "client_credentials",
        env=env,
        stdin=f"{RS_SECRET}\n",
    )


def login(url: str) -> dict[str, Any]:
    r = httpx.post(
        f"{url}/token",
        data={
            "grant_type": "password",
            "username": "alice",
            "password": "correct horse",
            "client_id": "web",
        },
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def refresh(url: str, token: str) -> httpx.Response:
    return httpx.post(
        f"{url}/token",
        data={"grant_type": "refresh_token", "refresh_token": token, "client_id": "web"},
    )


def introspect(url: str, token: str) -> dict[str, Any]:
    r = httpx.post(f"{url}/introspect", data={"token": token}, auth=("rs", RS_SECRET))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def decode(url: str, token: str) -> dict[str, Any]:
    jwks = httpx.get(f"{url}/.well-known/jwks.json").json()
    return jwtkit.decode(
        token,
        jwtkit.KeySet.from_jwks(jwks),
        algorithms=ALGS,
        audience=url,
        issuer=url,
        typ="at+jwt",
    )


def test_end_to_end(server_proc: Any, e2e_env: Any) -> None:
    assert not server_proc.data_dir.exists()  # a fresh machine: serve creates everything
    server_proc.start()
    url = server_proc.url
    if e2e_env[0] == "sqlite":
        assert (server_proc.data_dir.stat().st_mode & 0o777) == 0o700
        assert ((server_proc.data_dir / "jwtkit.db").stat().st_mode & 0o777) == 0o600
    setup_principals(server_proc.env)

    tokens = login(url)
    claims = decode(url, tokens["access_token"])
    assert claims["sub"] and claims["client_id"] == "web" and claims["scope"] == "read write"

    r = refresh(url, tokens["refresh_token"])
    assert r.status_code == 200, r.text
    second = r.json()
    assert decode(url, second["access_token"])["sid"] == claims["sid"]
    # The old (consumed) refresh token is rejected; that replay kills the session.
    replay = refresh(url, tokens["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    assert refresh(url, second["refresh_token"]).status_code == 400
    assert introspect(url, second["access_token"]) == {"active": False}

    third = login(url)
    assert introspect(url, third["access_token"])["active"] is True
    assert httpx.post(f"{url}/logout", data={"token": third["refresh_token"]}).status_code == 204
    assert refresh(url, third["refresh_token"]).status_code == 400
    assert introspect(url, third["access_token"]) == {"active": False}

    for path in ("/.well-known/oauth-authorization-server", "/.well-known/openid-configuration"):
        meta = httpx.get(f"{url}{path}").json()
        assert meta["issuer"] == url and meta["jwks_uri"] == f"{url}/.well-known/jwks.json"
        assert meta["introspection_endpoint"] == f"{url}/introspect"

    # Graceful shutdown on SIGTERM (uvicorn re-raises the signal once it has shut down).
    assert server_proc.terminate() in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in server_proc.log()


def test_crash_and_restart_keeps_everything(server_proc: Any, e2e_env: Any) -> None:
    backend, prefix = e2e_env
    server_proc.start()
    url = server_proc.url
    setup_principals(server_proc.env)
    kept = login(url)
    revoked = login(url)
    cc = httpx.post(
        f"{url}/token", data={"grant_type": "client_credentials"}, auth=("rs", RS_SECRET)
    ).json()
    assert (
        httpx.post(
            f"{url}/revoke", data={"token": revoked["refresh_token"], "client_id": "web"}
        ).status_code
        == 200
    )
    assert (
        httpx.post(
            f"{url}/revoke", data={"token": cc["access_token"]}, auth=("rs", RS_SECRET)
        ).status_code
        == 200
    )
    old_kid = jwtkit.get_unverified_header(kept["access_token"])["kid"]
    out = jwtkit_cmd("keys", "rotate", "--delay", "0", env=server_proc.env).stdout
    assert "published" in out
    rotated = login(url)
    new_kid = jwtkit.get_unverified_header(rotated["access_token"])["kid"]
    assert new_kid != old_kid

    server_proc.proc.send_signal(signal.SIGKILL)
    server_proc.proc.wait(timeout=10)
    if prefix:  # Redis keeps nothing on disk here: the restart re-mirrors from the database.
        redis_cleanup(prefix)
    server_proc.start()

    users = json.loads(jwtkit_cmd("users", "list", "--json", env=server_proc.env).stdout)
    assert [u["username"] for u in users] == ["alice"]
    sessions = json.loads(
        jwtkit_cmd("sessions", "list", "alice", "--json", env=server_proc.env).stdout
    )
    assert len(sessions) == 2  # kept + rotated; the revoked one is gone
    keys = json.loads(jwtkit_cmd("keys", "list", "--json", env=server_proc.env).stdout)
    access = {k["kid"]: k["state"] for k in keys if k["purpose"] == "access"}
    assert access == {old_kid: "retired", new_kid: "current"}
    # The ID-token family (RS256) rotated with it (keys rotate without --alg).
    assert sorted(k["state"] for k in keys if k["purpose"] == "id_token") == ["current", "retired"]
    # Old tokens still verify through the JWK Set; revocations survived.
    decode(url, kept["access_token"])
    decode(url, rotated["access_token"])
    assert introspect(url, kept["access_token"])["active"] is True
    assert introspect(url, revoked["access_token"]) == {"active": False}
    assert introspect(url, cc["access_token"]) == {"active": False}
    assert refresh(url, revoked["refresh_token"]).status_code == 400
    assert refresh(url, kept["refresh_token"]).status_code == 200
    if prefix:
        client = redis.Redis.from_url(REDIS_URL)
        rk = redis_keys(f"{prefix}:revocations")
        sid = jwtkit.decode_unverified(revoked["access_token"])["sid"]
        assert client.zscore(rk["sid"], sid) is not None
        assert client.zscore(rk["jti"], jwtkit.decode_unverified(cc["access_token"])["jti"])
        client.close()
    del backend


def test_admin_cli(server_proc: Any, e2e_env: Any) -> None:
    env = server_proc.env
    server_proc.start()
    url = server_proc.url
    setup_principals(env)
    jwtkit_cmd("users", "add", "bob", "--password-stdin", env=env, stdin="bob-password\n")
    dup = jwtkit_cmd("users", "add", "bob", "--password-stdin", env=env, stdin="x\n", check=False)
    assert dup.returncode == 1 and "already exists" in dup.stderr
    assert "alice" in jwtkit_cmd("users", "list", env=env).stdout
    clients = json.loads(jwtkit_cmd("clients", "list", "--json", env=env).stdout)
    assert {c["client_id"]: c["public"] for c in clients} == {"rs": False, "web": True}
    assert "secret" not in json.dumps(clients)

    a, b = login(url), login(url)
    sessions = json.loads(jwtkit_cmd("sessions", "list", "alice", "--json", env=env).stdout)
    assert len(sessions) == 2
    sid_a = jwtkit.decode_unverified(a["access_token"])["sid"]
    jwtkit_cmd("sessions", "revoke", "--", sid_a, env=env)
    assert introspect(url, a["access_token"]) == {"active": False}
    assert introspect(url, b["access_token"])["active"] is True
    again = jwtkit_cmd("sessions", "revoke", "--", sid_a, env=env, check=False)
    assert again.returncode == 1
    out = jwtkit_cmd("sessions", "revoke", "--user", "alice", env=env).stdout
    assert "ended 1 session" in out
    assert introspect(url, b["access_token"]) == {"active": False}

    jwtkit_cmd("users", "set-password", "alice", "--password-stdin", env=env, stdin="new pw 2026\n")
    r = httpx.post(
        f"{url}/token",
        data={
            "grant_type": "password",
            "username": "alice",
            "password": "new pw 2026",
            "client_id": "web",
        },
    )
    assert r.status_code == 200
    c = r.json()
    jwtkit_cmd("users", "disable", "alice", env=env)
    assert introspect(url, c["access_token"]) == {"active": False}
    r = httpx.post(
        f"{url}/token",
        data={
            "grant_type": "password",
            "username": "alice",
            "password": "new pw 2026",
            "client_id": "web",
        },
    )
    assert r.status_code == 400

    bad = jwtkit_cmd(
        "clients", "add", "x", "--public", "--grant", "client_credentials", env=env, check=False
    )
    assert bad.returncode == 2
    bad = jwtkit_cmd("keys", "rotate", "--alg", "HS256", env=env, check=False)
    assert bad.returncode == 2
