"""The admin commands in process (typer's CliRunner) on a SQLite data dir, and the audit log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from jwtkit.cli.app import build_app
from jwtkit.server import Settings, build_services

from .support import FAST_HASH_ENV

#: The password grant is legacy and never a default: clients that use it say so.
LEGACY = ("--grant", "password", "--grant", "refresh_token")

runner = CliRunner()


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in FAST_HASH_ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("JWTKIT_CONFIG", raising=False)
    monkeypatch.delenv("JWTKIT_DATABASE_URL", raising=False)
    monkeypatch.delenv("JWTKIT_REDIS_URL", raising=False)
    return tmp_path / "data"


def run(data_dir: Path, *args: str, input: str | None = None, code: int = 0) -> Any:
    result = runner.invoke(build_app(), [*args, "--data-dir", str(data_dir)], input=input)
    assert result.exit_code == code, (args, result.output, result.exception)
    return result


def test_users_clients_sessions_keys(data_dir: Path) -> None:
    run(
        data_dir,
        "users",
        "add",
        "alice",
        "--password-stdin",
        "--scope",
        "read write",
        input="pw-alice\n",
    )
    run(data_dir, "users", "add", "bob", "--password-stdin", input="pw-bob-pw\n")
    run(data_dir, "users", "add", "alice", "--password-stdin", input="x" * 8 + "\n", code=1)
    taken = run(data_dir, "users", "add", "alice", code=1)  # no prompt: it says so at once
    assert "already exists" in taken.output and "Password" not in taken.output
    run(data_dir, "users", "add", "carol", "--password-stdin", input="\n", code=1)
    users = json.loads(run(data_dir, "users", "list", "--json").output)
    assert [(u["username"], u["scope"]) for u in users] == [("alice", "read write"), ("bob", "")]
    assert "alice" in run(data_dir, "users", "list").output
    run(data_dir, "users", "set-password", "alice", "--password-stdin", input="new-pw-1\n")
    run(data_dir, "users", "set-password", "nobody", "--password-stdin", input="x\n", code=1)

    run(data_dir, "clients", "add", "web", "--public", "--scope", "read", *LEGACY)
    run(
        data_dir,
        "clients",
        "add",
        "api",
        "--generate",
        "--audience",
        "https://api",
    )
    weak = run(data_dir, "clients", "add", "api2", "--secret-stdin", input="s3cret\n", code=2)
    assert "too weak" in weak.output
    run(data_dir, "clients", "add", "web", "--public", code=1)
    run(data_dir, "clients", "add", "x", "--public", "--secret-stdin", code=2)
    run(data_dir, "clients", "add", "x", "--public", "--grant", "implicit", code=2)
    clients = json.loads(run(data_dir, "clients", "list", "--json").output)
    assert {c["client_id"]: c["grant_types"] for c in clients} == {
        "api": ["client_credentials"],  # the password grant is never a default
        "web": ["password", "refresh_token"],
    }
    assert "confidential" in run(data_dir, "clients", "list").output

    # Sessions made through the service layer on the same data dir.
    services = build_services(
        Settings(
            data_dir=data_dir,
            **{k.removeprefix("JWTKIT_").lower(): v for k, v in FAST_HASH_ENV.items()},
        )
    )
    svc = services.service
    web = services.store.get_client("web")
    tokens = [svc.password_grant(web, "alice", "new-pw-1", None, "127.0.0.1") for _ in range(3)]
    services.close()
    sessions = json.loads(run(data_dir, "sessions", "list", "alice", "--json").output)
    assert len(sessions) == 3
    assert "sessions of alice" in run(data_dir, "sessions", "list", "alice").output
    run(data_dir, "sessions", "revoke", sessions[0]["sid"])
    run(data_dir, "sessions", "revoke", sessions[0]["sid"], code=1)
    run(data_dir, "sessions", "revoke", code=2)
    assert "ended 2 session(s)" in run(data_dir, "sessions", "revoke", "--user", "alice").output
    run(data_dir, "sessions", "revoke", "--user", "nobody", code=1)
    run(data_dir, "sessions", "list", "nobody", code=1)
    ended = json.loads(run(data_dir, "sessions", "list", "alice", "--all", "--json").output)
    assert {s["revoked_reason"] for s in ended} == {"admin"}
    assert tokens[0]["refresh_token"] not in json.dumps(ended)

    run(data_dir, "users", "disable", "bob")
    run(data_dir, "users", "disable", "nobody", code=1)
    assert json.loads(run(data_dir, "users", "list", "--json").output)[1]["disabled"] is True

    keys = json.loads(run(data_dir, "keys", "list", "--json").output)
    assert sorted((k["purpose"], k["alg"], k["state"]) for k in keys) == [
        ("access", "ES256", "current"),
        ("id_token", "RS256", "current"),
    ]
    assert "published" in run(data_dir, "keys", "rotate", "--delay", "60", "--alg", "EdDSA").output
    keys = json.loads(run(data_dir, "keys", "list", "--json").output)
    assert sorted(k["state"] for k in keys if k["purpose"] == "access") == ["current", "next"]
    run(data_dir, "keys", "rotate", "--delay", "60")  # without --alg both families rotate
    keys = json.loads(run(data_dir, "keys", "list", "--json").output)
    assert sorted(k["state"] for k in keys if k["purpose"] == "id_token") == ["current", "next"]
    assert "signing keys" in run(data_dir, "keys", "list").output
    run(data_dir, "keys", "rotate", "--delay", "-1", code=2)
    run(data_dir, "keys", "rotate", "--alg", "none", code=2)


def test_bad_settings_and_config(data_dir: Path, tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text("nonsense = true\n")
    result = runner.invoke(build_app(), ["users", "list", "--config", str(config)])
    assert result.exit_code == 2
    result = runner.invoke(
        build_app(), ["users", "list", "--database-url", "sqlite:////proc/x/y.db"]
    )
    assert result.exit_code == 1


def test_audit_drops_credential_fields_and_formats_json(caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from jwtkit.server.audit import JSONFormatter, audit

    caplog.set_level("INFO", logger="jwtkit.audit")
    audit(
        "login_failed",
        username="alice",
        password="hunter2",
        refresh_token="rt",
        client_secret="cs",
        token_type_hint="refresh_token",
        sid=None,
    )
    record = caplog.records[-1]
    event = json.loads(JSONFormatter().format(record))
    assert event["event"] == "login_failed" and event["username"] == "alice"
    assert event["token_type_hint"] == "refresh_token"
    assert not {"password", "refresh_token", "client_secret", "sid"} & set(event)
    other = logging.LogRecord("jwtkit.server", logging.ERROR, __file__, 1, "boom %s", ("x",), None)
    try:
        raise ValueError("inner")
    except ValueError:
        import sys

        other.exc_info = sys.exc_info()
    line = json.loads(JSONFormatter().format(other))
    assert line["level"] == "error" and line["msg"] == "boom x" and "inner" in line["exc"]


def test_set_password_end_sessions(data_dir: Path) -> None:
    run(data_dir, "users", "add", "dave", "--password-stdin", input="old-pw-1\n")
    run(data_dir, "clients", "add", "web", "--public", *LEGACY)
    services = build_services(
        Settings(
            data_dir=data_dir,
            **{k.removeprefix("JWTKIT_").lower(): v for k, v in FAST_HASH_ENV.items()},
        )
    )
    try:
        svc = services.service
        web = services.store.get_client("web")
        assert web is not None
        first = svc.password_grant(web, "dave", "old-pw-1", None, "127.0.0.1")
        second = svc.password_grant(web, "dave", "old-pw-1", None, "127.0.0.1")
    finally:
        services.close()
    # Without the flag the sessions stay; with it, every session ends and its tokens are void.
    run(data_dir, "users", "set-password", "dave", "--password-stdin", input="pw-2-pw-2\n")
    assert len(json.loads(run(data_dir, "sessions", "list", "dave", "--json").output)) == 2
    out = run(
        data_dir,
        "users",
        "set-password",
        "dave",
        "--password-stdin",
        "--end-sessions",
        input="pw-3-pw-3\n",
    ).output
    assert "ended 2 session(s)" in out
    assert json.loads(run(data_dir, "sessions", "list", "dave", "--json").output) == []
    services = build_services(
        Settings(
            data_dir=data_dir,
            **{k.removeprefix("JWTKIT_").lower(): v for k, v in FAST_HASH_ENV.items()},
        )
    )
    try:
        for tokens in (first, second):
            assert services.service.introspect(tokens["access_token"], None) == {"active": False}
            assert services.service.introspect(tokens["refresh_token"], None) == {"active": False}
    finally:
        services.close()


def test_key_cache_must_not_outlive_the_retire_margin() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="key_retire_margin"):
        Settings(key_cache_seconds=61, key_retire_margin=60)
    assert Settings(key_cache_seconds=60, key_retire_margin=60).key_cache_seconds == 60


def test_oidc_registration_options(data_dir: Path) -> None:
    run(
        data_dir,
        *("users", "add", "alice", "--password-stdin", "--email", "alice@example.com"),
        *("--name", "Alice Liddell"),
        input="alice-pw-1\n",
    )
    shown = json.loads(run(data_dir, "users", "show", "alice", "--json").output)
    assert (shown["email"], shown["name"]) == ("alice@example.com", "Alice Liddell")
    run(data_dir, "users", "set-claims", "alice", "--name", "Alice L.")
    listed = json.loads(run(data_dir, "users", "list", "--json").output)
    assert (listed[0]["email"], listed[0]["name"]) == ("alice@example.com", "Alice L.")
    run(
        data_dir,
        "users",
        "add",
        "x",
        "--password-stdin",
        "--email",
        "no-at",
        input="pw-12345\n",
        code=2,
    )
    out = run(
        data_dir,
        *("clients", "add", "app", "--secret-stdin", "--scope", "openid profile"),
        *("--redirect-uri", "https://app.example/cb", "--redirect-uri", "http://127.0.0.1/cb"),
        *("--post-logout-redirect-uri", "https://app.example/"),
        *("--backchannel-logout-uri", "https://app.example/bcl", "--first-party"),
        input="Zr8Kq2Wm5Xt9Lp3Vn7Bc1Hd4Gf6Js0Ya\n",
    ).output
    assert "authorization_code refresh_token client_credentials" in out
    app = json.loads(run(data_dir, "clients", "show", "app", "--json").output)
    assert app["redirect_uris"] == ["https://app.example/cb", "http://127.0.0.1/cb"]
    assert app["post_logout_redirect_uris"] == ["https://app.example/"]
    assert app["backchannel_logout_uri"] == "https://app.example/bcl"
    assert app["first_party"] is True and app["require_pushed_authorization_requests"] is False
    assert "https://app.example/cb" in run(data_dir, "clients", "list").output
    for bad in (
        "http://app.example/cb",  # http only on loopback
        "https://app.example/cb#frag",
        "https://user@app.example/cb",
        "javascript:alert(1)",
        "/relative",
    ):
        run(data_dir, "clients", "add", "bad", "--public", "--redirect-uri", bad, code=2)
    run(data_dir, "clients", "add", "bad", "--public", "--grant", "authorization_code", code=2)
    run(data_dir, "clients", "add", "nothing", "--public", code=2)  # no grant, no redirect URI
    assert {
        c["client_id"] for c in json.loads(run(data_dir, "clients", "list", "--json").output)
    } == {"app"}
