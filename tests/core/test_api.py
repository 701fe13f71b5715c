"""The public API of the JOSE core: imports, keys and key sets, JWS serializations, Verifier.

Complements test_attacks.py (hostile tokens) and the vector runners (standard examples).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

import jwtkit
from jwtkit import Key, KeySet, jws
from jwtkit.errors import JWTKitError, KeyNotFoundError

from ._helpers import AUD, CLAIMS, ISS, NOW, b64u, forge
from .conftest import Keys

ENC = serialization.Encoding
PUB = serialization.PublicFormat
PRIV = serialization.PrivateFormat
NOENC = serialization.NoEncryption()

ASYMMETRIC = ["rsa", "p256", "p384", "p521", "secp256k1", "ed25519", "ed448"]
ALL_KEYS = ["hs256", "hs384", "hs512", *ASYMMETRIC]


def code_of(excinfo: pytest.ExceptionInfo[JWTKitError]) -> str:
    return excinfo.value.code


# -- import hygiene and the public namespace ---------------------------------------------------

FORBIDDEN_MODULES = (
    "httpx",
    "starlette",
    "fastapi",
    "sqlalchemy",
    "redis",
    "flask",
    "uvicorn",
    "typer",
    "rich",
    "pydantic",
    "psycopg",
    "alembic",
    "orjson",
    "anyio",
)


def test_import_loads_no_http_sql_redis_or_framework_module() -> None:
    code = (
        "import sys, json, jwtkit\n"
        "k = jwtkit.Key.generate('oct')\n"
        "jwtkit.decode(jwtkit.encode({'a': 1}, k), k, ['HS256'])\n"
        "jwtkit.jws.verify(jwtkit.jws.sign(b'x', k), k, ['HS256'])\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    loaded = set(json.loads(out.stdout))
    roots = {name.split(".")[0] for name in loaded}
    assert not roots & set(FORBIDDEN_MODULES), sorted(roots & set(FORBIDDEN_MODULES))
    jwtkit_modules = {name for name in loaded if name.startswith("jwtkit")}
    assert "jwtkit.jwe" not in jwtkit_modules  # JWS-only use never loads JWE (DESIGN §1)
    assert jwtkit_modules <= {
        "jwtkit",
        "jwtkit._b64",
        "jwtkit._json",
        "jwtkit._pyjwt",
        "jwtkit.errors",
        "jwtkit.exceptions",
        "jwtkit.jwa",
        "jwtkit.jwk",
        "jwtkit.jws",
        "jwtkit.jwt",
    }


def test_all_is_sorted_and_complete() -> None:
    assert jwtkit.__all__ == sorted(jwtkit.__all__)
    for name in jwtkit.__all__:
        assert hasattr(jwtkit, name), name
    for name in (
        "encode",
        "decode",
        "Verifier",
        "Key",
        "KeySet",
        "decode_unverified",
        "get_unverified_header",
        "errors",
        "jws",
        "JWTKitError",
    ):
        assert name in jwtkit.__all__
    assert jws.__all__ == sorted(jws.__all__)


def test_every_error_code_is_distinct_and_documented() -> None:
    from jwtkit import errors

    classes = [getattr(errors, name) for name in errors.__all__]
    assert all(issubclass(cls, errors.JWTKitError) for cls in classes)
    codes = {cls.code for cls in classes if cls not in (errors.ClaimError,)}
    assert {
        "malformed",
        "token_too_large",
        "unsupported_algorithm",
        "alg_not_allowed",
        "unsupported_crit",
        "invalid_key",
        "weak_key",
        "key_mismatch",
        "key_not_found",
        "invalid_signature",
        "invalid_typ",
        "invalid_claim",
        "missing_claim",
        "expired",
        "not_yet_valid",
        "iat_in_future",
        "invalid_audience",
        "invalid_issuer",
    } <= codes


# -- keys: JWK, PEM, DER, generate ------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_KEYS)
def test_jwk_round_trip(name: str, keys: Keys) -> None:
    key: Key = getattr(keys, name)
    private = key.to_jwk(private=True)
    again = Key.from_jwk(private)
    assert again.to_jwk(private=True) == private
    assert again.thumbprint() == key.thumbprint()
    assert Key.from_jwk(json.dumps(private).encode()).to_jwk(private=True) == private
    if key.is_symmetric:
        with pytest.raises(JWTKitError) as excinfo:
            key.to_jwk()
        assert code_of(excinfo) == "key_mismatch"
        with pytest.raises(JWTKitError):
            key.public()
        return
    public = key.public()
    assert not public.is_private and public.public() is public
    assert public.to_jwk() == Key.from_jwk(public.to_jwk()).to_jwk()
    assert set(private) - set(public.to_jwk()) >= {"d"}
    with pytest.raises(JWTKitError) as excinfo:
        public.to_jwk(private=True)
    assert code_of(excinfo) == "key_mismatch"


@pytest.mark.parametrize("name", ASYMMETRIC)
def test_pem_and_der_forms(name: str, keys: Keys) -> None:
    key: Key = getattr(keys, name)
    raw = key.raw
    pub = raw.public_key()
    forms: list[tuple[str, bytes, bool]] = [
        ("spki-pem", pub.public_bytes(ENC.PEM, PUB.SubjectPublicKeyInfo), False),
        ("spki-der", pub.public_bytes(ENC.DER, PUB.SubjectPublicKeyInfo), False),
        ("pkcs8-pem", raw.private_bytes(ENC.PEM, PRIV.PKCS8, NOENC), True),
        ("pkcs8-der", raw.private_bytes(ENC.DER, PRIV.PKCS8, NOENC), True),
    ]
    if key.kty in ("RSA", "EC"):  # PKCS#1 (RSA) / SEC1 (EC) "traditional" private keys
        forms += [
            ("traditional-pem", raw.private_bytes(ENC.PEM, PRIV.TraditionalOpenSSL, NOENC), True),
            ("traditional-der", raw.private_bytes(ENC.DER, PRIV.TraditionalOpenSSL, NOENC), True),
        ]
    if key.kty == "RSA":
        forms += [
            ("pkcs1-pem", pub.public_bytes(ENC.PEM, PUB.PKCS1), False),
            ("pkcs1-der", pub.public_bytes(ENC.DER, PUB.PKCS1), False),
            ("certificate-pem", keys.cert_pem, False),
            ("certificate-der", keys.cert_der, False),
        ]
    for label, data, private in forms:
        loaded = Key.from_pem(data) if b"-----" in data else Key.from_der(data)
        assert loaded.is_private is private, label
        assert loaded.thumbprint() == key.thumbprint(), label
    as_str = Key.from_pem(forms[0][1].decode(), kid="x", alg=key.default_alg)
    assert as_str.kid == "x" and as_str.alg == key.default_alg
    assert Key.from_pem(key.to_pem(private=True)).thumbprint() == key.thumbprint()
    assert key.to_pem() == key.public().to_pem() == forms[0][1]
    encrypted = key.to_pem(private=True, password=b"pw")
    assert b"ENCRYPTED" in encrypted
    assert Key.from_pem(encrypted, b"pw").thumbprint() == key.thumbprint()
    for password in (None, b"wrong"):
        with pytest.raises(JWTKitError) as excinfo:
            Key.from_pem(encrypted, password)
        assert code_of(excinfo) == "invalid_key"
    with pytest.raises(JWTKitError) as excinfo:
        key.public().to_pem(private=True)
    assert code_of(excinfo) == "key_mismatch"


@pytest.mark.parametrize(
    ("loader", "data"),
    [
        ("pem", b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
        ("pem", b"not a key"),
        ("pem", "-----BEGIN PRIVATE KEY-----\n!!\n-----END PRIVATE KEY-----"),
        ("pem", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        ("der", b"\x30\x03\x02\x01\x01"),
        ("der", b""),
    ],
    ids=[
        "pem-truncated",
        "pem-garbage",
        "pem-bad-base64",
        "pem-bad-cert",
        "der-garbage",
        "der-empty",
    ],
)
def test_unloadable_key_material(loader: str, data: Any) -> None:
    with pytest.raises(JWTKitError) as excinfo:
        Key.from_pem(data) if loader == "pem" else Key.from_der(data)
    assert code_of(excinfo) == "invalid_key"


def test_hmac_secrets_have_no_pem(keys: Keys) -> None:
    with pytest.raises(JWTKitError) as excinfo:
        keys.hs256.to_pem()
    assert code_of(excinfo) == "key_mismatch"


def test_unsupported_curve_is_refused() -> None:
    with pytest.raises(JWTKitError) as excinfo:
        Key.from_cryptography(ec.generate_private_key(ec.SECP224R1()))
    assert code_of(excinfo) == "invalid_key"
    with pytest.raises(JWTKitError) as excinfo:
        Key.from_cryptography(b"secret")
    assert code_of(excinfo) == "invalid_key"
    with pytest.raises(JWTKitError):
        Key.from_cryptography(object())


@pytest.mark.parametrize(
    ("args", "kty", "crv", "size", "alg"),
    [
        ({}, "EC", "P-256", 256, "ES256"),
        ({"kty": "EC", "crv": "P-384"}, "EC", "P-384", 384, "ES384"),
        ({"kty": "EC", "crv": "P-521"}, "EC", "P-521", 521, "ES512"),
        ({"kty": "EC", "crv": "secp256k1"}, "EC", "secp256k1", 256, "ES256K"),
        ({"kty": "RSA"}, "RSA", None, 2048, "RS256"),
        ({"kty": "OKP"}, "OKP", "Ed25519", 256, "EdDSA"),
        ({"kty": "OKP", "crv": "Ed448"}, "OKP", "Ed448", 456, "EdDSA"),
        ({"kty": "oct"}, "oct", None, 256, "HS256"),
        ({"kty": "oct", "alg": "HS512"}, "oct", None, 512, "HS512"),
        ({"alg": "ES384"}, "EC", "P-384", 384, "ES384"),
        ({"alg": "PS256"}, "RSA", None, 2048, "PS256"),
        ({"alg": "Ed448"}, "OKP", "Ed448", 456, "Ed448"),
    ],
    ids=[
        "default",
        "P-384",
        "P-521",
        "secp256k1",
        "RSA",
        "Ed25519",
        "Ed448",
        "oct",
        "oct-HS512",
        "alg-ES384",
        "alg-PS256",
        "alg-Ed448",
    ],
)
def test_generate(args: dict[str, Any], kty: str, crv: str | None, size: int, alg: str) -> None:
    key = Key.generate(**args)
    assert (key.kty, key.crv, key.size, key.default_alg) == (kty, crv, size, alg)
    assert key.is_private
    if kty != "oct":
        assert key.kid == key.thumbprint()
    token = jwtkit.encode({"sub": "s"}, key)
    verify_key = key if key.is_symmetric else key.public()
    assert jwtkit.decode(token, verify_key, [alg]) == {"sub": "s"}


@pytest.mark.parametrize(
    "args",
    [
        {"kty": "DSA"},
        {"kty": "EC", "crv": "P-192"},
        {"kty": "OKP", "crv": "Curve1174"},
        {"kty": "RSA", "size": 512},
        {"kty": "RSA", "size": 2047},
        {"kty": "oct", "size": 7},
        {"kty": "oct", "size": -8},
    ],
    ids=["DSA", "P-192", "OKP-unknown", "RSA-512", "RSA-odd", "oct-7-bits", "oct-negative"],
)
def test_generate_refuses(args: dict[str, Any]) -> None:
    with pytest.raises(JWTKitError) as excinfo:
        Key.generate(**args)
    assert code_of(excinfo) == "invalid_key"


def test_thumbprint_rfc7638_example() -> None:
    """RFC 7638 §3.1 example key and its thumbprint; RFC 9278 §3 gives the URI."""
    jwk = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6t"
        "Soc_BJ"
        "ECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FD"
        "W2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4v"
        "MQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29",
    }
    key = Key.from_jwk(jwk)
    assert key.thumbprint() == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    assert key.thumbprint_uri() == (
        "urn:ietf:params:oauth:jwk-thumbprint:sha-256:NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    )
    assert key.thumbprint_uri("sha384").startswith("urn:ietf:params:oauth:jwk-thumbprint:sha-384:")
    assert len(key.thumbprint("sha512")) == 86
    with pytest.raises(JWTKitError) as excinfo:
        key.thumbprint_uri("md5")
    assert code_of(excinfo) == "invalid_key"


def test_thumbprint_ignores_optional_members(keys: Keys) -> None:
    base = keys.p256.public()
    assert base.with_params(kid="other", alg="ES256", use="sig").thumbprint() == base.thumbprint()
    assert keys.hs256.thumbprint() == Key.from_secret(bytes(range(32))).thumbprint()


@pytest.mark.parametrize(
    ("jwk", "code"),
    [
        ({"kty": "RSA", "n": "AQAB"}, "invalid_key"),
        ({"kty": "RSA", "n": 1, "e": "AQAB"}, "invalid_key"),
        ({"kty": "RSA", "n": "AQAB=", "e": "AQAB"}, "invalid_key"),
        ({"kty": "RSA", "n": "", "e": "AQAB"}, "invalid_key"),
        ({"kty": "EC", "crv": "P-256", "x": "AA", "y": "AA"}, "invalid_key"),
        ({"kty": "EC", "crv": "P-224", "x": "AA", "y": "AA"}, "invalid_key"),
        ({"kty": "OKP", "crv": "X25519", "x": b64u(b"\x00" * 32)}, "invalid_key"),
        ({"kty": "OKP", "crv": "Ed25519", "x": b64u(b"\x00" * 31)}, "invalid_key"),
        ({"kty": "oct", "k": ""}, "invalid_key"),
        ({"kty": "oct"}, "invalid_key"),
        ({"kty": "DSA"}, "invalid_key"),
        ({"k": "AAAA"}, "invalid_key"),
        ({"kty": "oct", "k": "AAAA", "use": "signing"}, "invalid_key"),
        ({"kty": "oct", "k": "AAAA", "key_ops": "sign"}, "invalid_key"),
        ({"kty": "oct", "k": "AAAA", "key_ops": ["sign", "sign"]}, "invalid_key"),
        ({"kty": "oct", "k": "AAAA", "key_ops": ["fly"]}, "invalid_key"),
        ({"kty": "oct", "k": "AAAA", "alg": "A128XW"}, "unsupported_algorithm"),
        ({"kty": "oct", "k": "AAAA", "alg": "RS256"}, "key_mismatch"),
        ({"kty": "oct", "k": "AAAA", "kid": 7}, "invalid_key"),
    ],
    ids=[
        "rsa-no-e",
        "rsa-n-number",
        "rsa-padded",
        "rsa-n-empty",
        "ec-short",
        "ec-p224",
        "okp-x25519",
        "okp-short",
        "oct-empty",
        "oct-no-k",
        "kty-dsa",
        "no-kty",
        "use-unknown",
        "key-ops-string",
        "key-ops-duplicate",
        "key-ops-unknown",
        "alg-unknown",
        "alg-wrong-kty",
        "kid-number",
    ],
)
def test_invalid_jwk(jwk: dict[str, Any], code: str) -> None:
    with pytest.raises(JWTKitError) as excinfo:
        Key.from_jwk(jwk)
    assert code_of(excinfo) == code


def test_invalid_jwk_private_members(keys: Keys) -> None:
    rsa = keys.rsa.to_jwk(private=True)
    for broken in (
        {k: v for k, v in rsa.items() if k != "d"},  # CRT members without d
        {k: v for k, v in rsa.items() if k != "qi"},  # some CRT members
        {**rsa, "oth": []},
        {**rsa, "d": keys.rsa_other.to_jwk(private=True)["d"]},
    ):
        with pytest.raises(JWTKitError) as excinfo:
            Key.from_jwk(broken)
        assert code_of(excinfo) == "invalid_key"
    only_d = {k: rsa[k] for k in ("kty", "n", "e", "d")}
    assert Key.from_jwk(only_d).thumbprint() == keys.rsa.thumbprint()  # primes recovered
    ed = keys.ed25519.to_jwk(private=True)
    for broken in (
        {**ed, "d": keys.ed448.to_jwk(private=True)["d"]},
        {**ed, "d": b64u(b"\x01" * 32)},
    ):
        with pytest.raises(JWTKitError) as excinfo:
            Key.from_jwk(broken)
        assert code_of(excinfo) == "invalid_key"
    ec_jwk = keys.p256.to_jwk(private=True)
    for broken in ({**ec_jwk, "d": b64u(b"\x01" * 31)}, {**ec_jwk, "d": b64u(b"\x01" * 32)}):
        with pytest.raises(JWTKitError) as excinfo:
            Key.from_jwk(broken)
        assert code_of(excinfo) == "invalid_key"
    for text in ("[]", "{", b"\xff", '{"kty":"oct","k":"AAAA","k":"BBBB"}'):
        with pytest.raises(JWTKitError) as excinfo:
            Key.from_jwk(text)
        assert code_of(excinfo) == "invalid_key"
    with pytest.raises(JWTKitError):
        Key.from_jwk(["kty"])  # type: ignore[arg-type]


def test_key_constructor_is_private() -> None:
    with pytest.raises(TypeError):
        Key(b"x" * 32)
    with pytest.raises(TypeError):
        Key.from_secret(b"x" * 32).with_params(colour="red")


# -- secrets never leak -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ALL_KEYS)
def test_secrets_never_in_repr_or_str(name: str, keys: Keys) -> None:
    key: Key = getattr(keys, name)
    private = key.to_jwk(private=True)
    secret_values = [v for m, v in private.items() if m in ("d", "p", "q", "dp", "dq", "qi", "k")]
    raw_secret = key.raw if key.is_symmetric else None
    verifier = jwtkit.Verifier(
        key if key.is_symmetric else key.public(), algorithms=[key.default_alg]
    )
    texts = [
        repr(key),
        str(key),
        repr(KeySet([key])),
        str(KeySet([key])),
        repr(verifier),
        repr(key.with_params(kid="x")),
        f"{key}",
        f"{key!r}",
    ]
    for text in texts:
        for value in secret_values:
            assert value not in text
            assert value[:12] not in text
        if raw_secret is not None:
            assert raw_secret.hex() not in text
            assert repr(raw_secret) not in text
    assert "secret" in repr(key) or "private" in repr(key)


def test_secrets_never_in_error_messages(keys: Keys) -> None:
    secret = b"correct horse battery staple 0123456789"
    token = forge({"alg": "HS256"}, key=b"another secret that is long enough!!")
    messages = []
    for call in (
        lambda: jwtkit.decode(token, secret, ["HS256"]),
        lambda: jwtkit.decode(token, secret, ["HS512"]),
        lambda: jwtkit.decode(token, secret[:8], ["HS256"]),
        lambda: jwtkit.encode({}, secret[:8], "HS256"),
        lambda: Key.from_secret(secret, alg="RS256"),
        lambda: jwtkit.decode(token, Key.from_secret(secret).with_params(use="enc"), ["HS256"]),
        lambda: jwtkit.decode(token + "x", secret, ["HS256"]),
    ):
        with pytest.raises(JWTKitError) as excinfo:
            call()
        messages += [str(excinfo.value), repr(excinfo.value)]
    ed = keys.ed25519.to_jwk(private=True)
    rsa = keys.rsa.to_jwk(private=True)
    for bad, private_value in (
        ({**ed, "d": b64u(b"\x07" * 32)}, b64u(b"\x07" * 32)),
        (
            {**rsa, "d": keys.rsa_other.to_jwk(private=True)["d"]},
            keys.rsa_other.to_jwk(private=True)["d"],
        ),
        ({"kty": "oct", "k": "c2VjcmV0c2VjcmV0c2VjcmV0=", "alg": "HS256"}, "c2VjcmV0c2VjcmV0"),
    ):
        with pytest.raises(JWTKitError) as excinfo:
            Key.from_jwk(bad)
        assert private_value[:12] not in str(excinfo.value)
    for text in messages:
        assert secret.decode() not in text
        assert secret.decode()[:8] not in text
        assert secret.hex()[:16] not in text


# -- key sets -----------------------------------------------------------------------------------


def test_keyset_lookup_and_export(keys: Keys) -> None:
    members = [keys.rsa.public(), keys.p256.public(), keys.ed25519.public()]
    keyset = KeySet(members)
    assert len(keyset) == 3 and list(keyset) == members and keyset.keys == tuple(members)
    assert keyset.get("p256-1") is members[1] and keyset.get("nope") is None
    assert keyset.resolve_key({"alg": "ES256", "kid": "p256-1"}) is members[1]
    assert keyset.resolve_key({"alg": "EdDSA"}) is members[2]
    jwks = keyset.to_jwks()
    assert [k["kid"] for k in jwks["keys"]] == ["rsa-1", "p256-1", "ed25519"]
    again = KeySet.from_jwks(json.dumps(jwks))
    assert [k.thumbprint() for k in again] == [k.thumbprint() for k in keyset]
    with pytest.raises(KeyNotFoundError):
        keyset.resolve_key({"alg": "ES256", "kid": "rsa-1"})
    with pytest.raises(KeyNotFoundError):
        keyset.resolve_key({"alg": "HS256"})
    private_set = KeySet([keys.hs256, keys.p256])
    assert private_set.to_jwks()["keys"] == [keys.p256.public().to_jwk()]  # secrets left out
    assert len(private_set.to_jwks(private=True)["keys"]) == 2
    assert "keys" in repr(keyset) or "KeySet" in repr(keyset)


def test_keyset_ambiguity_is_refused(keys: Keys) -> None:
    same_kid = keys.p256_other.public().with_params(kid="p256-1")
    with pytest.raises(JWTKitError) as excinfo:
        KeySet([keys.p256.public(), same_kid])
    assert code_of(excinfo) == "invalid_key"
    jwks = {"keys": [keys.p256.public().to_jwk(), same_kid.to_jwk()]}
    with pytest.raises(JWTKitError) as excinfo:
        KeySet.from_jwks(jwks)
    assert code_of(excinfo) == "invalid_key"
    # No kid and candidates of different kinds: refuse to guess.
    mixed = KeySet(
        [keys.ed25519.public().with_params(kid=None), keys.ed448.public().with_params(kid=None)]
    )
    token = forge({"alg": "EdDSA"}, {"sub": "x"}, key=keys.ed25519)
    with pytest.raises(JWTKitError) as excinfo:
        jwtkit.decode(token, mixed, ["EdDSA"])
    assert code_of(excinfo) == "key_mismatch"
    with pytest.raises(JWTKitError) as excinfo:
        mixed.resolve_key({"alg": "EdDSA"})
    assert code_of(excinfo) == "key_mismatch"
    # No kid, several keys of the same kind: each is tried, the signer's verifies.
    same_kind = KeySet([keys.p256.public(), keys.p256_other.public()])
    token = forge({"alg": "ES256"}, {"sub": "x"}, key=keys.p256_other)
    detailed = jwtkit.Verifier(same_kind, algorithms=["ES256"]).verify_detailed(token)
    assert detailed.key is same_kind.keys[1]
    with pytest.raises(JWTKitError) as excinfo:
        same_kind.resolve_key({"alg": "ES256"})
    assert code_of(excinfo) == "key_mismatch"
    # One kid shared by keys of different types is allowed: alg picks.
    shared = KeySet(
        [keys.rsa.public().with_params(kid="k"), keys.p256.public().with_params(kid="k")]
    )
    assert shared.resolve_key({"alg": "RS256", "kid": "k"}).kty == "RSA"
    assert jwtkit.decode(
        forge({"alg": "ES256", "kid": "k"}, {"sub": "x"}, key=keys.p256), shared, ["ES256", "RS256"]
    ) == {"sub": "x"}


@pytest.mark.parametrize(
    "jwks",
    [[], {"keys": {}}, {"kid": "x"}, "[]", '{"keys": "x"}', b"\xff", {"keys": [{"kty": "XX"}]}],
    ids=[
        "list",
        "keys-object",
        "no-keys",
        "json-list",
        "json-keys-string",
        "bad-utf8",
        "bad-member",
    ],
)
def test_keyset_refuses_malformed_jwks(jwks: Any) -> None:
    with pytest.raises(JWTKitError) as excinfo:
        KeySet.from_jwks(jwks)
    assert code_of(excinfo) == "invalid_key"


def test_keyset_skip_unusable_and_mixing(keys: Keys) -> None:
    members = [
        keys.p256.public().to_jwk(),
        {"kty": "OKP", "crv": "X25519", "x": b64u(b"1" * 32)},
        {"kty": "oct", "k": "AAAA", "alg": "A512GCM", "use": "enc"},
        {"kty": "XYZ"},
    ]
    keyset = KeySet.from_jwks({"keys": members}, skip_unusable=True)
    # X25519 is an ECDH-ES (JWE) key since JWE landed; A512GCM is no algorithm at all.
    assert [(k.kid, k.crv) for k in keyset] == [("p256-1", "P-256"), (None, "X25519")]
    with pytest.raises(JWTKitError):
        KeySet.from_jwks(
            {"keys": [*members[:1], {"kty": "EC", "crv": "P-256"}]}, skip_unusable=True
        )  # malformed members of a known type still fail
    # A local set is trusted and may mix kinds, each key bound to its type (issue 13 item 21).
    mixed = KeySet.from_jwks(
        {"keys": [keys.p256.public().to_jwk(), keys.hs256.to_jwk(private=True)]}
    )
    assert [k.kty for k in mixed] == ["EC", "oct"]
    with pytest.raises(JWTKitError) as excinfo:
        KeySet([keys.p256, "not a key"])  # type: ignore[list-item]
    assert code_of(excinfo) == "invalid_key"


# -- JWK alg / use / key_ops are enforced (RFC 7517 §4.2-§4.4) --------------------------------


def test_key_parameters_are_enforced(keys: Keys) -> None:
    token = forge({"alg": "ES256"}, {"sub": "x"}, key=keys.p256)
    public = keys.p256.public()
    cases: list[tuple[Key, str | None]] = [
        (public, None),
        (public.with_params(use="sig"), None),
        (public.with_params(use="enc"), "key_mismatch"),
        (public.with_params(key_ops=["verify"]), None),
        (public.with_params(key_ops=["sign"]), "key_mismatch"),
        (public.with_params(key_ops=[]), "key_mismatch"),
        (public.with_params(alg="ES256"), None),
    ]
    for key, code in cases:
        if code is None:
            assert jwtkit.decode(token, key, ["ES256"]) == {"sub": "x"}
        else:
            with pytest.raises(JWTKitError) as excinfo:
                jwtkit.decode(token, key, ["ES256"])
            assert code_of(excinfo) == code, key
    rsa_token = forge({"alg": "PS256"}, {"sub": "x"}, key=keys.rsa)
    with pytest.raises(JWTKitError) as excinfo:
        jwtkit.decode(rsa_token, keys.rsa.public().with_params(alg="RS256"), ["PS256", "RS256"])
    assert code_of(excinfo) == "key_mismatch"
    with pytest.raises(JWTKitError) as excinfo:
        keys.rsa.with_params(alg="ES256")
    assert code_of(excinfo) == "key_mismatch"
    # signing
    assert jwtkit.encode({"a": 1}, keys.p256.with_params(key_ops=["sign"]), "ES256")
    for key in (
        keys.p256.with_params(key_ops=["verify"]),
        keys.p256.with_params(use="enc"),
        keys.p256.public(),
    ):
        with pytest.raises(JWTKitError) as excinfo:
            jwtkit.encode({"a": 1}, key, "ES256")
        assert code_of(excinfo) == "key_mismatch"
    signing = keys.p256.with_params(key_ops=["sign", "verify"])
    assert signing.public().key_ops == ("verify",)
    assert signing.public().to_jwk()["key_ops"] == ["verify"]
    assert "sign" not in signing.to_jwk()["key_ops"]
    # a bound alg is the default; "EdDSA" and "Ed25519" name the same thing (RFC 9864)
    bound = keys.rsa.with_params(alg="PS384")
    assert jwtkit.get_unverified_header(jwtkit.encode({}, bound))["alg"] == "PS384"
    ed = keys.ed25519.with_params(alg="EdDSA")
    assert jwtkit.decode(jwtkit.encode({}, keys.ed25519, "Ed25519"), ed.public(), ["Ed25519"]) == {}
    assert not ed.allows("Ed448") and ed.allows("Ed25519") and not ed.allows("XYZ")


# -- JWS serializations -------------------------------------------------------------------------


def test_jws_compact_round_trips(keys: Keys) -> None:
    for payload in (b"", b"hello", bytes(range(256)), "text \u2603"):
        token = jws.sign(payload, keys.p256)
        expected = payload.encode() if isinstance(payload, str) else payload
        assert jws.verify(token, keys.p256.public(), ["ES256"]) == expected
        assert jws.verify(token.encode(), keys.p256.public(), ["ES256"]) == expected
    detached = jws.sign(b"body", keys.hs256, detached=True)
    assert detached.split(".")[1] == ""
    assert jws.verify(detached, keys.hs256, ["HS256"], detached_payload=b"body") == b"body"
    unencoded = jws.sign("$.02 not base64", keys.hs256, b64=False, detached=True)
    assert (
        jws.verify(unencoded, keys.hs256, ["HS256"], detached_payload=b"$.02 not base64")
        == b"$.02 not base64"
    )
    compact_unencoded = jws.sign("no dots here", keys.hs256, b64=False)
    assert compact_unencoded.split(".")[1] == "no dots here"
    assert jws.verify(compact_unencoded, keys.hs256, ["HS256"]) == b"no dots here"
    for bad in ("a.b", b"\xff"):
        with pytest.raises(JWTKitError) as excinfo:
            jws.sign(bad, keys.hs256, b64=False)
        assert code_of(excinfo) == "malformed"
    with pytest.raises(JWTKitError) as excinfo:
        jws.verify(
            detached.replace("..", ".Ym9keQ."), keys.hs256, ["HS256"], detached_payload=b"body"
        )
    assert code_of(excinfo) == "malformed"  # payload given twice
    typed = jws.sign(b"x", keys.hs256, headers={"typ": "example+jwt", "kid": None, "cty": "t"})
    header = jwtkit.get_unverified_header(typed)
    assert header == {"alg": "HS256", "typ": "example+jwt", "cty": "t"}
    with pytest.raises(JWTKitError) as excinfo:
        jws.sign(b"x", keys.hs256, "HS256", headers={"alg": "HS512"})
    assert code_of(excinfo) == "malformed"
    assert jws.sign(b"x", bytes(range(32))).split(".")[0] == b64u(b'{"alg":"HS256"}')


def test_jws_sign_with_encoded_header(keys: Keys) -> None:
    header = b64u(b'{"alg":"HS256","typ":"x"}')
    token = jws.sign(b"payload", keys.hs256, encoded_header=header)
    assert token.startswith(header + ".")
    assert jws.verify(token, keys.hs256, ["HS256"]) == b"payload"
    with pytest.raises(JWTKitError):
        jws.sign(b"payload", keys.hs256, "HS512", encoded_header=header)


def test_jws_json_round_trips(keys: Keys) -> None:
    payload = b'{"iss":"joe"}'
    general = jws.sign_json(
        payload,
        [
            (keys.rsa, "PS256", {"typ": "x"}, {"note": "a"}),
            (keys.p256, "ES256", None, {"kid": "p256-1"}),
            (keys.hs256, None, None, None),
        ],
    )
    assert len(general["signatures"]) == 3
    assert general["signatures"][1]["header"] == {"kid": "p256-1"}
    for key, alg in (
        (keys.rsa.public(), "PS256"),
        (keys.p256.public(), "ES256"),
        (keys.hs256, "HS256"),
    ):
        result = jws.verify_detailed(general, key, [alg])
        assert result.payload == payload
        assert result.key is key
        assert result.header["alg"] == alg
    first = jws.verify_detailed(general, keys.rsa.public(), ["PS256"])
    assert first.header == {**first.protected, "note": "a"}
    assert first.protected["typ"] == "x"
    assert jws.verify(json.dumps(general), keys.hs256, ["HS256"]) == payload
    assert jws.verify(json.dumps(general).encode(), keys.hs256, ["HS256"]) == payload
    keyset = KeySet([keys.p256.public(), keys.rsa.public()])
    assert jws.verify(general, keyset, ["ES256"]) == payload
    with pytest.raises(JWTKitError) as excinfo:
        jws.verify(general, keys.rsa_other.public(), ["PS256", "ES256", "HS256"])
    assert code_of(excinfo) == "key_not_found"  # each entry names another kid
    with pytest.raises(JWTKitError) as excinfo:
        jws.verify(general, keys.rsa_other.public().with_params(kid=None), ["PS256"])
    assert code_of(excinfo) == "invalid_signature"
    with pytest.raises(JWTKitError) as excinfo:
        jws.verify(general, keys.p384.public(), ["ES384"])
    assert code_of(excinfo) == "alg_not_allowed"

    flat = jws.sign_json(payload, [(keys.ed25519, "EdDSA", None, None)], flattened=True)
    assert set(flat) == {"payload", "protected", "signature"}
    assert jws.verify(flat, keys.ed25519.public(), ["EdDSA"]) == payload
    detached = jws.sign_json(payload, [(keys.hs256, "HS256", None, None)], detached=True)
    assert "payload" not in detached
    assert jws.verify(detached, keys.hs256, ["HS256"], detached_payload=payload) == payload
    unencoded = jws.sign_json(
        "$.02", [(keys.hs256, "HS256", None, None)], flattened=True, b64=False
    )
    assert unencoded["payload"] == "$.02"
    assert jws.verify(unencoded, keys.hs256, ["HS256"]) == b"$.02"
    unprotected_alg = jws.sign_json(
        payload, [(keys.hs256.with_params(kid=None), None, None, {"alg": "HS256"})], flattened=True
    )
    assert "protected" not in unprotected_alg
    assert jws.verify(unprotected_alg, keys.hs256, ["HS256"]) == payload
    with pytest.raises(ValueError):
        jws.sign_json(payload, [])
    with pytest.raises(ValueError):
        jws.sign_json(payload, [(keys.hs256, None, None, None)] * 2, flattened=True)
    for signer in (
        (keys.hs256, "HS256", {"typ": "a"}, {"typ": "b"}),
        (keys.hs256, "HS256", None, {"alg": "HS512"}),
    ):
        with pytest.raises(JWTKitError) as excinfo:
            jws.sign_json(payload, [signer])
        assert code_of(excinfo) == "malformed"
    with pytest.raises(JWTKitError) as excinfo:
        jws.sign_json(b"\xff", [(keys.hs256, None, None, None)], b64=False)
    assert code_of(excinfo) == "malformed"


@pytest.mark.parametrize(
    "mutate",
    [
        lambda t: {**t, "signature": "x"},  # general mixed with flattened members
        lambda t: {"payload": t["payload"], "signatures": []},
        lambda t: {"payload": t["payload"], "signatures": {}},
        lambda t: {"payload": t["payload"], "signatures": ["x"]},
        lambda t: {"signatures": t["signatures"]},
        lambda t: {**t, "payload": 1},
        lambda t: {"payload": t["payload"], "signatures": [{"protected": "e30"}]},
        lambda t: {"payload": t["payload"], "signatures": [{"signature": "AA"}]},
        lambda t: {"payload": t["payload"], "signatures": [{**t["signatures"][0], "protected": 1}]},
        lambda t: {"payload": t["payload"], "signatures": [{**t["signatures"][0], "header": []}]},
        lambda t: {
            "payload": t["payload"],
            "signatures": [{**t["signatures"][0], "header": {"alg": "HS256"}}],
        },
        lambda t: {
            "payload": t["payload"],
            "signatures": [{**t["signatures"][0], "header": {"crit": ["b64"]}}],
        },
        lambda t: {"payload": t["payload"] + "=", "signatures": t["signatures"]},
        lambda t: {
            "payload": t["payload"],
            "signatures": [
                t["signatures"][0],
                {
                    **t["signatures"][0],
                    "protected": b64u(b'{"alg":"HS256","b64":false,"crit":["b64"]}'),
                },
            ],
        },
        lambda t: {
            "payload": t["payload"],
            "signatures": [{**t["signatures"][0], "protected": "A" * 5000}],
        },
    ],
    ids=[
        "mixed-syntax",
        "no-signatures",
        "signatures-object",
        "signature-not-object",
        "no-payload",
        "payload-number",
        "no-signature",
        "no-header",
        "protected-number",
        "header-list",
        "header-overlaps-protected",
        "crit-unprotected",
        "payload-padded",
        "b64-disagrees",
        "protected-too-large",
    ],
)
def test_jws_json_malformed(mutate: Any, keys: Keys) -> None:
    token = jws.sign_json(b"payload", [(keys.hs256, "HS256", None, None)])
    with pytest.raises(JWTKitError) as excinfo:
        jws.verify(mutate(token), keys.hs256, ["HS256"])
    assert code_of(excinfo) in {"malformed", "unsupported_crit", "token_too_large"}


def test_jws_json_size_and_arguments(keys: Keys) -> None:
    big = json.dumps({"payload": "A" * 20000, "signatures": []})
    with pytest.raises(JWTKitError) as excinfo:
        jws.verify(big, keys.hs256, ["HS256"])
    assert code_of(excinfo) == "token_too_large"
    token = jws.sign(b"x", keys.hs256)
    assert jws.verify(token, keys.hs256, "HS256") == b"x"  # one alg name, as PyJWT takes it
    with pytest.raises(TypeError):
        jws.verify(token, keys.hs256, b"HS256")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        jws.verify(token, keys.hs256, [])
    with pytest.raises(TypeError):
        jws.verify(token, 42, ["HS256"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        jws.sign(b"x", 42)  # type: ignore[arg-type]
    with pytest.raises(JWTKitError) as excinfo:
        jws.verify(42, keys.hs256, ["HS256"])  # type: ignore[arg-type]
    assert code_of(excinfo) == "malformed"


# -- JWT: encode, Verifier, unverified reads -----------------------------------------------------


def test_encode_defaults(keys: Keys) -> None:
    for name, alg in (
        ("hs256", "HS256"),
        ("rsa", "RS256"),
        ("p256", "ES256"),
        ("p384", "ES384"),
        ("p521", "ES512"),
        ("secp256k1", "ES256K"),
        ("ed25519", "EdDSA"),
        ("ed448", "EdDSA"),
    ):
        key: Key = getattr(keys, name)
        header = jwtkit.get_unverified_header(jwtkit.encode({"a": 1}, key))
        assert header == {"alg": alg, "kid": key.kid, "typ": "JWT"}
    header = jwtkit.get_unverified_header(
        jwtkit.encode({}, keys.p256, headers={"typ": "at+jwt", "kid": "other"})
    )
    assert header == {"alg": "ES256", "kid": "other", "typ": "at+jwt"}
    assert "typ" not in jwtkit.get_unverified_header(
        jwtkit.encode({}, keys.p256, headers={"typ": None})
    )
    raw = jwtkit.encode({"a": 1}, bytes(range(32)))
    assert jwtkit.get_unverified_header(raw) == {"alg": "HS256", "typ": "JWT"}
    when = dt.datetime.fromtimestamp(NOW, tz=dt.UTC)
    token = jwtkit.encode(
        {"exp": when + dt.timedelta(minutes=5), "iat": when, "x": "y"}, keys.hs256
    )
    assert jwtkit.decode_unverified(token) == {"exp": NOW + 300, "iat": NOW, "x": "y"}
    for bad in (
        {"exp": dt.datetime(2030, 1, 1)},
        ["not", "a", "mapping"],
        {"x": {1, 2}},
        {"x": float("nan")},
    ):
        with pytest.raises(JWTKitError) as excinfo:
            jwtkit.encode(bad, keys.hs256)  # type: ignore[arg-type]
        assert code_of(excinfo) == "malformed"


def test_verifier_is_reusable(keys: Keys) -> None:
    verifier = jwtkit.Verifier(
        keys.p256.public(),
        algorithms=["ES256"],
        audience=AUD,
        issuer=ISS,
        leeway=dt.timedelta(seconds=5),
        required=["jti"],
        typ="at+jwt",
    )
    good = jwtkit.encode(CLAIMS, keys.p256, headers={"typ": "at+jwt"})
    other = jwtkit.encode({**CLAIMS, "jti": "jti-2"}, keys.p256, headers={"typ": "at+jwt"})
    expired_token = jwtkit.encode({**CLAIMS, "exp": NOW - 60}, keys.p256, headers={"typ": "at+jwt"})
    for _ in range(3):  # a cached header and a failure in between change nothing
        assert verifier.verify(good, now=NOW) == CLAIMS
        with pytest.raises(JWTKitError) as excinfo:
            verifier.verify(expired_token, now=NOW)
        assert code_of(excinfo) == "expired"
        assert verifier.verify(other, now=NOW)["jti"] == "jti-2"
    detailed = verifier.verify_detailed(good, now=NOW)
    assert detailed.claims == CLAIMS
    assert detailed.header["typ"] == "at+jwt"
    assert detailed.key is verifier.key_source
    assert "ES256" in repr(verifier)
    verifier.check_claims(CLAIMS, now=NOW)
    with pytest.raises(JWTKitError) as excinfo:
        verifier.check_claims({**CLAIMS, "iss": "x"}, now=NOW)
    assert code_of(excinfo) == "invalid_issuer"
    for kwargs in (
        {"leeway": -1},
        {"leeway": True},
        {"audience": []},
        {"issuer": [1]},
        {"algorithms": []},
        {"algorithms": b"ES256"},
        {"algorithms": None},
    ):
        with pytest.raises((TypeError, ValueError)):
            jwtkit.Verifier(keys.p256.public(), **{"algorithms": ["ES256"], **kwargs})
    with pytest.raises(JWTKitError) as excinfo:
        jwtkit.Verifier(keys.p256.public(), algorithms=["ES256", "none"])
    assert code_of(excinfo) == "unsupported_algorithm"
    single = jwtkit.Verifier(keys.hs256, algorithms=["HS256"], required="sub")
    with pytest.raises(JWTKitError) as excinfo:
        single.verify(jwtkit.encode({"a": 1}, keys.hs256))
    assert code_of(excinfo) == "missing_claim"


def test_verifier_header_cache_is_bounded(keys: Keys) -> None:
    verifier = jwtkit.Verifier(keys.hs256, algorithms=["HS256"])
    for n in range(600):
        token = jwtkit.encode({"n": n}, keys.hs256, headers={"n": n})
        assert verifier.verify(token)["n"] == n


class AsyncResolver:
    """A KeyResolver with an async lookup, as a JWK Set client has."""

    def __init__(self, keyset: KeySet) -> None:
        self.keyset = keyset
        self.calls = 0

    def resolve_key(self, header: Any) -> Key:
        return self.keyset.resolve_key(header)

    async def aresolve_key(self, header: Any) -> Key:
        self.calls += 1
        await asyncio.sleep(0)
        return self.keyset.resolve_key(header)


def test_verifier_async(keys: Keys) -> None:
    resolver = AsyncResolver(KeySet([keys.rsa.public(), keys.p256.public()]))
    assert isinstance(resolver, jwtkit.KeyResolver)
    verifier = jwtkit.Verifier(resolver, algorithms=["RS256", "ES256"])
    tokens = [jwtkit.encode({"n": n}, key) for n, key in enumerate((keys.rsa, keys.p256))]

    async def run() -> list[dict[str, Any]]:
        return [await verifier.averify(token) for token in tokens]

    assert asyncio.run(run()) == [{"n": 0}, {"n": 1}]
    assert resolver.calls == 2
    assert verifier.verify(tokens[0]) == {"n": 0}  # the sync path uses resolve_key
    plain = jwtkit.Verifier(keys.rsa.public(), algorithms=["RS256"])
    assert asyncio.run(plain.averify(tokens[0])) == {"n": 0}

    async def missing() -> None:
        await verifier.averify(jwtkit.encode({}, keys.p256.with_params(kid="unknown")))

    with pytest.raises(KeyNotFoundError):
        asyncio.run(missing())


def test_unverified_reads(keys: Keys) -> None:
    token = jwtkit.encode(CLAIMS, keys.p256, headers={"typ": "at+jwt"})
    head, body, sig = token.split(".")
    tampered = f"{head}.{body}.{sig[:-4]}AAAA"
    assert jwtkit.decode_unverified(tampered) == CLAIMS  # no verification, by design
    assert jwtkit.get_unverified_header(tampered) == {
        "alg": "ES256",
        "kid": "p256-1",
        "typ": "at+jwt",
    }
    assert jwtkit.decode_unverified(token.encode()) == CLAIMS
    for bad in ("", "a.b", "a.b.c", f"{head}.e30=.{sig}", f"{head}.W10.{sig}"):
        for read in (jwtkit.decode_unverified, jwtkit.get_unverified_header):
            if read is jwtkit.get_unverified_header and bad.startswith(head):
                continue
            with pytest.raises(JWTKitError) as excinfo:
                read(bad)
            assert code_of(excinfo) == "malformed"
    with pytest.raises(JWTKitError) as excinfo:
        jwtkit.decode_unverified("A" * 100_000)
    assert code_of(excinfo) == "token_too_large"
    unencoded = forge({"alg": "HS256", "b64": False, "crit": ["b64"]}, {"a": 1}, key=keys.hs256)
    with pytest.raises(JWTKitError) as excinfo:
        jwtkit.decode_unverified(unencoded)
    assert code_of(excinfo) == "malformed"
    big_header = forge({"alg": "HS256", "kid": "k" * 5000}, {"a": 1}, key=keys.hs256)
    with pytest.raises(JWTKitError):
        jwtkit.get_unverified_header(big_header)


def test_decode_accepts_every_key_form(keys: Keys) -> None:
    token = jwtkit.encode({"sub": "x"}, keys.hs256)
    secret = keys.hs256.raw
    for key in (
        keys.hs256,
        secret,
        bytearray(secret),
        KeySet([keys.hs256]),
        AsyncResolver(KeySet([keys.hs256])),
    ):
        assert jwtkit.decode(token, key, ["HS256"]) == {"sub": "x"}
    text_secret = "a text secret that is 32+ bytes long"
    assert jwtkit.decode(jwtkit.encode({}, text_secret), text_secret, ["HS256"]) == {}
