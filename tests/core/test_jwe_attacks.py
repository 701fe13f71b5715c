"""JWE attack table (golang-jwt style, as tests/core/test_attacks.py for JWS).

Each row: a name, how to build the token, the decryption key, the policy options, and the error
``code`` decryption must raise. The rows cover the JWE CVE classes: PBES2 ``p2c`` (CVE-2022-36083,
CVE-2023-6681, CVE-2023-49290, CVE-2023-52428), DEFLATE bombs (CVE-2024-28176, CVE-2024-28102,
CVE-2024-28180), invalid-curve ECDH-ES (CVE-2017-12974, CVE-2016-9121), truncated GCM tags
(CVE-2023-37464, CVE-2018-1000539), RSA1_5 padding (CVE-2026-28490), JWS/JWE confusion
(CVE-2022-3102, CVE-2023-51774), nested JWTs, and RFC 7520 §5.12-style JSON. A fuzz test
checks that decryption raises nothing but JWTKitError.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import tracemalloc
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.keywrap import aes_key_wrap
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jwtkit
from jwtkit import Key, KeySet, jwe
from jwtkit.errors import JWTKitError

from ._helpers import AUD, CLAIMS, ISS, NOW, b64u, segment, unb64u
from ._jwe_helpers import JWEKeys, forge, make_keys, replace_part, seal_gcm


@pytest.fixture(scope="module")
def jk() -> JWEKeys:
    return make_keys()


@dataclass(frozen=True)
class Case:
    """One attack: ``token(jk)`` decrypted with ``key(jk)`` under ``options`` raises ``code``."""

    name: str
    token: Callable[[JWEKeys], Any]
    key: Callable[[JWEKeys], Any]
    code: str
    algs: tuple[str, ...] = ()
    encs: tuple[str, ...] = ("A128GCM", "A256GCM", "A128CBC-HS256")
    options: dict[str, Any] = field(default_factory=dict)


def _header(token: str) -> dict[str, Any]:
    return json.loads(unb64u(token.split(".", maxsplit=1)[0]))  # type: ignore[no-any-return]


def _rehead(token: str, **changes: Any) -> str:
    """The token with its protected header changed (the tag then fails, if anything runs)."""
    header = {**_header(token), **changes}
    for name, value in changes.items():
        if value is None:
            header.pop(name)
    return replace_part(token, 0, segment(header))


def _kw(jk: JWEKeys, enc: str = "A128GCM", **kw: Any) -> str:
    return jwe.encrypt(b"payload", jk.a128kw, "A128KW", enc, **kw)


def _pbes2(jk: JWEKeys, **header: Any) -> str:
    token = jwe.encrypt(
        b"payload", jk.password, "PBES2-HS256+A128KW", "A128GCM", headers={"p2c": 1000}
    )
    return _rehead(token, **header)


def _ecdh(jk: JWEKeys, alg: str = "ECDH-ES+A128KW", key: Key | None = None) -> str:
    return jwe.encrypt(b"payload", (key or jk.p256).public(), alg, "A128GCM")


def _epk(jk: JWEKeys, epk: Any) -> str:
    return _rehead(_ecdh(jk), epk=epk)


def _off_curve(jk: JWEKeys) -> dict[str, Any]:
    epk = Key.generate("EC", crv="P-256").public().to_jwk()
    y = bytearray(unb64u(epk["y"]))
    y[-1] ^= 1
    return {**epk, "y": b64u(bytes(y))}


def _truncate_tag(token: str, size: int) -> str:
    return replace_part(token, 4, b64u(unb64u(token.split(".")[4])[:size]))


def _wrong_size_cek_rsa(jk: JWEKeys) -> str:
    # RSA-OAEP yields a 16-byte CEK but enc A256GCM needs 32: it must not become AES-128.
    cek = os.urandom(16)
    h = jk.rsa.public().raw
    ek = h.encrypt(cek, padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None))
    return seal_gcm({"alg": "RSA-OAEP", "enc": "A256GCM"}, cek, ek, b"payload")


def _wrong_size_cek_kw(jk: JWEKeys) -> str:
    cek = os.urandom(16)
    ek = aes_key_wrap(jk.a128kw.raw, cek)
    return seal_gcm({"alg": "A128KW", "enc": "A256GCM"}, cek, ek, b"payload")


def _bomb(inflated: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunk = bytes(1 << 20)
    out = [
        compressor.compress(chunk[: min(len(chunk), inflated - i)])
        for i in range(0, inflated, len(chunk))
    ]
    return b"".join(out) + compressor.flush()


def _zip_token(jk: JWEKeys, data: bytes) -> str:
    header = {"alg": "dir", "enc": "A256GCM", "zip": "DEF"}
    return seal_gcm(header, jk.dir256.raw, b"", data)


def _json(jk: JWEKeys, **changes: Any) -> dict[str, Any]:
    token = jwe.encrypt_json(b"payload", [(jk.a128kw, "A128KW")], "A128GCM")
    for name, value in changes.items():
        if value is None:
            token.pop(name, None)
        else:
            token[name] = value
    return token


def _nested(inner: str, jk: JWEKeys) -> str:
    return jwe.encrypt(inner, jk.rsa.public(), "RSA-OAEP-256", "A256GCM", headers={"cty": "JWT"})


RSA1_5 = {"allow_rsa1_5": True}
CASES: list[Case] = [
    # -- PBES2 p2c (checked before any PBKDF2 work) --
    Case("p2c-2^31", lambda jk: _pbes2(jk, p2c=2**31), lambda jk: jk.password, "limit_exceeded"),
    Case("p2c-cap+1", lambda jk: _pbes2(jk, p2c=10001), lambda jk: jk.password, "limit_exceeded"),
    Case(
        "p2c-lower-cap",
        lambda jk: _pbes2(jk, p2c=1001),
        lambda jk: jk.password,
        "limit_exceeded",
        options={"max_p2c": 1000},
    ),  # fmt: skip
    Case("p2c-zero", lambda jk: _pbes2(jk, p2c=0), lambda jk: jk.password, "malformed"),
    Case("p2c-negative", lambda jk: _pbes2(jk, p2c=-1), lambda jk: jk.password, "malformed"),
    Case("p2c-string", lambda jk: _pbes2(jk, p2c="1000"), lambda jk: jk.password, "malformed"),
    Case("p2c-bool", lambda jk: _pbes2(jk, p2c=True), lambda jk: jk.password, "malformed"),
    Case("p2c-float", lambda jk: _pbes2(jk, p2c=1000.0), lambda jk: jk.password, "malformed"),
    Case("p2c-missing", lambda jk: _pbes2(jk, p2c=None), lambda jk: jk.password, "malformed"),
    Case(
        "p2s-short",
        lambda jk: _pbes2(jk, p2s=b64u(b"1234567")),
        lambda jk: jk.password,
        "malformed",
    ),
    Case("p2s-missing", lambda jk: _pbes2(jk, p2s=None), lambda jk: jk.password, "malformed"),
    Case(
        "pbes2-not-allowed",
        _pbes2,
        lambda jk: jk.password,
        "alg_not_allowed",
        algs=("A128KW",),
    ),  # fmt: skip
    # -- DEFLATE --
    Case(
        "zip-bomb-1kB-to-1MB",
        lambda jk: _zip_token(jk, _bomb(1 << 20)),
        lambda jk: jk.dir256,
        "token_too_large",
        options={"compression_algorithms": ["DEF"]},
    ),  # fmt: skip
    Case(
        "zip-just-over-cap",
        lambda jk: _zip_token(jk, zlib.compress(bytes(1001), wbits=-15)),
        lambda jk: jk.dir256,
        "token_too_large",
        options={"compression_algorithms": ["DEF"], "max_plaintext_size": 1000},
    ),  # fmt: skip
    Case(
        "zip-not-allowed",
        lambda jk: _kw(jk, compression="DEF"),
        lambda jk: jk.a128kw,
        "alg_not_allowed",
    ),  # fmt: skip
    Case(
        "zip-unknown",
        lambda jk: _rehead(_kw(jk), zip="GZIP"),
        lambda jk: jk.a128kw,
        "unsupported_algorithm",
        options={"compression_algorithms": ["DEF"]},
    ),  # fmt: skip
    Case(
        "zip-not-deflate",
        lambda jk: _zip_token(jk, b"\xff\xfe not deflate"),
        lambda jk: jk.dir256,
        "malformed",
        options={"compression_algorithms": ["DEF"]},
    ),  # fmt: skip
    Case(
        "zip-truncated",
        lambda jk: _zip_token(jk, zlib.compress(b"x" * 999, wbits=-15)[:-2]),
        lambda jk: jk.dir256,
        "malformed",
        options={"compression_algorithms": ["DEF"]},
    ),  # fmt: skip
    Case(
        "zip-trailing-data",
        lambda jk: _zip_token(jk, zlib.compress(b"x", wbits=-15) + b"junk"),
        lambda jk: jk.dir256,
        "malformed",
        options={"compression_algorithms": ["DEF"]},
    ),  # fmt: skip
    Case(
        "zip-unprotected",
        lambda jk: _json(jk, unprotected={"zip": "DEF"}),
        lambda jk: jk.a128kw,
        "malformed",
        options={"compression_algorithms": ["DEF"]},
    ),  # fmt: skip
    # -- tags --
    Case(
        "gcm-tag-4-bytes",
        lambda jk: _truncate_tag(_kw(jk), 4),
        lambda jk: jk.a128kw,
        "decryption_failed",
    ),
    Case(
        "gcm-tag-0-bytes",
        lambda jk: _truncate_tag(_kw(jk), 0),
        lambda jk: jk.a128kw,
        "decryption_failed",
    ),
    Case(
        "gcm-tag-15-bytes",
        lambda jk: _truncate_tag(_kw(jk), 15),
        lambda jk: jk.a128kw,
        "decryption_failed",
    ),
    Case(
        "gcm-tag-17-bytes",
        lambda jk: replace_part(_kw(jk), 4, b64u(bytes(17))),
        lambda jk: jk.a128kw,
        "decryption_failed",
    ),  # fmt: skip
    Case(
        "gcm-tag-flipped",
        lambda jk: replace_part(_kw(jk), 4, b64u(bytes(16))),
        lambda jk: jk.a128kw,
        "decryption_failed",
    ),  # fmt: skip
    Case(
        "cbc-tag-truncated",
        lambda jk: _truncate_tag(_kw(jk, "A128CBC-HS256"), 8),
        lambda jk: jk.a128kw,
        "decryption_failed",
    ),  # fmt: skip
    Case(
        "cbc-tag-zero",
        lambda jk: replace_part(_kw(jk, "A128CBC-HS256"), 4, b64u(bytes(16))),
        lambda jk: jk.a128kw,
        "decryption_failed",
    ),  # fmt: skip
    Case(
        "cbc-ciphertext-flipped",
        lambda jk: replace_part(_kw(jk, "A128CBC-HS256"), 3, b64u(bytes(16))),
        lambda jk: jk.a128kw,
        "decryption_failed",
    ),  # fmt: skip
    Case(
        "gcmkw-tag-truncated",
        lambda jk: _rehead(
            jwe.encrypt(b"p", jk.a128kw, "A128GCMKW", "A128GCM"), tag=b64u(bytes(4))
        ),
        lambda jk: jk.a128kw,
        "decryption_failed",
        algs=("A128GCMKW",),
    ),  # fmt: skip
    Case(
        "gcmkw-iv-short",
        lambda jk: _rehead(jwe.encrypt(b"p", jk.a128kw, "A128GCMKW", "A128GCM"), iv=b64u(bytes(8))),
        lambda jk: jk.a128kw,
        "malformed",
        algs=("A128GCMKW",),
    ),  # fmt: skip
    Case(
        "iv-short",
        lambda jk: replace_part(_kw(jk), 2, b64u(bytes(8))),
        lambda jk: jk.a128kw,
        "malformed",
    ),
    # -- ECDH-ES epk (invalid curve) --
    Case("epk-off-curve", lambda jk: _epk(jk, _off_curve(jk)), lambda jk: jk.p256, "invalid_key"),
    Case(
        "epk-other-curve",
        lambda jk: _epk(jk, Key.generate("EC", crv="P-384").public().to_jwk()),
        lambda jk: jk.p256,
        "invalid_key",
    ),  # fmt: skip
    Case(
        "epk-crv-relabelled",
        lambda jk: _epk(jk, {**Key.generate("EC", crv="P-384").public().to_jwk(), "crv": "P-256"}),
        lambda jk: jk.p256,
        "invalid_key",
    ),  # fmt: skip
    Case(
        "epk-x25519-for-p256",
        lambda jk: _epk(jk, jk.x25519.public().to_jwk()),
        lambda jk: jk.p256,
        "invalid_key",
    ),  # fmt: skip
    Case(
        "epk-x25519-small-order",
        lambda jk: _rehead(
            _ecdh(jk, key=jk.x25519), epk={"kty": "OKP", "crv": "X25519", "x": b64u(bytes(32))}
        ),
        lambda jk: jk.x25519,
        "invalid_key",
    ),  # fmt: skip
    Case(
        "epk-x448-for-x25519",
        lambda jk: _rehead(_ecdh(jk, key=jk.x25519), epk=jk.x448.public().to_jwk()),
        lambda jk: jk.x25519,
        "invalid_key",
    ),  # fmt: skip
    Case("epk-missing", lambda jk: _rehead(_ecdh(jk), epk=None), lambda jk: jk.p256, "malformed"),
    Case("epk-not-object", lambda jk: _epk(jk, "epk"), lambda jk: jk.p256, "malformed"),
    Case(
        "epk-private",
        lambda jk: _epk(jk, jk.p256_other.to_jwk(private=True)),
        lambda jk: jk.p256,
        "malformed",
    ),  # fmt: skip
    Case(
        "epk-point-at-zero",
        lambda jk: _epk(
            jk, {"kty": "EC", "crv": "P-256", "x": b64u(bytes(32)), "y": b64u(bytes(32))}
        ),
        lambda jk: jk.p256,
        "invalid_key",
    ),  # fmt: skip
    Case(
        "ecdh-wrong-key",
        lambda jk: _ecdh(jk, "ECDH-ES"),
        lambda jk: jk.p256_other.with_params(kid="p256-enc"),
        "decryption_failed",
    ),  # fmt: skip
    Case(
        "ecdh-apu-not-b64",
        lambda jk: _rehead(_ecdh(jk), apu="***"),
        lambda jk: jk.p256,
        "malformed",
    ),
    # -- CEK sizes --
    Case("rsa-oaep-wrong-size-cek", _wrong_size_cek_rsa, lambda jk: jk.rsa, "decryption_failed"),
    Case("a128kw-wrong-size-cek", _wrong_size_cek_kw, lambda jk: jk.a128kw, "decryption_failed"),
    Case(
        "rsa1_5-bad-padding",
        lambda jk: forge(
            {"alg": "RSA1_5", "enc": "A128GCM"},
            jk.rsa.public().raw.encrypt(os.urandom(17), padding.PKCS1v15()),
            os.urandom(12),
            b"x",
            bytes(16),
        ),
        lambda jk: jk.rsa,
        "decryption_failed",
        algs=("RSA1_5",),
        options=RSA1_5,
    ),  # fmt: skip
    Case(
        "rsa1_5-garbage-ek",
        lambda jk: forge(
            {"alg": "RSA1_5", "enc": "A128GCM"}, os.urandom(256), os.urandom(12), b"x", bytes(16)
        ),
        lambda jk: jk.rsa,
        "decryption_failed",
        algs=("RSA1_5",),
        options=RSA1_5,
    ),  # fmt: skip
    Case(
        "rsa-oaep-wrong-key",
        lambda jk: jwe.encrypt(b"p", jk.rsa.public(), "RSA-OAEP", "A128GCM"),
        lambda jk: jk.rsa_other.with_params(kid="rsa-enc"),
        "decryption_failed",
    ),  # fmt: skip
    Case(
        "a128kw-wrong-key",
        _kw,
        lambda jk: Key.from_secret(bytes(16), kid="a128kw"),
        "decryption_failed",
    ),  # fmt: skip
    # -- key binding and sizes --
    Case(
        "dir-key-too-short",
        lambda jk: jwe.encrypt(b"p", jk.dir256, "dir", "A256GCM"),
        lambda jk: Key.from_secret(jk.dir256.raw[:16]),
        "key_mismatch",
    ),  # fmt: skip
    Case(
        "dir-key-too-long",
        lambda jk: jwe.encrypt(b"p", jk.dir128, "dir", "A128GCM"),
        lambda jk: Key.from_secret(jk.dir128.raw + bytes(16)),
        "key_mismatch",
    ),  # fmt: skip
    Case(
        "dir-with-encrypted-key",
        lambda jk: replace_part(jwe.encrypt(b"p", jk.dir256, "dir", "A256GCM"), 1, b64u(bytes(40))),
        lambda jk: jk.dir256,
        "malformed",
    ),  # fmt: skip
    Case("a128kw-with-256-bit-key", _kw, lambda jk: jk.a256kw, "key_mismatch"),
    Case(
        "kw-no-encrypted-key",
        lambda jk: replace_part(_kw(jk), 1, ""),
        lambda jk: jk.a128kw,
        "malformed",
    ),
    Case(
        "rsa-key-bound-to-rs256",
        lambda jk: jwe.encrypt(b"p", jk.rsa.public(), "RSA-OAEP", "A128GCM"),
        lambda jk: jk.rsa.with_params(alg="RS256"),
        "key_mismatch",
    ),  # fmt: skip
    Case(
        "rsa-key-use-sig",
        lambda jk: jwe.encrypt(b"p", jk.rsa.public(), "RSA-OAEP", "A128GCM"),
        lambda jk: jk.rsa.with_params(use="sig"),
        "key_mismatch",
    ),  # fmt: skip
    Case(
        "rsa-public-key",
        lambda jk: jwe.encrypt(b"p", jk.rsa.public(), "RSA-OAEP", "A128GCM"),
        lambda jk: jk.rsa.public(),
        "key_mismatch",
    ),  # fmt: skip
    Case(
        "ec-key-for-rsa-alg",
        lambda jk: jwe.encrypt(b"p", jk.rsa.public(), "RSA-OAEP", "A128GCM"),
        lambda jk: jk.p256,
        "key_mismatch",
    ),  # fmt: skip
    Case("kid-unknown-in-keyset", _kw, lambda jk: KeySet([jk.a256kw]), "key_not_found"),
    # -- header policy --
    Case(
        "alg-not-allowed",
        _kw,
        lambda jk: jk.a128kw,
        "alg_not_allowed",
        algs=("A256KW",),
    ),
    Case("enc-not-allowed", lambda jk: _kw(jk, "A192GCM"), lambda jk: jk.a128kw, "alg_not_allowed"),
    Case(
        "alg-none",
        lambda jk: _rehead(_kw(jk), alg="none"),
        lambda jk: jk.a128kw,
        "unsupported_algorithm",
    ),
    Case(
        "alg-jws",
        lambda jk: _rehead(_kw(jk), alg="HS256"),
        lambda jk: jk.a128kw,
        "unsupported_algorithm",
    ),
    Case(
        "alg-number",
        lambda jk: _rehead(_kw(jk), alg=1),
        lambda jk: jk.a128kw,
        "unsupported_algorithm",
    ),
    Case("alg-missing", lambda jk: _rehead(_kw(jk), alg=None), lambda jk: jk.a128kw, "malformed"),
    Case("enc-missing", lambda jk: _rehead(_kw(jk), enc=None), lambda jk: jk.a128kw, "malformed"),
    Case(
        "enc-unknown",
        lambda jk: _rehead(_kw(jk), enc="A512GCM"),
        lambda jk: jk.a128kw,
        "unsupported_algorithm",
    ),  # fmt: skip
    Case(
        "rsa1_5-without-opt-in",
        lambda jk: forge(
            {"alg": "RSA1_5", "enc": "A128GCM"}, bytes(256), bytes(12), b"x", bytes(16)
        ),
        lambda jk: jk.rsa,
        "alg_not_allowed",
    ),  # fmt: skip
    Case(
        "crit-unknown",
        lambda jk: _rehead(_kw(jk), crit=["exp"], exp=1),
        lambda jk: jk.a128kw,
        "unsupported_crit",
    ),  # fmt: skip
    Case(
        "crit-registered",
        lambda jk: _rehead(_kw(jk), crit=["enc"]),
        lambda jk: jk.a128kw,
        "unsupported_crit",
    ),
    Case(
        "crit-empty", lambda jk: _rehead(_kw(jk), crit=[]), lambda jk: jk.a128kw, "unsupported_crit"
    ),
    Case(
        "crit-b64",
        lambda jk: _rehead(_kw(jk), crit=["b64"], b64=False),
        lambda jk: jk.a128kw,
        "unsupported_crit",
    ),  # fmt: skip
    Case(
        "crit-unprotected",
        lambda jk: _json(jk, unprotected={"crit": ["x"], "x": 1}),
        lambda jk: jk.a128kw,
        "unsupported_crit",
    ),  # fmt: skip
    Case("kid-number", lambda jk: _rehead(_kw(jk), kid=7), lambda jk: jk.a128kw, "malformed"),
    Case(
        "header-duplicate-member",
        lambda jk: replace_part(
            _kw(jk), 0, b64u(b'{"alg":"A128KW","enc":"A128GCM","enc":"A256GCM"}')
        ),
        lambda jk: jk.a128kw,
        "malformed",
    ),  # fmt: skip
    Case(
        "header-not-json",
        lambda jk: replace_part(_kw(jk), 0, b64u(b"alg")),
        lambda jk: jk.a128kw,
        "malformed",
    ),
    Case(
        "header-array",
        lambda jk: replace_part(_kw(jk), 0, b64u(b"[]")),
        lambda jk: jk.a128kw,
        "malformed",
    ),
    Case(
        "segment-padded",
        lambda jk: replace_part(_kw(jk), 2, _kw(jk).split(".")[2] + "="),
        lambda jk: jk.a128kw,
        "malformed",
    ),  # fmt: skip
    # -- serialization confusion --
    Case(
        "jws-for-jwe",
        lambda jk: jwtkit.jws.sign(b"x", Key.generate("oct")),
        lambda jk: jk.a128kw,
        "malformed",
    ),
    Case("four-segments", lambda jk: _kw(jk).rsplit(".", 1)[0], lambda jk: jk.a128kw, "malformed"),
    Case("six-segments", lambda jk: _kw(jk) + ".", lambda jk: jk.a128kw, "malformed"),
    Case("non-ascii", lambda jk: _kw(jk) + "é", lambda jk: jk.a128kw, "malformed"),
    Case("not-a-token", lambda jk: 12345, lambda jk: jk.a128kw, "malformed"),
    # -- sizes --
    Case(
        "token-too-large",
        _kw,
        lambda jk: jk.a128kw,
        "token_too_large",
        options={"max_token_size": 64},
    ),  # fmt: skip
    Case(
        "header-too-large",
        lambda jk: _rehead(_kw(jk), pad="x" * 5000),
        lambda jk: jk.a128kw,
        "token_too_large",
    ),  # fmt: skip
    Case(
        "json-text-too-large",
        lambda jk: json.dumps(_json(jk)),
        lambda jk: jk.a128kw,
        "token_too_large",
        options={"max_token_size": 64},
    ),  # fmt: skip
    Case(
        "too-many-recipients",
        lambda jk: {**_json(jk), "recipients": [{"encrypted_key": "AA"}] * 17},
        lambda jk: jk.a128kw,
        "token_too_large",
    ),  # fmt: skip
    # -- JSON serialization --
    Case(
        "json-duplicate-member",
        lambda jk: json.dumps(_json(jk))[:-1] + ',"ciphertext":"AAAA"}',
        lambda jk: jk.a128kw,
        "malformed",
    ),  # fmt: skip
    Case(
        "json-header-in-two-places",
        lambda jk: _json(jk, unprotected={"enc": "A128GCM"}),
        lambda jk: jk.a128kw,
        "malformed",
    ),  # fmt: skip
    Case(
        "json-recipient-header-clash",
        lambda jk: {**_json(jk), "header": {"enc": "A128GCM"}},
        lambda jk: jk.a128kw,
        "malformed",
    ),  # fmt: skip
    Case(
        "json-no-protected-no-alg",
        lambda jk: _json(jk, protected=None),
        lambda jk: jk.a128kw,
        "malformed",
    ),
    Case(
        "json-no-protected-tampered",
        lambda jk: {
            **_json(jk, protected=None),
            "unprotected": {"enc": "A128GCM"},
        },
        lambda jk: jk.a128kw,
        "decryption_failed",
    ),  # fmt: skip
    Case(
        "json-mixed-general-flattened",
        lambda jk: {**_json(jk), "recipients": [{"encrypted_key": "AA"}]},
        lambda jk: jk.a128kw,
        "malformed",
    ),  # fmt: skip
    Case(
        "json-recipients-empty",
        lambda jk: {**_json(jk, encrypted_key=None), "recipients": []},
        lambda jk: jk.a128kw,
        "malformed",
    ),  # fmt: skip
    Case(
        "json-recipient-not-object",
        lambda jk: {**_json(jk, encrypted_key=None), "recipients": ["x"]},
        lambda jk: jk.a128kw,
        "malformed",
    ),  # fmt: skip
    Case(
        "json-ciphertext-missing",
        lambda jk: _json(jk, ciphertext=None),
        lambda jk: jk.a128kw,
        "malformed",
    ),
    Case(
        "json-protected-number",
        lambda jk: _json(jk, protected=5),
        lambda jk: jk.a128kw,
        "malformed",
    ),
    Case(
        "json-unprotected-list",
        lambda jk: _json(jk, unprotected=[1]),
        lambda jk: jk.a128kw,
        "malformed",
    ),
    Case("json-aad-number", lambda jk: _json(jk, aad=5), lambda jk: jk.a128kw, "malformed"),
    Case(
        "json-aad-added",
        lambda jk: _json(jk, aad=b64u(b"new")),
        lambda jk: jk.a128kw,
        "decryption_failed",
    ),
    Case(
        "json-encrypted-key-number",
        lambda jk: _json(jk, encrypted_key=5),
        lambda jk: jk.a128kw,
        "malformed",
    ),
    Case(
        "json-header-not-object",
        lambda jk: _json(jk, header="x"),
        lambda jk: jk.a128kw,
        "malformed",
    ),
]


def test_case_names_are_unique() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_attack(case: Case, jk: JWEKeys) -> None:
    token, key = case.token(jk), case.key(jk)
    algs = list(case.algs) or [
        "A128KW",
        "A256KW",
        "dir",
        "RSA-OAEP",
        "RSA-OAEP-256",
        "ECDH-ES",
        "ECDH-ES+A128KW",
        "PBES2-HS256+A128KW",
    ]
    start = time.monotonic()
    with pytest.raises(JWTKitError) as excinfo:
        jwe.decrypt(token, key, algs, list(case.encs), **case.options)
    assert excinfo.value.code == case.code, excinfo.value
    assert time.monotonic() - start < 5  # generous: only a runaway (PBKDF2 at 2^31) fails this


def test_the_valid_forms_of_the_cases_decrypt(jk: JWEKeys) -> None:
    """The bases the rows tamper with are valid, so each row fails for its one fault."""
    assert jwe.decrypt(_pbes2(jk), jk.password, ["PBES2-HS256+A128KW"], ["A128GCM"]) == b"payload"
    at_cap = jwe.encrypt(b"p", jk.password, "PBES2-HS256+A128KW", "A128GCM", headers={"p2c": 10000})
    assert jwe.decrypt(at_cap, jk.password, ["PBES2-HS256+A128KW"], ["A128GCM"]) == b"p"
    assert jwe.decrypt(_ecdh(jk), jk.p256, ["ECDH-ES+A128KW"], ["A128GCM"]) == b"payload"
    assert jwe.decrypt(_json(jk), jk.a128kw, ["A128KW"], ["A128GCM"]) == b"payload"
    opts: dict[str, Any] = {"compression_algorithms": ["DEF"]}
    small = _zip_token(jk, zlib.compress(b"x" * 1000, wbits=-15))
    assert jwe.decrypt(small, jk.dir256, ["dir"], ["A256GCM"], **opts) == b"x" * 1000
    at_limit = _zip_token(jk, zlib.compress(bytes(1000), wbits=-15))
    assert jwe.decrypt(at_limit, jk.dir256, ["dir"], ["A256GCM"], max_plaintext_size=1000, **opts)


def test_zip_bomb_of_100_mb_fails_fast_with_little_memory(jk: JWEKeys) -> None:
    token = _zip_token(jk, _bomb(100 << 20))  # ~100 kB of DEFLATE that inflates to 100 MB
    assert len(token) < 200_000
    tracemalloc.start()
    start = time.monotonic()
    try:
        with pytest.raises(JWTKitError) as excinfo:
            jwe.decrypt(token, jk.dir256, ["dir"], ["A256GCM"], compression_algorithms=["DEF"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert excinfo.value.code == "token_too_large"
    assert peak < 4 << 20, peak  # the cap is 250 kB; never the 100 MB
    assert time.monotonic() - start < 5


def test_p2c_is_refused_before_any_pbkdf2_work(
    jk: JWEKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    token, valid = _pbes2(jk, p2c=2**31), _pbes2(jk)
    calls: list[int] = []
    real = jwe._pbes2_kek
    monkeypatch.setattr(jwe, "_pbes2_kek", lambda *a: calls.append(1) or real(*a))
    with pytest.raises(JWTKitError):
        jwe.decrypt(token, jk.password, ["PBES2-HS256+A128KW"], ["A128GCM"])
    assert calls == []
    jwe.decrypt(valid, jk.password, ["PBES2-HS256+A128KW"], ["A128GCM"])
    assert calls  # the patch does see PBKDF2 work when there is some


def test_rsa1_5_failures_look_like_any_wrong_key(jk: JWEKeys) -> None:
    """RFC 7516 §11.5: a bad padding and a good padding with a wrong tag give the same error."""
    good_ek = jk.rsa.public().raw.encrypt(os.urandom(16), padding.PKCS1v15())
    bad_ek = jk.rsa.public().raw.encrypt(os.urandom(5), padding.PKCS1v15())
    codes = set()
    for ek in (good_ek, bad_ek, os.urandom(256)):
        token = forge(
            {"alg": "RSA1_5", "enc": "A128GCM"}, ek, os.urandom(12), b"abc", os.urandom(16)
        )
        with pytest.raises(JWTKitError) as excinfo:
            jwe.decrypt(token, jk.rsa, ["RSA1_5"], ["A128GCM"], allow_rsa1_5=True)
        codes.add((excinfo.value.code, excinfo.value.message))
    assert codes == {("decryption_failed", "decryption failed")}


def test_ecdh_es_with_an_invalid_curve_point_built_by_hand(jk: JWEKeys) -> None:
    """A point of small order on a weak curve sharing P-256's x-coordinate field never reaches
    the exchange: pyca refuses to build it as a P-256 public key."""
    bad = {
        "kty": "EC",
        "crv": "P-256",
        "x": b64u((1).to_bytes(32, "big")),
        "y": b64u((2).to_bytes(32, "big")),
    }
    with pytest.raises(JWTKitError) as excinfo:
        jwe.decrypt(_epk(jk, bad), jk.p256, ["ECDH-ES+A128KW"], ["A128GCM"])
    assert excinfo.value.code == "invalid_key"


# -- JWT-level rows: JWS/JWE confusion and nested JWTs ----------------------------------------


def _signed(key: Key, alg: str = "ES256") -> str:
    return jwtkit.encode(CLAIMS, key, alg)


JWT_ALGS = ["ES256", "RSA-OAEP-256"]


def _decode(token: str, key: Any, **kw: Any) -> dict[str, Any]:
    return jwtkit.decode(token, key, JWT_ALGS, encryption_algorithms=["A256GCM"], audience=AUD,
                         issuer=ISS, now=NOW + 1, **kw)  # fmt: skip


def test_nested_jwt_with_alg_none_inside(jk: JWEKeys) -> None:
    none_jws = segment({"alg": "none", "typ": "JWT"}) + "." + segment(CLAIMS) + "."
    signer = Key.generate("EC", crv="P-256")
    with pytest.raises(JWTKitError) as excinfo:
        _decode(_nested(none_jws, jk), signer.public(), decryption_key=jk.rsa)
    assert excinfo.value.code == "unsupported_algorithm"


def test_nested_jwt_signed_by_an_untrusted_key(jk: JWEKeys) -> None:
    trusted, attacker = Key.generate("EC", crv="P-256"), Key.generate("EC", crv="P-256")
    token = _nested(_signed(attacker.with_params(kid=None)), jk)
    with pytest.raises(JWTKitError) as excinfo:
        _decode(token, trusted.public(), decryption_key=jk.rsa)
    assert excinfo.value.code == "invalid_signature"
    good = _nested(_signed(trusted.with_params(kid=None)), jk)
    assert _decode(good, trusted.public(), decryption_key=jk.rsa) == CLAIMS


def test_nested_jwt_inner_alg_must_be_listed(jk: JWEKeys) -> None:
    signer = Key.generate("EC", crv="P-384")
    token = _nested(jwtkit.encode(CLAIMS, signer, "ES384"), jk)
    with pytest.raises(JWTKitError) as excinfo:
        _decode(token, signer.public(), decryption_key=jk.rsa)
    assert excinfo.value.code == "alg_not_allowed"
    with pytest.raises(JWTKitError) as excinfo:  # no JWS alg at all: a nested JWT never verifies
        jwtkit.decode(token, signer.public(), ["RSA-OAEP-256"], encryption_algorithms=["A256GCM"],
                      decryption_key=jk.rsa, audience=AUD, issuer=ISS, now=NOW + 1)  # fmt: skip
    assert excinfo.value.code == "alg_not_allowed"


def test_nested_jwt_never_verified_with_the_decryption_key(jk: JWEKeys) -> None:
    # The inner JWS is an HMAC made with the very dir secret that decrypts the JWE.
    inner = jwtkit.encode(CLAIMS, Key.from_secret(jk.dir256.raw), "HS256")
    token = jwe.encrypt(inner, jk.dir256, "dir", "A256GCM", headers={"cty": "JWT"})
    for key in (jk.dir256, KeySet([jk.dir256])):
        with pytest.raises(JWTKitError) as excinfo:
            jwtkit.decode(token, key, ["HS256", "dir"], encryption_algorithms=["A256GCM"],
                          audience=AUD, issuer=ISS, now=NOW + 1)  # fmt: skip
        assert excinfo.value.code in ("key_not_found", "key_mismatch")
    copy = Key.from_secret(jk.dir256.raw)  # the same secret as another Key object
    with pytest.raises(JWTKitError) as excinfo:
        jwtkit.decode(token, copy, ["HS256", "dir"], encryption_algorithms=["A256GCM"],
                      decryption_key=jk.dir256, audience=AUD, issuer=ISS, now=NOW + 1)  # fmt: skip
    assert excinfo.value.code == "key_not_found"


def test_jwe_for_jws_and_jws_for_jwe(jk: JWEKeys) -> None:
    signer = Key.generate("EC", crv="P-256")
    jwe_token = _nested(_signed(signer), jk)
    for call in (
        lambda: jwtkit.decode(jwe_token, signer.public(), ["ES256"], audience=AUD, issuer=ISS),
        lambda: jwtkit.jws.verify(jwe_token, signer.public(), ["ES256"]),
        lambda: _decode(_signed(signer), signer.public(), decryption_key=jk.rsa),
        lambda: jwe.decrypt(_signed(signer), jk.rsa, ["RSA-OAEP-256"], ["A256GCM"]),
        lambda: _decode(
            json.dumps(jwe.encrypt_json(b"{}", [(jk.rsa.public(), "RSA-OAEP-256")], "A256GCM")),
            jk.rsa,
        ),  # fmt: skip
    ):
        with pytest.raises(JWTKitError) as excinfo:
            call()
        assert excinfo.value.code == "malformed"
    with pytest.raises(JWTKitError) as excinfo:  # JWS alg in a JWE header
        jwe.decrypt(_rehead(jwe_token, alg="ES256"), jk.rsa, ["RSA-OAEP-256"], ["A256GCM"])
    assert excinfo.value.code == "unsupported_algorithm"


def test_unsigned_encrypted_jwt_is_refused_where_a_nested_one_is_expected(jk: JWEKeys) -> None:
    """Anyone with the recipient's public key can encrypt claims: when the caller names a JWS
    alg, the signature layer cannot be stripped (a bare encrypted claims set is refused)."""
    spec = jwe.Encryption(jk.rsa.public(), "RSA-OAEP-256", "A256GCM")
    forged = jwtkit.encode(CLAIMS, None, encryption=spec)
    signer = Key.generate("EC", crv="P-256")
    with pytest.raises(JWTKitError) as excinfo:
        _decode(forged, signer.public(), decryption_key=jk.rsa)
    assert excinfo.value.code == "malformed"
    claims = jwtkit.decode(forged, jk.rsa, ["RSA-OAEP-256"], encryption_algorithms=["A256GCM"],
                           audience=AUD, issuer=ISS, now=NOW + 1)  # fmt: skip
    assert claims == CLAIMS  # only JWE algs named: the caller asked for an encrypted JWT


def test_encrypted_jwt_plaintext_must_be_a_claims_set(jk: JWEKeys) -> None:
    only_jwe: dict[str, Any] = {
        "encryption_algorithms": ["A256GCM"],
        "audience": AUD,
        "issuer": ISS,
        "now": NOW + 1,
    }
    token = jwe.encrypt(b"[1, 2]", jk.rsa.public(), "RSA-OAEP-256", "A256GCM")
    with pytest.raises(JWTKitError) as excinfo:
        jwtkit.decode(token, jk.rsa, ["RSA-OAEP-256"], **only_jwe)
    assert excinfo.value.code == "malformed"
    typed = jwe.encrypt(json.dumps(CLAIMS), jk.rsa.public(), "RSA-OAEP-256", "A256GCM")
    with pytest.raises(JWTKitError) as excinfo:
        jwtkit.decode(typed, jk.rsa, ["RSA-OAEP-256"], typ="at+jwt", **only_jwe)
    assert excinfo.value.code == "invalid_typ"


# -- fuzz -------------------------------------------------------------------------------------

_SEGMENT = st.text(
    alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", max_size=60
)


@st.composite
def _mutated(draw: st.DrawFn, base: str) -> str:
    pieces = base.split(".")
    index = draw(st.integers(0, len(pieces) - 1))
    choice = draw(st.integers(0, 3))
    if choice == 0:
        pieces[index] = draw(_SEGMENT)
    elif choice == 1:
        raw = bytearray(unb64u(pieces[index]) or b"\x00")
        pos = draw(st.integers(0, len(raw) - 1))
        raw[pos] ^= draw(st.integers(1, 255))
        pieces[index] = b64u(bytes(raw))
    elif choice == 2:
        header = json.loads(unb64u(pieces[0]))
        name = draw(
            st.sampled_from(["alg", "enc", "zip", "epk", "p2c", "p2s", "iv", "tag", "crit", "kid"])
        )
        header[name] = draw(
            st.one_of(
                st.none(),
                st.integers(-(2**40), 2**40),
                st.text(max_size=8),
                st.booleans(),
                st.lists(st.text(max_size=4), max_size=3),
                st.dictionaries(st.text(max_size=3), st.text(max_size=8), max_size=3),
            )  # fmt: skip
        )
        pieces[0] = segment(header)
    else:
        pieces = pieces[: draw(st.integers(0, len(pieces)))] + [draw(_SEGMENT)] * draw(
            st.integers(0, 2)
        )
    return ".".join(pieces)


def _fuzz_tokens() -> dict[str, str]:
    jk = _FUZZ_KEYS
    return {
        "kw": _kw(jk, compression="DEF"),
        "pbes2": _pbes2(jk),
        "ecdh": _ecdh(jk),
        "gcmkw": jwe.encrypt(b"p", jk.a128kw, "A128GCMKW", "A128CBC-HS256"),
        "dir": jwe.encrypt(b"p", jk.dir256, "dir", "A256GCM"),
    }


_FUZZ_KEYS = make_keys()
_FUZZ_BASES = _fuzz_tokens()
_FUZZ_POLICY = jwe.Decrypter(
    KeySet([_FUZZ_KEYS.a128kw, _FUZZ_KEYS.password, _FUZZ_KEYS.p256, _FUZZ_KEYS.dir256]),
    algorithms=["A128KW", "A128GCMKW", "PBES2-HS256+A128KW", "ECDH-ES+A128KW", "dir"],
    encryption_algorithms=["A128GCM", "A256GCM", "A128CBC-HS256"],
    compression_algorithms=["DEF"],
    max_p2c=2000,
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(_FUZZ_BASES)).flatmap(lambda name: _mutated(_FUZZ_BASES[name])))
def test_fuzz_decrypt_raises_only_jwtkit_errors(token: str) -> None:
    with contextlib.suppress(JWTKitError):
        _FUZZ_POLICY.decrypt(token)


_JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=10)),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)


_MEMBERS = ["protected", "unprotected", "header", "recipients", "encrypted_key", "iv", "ciphertext"]


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from([*_MEMBERS, "tag", "aad"]), _JSON_VALUES, max_size=9))
def test_fuzz_json_decrypt_raises_only_jwtkit_errors(token: dict[str, Any]) -> None:
    with contextlib.suppress(JWTKitError):
        _FUZZ_POLICY.decrypt(token)
