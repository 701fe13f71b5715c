"""DPoP at the real token service over HTTP (RFC 9449 §5): bound access tokens (cnf.jkt,
token_type DPoP) on every grant, introspection's cnf, the metadata, and one test per bad proof."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

import jwtkit
from jwtkit import _b64, dpop

from .support import Svc

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])  # the store plays no part here

KEY = jwtkit.Key.generate("EC", crv="P-256")
OTHER = jwtkit.Key.generate("OKP", crv="Ed25519")


def _seg(obj: Any) -> str:
    return _b64.b64e_str(json.dumps(obj).encode())


def _htu(svc: Svc) -> str:
    return f"{svc.service.issuer}/token"


def _proof(svc: Svc, key: jwtkit.Key = KEY, **kw: Any) -> str:
    return dpop.make_proof(
        key, kw.pop("htm", "POST"), kw.pop("htu", _htu(svc)), iat=kw.pop("iat", svc.clock()), **kw
    )


def _claims_of(token: str) -> dict[str, Any]:
    return json.loads(_b64.b64d(token.split(".")[1], "payload"))  # type: ignore[no-any-return]


def _cc(svc: Svc, proofs: list[str]) -> Any:
    return svc.http.post(
        "/token",
        data={"grant_type": "client_credentials"},
        auth=("rs", "rs-secret"),
        headers=[("DPoP", p) for p in proofs],
    )


def test_client_credentials_bound_to_the_proof_key(svc: Svc) -> None:
    r = _cc(svc, [_proof(svc)])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "DPoP"
    claims = _claims_of(body["access_token"])
    assert claims["cnf"] == {"jkt": KEY.thumbprint()}
    assert svc.introspect(body["access_token"])["cnf"] == {"jkt": KEY.thumbprint()}
    plain = _cc(svc, [])
    assert plain.json()["token_type"] == "Bearer"
    assert "cnf" not in _claims_of(plain.json()["access_token"])


def test_password_and_refresh_grants_bind_too(svc: Svc) -> None:
    r = svc.token(
        {"grant_type": "password", "username": "alice", "password": "pw-alice", "client_id": "web"},
        headers={"DPoP": _proof(svc)},
    )
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "DPoP"
    refreshed = svc.token(
        {
            "grant_type": "refresh_token",
            "refresh_token": r.json()["refresh_token"],
            "client_id": "web",
        },
        headers={"DPoP": _proof(svc)},
    )
    assert refreshed.status_code == 200, refreshed.text
    assert refreshed.json()["token_type"] == "DPoP"
    assert _claims_of(refreshed.json()["access_token"])["cnf"]["jkt"] == KEY.thumbprint()


def test_metadata_names_the_proof_algs(svc: Svc) -> None:
    meta = svc.http.get("/.well-known/oauth-authorization-server").json()
    assert "ES256" in meta["dpop_signing_alg_values_supported"]
    assert "HS256" not in meta["dpop_signing_alg_values_supported"]


HS_KEY = jwtkit.Key.from_jwk({"kty": "oct", "k": _b64.b64e_str(b"k" * 32)})


def _pub() -> dict[str, Any]:
    jwk = KEY.public().to_jwk()
    jwk.pop("kid", None)
    return jwk


def _body(svc: Svc) -> dict[str, Any]:
    return {
        "jti": "j-" + str(svc.clock()),
        "htm": "POST",
        "htu": _htu(svc),
        "iat": int(svc.clock()),
    }


BAD: dict[str, Callable[[Svc], list[str]]] = {
    "wrong-htm": lambda s: [_proof(s, htm="GET")],
    "wrong-htu": lambda s: [_proof(s, htu=s.service.issuer + "/introspect")],
    "stale-iat": lambda s: [_proof(s, iat=s.clock() - 400)],
    "future-iat": lambda s: [_proof(s, iat=s.clock() + 60)],
    "alg-none": lambda s: [
        f"{_seg({'typ': 'dpop+jwt', 'alg': 'none', 'jwk': _pub()})}.{_seg(_body(s))}."
    ],
    "alg-hs256": lambda s: [
        jwtkit.jws.sign(
            json.dumps(_body(s)),
            HS_KEY,
            "HS256",
            encoded_header=_seg({"typ": "dpop+jwt", "alg": "HS256", "jwk": _pub()}),
        )
    ],
    "private-key-in-jwk": lambda s: [
        jwtkit.jws.sign(
            json.dumps(_body(s)),
            KEY,
            "ES256",
            encoded_header=_seg(
                {"typ": "dpop+jwt", "alg": "ES256", "jwk": KEY.to_jwk(private=True)}
            ),
        )
    ],
    "signed-by-another-key": lambda s: [
        jwtkit.jws.sign(
            json.dumps(_body(s)),
            OTHER,
            "EdDSA",
            encoded_header=_seg({"typ": "dpop+jwt", "alg": "EdDSA", "jwk": _pub()}),
        )
    ],
    "two-dpop-headers": lambda s: [_proof(s), _proof(s)],
    "not-a-jws": lambda s: ["nope"],
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_proof_is_invalid_dpop_proof(svc: Svc, case: str) -> None:
    r = _cc(svc, BAD[case](svc))
    assert r.status_code == 400, (r.status_code, r.text)
    assert r.json()["error"] == "invalid_dpop_proof"


def test_replayed_proof_is_refused(svc: Svc) -> None:
    proof = _proof(svc)
    assert _cc(svc, [proof]).status_code == 200
    again = _cc(svc, [proof])
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_dpop_proof"


def test_100kb_proof_is_refused_without_a_crash(svc: Svc) -> None:
    r = _cc(svc, ["a" * 50_000 + "." + "b" * 50_000 + ".c"])
    assert r.status_code in (400, 431), r.status_code
    if r.status_code == 400:
        assert r.json()["error"] in ("invalid_dpop_proof", "invalid_request")


def _login(svc: Svc, key: jwtkit.Key | None) -> dict[str, Any]:
    headers = {"DPoP": _proof(svc, key)} if key is not None else {}
    r = svc.token(
        {"grant_type": "password", "username": "alice", "password": "pw-alice", "client_id": "web"},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _refresh(svc: Svc, token: str, key: jwtkit.Key | None, client: str = "web", **kw: Any) -> Any:
    headers = {"DPoP": _proof(svc, key)} if key is not None else {}
    return svc.token(
        {"grant_type": "refresh_token", "refresh_token": token, "client_id": client},
        headers=headers,
        **kw,
    )


def test_public_client_refresh_token_is_bound_to_the_key(svc: Svc) -> None:
    first = _login(svc, KEY)["refresh_token"]
    for key in (OTHER, None):  # another key, or no proof: invalid_grant, the token stays usable
        r = _refresh(svc, first, key)
        assert r.status_code == 400, r.text
        assert r.json()["error"] == "invalid_grant"
        assert "DPoP key" in r.json()["error_description"]
    ok = _refresh(svc, first, KEY)
    assert ok.status_code == 200, ok.text
    second = ok.json()["refresh_token"]
    assert _refresh(svc, second, OTHER).json()["error"] == "invalid_grant"
    assert _refresh(svc, second, KEY).status_code == 200


def test_unbound_public_refresh_token_may_start_dpop(svc: Svc) -> None:
    plain = _login(svc, None)["refresh_token"]
    r = _refresh(svc, plain, OTHER)
    assert r.status_code == 200, r.text
    assert r.json()["token_type"] == "DPoP"


def test_confidential_client_refresh_is_not_key_bound(svc: Svc) -> None:
    r = svc.token(
        {"grant_type": "password", "username": "alice", "password": "pw-alice"},
        auth=("rs", "rs-secret"),
        headers={"DPoP": _proof(svc)},
    )
    assert r.status_code == 200, r.text
    again = svc.token(
        {"grant_type": "refresh_token", "refresh_token": r.json()["refresh_token"]},
        auth=("rs", "rs-secret"),
        headers={"DPoP": _proof(svc, OTHER)},
    )
    assert again.status_code == 200, again.text
    assert _claims_of(again.json()["access_token"])["cnf"]["jkt"] == OTHER.thumbprint()


def test_own_protected_endpoints_enforce_the_binding(svc: Svc) -> None:
    access = _login(svc, KEY)["access_token"]
    url = f"{svc.service.issuer}/sessions"
    assert (
        svc.http.get("/sessions", headers={"Authorization": f"Bearer {access}"}).status_code == 401
    )
    proof = _proof(svc, htm="GET", htu=url, access_token=access)
    headers = {"Authorization": f"DPoP {access}", "DPoP": proof}
    ok = svc.http.get("/sessions", headers=headers)
    assert ok.status_code == 200, ok.text
    assert len(ok.json()["sessions"]) == 1
    assert svc.http.get("/sessions", headers=headers).status_code == 401  # replayed proof
    other = _proof(svc, OTHER, htm="GET", htu=url, access_token=access)
    assert (
        svc.http.get(
            "/sessions", headers={"Authorization": f"DPoP {access}", "DPoP": other}
        ).status_code
        == 401
    )
    no_ath = _proof(svc, htm="GET", htu=url)
    assert (
        svc.http.get(
            "/sessions", headers={"Authorization": f"DPoP {access}", "DPoP": no_ath}
        ).status_code
        == 401
    )
    plain = _login(svc, None)["access_token"]
    assert (
        svc.http.get("/sessions", headers={"Authorization": f"Bearer {plain}"}).status_code == 200
    )
    unbound = _proof(svc, htm="GET", htu=url, access_token=plain)
    assert (
        svc.http.get(
            "/sessions", headers={"Authorization": f"DPoP {plain}", "DPoP": unbound}
        ).status_code
        == 401
    )


def test_dpop_bound_client_must_send_a_proof(svc: Svc) -> None:
    from jwtkit.server.client_secrets import generate_client_secret

    secret = generate_client_secret()
    record = svc.store.create_client(
        "bound",
        secret_hash=svc.service.client_secrets.hash(secret),
        grant_types=("client_credentials",),
        scope="read",
        audience=None,
        now=svc.clock(),
        dpop_bound_access_tokens=True,
    )
    assert record is not None and record.dpop_bound_access_tokens
    data = {"grant_type": "client_credentials"}
    refused = svc.token(data, auth=("bound", secret))
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_dpop_proof"
    ok = svc.token(data, auth=("bound", secret), headers={"DPoP": _proof(svc)})
    assert ok.status_code == 200, ok.text
    assert ok.json()["token_type"] == "DPoP"
    svc.store.update_client("bound", dpop_bound_access_tokens=False)
    assert svc.token(data, auth=("bound", secret)).json()["token_type"] == "Bearer"


def test_server_nonce_required_then_retry(make_svc: Any) -> None:
    s: Svc = make_svc(dpop_nonce_secret="n" * 40)
    s.add_client("rs", secret="rs-secret", grants=("client_credentials",), scope="read")
    first = _cc(s, [_proof(s)])
    assert first.status_code == 400, first.text
    assert first.json()["error"] == "use_dpop_nonce"
    nonce = first.headers["dpop-nonce"]
    assert _cc(s, [_proof(s, nonce="x" * 32)]).json()["error"] == "use_dpop_nonce"
    retry = _cc(s, [_proof(s, nonce=nonce)])
    assert retry.status_code == 200, retry.text
    assert retry.json()["token_type"] == "DPoP"
    fresh = retry.headers["dpop-nonce"]  # RFC 9449 §8.2: a new nonce for the next proof
    again = _cc(s, [_proof(s, nonce=fresh)])
    assert again.status_code == 200, again.text
    assert "dpop-nonce" in again.headers
    assert _cc(s, []).json()["token_type"] == "Bearer"  # no proof: nonces do not apply


def _openid_login(svc: Svc, key: jwtkit.Key | None) -> str:
    if svc.store.get_client("oidc") is None:
        svc.add_client("oidc", scope="openid read")
        svc.add_user("olga", "pw-olga", scope="openid read")
    headers = {"DPoP": _proof(svc, key)} if key is not None else {}
    r = svc.token(
        {
            "grant_type": "password",
            "username": "olga",
            "password": "pw-olga",
            "client_id": "oidc",
            "scope": "openid",
        },
        headers=headers,
    )
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_userinfo_enforces_the_binding(svc: Svc, method: str) -> None:
    access = _openid_login(svc, KEY)
    url = f"{svc.service.issuer}/userinfo"

    def call(scheme: str, proof: str | None) -> Any:
        headers = {"Authorization": f"{scheme} {access}"}
        if proof is not None:
            headers["DPoP"] = proof
        return svc.http.request(method, "/userinfo", headers=headers)

    under_bearer = call("Bearer", None)
    assert under_bearer.status_code == 401
    challenge = under_bearer.headers["www-authenticate"]
    assert challenge.startswith("DPoP ") and 'error="invalid_token"' in challenge
    assert 'algs="' in challenge and "ES256" in challenge
    proof = _proof(svc, htm=method, htu=url, access_token=access)
    ok = call("DPoP", proof)
    assert ok.status_code == 200, ok.text
    assert ok.json()["sub"]
    for bad in (
        proof,  # replayed
        None,  # no proof
        _proof(svc, OTHER, htm=method, htu=url, access_token=access),  # another key
        _proof(svc, htm=method, htu=url),  # no ath
        _proof(svc, htm="PUT", htu=url, access_token=access),  # wrong htm
        _proof(svc, htm=method, htu=f"{svc.service.issuer}/sessions", access_token=access),
    ):
        r = call("DPoP", bad)
        assert r.status_code == 401, r.text
        challenge = r.headers["www-authenticate"]
        assert challenge.startswith("DPoP ") and 'error="invalid_dpop_proof"' in challenge
        assert 'algs="' in challenge
    plain = _openid_login(svc, None)
    assert (
        svc.http.request(method, "/userinfo", headers={"Authorization": f"Bearer {plain}"})
    ).status_code == 200
    unbound = _proof(svc, htm=method, htu=url, access_token=plain)
    r = svc.http.request(
        method, "/userinfo", headers={"Authorization": f"DPoP {plain}", "DPoP": unbound}
    )
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("DPoP ")


def test_logout_enforces_the_binding(svc: Svc) -> None:
    access = _login(svc, KEY)["access_token"]
    url = f"{svc.service.issuer}/logout"
    r = svc.http.post("/logout", headers={"Authorization": f"Bearer {access}"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("DPoP ")
    wrong = _proof(svc, OTHER, htm="POST", htu=url, access_token=access)
    r = svc.http.post("/logout", headers={"Authorization": f"DPoP {access}", "DPoP": wrong})
    assert r.status_code == 401
    assert 'error="invalid_dpop_proof"' in r.headers["www-authenticate"]
    # the session is still alive: refusals ended nothing
    see = _proof(svc, htm="GET", htu=f"{svc.service.issuer}/sessions", access_token=access)
    listed = svc.http.get("/sessions", headers={"Authorization": f"DPoP {access}", "DPoP": see})
    assert listed.status_code == 200, listed.text
    proof = _proof(svc, htm="POST", htu=url, access_token=access)
    r = svc.http.post("/logout", headers={"Authorization": f"DPoP {access}", "DPoP": proof})
    assert r.status_code == 204, r.text
    plain = _login(svc, None)["access_token"]
    r = svc.http.post("/logout", headers={"Authorization": f"Bearer {plain}"})
    assert r.status_code == 204, r.text
