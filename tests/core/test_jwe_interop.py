"""JWE interoperability with jwcrypto and joserfc, both directions, for every alg x enc pair each
supports (neither has RSA-OAEP-384/512). Keys cross as JWKs; ECDH-ES also on every curve.

RSA1_5 runs one way only: the peers encrypt it, jwtkit decrypts it behind ``allow_rsa1_5``
(jwtkit never produces it).
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from typing import Any

import jwcrypto.jwe
import jwcrypto.jwk
import pytest
from joserfc import jwe as jf_jwe
from joserfc.jwk import OctKey, import_key

from jwtkit import Key, jwe
from jwtkit.jwa import CONTENT_ENCRYPTION, KEY_MANAGEMENT

from ._jwe_helpers import JWEKeys, make_keys

PASSWORD = "interop password"
PLAINTEXT = '{"sub":"alice","note":"ünïcødé"}'.encode()
ENCS = sorted(CONTENT_ENCRYPTION)
PEER_ALGS = sorted(a for a in KEY_MANAGEMENT if a not in ("RSA-OAEP-384", "RSA-OAEP-512", "RSA1_5"))
CURVES = ("P-256", "P-384", "P-521", "X25519", "X448")


@pytest.fixture(scope="module")
def jk() -> JWEKeys:
    return make_keys()


def _key(jk: JWEKeys, alg: str, enc: str, crv: str = "P-256") -> Key:
    """The private key (or secret, or password) for ``alg``."""
    family = KEY_MANAGEMENT[alg].family
    if family in ("RSA-OAEP", "RSA1_5"):
        return jk.rsa
    if family in ("AESKW", "AESGCMKW"):
        return (
            jk.a128kw
            if KEY_MANAGEMENT[alg].kek_bits == 128
            else _sized(KEY_MANAGEMENT[alg].kek_bits)
        )
    if family == "dir":
        return _sized(CONTENT_ENCRYPTION[enc].cek_bytes * 8)
    if family == "PBES2":
        return Key.from_secret(PASSWORD)
    return _CURVE_KEYS[crv]


def _sized(bits: int) -> Key:
    return Key.from_secret(bytes(range(1, bits // 8 + 1)))


_CURVE_KEYS = {crv: Key.generate("EC" if crv.startswith("P") else "OKP", crv=crv) for crv in CURVES}


def _public(key: Key) -> Key:
    return key if key.is_symmetric else key.public()


# -- the peers ---------------------------------------------------------------------------------


def _jc_key(key: Key, alg: str) -> jwcrypto.jwk.JWK:
    if KEY_MANAGEMENT[alg].family == "PBES2":
        return jwcrypto.jwk.JWK.from_password(PASSWORD)
    return jwcrypto.jwk.JWK(**key.to_jwk(private=key.is_private))


def jc_encrypt(key: Key, alg: str, enc: str) -> str:
    token = jwcrypto.jwe.JWE(PLAINTEXT, protected=json.dumps({"alg": alg, "enc": enc}))
    token.allowed_algs = [alg, enc]
    token.add_recipient(_jc_key(_public(key), alg))
    return token.serialize(compact=True)  # type: ignore[no-any-return]


def jc_decrypt(token: str, key: Key, alg: str, enc: str) -> bytes:
    obj = jwcrypto.jwe.JWE()
    obj.allowed_algs = [alg, enc]
    obj.deserialize(token, key=_jc_key(key, alg))
    return obj.payload  # type: ignore[no-any-return]


def _jf_key(key: Key, alg: str) -> Any:
    if KEY_MANAGEMENT[alg].family == "PBES2":
        return OctKey.import_key(PASSWORD)
    return import_key(key.to_jwk(private=key.is_private))


def jf_encrypt(key: Key, alg: str, enc: str) -> str:
    registry = jf_jwe.JWERegistry(algorithms=[alg, enc])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = jf_jwe.encrypt_compact(
            {"alg": alg, "enc": enc}, PLAINTEXT, _jf_key(_public(key), alg), registry=registry
        )
    return out if isinstance(out, str) else out.decode("ascii")


def jf_decrypt(token: str, key: Key, alg: str, enc: str) -> bytes:
    registry = jf_jwe.JWERegistry(algorithms=[alg, enc])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return jf_jwe.decrypt_compact(token, _jf_key(key, alg), registry=registry).plaintext or b""


PEERS: dict[str, tuple[Callable[..., str], Callable[..., bytes]]] = {
    "jwcrypto": (jc_encrypt, jc_decrypt),
    "joserfc": (jf_encrypt, jf_decrypt),
}

CASES = [
    pytest.param(peer, alg, enc, "P-256", id=f"{peer}-{alg}-{enc}")
    for peer in PEERS
    for alg in PEER_ALGS
    for enc in ENCS
] + [
    pytest.param(peer, alg, "A256GCM", crv, id=f"{peer}-{alg}-{crv}")
    for peer in PEERS
    for alg in ("ECDH-ES", "ECDH-ES+A256KW")
    for crv in CURVES
    if crv != "P-256"
]


@pytest.mark.parametrize(("peer", "alg", "enc", "crv"), CASES)
def test_peer_encrypts_jwtkit_decrypts(peer: str, alg: str, enc: str, crv: str) -> None:
    key = _key(make_keys_once(), alg, enc, crv)
    token = PEERS[peer][0](key, alg, enc)
    result = jwe.decrypt_detailed(token, key, [alg], [enc])
    assert result.plaintext == PLAINTEXT
    assert result.header["alg"] == alg and result.header["enc"] == enc


@pytest.mark.parametrize(("peer", "alg", "enc", "crv"), CASES)
def test_jwtkit_encrypts_peer_decrypts(peer: str, alg: str, enc: str, crv: str) -> None:
    key = _key(make_keys_once(), alg, enc, crv)
    token = jwe.encrypt(PLAINTEXT, _public(key), alg, enc)
    assert PEERS[peer][1](token, key, alg, enc) == PLAINTEXT


@pytest.mark.parametrize("peer", sorted(PEERS))
@pytest.mark.parametrize("enc", ["A128CBC-HS256", "A256GCM"])
def test_rsa1_5_from_a_peer_decrypts_only_with_the_opt_in(peer: str, enc: str) -> None:
    key = make_keys_once().rsa
    token = PEERS[peer][0](key, "RSA1_5", enc)
    assert jwe.decrypt(token, key, ["RSA1_5"], [enc], allow_rsa1_5=True) == PLAINTEXT


def test_general_json_to_two_recipients_decrypts_in_jwcrypto(jk: JWEKeys) -> None:
    token = jwe.encrypt_json(
        PLAINTEXT,
        [(jk.rsa.public(), "RSA-OAEP-256"), (jk.p256.public(), "ECDH-ES+A128KW")],
        "A256GCM",
        aad=b"aad",
        unprotected={"x-shared": 1},
    )
    for key, alg in ((jk.rsa, "RSA-OAEP-256"), (jk.p256, "ECDH-ES+A128KW")):
        obj = jwcrypto.jwe.JWE()
        obj.allowed_algs = [alg, "A256GCM"]
        obj.deserialize(json.dumps(token), key=jwcrypto.jwk.JWK(**key.to_jwk(private=True)))
        assert obj.payload == PLAINTEXT


_ONCE: list[JWEKeys] = []


def make_keys_once() -> JWEKeys:
    if not _ONCE:
        _ONCE.append(make_keys())
    return _ONCE[0]
