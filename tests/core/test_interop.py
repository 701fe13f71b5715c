"""Interoperability with PyJWT, joserfc and jwcrypto (test-only dependencies), both directions.

For every algorithm each peer supports: a token the peer signs verifies in ``jwtkit.decode`` (with
issuer, audience and expiry checks), and a token jwtkit signs verifies in the peer. Keys cross the
boundary as JWKs: jwtkit exports, the peer imports, and the reverse, with equal RFC 7638
thumbprints on both sides.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from typing import Any

import jwcrypto.jwk
import jwcrypto.jws
import jwcrypto.jwt
import jwt as pyjwt
import pytest
from joserfc import jwk as jrfc_jwk
from joserfc import jwt as jrfc_jwt
from joserfc.errors import BadSignatureError, SecurityWarning

import jwtkit
from jwtkit import Key

from .conftest import Keys

ISS = "https://issuer.example"
AUD = "https://api.example"

# alg -> attribute of Keys holding the signing key
ALGS = {
    "HS256": "hs256",
    "HS384": "hs384",
    "HS512": "hs512",
    "RS256": "rsa",
    "RS384": "rsa",
    "RS512": "rsa",
    "PS256": "rsa",
    "PS384": "rsa",
    "PS512": "rsa",
    "ES256": "p256",
    "ES384": "p384",
    "ES512": "p521",
    "ES256K": "secp256k1",
    "EdDSA": "ed25519",
    "EdDSA-Ed448": "ed448",
    "Ed25519": "ed25519",
    "Ed448": "ed448",
}
# Fully-specified EdDSA names (RFC 9864) are not in PyJWT.
PEER_ALGS = {
    "pyjwt": [a for a in ALGS if a not in ("Ed25519", "Ed448")],
    "joserfc": list(ALGS),
    "jwcrypto": list(ALGS),
}


def _quiet_peers() -> None:
    """Inside catch_warnings: the peers' own notices (joserfc flags "EdDSA" as deprecated by
    RFC 9864) are not jwtkit's concern here."""
    warnings.simplefilter("ignore", DeprecationWarning)
    warnings.simplefilter("ignore", SecurityWarning)


def _alg(name: str) -> str:
    return name.split("-", maxsplit=1)[0]


def _claims() -> dict[str, Any]:
    # The peers check expiry against the real clock, so these claims use it too.
    now = int(time.time())
    return {
        "iss": ISS,
        "sub": "alice",
        "aud": AUD,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "jti": "interop-1",
        "scope": "read write",
    }


# -- peer adapters: sign(claims, jwk dict, alg) -> token; verify(token, public jwk, alg) -> claims


def pyjwt_key(jwk: dict[str, Any], alg: str) -> Any:
    if jwk["kty"] == "oct":
        return Key.from_jwk(jwk).raw  # the secret bytes
    return pyjwt.PyJWK(jwk, algorithm=alg).key


def pyjwt_sign(claims: dict[str, Any], jwk: dict[str, Any], alg: str) -> str:
    return pyjwt.encode(claims, pyjwt_key(jwk, alg), algorithm=alg, headers={"kid": jwk["kid"]})


def pyjwt_verify(token: str, jwk: dict[str, Any], alg: str) -> dict[str, Any]:
    claims: dict[str, Any] = pyjwt.decode(
        token,
        pyjwt_key(jwk, alg),
        algorithms=[alg],
        audience=AUD,
        issuer=ISS,
        options={"require": ["exp", "iss", "aud"]},
    )
    return claims


def joserfc_sign(claims: dict[str, Any], jwk: dict[str, Any], alg: str) -> str:
    key = jrfc_jwk.import_key(jwk)
    return jrfc_jwt.encode({"alg": alg, "kid": jwk["kid"]}, claims, key, algorithms=[alg])


def joserfc_verify(token: str, jwk: dict[str, Any], alg: str) -> dict[str, Any]:
    key = jrfc_jwk.import_key(jwk)
    decoded = jrfc_jwt.decode(token, key, algorithms=[alg])
    registry = jrfc_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": ISS},
        aud={"essential": True, "value": AUD},
        exp={"essential": True},
    )
    registry.validate(decoded.claims)
    return dict(decoded.claims)


