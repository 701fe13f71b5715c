"""Encrypted ID tokens per client (OIDC Core §10.2, OIDC Registration §2): a real flow through
the shared provider; jwcrypto (a peer) decrypts the nested JWT and jwtkit verifies the inner JWS
with the provider's JWK Set; bad registrations are refused."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from jwcrypto import jwe as jc_jwe
from jwcrypto import jwk as jc_jwk

import jwtkit
from jwtkit.server.admin import InvalidValueError

from .oidc_support import OP, decode_part, pkce, query_of


def _client(op: OP, client_id: str, **registration: Any) -> str:
    redirect = f"https://{client_id}.example/cb"
    if op.services.store.get_client(client_id) is None:
        op.admin.add_client(
            client_id, secret=None, grant_types=["authorization_code"], scope=["openid"]
        )
        op.admin.register_client(
            client_id, redirect_uris=[redirect], first_party=True, **registration
        )
    return redirect


def _id_token(op: OP, client_id: str, redirect: str) -> str:
    verifier, challenge = pkce()
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": redirect,
        "scope": "openid",
        "nonce": "n-0S6_WzA2Mj",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    done = op.browser().sign_in(f"{op.url}/authorize?{httpx.QueryParams(query)}")
    r = op.http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": query_of(done)["code"],
            "redirect_uri": redirect,
            "code_verifier": verifier,
            "client_id": client_id,
        },
    )
    assert r.status_code == 200, r.text
    return str(r.json()["id_token"])


def _verify_inner(op: OP, inner: str, client_id: str) -> dict[str, Any]:
    keys = jwtkit.KeySet.from_jwks(op.http.get("/.well-known/jwks.json").json())
    return jwtkit.Verifier(
        keys, algorithms=["RS256", "ES256"], issuer=op.url, audience=client_id
    ).verify(inner)


@pytest.mark.parametrize(
    ("client_id", "kty", "alg", "enc"),
    [
        ("enc-rsa", "RSA", "RSA-OAEP-256", "A256GCM"),
        ("enc-ec", "EC", "ECDH-ES", None),  # enc defaults to A128CBC-HS256
        ("enc-x25519", "OKP", "ECDH-ES+A128KW", "A128GCM"),
    ],
)
def test_encrypted_id_token_is_a_nested_jwt(
    op: OP, client_id: str, kty: str, alg: str, enc: str | None
) -> None:
    params = {"RSA": {"size": 2048}, "EC": {"crv": "P-256"}, "OKP": {"crv": "X25519"}}[kty]
    private = jc_jwk.JWK.generate(kty=kty, kid=f"{client_id}-1", use="enc", **params)
    jwks = {"keys": [json.loads(private.export_public())]}
    redirect = _client(
        op,
        client_id,
        id_token_encrypted_response_alg=alg,
        id_token_encrypted_response_enc=enc,
        id_token_encryption_jwks=json.dumps(jwks),
    )
    token = _id_token(op, client_id, redirect)
    assert token.count(".") == 4
    header = decode_part(token, 0)
    assert header["alg"] == alg and header["enc"] == (enc or "A128CBC-HS256")
    assert header["cty"] == "JWT" and header["kid"] == f"{client_id}-1"
    peer = jc_jwe.JWE(algs=[alg, header["enc"]])
    peer.deserialize(token, key=private)
    inner = peer.payload.decode()
    assert inner.count(".") == 2
    claims = _verify_inner(op, inner, client_id)
    assert claims["nonce"] == "n-0S6_WzA2Mj" and claims["aud"] == client_id
    # The client can also read it with jwtkit: nested JWT, decryption key + provider's keys.
    keys = jwtkit.KeySet.from_jwks(op.http.get("/.well-known/jwks.json").json())
    via_jwtkit = jwtkit.Verifier(
        keys,
        algorithms=["RS256", "ES256", alg],
        issuer=op.url,
        audience=client_id,
        decryption_key=jwtkit.Key.from_jwk(json.loads(private.export_private())),
        encryption_algorithms=[header["enc"]],
    ).verify(token)
    assert via_jwtkit["sub"] == claims["sub"]


def test_client_without_encryption_gets_a_plain_jws(op: OP) -> None:
    redirect = _client(op, "plain-rp")
    token = _id_token(op, "plain-rp", redirect)
    assert token.count(".") == 2 and "enc" not in decode_part(token, 0)
    assert _verify_inner(op, token, "plain-rp")["aud"] == "plain-rp"


def test_discovery_lists_encryption_values(op: OP) -> None:
    meta = op.http.get("/.well-known/openid-configuration").json()
    assert "RSA-OAEP-256" in meta["id_token_encryption_alg_values_supported"]
    assert "ECDH-ES" in meta["id_token_encryption_alg_values_supported"]
    assert "RSA1_5" not in meta["id_token_encryption_alg_values_supported"]
    assert "dir" not in meta["id_token_encryption_alg_values_supported"]
    assert {"A128CBC-HS256", "A256GCM"} <= set(meta["id_token_encryption_enc_values_supported"])


def _bad_registrations() -> list[tuple[dict[str, Any], str]]:
    rsa = jc_jwk.JWK.generate(kty="RSA", size=2048, kid="r")
    public = {"keys": [json.loads(rsa.export_public())]}
    ec_public = {"keys": [json.loads(jc_jwk.JWK.generate(kty="EC", crv="P-256").export_public())]}
    sig_only = {"keys": [{**json.loads(rsa.export_public()), "use": "sig"}]}
    oct_set = {"keys": [json.loads(jc_jwk.JWK.generate(kty="oct", size=256).export())]}
    private = {"keys": [json.loads(rsa.export_private())]}
    ok = {"id_token_encrypted_response_alg": "RSA-OAEP-256"}
    return [
        ({**ok, "id_token_encryption_jwks": private}, "public keys only"),
        ({**ok, "id_token_encryption_jwks": oct_set}, "oct"),
        ({**ok, "id_token_encryption_jwks": ec_public}, "no public RSA key"),
        ({**ok, "id_token_encryption_jwks": sig_only}, "no public RSA key"),
        ({**ok, "id_token_encryption_jwks": "{not json"}, "not a usable JWK Set"),
        ({**ok, "id_token_encryption_jwks": {"kty": "RSA"}}, "not a usable JWK Set"),
        ({**ok}, "needs the client's JWK Set"),
        (
            {**ok, "id_token_encryption_jwks": public, "id_token_encrypted_response_enc": "A1GCM"},
            "enc must be one of",
        ),
        ({"id_token_encrypted_response_alg": "RSA1_5", "id_token_encryption_jwks": public}, "alg"),
        ({"id_token_encrypted_response_alg": "dir", "id_token_encryption_jwks": public}, "alg"),
        ({"id_token_encrypted_response_alg": "A128KW", "id_token_encryption_jwks": oct_set}, "alg"),
        ({"id_token_encrypted_response_enc": "A256GCM"}, "needs an id_token encryption alg"),
        ({"id_token_encryption_jwks": public}, "needs an id_token encryption alg"),
    ]


@pytest.mark.parametrize(("registration", "message"), _bad_registrations())
def test_bad_encryption_registrations_are_refused(
    op: OP, registration: dict[str, Any], message: str
) -> None:
    _client(op, "enc-bad")
    before = op.admin.registration("enc-bad")
    with pytest.raises(InvalidValueError, match=message):
        op.admin.register_client(
            "enc-bad", redirect_uris=["https://enc-bad.example/cb"], **registration
        )
    assert op.admin.registration("enc-bad") == before
