"""DPoP with the OpenID Connect provider on a real server (RFC 9449 §5, §10): the code grant
binds its tokens to the proof's key, and ``dpop_jkt`` at /authorize and in PAR binds the code
itself to a key."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

import jwtkit
from jwtkit import dpop

from .oidc_support import OP, SECRETS, decode_part, query_of

KEY = jwtkit.Key.generate("EC", crv="P-256")
OTHER = jwtkit.Key.generate("OKP", crv="Ed25519")


def _proof(op: OP, key: jwtkit.Key, htm: str = "POST", path: str = "/token", **kw: Any) -> str:
    return dpop.make_proof(key, htm, f"{op.url}{path}", iat=time.time(), **kw)


def _code(op: OP, client_id: str, **params: str) -> tuple[str, str]:
    url, verifier = op.authorize_url(client_id, **params)
    done = op.browser().sign_in(url)
    assert done.status_code == 303, done.text
    return query_of(done)["code"], verifier


def _redeem(op: OP, code: str, verifier: str, client_id: str, key: jwtkit.Key | None) -> Any:
    headers = {"DPoP": _proof(op, key)} if key is not None else {}
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": dict(httpx.URL(op.authorize_url(client_id)[0]).params)["redirect_uri"],
        "code_verifier": verifier,
    }
    auth = (client_id, SECRETS[client_id]) if client_id in SECRETS else None
    if auth is None:
        data["client_id"] = client_id
    return op.http.post("/token", data=data, auth=auth, headers=headers)  # type: ignore[arg-type]


def test_code_grant_with_a_proof_binds_tokens_and_the_public_clients_refresh(op: OP) -> None:
    code, verifier = _code(op, "spa")
    r = _redeem(op, code, verifier, "spa", KEY)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "DPoP"
    assert decode_part(body["access_token"], 1)["cnf"] == {"jkt": KEY.thumbprint()}
    access = body["access_token"]
    bearer = op.http.get("/userinfo", headers={"Authorization": f"Bearer {access}"})
    assert bearer.status_code == 401
    proof = _proof(op, KEY, "GET", "/userinfo", access_token=access)
    info = op.http.get("/userinfo", headers={"Authorization": f"DPoP {access}", "DPoP": proof})
    assert info.status_code == 200, info.text
    refresh = {"grant_type": "refresh_token", "refresh_token": body["refresh_token"]}
    refresh["client_id"] = "spa"
    other = op.http.post("/token", data=refresh, headers={"DPoP": _proof(op, OTHER)})
    assert other.status_code == 400 and other.json()["error"] == "invalid_grant"
    same = op.http.post("/token", data=refresh, headers={"DPoP": _proof(op, KEY)})
    assert same.status_code == 200, same.text
    assert same.json()["token_type"] == "DPoP"


@pytest.mark.parametrize("client_id", ["rp", "spa"])
def test_dpop_jkt_binds_the_code(op: OP, client_id: str) -> None:
    jkt = KEY.thumbprint()
    for key in (None, OTHER):
        code, verifier = _code(op, client_id, dpop_jkt=jkt)
        r = _redeem(op, code, verifier, client_id, key)
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    code, verifier = _code(op, client_id, dpop_jkt=jkt)
    r = _redeem(op, code, verifier, client_id, KEY)
    assert r.status_code == 200, r.text
    assert decode_part(r.json()["access_token"], 1)["cnf"] == {"jkt": jkt}


def test_dpop_jkt_in_par_binds_the_code(op: OP) -> None:
    jkt = KEY.thumbprint()
    for key, status in ((OTHER, 400), (KEY, 200)):
        url, verifier = op.authorize_url("pushy", dpop_jkt=jkt)
        pushed = op.http.post(
            "/par", data=dict(httpx.URL(url).params), auth=("pushy", SECRETS["pushy"])
        )
        assert pushed.status_code == 201, pushed.text
        uri = pushed.json()["request_uri"]
        done = op.browser().sign_in(f"{op.url}/authorize?client_id=pushy&request_uri={uri}")
        r = _redeem(op, query_of(done)["code"], verifier, "pushy", key)
        assert r.status_code == status, r.text


@pytest.mark.parametrize("bad", ["short", "x" * 44, "+" * 43, "a b" + "c" * 40])
def test_malformed_dpop_jkt_is_invalid_request(op: OP, bad: str) -> None:
    url, _ = op.authorize_url("rp", dpop_jkt=bad)
    r = op.browser().get(url)
    assert query_of(r)["error"] == "invalid_request", r.text
    url, _ = op.authorize_url("pushy", dpop_jkt=bad)
    pushed = op.http.post(
        "/par", data=dict(httpx.URL(url).params), auth=("pushy", SECRETS["pushy"])
    )
    assert pushed.status_code == 400 and pushed.json()["error"] == "invalid_request"