def jwcrypto_sign(claims: dict[str, Any], jwk: dict[str, Any], alg: str) -> str:
    token = jwcrypto.jwt.JWT(header={"alg": alg, "kid": jwk["kid"]}, claims=claims, algs=[alg])
    token.make_signed_token(jwcrypto.jwk.JWK(**jwk))
    return str(token.serialize())


def jwcrypto_verify(token: str, jwk: dict[str, Any], alg: str) -> dict[str, Any]:
    verified = jwcrypto.jwt.JWT(
        jwt=token,
        key=jwcrypto.jwk.JWK(**jwk),
        algs=[alg],
        check_claims={"iss": ISS, "aud": AUD, "exp": None},
    )
    return dict(json.loads(verified.claims))


PEERS: dict[str, tuple[Callable[..., str], Callable[..., dict[str, Any]]]] = {
    "pyjwt": (pyjwt_sign, pyjwt_verify),
    "joserfc": (joserfc_sign, joserfc_verify),
    "jwcrypto": (jwcrypto_sign, jwcrypto_verify),
}
BAD_SIGNATURE: dict[str, type[Exception]] = {
    "pyjwt": pyjwt.InvalidSignatureError,
    "joserfc": BadSignatureError,
    "jwcrypto": jwcrypto.jws.InvalidJWSSignature,
}
CASES = [pytest.param(peer, alg, id=f"{peer}-{alg}") for peer in PEERS for alg in PEER_ALGS[peer]]


def _jwks(keys: Keys, name: str) -> tuple[Key, dict[str, Any], dict[str, Any]]:
    """(jwtkit private key, its private JWK, its public JWK)."""
    key: Key = getattr(keys, ALGS[name])
    private = key.to_jwk(private=True)
    public = private if key.is_symmetric else key.public().to_jwk()
    return key, private, public


@pytest.mark.parametrize(("peer", "name"), CASES)
def test_peer_token_verifies_in_jwtkit(peer: str, name: str, keys: Keys) -> None:
    alg = _alg(name)
    key, private, public = _jwks(keys, name)
    claims = _claims()
    with warnings.catch_warnings():
        _quiet_peers()
        token = PEERS[peer][0](claims, private, alg)
    verify_key = Key.from_jwk(public)
    assert (
        jwtkit.decode(token, verify_key, [alg], audience=AUD, issuer=ISS, required=["exp"])
        == claims
    )
    detailed = jwtkit.Verifier(
        jwtkit.KeySet([verify_key]), algorithms=[alg], audience=AUD, issuer=ISS
    ).verify_detailed(token)
    assert detailed.header["alg"] == alg
    assert detailed.header["kid"] == key.kid


@pytest.mark.parametrize(("peer", "name"), CASES)
def test_jwtkit_token_verifies_in_peer(peer: str, name: str, keys: Keys) -> None:
    alg = _alg(name)
    key, _, public = _jwks(keys, name)
    claims = _claims()
    token = jwtkit.encode(claims, key, alg)
    with warnings.catch_warnings():
        _quiet_peers()
        assert PEERS[peer][1](token, public, alg) == claims


@pytest.mark.parametrize(("peer", "name"), CASES)
def test_tampered_jwtkit_token_fails_in_peer(peer: str, name: str, keys: Keys) -> None:
    alg = _alg(name)
    key, _, public = _jwks(keys, name)
    token = jwtkit.encode({**_claims(), "sub": "alice"}, key, alg)
    forged = jwtkit.encode({**_claims(), "sub": "mallory"}, key, alg)
    spliced = forged.rsplit(".", 1)[0] + "." + token.rsplit(".", 1)[1]
    with warnings.catch_warnings(), pytest.raises(BAD_SIGNATURE[peer]):
        _quiet_peers()
        PEERS[peer][1](spliced, public, alg)


# -- JWK import/export across libraries ---------------------------------------------------------

KEY_NAMES = ["hs512", "rsa", "p256", "p384", "p521", "secp256k1", "ed25519", "ed448"]


