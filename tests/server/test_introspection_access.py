"""Issue 13 item 10: only resource servers introspect, only the tokens meant for them (or
issued to them), refresh tokens only to their own client (RFC 7662 §2.1, §4); issue 15 item 8:
``token_type`` uses RFC 7662's hint values."""

from __future__ import annotations

from typing import Any

import pytest

from jwtkit.server.client_secrets import generate_client_secret

from .support import Svc

SECRETS: dict[str, str] = {}


def _client(svc: Svc, client_id: str, **kw: Any) -> str:
    secret = generate_client_secret()
    grants = kw.pop("grants", ("client_credentials", "password", "refresh_token"))
    record = svc.store.create_client(
        client_id,
        secret_hash=svc.service.client_secrets.hash(secret),
        grant_types=grants,
        scope="read write",
        now=svc.clock(),
        **{"audience": None, **kw},
    )
    assert record is not None
    SECRETS[client_id] = secret
    return secret


@pytest.fixture
def world(make_svc: Any) -> Svc:
    svc: Svc = make_svc()
    svc.add_user()
    svc.add_client("web")  # public: tokens for the default audience (the issuer)
    _client(svc, "api", resource_server=True, audience="https://api.example")
    _client(svc, "default-rs", resource_server=True)  # audience: the default one
    _client(svc, "m2m", audience="https://api.example")  # its tokens are for api
    _client(svc, "plain")  # confidential, not a resource server
    _client(svc, "by-id", resource_server=True, audience="https://other.example")
    _client(svc, "for-by-id", audience="by-id")  # tokens whose aud is the client id by-id
    return svc


def _look(svc: Svc, caller: str, token: str) -> dict[str, Any]:
    r = svc.http.post("/introspect", data={"token": token}, auth=(caller, SECRETS[caller]))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _cc(svc: Svc, client_id: str) -> str:
    r = svc.token({"grant_type": "client_credentials"}, auth=(client_id, SECRETS[client_id]))
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


# (who asks, whose token, which token, active?)
CASES = [
    ("api", "m2m", "access", True),  # aud = api's audience
    ("api", "web", "access", False),  # aud = the issuer: not api's
    ("api", "api", "access", True),  # its own
    ("default-rs", "web", "access", True),  # aud = the default audience
    ("default-rs", "m2m", "access", False),
    ("by-id", "for-by-id", "access", True),  # aud = its client id
    ("by-id", "web", "access", False),
    ("plain", "plain", "access", False),  # not a resource server: nothing, not even its own
    ("plain", "web", "access", False),
    ("default-rs", "web", "refresh", False),  # another client's refresh token
    ("api", "api", "refresh", True),  # its own refresh token
    ("plain", "plain", "refresh", False),
]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_who_may_introspect_what(world: Svc) -> None:
    tokens: dict[tuple[str, str], str] = {}
    for client_id in ("m2m", "api", "for-by-id", "plain"):
        tokens[(client_id, "access")] = _cc(world, client_id)
    web = world.login(client_id="web")
    tokens[("web", "access")], tokens[("web", "refresh")] = (
        web["access_token"],
        web["refresh_token"],
    )
    for client_id in ("api", "plain"):
        r = world.token(
            {"grant_type": "password", "username": "alice", "password": "pw-alice"},
            auth=(client_id, SECRETS[client_id]),
        )
        assert r.status_code == 200, r.text
        tokens[(client_id, "refresh")] = r.json()["refresh_token"]
    for caller, owner, kind, active in CASES:
        body = _look(world, caller, tokens[(owner, kind)])
        if active:
            assert body["active"] is True, (caller, owner, kind)
            assert body["token_type"] == f"{kind}_token"
        else:
            assert body == {"active": False}, (caller, owner, kind, body)


def test_a_refused_answer_is_the_unknown_token_answer(world: Svc) -> None:
    token = world.login(client_id="web")["access_token"]
    assert _look(world, "api", token) == _look(world, "api", "unknown") == {"active": False}


def test_the_flag_can_be_granted_and_withdrawn(world: Svc) -> None:
    token = world.login(client_id="web")["access_token"]
    assert _look(world, "plain", token) == {"active": False}
    world.store.update_client("plain", resource_server=True)
    world.service.secret_cache._entries.clear()
    assert _look(world, "plain", token)["active"] is True
    world.store.update_client("plain", resource_server=False)
    assert _look(world, "plain", token) == {"active": False}


def test_clients_add_and_update_resource_server(tmp_path: Any, monkeypatch: Any) -> None:
    from typer.testing import CliRunner

    from jwtkit.cli.app import build_app

    from .support import FAST_HASH_ENV

    for name, value in FAST_HASH_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("JWTKIT_CONFIG", "JWTKIT_DATABASE_URL", "JWTKIT_REDIS_URL"):
        monkeypatch.delenv(name, raising=False)
    data = ["--data-dir", str(tmp_path / "data")]
    runner = CliRunner()

    def run(*args: str) -> Any:
        return runner.invoke(build_app(), [*args, *data])

    assert run("clients", "add", "api", "--generate", "--resource-server").exit_code == 0
    assert run("clients", "add", "web", "--public", "--resource-server").exit_code == 2
    shown = run("clients", "show", "api", "--json")
    assert '"resource_server": true' in shown.output, shown.output
    assert run("clients", "update", "api", "--no-resource-server").exit_code == 0
    assert '"resource_server": false' in run("clients", "show", "api", "--json").output