def _peer_export(peer: str, jwk: dict[str, Any], private: bool) -> tuple[dict[str, Any], str]:
    """Import ``jwk`` in the peer and export it again: (JWK dict, the peer's thumbprint)."""
    if peer == "joserfc":
        key = jrfc_jwk.import_key(jwk)
        return dict(key.as_dict(private=private)), key.thumbprint()
    if peer == "jwcrypto":
        key = jwcrypto.jwk.JWK(**jwk)
        exported = json.loads(key.export(private_key=private))
        return exported, key.thumbprint()
    obj = pyjwt.PyJWK(jwk, algorithm="EdDSA" if jwk["kty"] == "OKP" else None)
    exported = json.loads(type(obj.Algorithm).to_jwk(obj.key)) if jwk["kty"] != "oct" else {}
    return exported, ""


@pytest.mark.parametrize("peer", ["joserfc", "jwcrypto"])
@pytest.mark.parametrize("name", KEY_NAMES)
def test_jwk_round_trip_through_peer(peer: str, name: str, keys: Keys) -> None:
    key: Key = getattr(keys, name)
    private_jwk = key.to_jwk(private=True)
    exported, peer_thumbprint = _peer_export(peer, private_jwk, private=True)
    again = Key.from_jwk(exported)
    assert again.is_private
    assert again.thumbprint() == key.thumbprint() == peer_thumbprint
    assert again.to_jwk(private=True) | {"kid": key.kid} == private_jwk | {"kid": key.kid}
    if not key.is_symmetric:
        public_exported, _ = _peer_export(peer, key.public().to_jwk(), private=False)
        public = Key.from_jwk(public_exported)
        assert not public.is_private
        assert public.thumbprint() == key.thumbprint()


@pytest.mark.parametrize("name", [n for n in KEY_NAMES if n != "hs512"])
def test_jwk_round_trip_through_pyjwt(name: str, keys: Keys) -> None:
    key: Key = getattr(keys, name)
    exported, _ = _peer_export("pyjwt", key.to_jwk(private=True), private=True)
    again = Key.from_jwk(exported)
    assert again.thumbprint() == key.thumbprint()
    assert again.is_private


@pytest.mark.parametrize(
    ("kty", "params"),
    [
        ("oct", {"size": 512}),
        ("RSA", {"size": 2048}),
        ("EC", {"crv": "P-256"}),
        ("EC", {"crv": "P-384"}),
        ("EC", {"crv": "P-521"}),
        ("EC", {"crv": "secp256k1"}),
        ("OKP", {"crv": "Ed25519"}),
        ("OKP", {"crv": "Ed448"}),
    ],
    ids=["oct", "RSA", "P-256", "P-384", "P-521", "secp256k1", "Ed25519", "Ed448"],
)
def test_peer_generated_keys_import_in_jwtkit(kty: str, params: dict[str, Any]) -> None:
    for generated in (
        jrfc_jwk.JWKRegistry.generate_key(kty, params.get("crv") or params["size"], private=True),
        jwcrypto.jwk.JWK.generate(kty=kty, **params),
    ):
        if isinstance(generated, jwcrypto.jwk.JWK):
            private_jwk = json.loads(generated.export(private_key=True))
            thumbprint = generated.thumbprint()
        else:
            private_jwk = dict(generated.as_dict(private=True))
            thumbprint = generated.thumbprint()
        key = Key.from_jwk(private_jwk)
        assert key.thumbprint() == thumbprint
        assert key.kty == kty
        token = jwtkit.encode({"sub": "x"}, key)
        verify_with = key if key.is_symmetric else key.public()
        assert jwtkit.decode(token, verify_with, [key.default_alg]) == {"sub": "x"}


def test_peer_jwks_imports_as_keyset(keys: Keys) -> None:
    peer_set = jrfc_jwk.KeySet.import_key_set(
        {"keys": [keys.rsa.public().to_jwk(), keys.p256.public().to_jwk()]}
    )
    keyset = jwtkit.KeySet.from_jwks(peer_set.as_dict(private=False))
    assert {k.kid for k in keyset} == {keys.rsa.kid, keys.p256.kid}
    token = jwcrypto_sign({"sub": "x"}, keys.p256.to_jwk(private=True), "ES256")
    assert jwtkit.decode(token, keyset, ["ES256", "RS256"]) == {"sub": "x"}
