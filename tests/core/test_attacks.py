"""Attacks on JWT verification, table-driven (golang-jwt ``parser_test.go`` style).

Each row of ``CASES`` is one case: how to build the token, which key and options the verifier
uses, and the error code jwtkit must answer (None: the token is accepted). Tokens are built by
hand (``_helpers.forge``) and signed correctly, so the fault under test is the only one.
``docs/security.md`` lists these attacks with their codes.
"""

from __future__ import annotations

import hashlib
import json
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

import jwtkit
from jwtkit import Key, KeySet
from jwtkit.errors import ClaimError, JWTKitError, KeyNotFoundError

from ._helpers import AUD, CLAIMS, ISS, NOW, b64u, forge, raw_sign, unb64u
from .conftest import Keys

HS = {"alg": "HS256", "typ": "JWT"}
# The order n of the P-256 group (SEC 2 §2.4.2).
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

TokenFn = Callable[[Keys], str | bytes]
KeyFn = Callable[[Keys], Any]


@dataclass(frozen=True)
class Case:
    """One row: ``token(keys)`` verified with ``key(keys)`` must give ``code`` (None: accepted)."""

    name: str
    token: TokenFn
    key: KeyFn
    code: str | None
    algorithms: tuple[str, ...] = ("HS256",)
    options: dict[str, Any] = field(default_factory=dict)


def hs(k: Keys) -> Key:
    return k.hs256


def claims(**changes: Any) -> dict[str, Any]:
    """CLAIMS with some members changed; a value of ``...`` removes the member."""
    out = {**CLAIMS, **changes}
    return {name: value for name, value in out.items() if value is not ...}


def hs_token(header: Any = None, payload: Any = None) -> TokenFn:
    """A correctly HS256-signed token with this header/payload (dict, raw bytes or segment)."""
    return lambda k: forge(HS if header is None else header, payload, key=k.hs256, alg="HS256")


def edit(
    token_fn: TokenFn, change: Callable[[list[str]], None], resign: str | None = None
) -> TokenFn:
    """Change the segments of a token; ``resign="HS256"`` re-MACs the changed signing input."""

    def build(k: Keys) -> str:
        parts = str(token_fn(k)).split(".")
        change(parts)
        if resign is not None:
            parts[2] = b64u(raw_sign(resign, k.hs256, f"{parts[0]}.{parts[1]}".encode("latin-1")))
        return ".".join(parts)

    return build


def _with_char(char_pool: str, index: int) -> Callable[[Keys], str]:
    """A valid HS256 token whose segment ``index`` holds one of ``char_pool`` (bounded search)."""

    def build(k: Keys) -> str:
        for n in range(2000):
            filler = "?>~" * (1 + n % 3) + "a" * (n // 3 % 4)
            token = forge({**HS, "x": filler}, claims(x=filler, n=n), key=k.hs256)
            if any(c in token.split(".")[index] for c in char_pool):
                return token
        raise AssertionError("no token with the wanted character in 2000 tries")

    return build


def std_alphabet(index: int) -> TokenFn:
    """The standard base64 alphabet ('+', '/') instead of base64url ('-', '_') in one segment."""
    base = _with_char("-_", index)

    def change(parts: list[str]) -> None:
        parts[index] = parts[index].replace("-", "+").replace("_", "/")

    return edit(base, change, resign="HS256" if index < 2 else None)


def non_canonical(index: int) -> TokenFn:
    """A final base64url character with non-zero unused bits (a second encoding of the bytes)."""

    def build(k: Keys) -> str:
        for n in range(2000):
            token = forge({**HS, "n": n}, claims(n=n), key=k.hs256)
            parts = token.split(".")
            if len(parts[index]) % 4 in (2, 3):
                alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                last = alphabet.index(parts[index][-1])
                parts[index] = parts[index][:-1] + alphabet[last + 1]
                if index < 2:
                    parts[2] = b64u(raw_sign("HS256", k.hs256, ".".join(parts[:2]).encode()))
                return ".".join(parts)
        raise AssertionError("no segment with a partial final group in 2000 tries")

    return build


def ec_signature(
    r: Callable[[int, int], int], s: Callable[[int, int], int], size: int = 64, der: bool = False
) -> TokenFn:
    """An ES256 token whose (r, s) are replaced by ``r(r0, s0)``, ``s(r0, s0)``."""

    def build(k: Keys) -> str:
        header = {"alg": "ES256", "typ": "JWT"}
        good = forge(header, key=k.p256).split(".")
        raw = unb64u(good[2])
        r0, s0 = int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")
        r1, s1 = r(r0, s0), s(r0, s0)
        if der:
            sig = encode_dss_signature(r1, s1)
        else:
            half = size // 2
            sig = r1.to_bytes(half, "big") + s1.to_bytes(half, "big")
        return f"{good[0]}.{good[1]}.{b64u(sig)}"

    return build


def public_forms(k: Keys) -> dict[str, bytes]:
    """Every form in which public-key material might reach an HMAC verifier."""
    pub = k.rsa.raw.public_key()
    enc, fmt = serialization.Encoding, serialization.PublicFormat
    ec_pub = k.p256.raw.public_key()
    ed_pub = k.ed25519.raw.public_key()
    spki = pub.public_bytes(enc.PEM, fmt.SubjectPublicKeyInfo)
    return {
        "rsa-pem-spki": spki,
        "rsa-pem-pkcs1": pub.public_bytes(enc.PEM, fmt.PKCS1),
        "rsa-pem-certificate": k.cert_pem,
        "rsa-jwk-text": json.dumps(k.rsa.public().to_jwk()).encode(),
        "rsa-ssh": pub.public_bytes(enc.OpenSSH, fmt.OpenSSH),
        "rsa-der-spki": pub.public_bytes(enc.DER, fmt.SubjectPublicKeyInfo),
        "rsa-der-pkcs1": pub.public_bytes(enc.DER, fmt.PKCS1),
        "rsa-der-certificate": k.cert_der,
        "rsa-pem-leading-whitespace": b" \n\t" + spki,
        "ec-pem-spki": ec_pub.public_bytes(enc.PEM, fmt.SubjectPublicKeyInfo),
        "ec-ssh": ec_pub.public_bytes(enc.OpenSSH, fmt.OpenSSH),
        "ec-jwk-text": json.dumps(k.p256.public().to_jwk(), indent=1).encode(),
        "ed25519-pem-spki": ed_pub.public_bytes(enc.PEM, fmt.SubjectPublicKeyInfo),
        "ed25519-ssh": ed_pub.public_bytes(enc.OpenSSH, fmt.OpenSSH),
        "ed25519-der-spki": ed_pub.public_bytes(enc.DER, fmt.SubjectPublicKeyInfo),
    }


FORM_NAMES = [
    "rsa-pem-spki",
    "rsa-pem-pkcs1",
    "rsa-pem-certificate",
    "rsa-jwk-text",
    "rsa-ssh",
    "rsa-der-spki",
    "rsa-der-pkcs1",
    "rsa-der-certificate",
    "rsa-pem-leading-whitespace",
    "ec-pem-spki",
    "ec-ssh",
    "ec-jwk-text",
    "ed25519-pem-spki",
    "ed25519-ssh",
    "ed25519-der-spki",
]


def hmac_with_public(form: str) -> TokenFn:
    return lambda k: forge(HS, key=public_forms(k)[form], alg="HS256")


class RecordingResolver:
    """A KeyResolver that only looks ``kid`` up in a dict (no I/O, no path, no SQL)."""

    def __init__(self, by_kid: dict[str, Key]) -> None:
        self.by_kid = by_kid
        self.seen: list[Any] = []

    def resolve_key(self, header: Any) -> Key:
        kid = header.get("kid")
        self.seen.append(kid)
        try:
            return self.by_kid[kid]
        except KeyError:
            raise KeyNotFoundError("no key with this kid") from None


def _ec_set(k: Keys) -> KeySet:
    return KeySet([k.p256.public(), k.p256_other.public()])


def _es(
    header_extra: dict[str, Any],
    signer: Callable[[Keys], Key] = lambda k: k.p256,
    jwk_of: Callable[[Keys], Key] | None = None,
    private: bool = False,
) -> TokenFn:
    """An ES256 token; ``jwk_of`` puts that key's JWK in the header's ``jwk``."""

    def build(k: Keys) -> str:
        header = {"alg": "ES256", **header_extra}
        if jwk_of is not None:
            key = jwk_of(k)
            header["jwk"] = key.to_jwk(private=True) if private else key.public().to_jwk()
        return forge(header, key=signer(k))

    return build


def _p256(k: Keys) -> Key:
    return k.p256.public()


def _p256_no_kid(k: Keys) -> Key:
    return k.p256.public().with_params(kid=None)


def _attacker_jwk(k: Keys) -> dict[str, Any]:
    return k.p256_other.public().to_jwk()


def _x5c(k: Keys) -> list[str]:
    import base64

    return [base64.b64encode(k.cert_der).decode()]


def _deep(depth: int) -> bytes:
    return b'{"sub":"a","x":' + b"[" * depth + b"]" * depth + b"}"


CASES: list[Case] = [
    # -- alg "none" in any spelling, missing or odd alg ----------------------------------------
    *[
        Case(
            f"alg-{spelling}-empty-signature",
            lambda k, s=spelling: forge({"alg": s, "typ": "JWT"}, signature=""),
            hs,
            "unsupported_algorithm",
        )
        for spelling in ("none", "None", "NONE", "nOnE")
    ],
    *[
        Case(
            f"alg-{spelling}-with-signature",
            lambda k, s=spelling: forge({"alg": s}, signature=b"\x00" * 32),
            hs,
            "unsupported_algorithm",
        )
        for spelling in ("none", "NONE")
    ],
    *[
        Case(
            f"alg-{spelling}-in-allowlist",
            lambda k, s=spelling: forge({"alg": s}, signature=""),
            hs,
            "unsupported_algorithm",
            algorithms=(spelling,),
        )
        for spelling in ("none", "None")
    ],
    Case("alg-missing", hs_token({"typ": "JWT"}), hs, "malformed"),
    Case("alg-null", hs_token({"alg": None}), hs, "unsupported_algorithm"),
    Case("alg-number", hs_token({"alg": 256}), hs, "unsupported_algorithm"),
    Case("alg-list", hs_token({"alg": ["HS256"]}), hs, "unsupported_algorithm"),
    Case("alg-object", hs_token({"alg": {"name": "HS256"}}), hs, "unsupported_algorithm"),
    Case("alg-true", hs_token({"alg": True}), hs, "unsupported_algorithm"),
    Case("alg-lowercase", hs_token({"alg": "hs256"}), hs, "unsupported_algorithm"),
    Case("alg-trailing-space", hs_token({"alg": "HS256 "}), hs, "unsupported_algorithm"),
    Case("alg-nul-suffix", hs_token({"alg": "HS256\u0000"}), hs, "unsupported_algorithm"),
    Case("alg-unknown", hs_token({"alg": "HS1024"}), hs, "unsupported_algorithm"),
    Case(
        "alg-not-in-allowlist",
        lambda k: forge({"alg": "HS512"}, key=k.hs512),
        lambda k: k.hs512,
        "alg_not_allowed",
    ),
    Case("alg-jwe", hs_token({"alg": "RSA-OAEP", "enc": "A256GCM"}), hs, "unsupported_algorithm"),
    # -- HMAC keyed with public-key material (RFC 8725 §2.1, §3.1) ----------------------------
    # Key material passed as bytes/str is imported by its form (PyJWT compatibility): public-key
    # material becomes an RSA/EC/OKP key, which no HMAC alg accepts, so the forged HS256 token
    # meets key_mismatch. It never becomes an HMAC secret (Key.from_secret refuses it outright:
    # see test_api.py).
    *[
        Case(
            f"hmac-secret-is-{form}",
            hmac_with_public(form),
            lambda k, f=form: public_forms(k)[f],
            "key_mismatch",
        )
        for form in FORM_NAMES
    ],
    Case(
        "hmac-secret-is-pem-as-str",
        hmac_with_public("rsa-pem-spki"),
        lambda k: public_forms(k)["rsa-pem-spki"].decode(),
        "key_mismatch",
    ),
    Case(
        "hmac-secret-is-jwk-text-as-str",
        hmac_with_public("rsa-jwk-text"),
        lambda k: public_forms(k)["rsa-jwk-text"].decode(),
        "key_mismatch",
    ),
    Case(
        "hmac-token-rsa-key-object",
        hmac_with_public("rsa-pem-spki"),
        lambda k: k.rsa.public(),
        "key_mismatch",
        algorithms=("HS256", "RS256"),
    ),
    Case(
        "hmac-token-ec-key-object",
        hmac_with_public("ec-pem-spki"),
        lambda k: k.p256.public(),
        "key_mismatch",
        algorithms=("HS256", "ES256"),
    ),
    Case(
        "hmac-token-ed25519-key-object",
        hmac_with_public("ed25519-pem-spki"),
        lambda k: k.ed25519.public(),
        "key_mismatch",
        algorithms=("HS256", "EdDSA"),
    ),
    Case(
        "hmac-token-key-from-certificate",
        hmac_with_public("rsa-pem-certificate"),
        lambda k: Key.from_pem(k.cert_pem),
        "key_mismatch",
        algorithms=("HS256", "RS256"),
    ),
    Case(
        "hmac-token-keyset-of-public-keys",
        hmac_with_public("rsa-pem-spki"),
        lambda k: KeySet([k.rsa.public(), k.p256.public()]),
        "key_not_found",
        algorithms=("HS256", "RS256", "ES256"),
    ),
    Case(
        "rsa-token-hmac-key",
        lambda k: forge({"alg": "RS256"}, key=k.rsa),
        hs,
        "key_mismatch",
        algorithms=("RS256", "HS256"),
    ),
    Case(
        "ec-token-hmac-secret-bytes",
        lambda k: forge({"alg": "ES256"}, key=k.p256),
        lambda k: bytes(range(32)),
        "key_mismatch",
        algorithms=("ES256",),
    ),
    Case(
        "es256-token-p384-key",
        lambda k: forge({"alg": "ES256"}, key=k.p256),
        lambda k: k.p384.public(),
        "key_mismatch",
        algorithms=("ES256",),
    ),
    Case(
        "ed448-token-ed25519-key",
        lambda k: forge({"alg": "Ed448"}, key=k.ed448),
        lambda k: k.ed25519.public(),
        "key_mismatch",
        algorithms=("Ed448",),
    ),
    # -- embedded keys and key URLs are never used (RFC 8725 §3.10) ----------------------------
    Case(
        "embedded-jwk-attacker-signed",
        lambda k: forge({"alg": "ES256", "jwk": _attacker_jwk(k)}, key=k.p256_other),
        lambda k: k.p256.public(),
        "key_not_found",
        algorithms=("ES256",),
    ),
    Case(
        "embedded-jwk-unknown-kid",
        lambda k: forge(
            {"alg": "ES256", "kid": "attacker", "jwk": _attacker_jwk(k)}, key=k.p256_other
        ),
        lambda k: KeySet([k.p256.public()]),
        "key_not_found",
        algorithms=("ES256",),
    ),
    Case(
        "embedded-jwk-hmac",
        lambda k: forge(
            {"alg": "HS256", "jwk": {"kty": "oct", "k": b64u(b"a" * 32)}}, key=b"a" * 32
        ),
        hs,
        "malformed",  # an embedded jwk must be a public key (RFC 7515 §4.1.3)
    ),
    Case(
        "jku-attacker-url",
        lambda k: forge(
            {"alg": "ES256", "kid": "x", "jku": "http://127.0.0.1:9/jwks.json"}, key=k.p256_other
        ),
        lambda k: KeySet([k.p256.public()]),
        "key_not_found",
        algorithms=("ES256",),
    ),
    Case(
        "x5u-attacker-url",
        lambda k: forge({"alg": "ES256", "x5u": "http://127.0.0.1:9/cert.pem"}, key=k.p256_other),
        lambda k: k.p256.public(),
        "invalid_signature",
        algorithms=("ES256",),
    ),
    Case(
        "x5c-attacker-certificate",
        lambda k: forge({"alg": "RS256", "x5c": _x5c(k)}, key=k.rsa),
        lambda k: k.rsa_other.public(),
        "key_not_found",
        algorithms=("RS256",),
    ),
    # -- header identity is bound to the verifying key (go-jose#241's class) -------------------
    # kid, jwk and x5c are never used to find a key; a key that was found must have the identity
    # the header names, or the token is refused (never reported with another key's identity).
    Case(
        "embedded-jwk-other-key-legit-signature",
        lambda k: forge({"alg": "ES256", "jwk": _attacker_jwk(k)}, key=k.p256),
        lambda k: k.p256.public(),
        "key_not_found",
        algorithms=("ES256",),
    ),
    Case(
        "embedded-jwk-is-the-key",
        lambda k: forge({"alg": "ES256", "jwk": k.p256.public().to_jwk()}, key=k.p256),
        lambda k: k.p256.public(),
        None,
        algorithms=("ES256",),
    ),
    Case(
        "x5c-is-the-key",
        lambda k: forge({"alg": "RS256", "x5c": _x5c(k)}, key=k.rsa),
        lambda k: k.rsa.public(),
        None,
        algorithms=("RS256",),
    ),
    *[
        Case(f"identity-{name}", token, key, code, algorithms=algs)
        for name, token, key, code, algs in (
            ("single-key-other-kid", _es({"kid": "p256-2"}), _p256, "key_not_found", ("ES256",)),
            ("single-key-same-kid", _es({"kid": "p256-1"}), _p256, None, ("ES256",)),
            ("kidless-key-any-kid", _es({"kid": "p256-2"}), _p256_no_kid, None, ("ES256",)),
            (
                "single-key-other-kid-and-jwk",
                _es({"kid": "p256-2", "jwk": {}}, jwk_of=lambda k: k.p256_other),
                _p256,
                "key_not_found",
                ("ES256",),
            ),
            (
                "same-kid-other-jwk",
                _es({"kid": "p256-1", "jwk": {}}, jwk_of=lambda k: k.p256_other),
                _p256,
                "key_not_found",
                ("ES256",),
            ),
            (
                "keyset-kid-right-jwk-other",
                _es({"kid": "p256-1", "jwk": {}}, jwk_of=lambda k: k.p256_other),
                _ec_set,
                "key_not_found",
                ("ES256",),
            ),
            (
                "resolver-key-other-kid",
                _es({"kid": "p256-2"}),
                lambda k: RecordingResolver({"p256-2": k.p256.public()}),
                "key_not_found",
                ("ES256",),
            ),
            (
                "hmac-key-other-kid",
                hs_token({**HS, "kid": "other"}),
                hs,
                "key_not_found",
                ("HS256",),
            ),
            (
                "hmac-key-with-jwk",
                hs_token({**HS, "kid": "hs256", "jwk": {"kty": "EC"}}),
                hs,
                "malformed",
                ("HS256",),
            ),
            ("jwk-not-object", _es({"jwk": "x"}), _p256, "malformed", ("ES256",)),
            (
                "jwk-private",
                _es({"jwk": {}}, jwk_of=lambda k: k.p256, private=True),
                _p256,
                "malformed",
                ("ES256",),
            ),
            (
                "jwk-broken",
                _es({"jwk": {"kty": "EC", "crv": "P-256"}}),
                _p256,
                "malformed",
                ("ES256",),
            ),
            ("x5c-not-list", _es({"x5c": "MIIB"}), _p256, "malformed", ("ES256",)),
            ("x5c-empty", _es({"x5c": []}), _p256, "malformed", ("ES256",)),
            ("x5c-not-base64", _es({"x5c": ["%%%"]}), _p256, "malformed", ("ES256",)),
            ("x5c-not-der", _es({"x5c": ["AAAA"]}), _p256, "malformed", ("ES256",)),
            (
                "x5c-right-x5t-s256-other",
                lambda k: forge(
                    {"alg": "RS256", "x5c": _x5c(k), "x5t#S256": b64u(b"\x00" * 32)}, key=k.rsa
                ),
                lambda k: k.rsa.public(),
                "key_not_found",
                ("RS256",),
            ),
            (
                "x5c-with-its-thumbprints",
                lambda k: forge(
                    {
                        "alg": "RS256",
                        "x5c": _x5c(k),
                        "x5t#S256": b64u(hashlib.sha256(k.cert_der).digest()),
                        "x5t": b64u(hashlib.sha1(k.cert_der).digest()),  # noqa: S324 (RFC 7515)
                    },
                    key=k.rsa,
                ),
                lambda k: k.rsa.public(),
                None,
                ("RS256",),
            ),
        )
    ],
    # -- kid is a lookup key only ------------------------------------------------------------
    *[
        Case(f"kid-{name}", _es({"kid": kid}), _ec_set, "key_not_found", algorithms=("ES256",))
        for name, kid in (
            ("path-traversal", "../../dev/null"),
            ("absolute-path", "/etc/passwd"),
            ("sql-injection", "' OR '1'='1' --"),
            ("sql-union", "x' UNION SELECT 'secret"),
            ("command", "$(reboot)"),
            ("url", "http://127.0.0.1:9/key"),
            ("empty", ""),
            ("nul", "p256-1\u0000"),
            ("case", "P256-1"),
        )
    ],
    Case(
        "kid-path-traversal-resolver",
        _es({"kid": "../../dev/null"}),
        lambda k: RecordingResolver({"p256-1": k.p256.public()}),
        "key_not_found",
        algorithms=("ES256",),
    ),
    Case("kid-number", _es({"kid": 1}), _ec_set, "malformed", algorithms=("ES256",)),
    Case("kid-list", _es({"kid": ["p256-1"]}), _ec_set, "malformed", algorithms=("ES256",)),
    Case(
        "kid-other-key", _es({"kid": "p256-2"}), _ec_set, "invalid_signature", algorithms=("ES256",)
    ),
    Case("kid-right-key", _es({"kid": "p256-1"}), _ec_set, None, algorithms=("ES256",)),
    # -- ECDSA signature form (RFC 7518 §3.4) -------------------------------------------------
    Case(
        "ecdsa-valid",
        ec_signature(lambda r, s: r, lambda r, s: s),
        lambda k: k.p256.public(),
        None,
        algorithms=("ES256",),
    ),
    Case(
        "ecdsa-r-zero",
        ec_signature(lambda r, s: 0, lambda r, s: s),
        lambda k: k.p256.public(),
        "invalid_signature",
        algorithms=("ES256",),
    ),
    Case(
        "ecdsa-s-zero",
        ec_signature(lambda r, s: r, lambda r, s: 0),
        lambda k: k.p256.public(),
        "invalid_signature",
        algorithms=("ES256",),
    ),
    Case(
        "ecdsa-r-s-zero-psychic",
        ec_signature(lambda r, s: 0, lambda r, s: 0),
        lambda k: k.p256.public(),
        "invalid_signature",
        algorithms=("ES256",),
    ),
    Case(
        "ecdsa-r-equals-n",
        ec_signature(lambda r, s: P256_N, lambda r, s: s),
        lambda k: k.p256.public(),
        "invalid_signature",
        algorithms=("ES256",),
    ),
    Case(
        "ecdsa-s-equals-n",
        ec_signature(lambda r, s: r, lambda r, s: P256_N),
        lambda k: k.p256.public(),
        "invalid_signature",
        algorithms=("ES256",),
    ),
    Case(
        "ecdsa-r-all-ones",
        ec_signature(lambda r, s: 2**256 - 1, lambda r, s: s),
        lambda k: k.p256.public(),
        "invalid_signature",
        algorithms=("ES256",),
    ),
    Case(
        "ecdsa-s-all-ones",
        ec_signature(lambda r, s: r, lambda r, s: 2**256 - 1),
        lambda k: k.p256.public(),
        "invalid_signature",
        algorithms=("ES256",),
    ),
    Case(
        "ecdsa-der-encoded",
        ec_signature(lambda r, s: r, lambda r, s: s, der=True),
        lambda k: k.p256.public(),
        "invalid_signature",
        algorithms=("ES256",),
    ),
    Case(
        "ecdsa-leading-zero-bytes",
        ec_signature(lambda r, s: r, lambda r, s: s, size=66),
        lambda k: k.p256.public(),
        "invalid_signature",
        algorithms=("ES256",),
    ),
    Case(
        "ecdsa-too-short",
        edit(
            ec_signature(lambda r, s: r, lambda r, s: s),
            lambda p: p.__setitem__(2, b64u(unb64u(p[2])[:63])),
        ),
        lambda k: k.p256.public(),
        "invalid_signature",
        algorithms=("ES256",),
    ),
    Case(
        "ecdsa-es512-length-for-es256",
        ec_signature(lambda r, s: r, lambda r, s: s, size=132),
        lambda k: k.p256.public(),
        "invalid_signature",
        algorithms=("ES256",),
    ),
    # -- empty or truncated signature --------------------------------------------------------
    Case(
        "hmac-empty-signature",
        edit(hs_token(), lambda p: p.__setitem__(2, "")),
        hs,
        "invalid_signature",
    ),
    Case(
        "hmac-truncated-signature",
        edit(hs_token(), lambda p: p.__setitem__(2, b64u(unb64u(p[2])[:16]))),
        hs,
        "invalid_signature",
    ),
    Case(
        "hmac-one-byte-short",
        edit(hs_token(), lambda p: p.__setitem__(2, b64u(unb64u(p[2])[:-1]))),
        hs,
        "invalid_signature",
    ),
    Case(
        "hmac-extra-byte",
        edit(hs_token(), lambda p: p.__setitem__(2, b64u(unb64u(p[2]) + b"\x00"))),
        hs,
        "invalid_signature",
    ),
    Case(
        "rsa-empty-signature",
        edit(lambda k: forge({"alg": "RS256"}, key=k.rsa), lambda p: p.__setitem__(2, "")),
        lambda k: k.rsa.public(),
        "invalid_signature",
        algorithms=("RS256",),
    ),
    Case(
        "rsa-truncated-signature",
        edit(
            lambda k: forge({"alg": "PS256"}, key=k.rsa),
            lambda p: p.__setitem__(2, b64u(unb64u(p[2])[:-1])),
        ),
        lambda k: k.rsa.public(),
        "invalid_signature",
        algorithms=("PS256",),
    ),
    Case(
        "eddsa-empty-signature",
        edit(lambda k: forge({"alg": "EdDSA"}, key=k.ed25519), lambda p: p.__setitem__(2, "")),
        lambda k: k.ed25519.public(),
        "invalid_signature",
        algorithms=("EdDSA",),
    ),
    Case(
        "eddsa-truncated-signature",
        edit(
            lambda k: forge({"alg": "EdDSA"}, key=k.ed25519),
            lambda p: p.__setitem__(2, b64u(unb64u(p[2])[:-1])),
        ),
        lambda k: k.ed25519.public(),
        "invalid_signature",
        algorithms=("EdDSA",),
    ),
    Case(
        "signature-of-other-token",
        lambda k: (
            forge(HS, claims(sub="mallory"), key=k.hs256).rsplit(".", 1)[0]
            + "."
            + forge(HS, key=k.hs256).rsplit(".", 1)[1]
        ),
        hs,
        "invalid_signature",
    ),
    # -- duplicate JSON members (RFC 7515 §5.2, RFC 8725 §3.10) ---------------------------------
    Case("duplicate-alg", hs_token(b'{"alg":"HS256","alg":"HS256"}'), hs, "malformed"),
    Case("duplicate-alg-none-last", hs_token(b'{"alg":"HS256","alg":"none"}'), hs, "malformed"),
    Case("duplicate-alg-escaped", hs_token(b'{"alg":"HS256","\\u0061lg":"none"}'), hs, "malformed"),
    Case("duplicate-kid", hs_token(b'{"alg":"HS256","kid":"a","kid":"b"}'), hs, "malformed"),
    Case("duplicate-crit", hs_token(b'{"alg":"HS256","crit":["x"],"crit":[]}'), hs, "malformed"),
    Case(
        "duplicate-sub",
        hs_token(payload=b'{"sub":"alice","sub":"admin"}'),
        hs,
        "malformed",
        options={"audience": None, "issuer": None},
    ),
    Case(
        "duplicate-exp",
        hs_token(payload=(b'{"exp":%d,"exp":%d}' % (NOW - 10, NOW + 600))),
        hs,
        "malformed",
        options={"audience": None, "issuer": None},
    ),
    Case(
        "duplicate-aud-escaped", hs_token(payload=b'{"aud":"x","\\u0061ud":"y"}'), hs, "malformed"
    ),
    Case(
        "duplicate-nested",
        hs_token(payload=b'{"sub":"a","ctx":{"role":"u","role":"admin"}}'),
        hs,
        "malformed",
        options={"audience": None, "issuer": None},
    ),
    # -- base64url: padding, standard alphabet, junk, canonical bits (RFC 7515 §2) -----------------
    *[
        Case(
            f"padding-in-{part}",
            edit(
                hs_token(),
                lambda p, i=i, pad=pad: p.__setitem__(i, p[i] + pad),
                resign="HS256" if i < 2 else None,
            ),
            hs,
            "malformed",
        )
        for i, part in enumerate(("header", "payload", "signature"))
        for pad in ("=",)
    ],
    Case(
        "padding-double-in-payload",
        edit(hs_token(), lambda p: p.__setitem__(1, p[1] + "=="), resign="HS256"),
        hs,
        "malformed",
    ),
    *[
        Case(f"standard-alphabet-in-{part}", std_alphabet(i), hs, "malformed")
        for i, part in enumerate(("header", "payload", "signature"))
    ],
    *[
        Case(f"non-canonical-bits-in-{part}", non_canonical(i), hs, "malformed")
        for i, part in enumerate(("header", "payload", "signature"))
    ],
    *[
        Case(
            f"junk-{label}-in-{part}",
            edit(
                hs_token(),
                lambda p, i=i, j=junk: p.__setitem__(i, p[i][:4] + j + p[i][4:]),
                resign="HS256" if i < 2 else None,
            ),
            hs,
            "malformed",
        )
        for i, part in enumerate(("header", "payload", "signature"))
        for label, junk in (
            ("question-mark", "?"),
            ("bang", "!"),
            ("percent", "%3D"),
            ("star", "*"),
            ("nul", "\u0000"),
            ("backslash", "\\"),
        )
    ],
    Case(
        "junk-non-ascii-in-payload",
        edit(hs_token(), lambda p: p.__setitem__(1, p[1] + "é")),
        hs,
        "malformed",
    ),
    Case(
        "junk-non-ascii-bytes-token",
        lambda k: forge(HS, key=k.hs256).encode() + b"\xff",
        hs,
        "malformed",
    ),
    # -- whitespace ----------------------------------------------------------------------------
    *[
        Case(f"whitespace-{label}", (lambda k, f=fn: f(forge(HS, key=k.hs256))), hs, "malformed")
        for label, fn in (
            ("leading-space", lambda t: " " + t),
            ("trailing-space", lambda t: t + " "),
            ("trailing-newline", lambda t: t + "\n"),
            ("trailing-crlf", lambda t: t + "\r\n"),
            ("space-before-dot", lambda t: t.replace(".", " .", 1)),
            ("newline-in-signature", lambda t: t[:-10] + "\n" + t[-10:]),
            ("bearer-prefix", lambda t: "Bearer " + t),
        )
    ],
    Case(
        "whitespace-tab-in-payload",
        edit(hs_token(), lambda p: p.__setitem__(1, "\t" + p[1]), resign="HS256"),
        hs,
        "malformed",
    ),
    Case(
        "whitespace-newline-in-payload",
        edit(hs_token(), lambda p: p.__setitem__(1, p[1][:8] + "\n" + p[1][8:]), resign="HS256"),
        hs,
        "malformed",
    ),
    # -- wrong number of segments (RFC 7515 §7.1) ----------------------------------------------
    *[
        Case(f"segments-{label}", (lambda k, f=fn: f(forge(HS, key=k.hs256))), hs, "malformed")
        for label, fn in (
            ("empty-string", lambda t: ""),
            ("one", lambda t: t.split(".")[0]),
            ("two", lambda t: t.rsplit(".", 1)[0]),
            ("four", lambda t: t + ".e30"),
            ("trailing-dot", lambda t: t + "."),
            ("five-jwe", lambda t: t + ".e30.e30"),
            ("dots-only", lambda t: ".."),
            ("empty-header", lambda t: "." + t.split(".", 1)[1]),
        )
    ],
    # -- header and claims must be JSON objects (RFC 7515 §5.2, RFC 7519 §7.2) ---------------------
    *[
        Case(f"header-is-{label}", hs_token(raw), hs, "malformed")
        for label, raw in (
            ("array", b'["HS256"]'),
            ("string", b'"HS256"'),
            ("null", b"null"),
            ("number", b"1"),
            ("not-json", b"alg=HS256"),
            ("empty", b""),
            ("invalid-utf8", b'{"alg":"HS256","x":"\xff"}'),
            ("trailing-garbage", b'{"alg":"HS256"}x'),
        )
    ],
    *[
        Case(f"claims-are-{label}", hs_token(payload=raw), hs, "malformed")
        for label, raw in (
            ("array", b"[]"),
            ("string", b'"sub"'),
            ("null", b"null"),
            ("number", b"1"),
            ("not-json", b"sub=alice"),
            ("empty", b""),
            ("invalid-utf8", b'{"sub":"\xff"}'),
            ("nan", b'{"exp":NaN}'),
            ("infinity", b'{"exp":Infinity}'),
            ("minus-infinity", b'{"nbf":-Infinity}'),
        )
    ],
    Case(
        "claims-float-overflow-exp",
        hs_token(payload=b'{"exp":1e400}'),
        hs,
        "malformed",
        options={"audience": None, "issuer": None},
    ),
    # -- claim types: NumericDate is a JSON number (RFC 7519 §2, §4.1) -----------------------------
    *[
        Case(f"{claim}-as-{label}", hs_token(payload=claims(**{claim: value})), hs, "invalid_claim")
        for claim in ("exp", "nbf", "iat")
        for label, value in (
            ("string", str(NOW)),
            ("bool-true", True),
            ("bool-false", False),
            ("null", None),
            ("list", [NOW]),
            ("object", {"t": NOW}),
        )
    ],
    Case("exp-as-float", hs_token(payload=claims(exp=NOW + 600.5)), hs, None),
    Case(
        "exp-huge-int-no-overflow",
        hs_token(payload=claims(exp=10**400)),
        hs,
        None,
        options={"leeway": 0.5},
    ),
    Case("nbf-huge-int", hs_token(payload=claims(nbf=10**400)), hs, "not_yet_valid"),
    Case("iat-huge-int", hs_token(payload=claims(iat=10**400)), hs, "iat_in_future"),
    Case(
        "exp-null-with-exp-required",
        hs_token(payload=claims(exp=None)),
        hs,
        "invalid_claim",
        options={"required": ["exp"]},
    ),
    Case("aud-number", hs_token(payload=claims(aud=1)), hs, "invalid_claim"),
    Case("aud-list-with-number", hs_token(payload=claims(aud=[AUD, 1])), hs, "invalid_claim"),
    Case("aud-list-with-null", hs_token(payload=claims(aud=[AUD, None])), hs, "invalid_claim"),
    Case("aud-nested-list", hs_token(payload=claims(aud=[[AUD]])), hs, "invalid_claim"),
    Case("aud-object", hs_token(payload=claims(aud={AUD: True})), hs, "invalid_claim"),
    Case("aud-bool", hs_token(payload=claims(aud=True)), hs, "invalid_claim"),
    Case("aud-null", hs_token(payload=claims(aud=None)), hs, "invalid_claim"),
    Case("aud-empty-list", hs_token(payload=claims(aud=[])), hs, "invalid_audience"),
    Case("iss-number", hs_token(payload=claims(iss=1)), hs, "invalid_claim"),
    Case("iss-list", hs_token(payload=claims(iss=[ISS])), hs, "invalid_claim"),
    Case("iss-object", hs_token(payload=claims(iss={"iss": ISS})), hs, "invalid_claim"),
    Case(
        "iss-non-string-unchecked-issuer",
        hs_token(payload=claims(iss=[ISS])),
        hs,
        "invalid_claim",
        options={"issuer": None},
    ),
    Case("sub-number", hs_token(payload=claims(sub=42)), hs, "invalid_claim"),
    Case("jti-number", hs_token(payload=claims(jti=7)), hs, "invalid_claim"),
    # -- weak keys (RFC 7518 §3.2, §3.3; RFC 8725 §3.5) ------------------------------------------
    Case(
        "rsa-1024",
        lambda k: forge({"alg": "RS256"}, key=k.rsa1024),
        lambda k: k.rsa1024.public(),
        "weak_key",
        algorithms=("RS256",),
    ),
    Case(
        "rsa-1024-opt-out",
        lambda k: forge({"alg": "RS256"}, key=k.rsa1024),
        lambda k: k.rsa1024.public(),
        None,
        algorithms=("RS256",),
        options={"allow_weak_keys": True},
    ),
    Case(
        "rsa-1024-pss",
        lambda k: forge({"alg": "PS256"}, key=k.rsa1024),
        lambda k: k.rsa1024.public(),
        "weak_key",
        algorithms=("PS256",),
    ),
    *[
        Case(
            f"{alg.lower()}-{size}-byte-secret",
            (lambda k, a=alg, n=size: forge({"alg": a}, key=bytes(range(n)))),
            (lambda k, n=size: Key.from_secret(bytes(range(n)))),
            "weak_key",
            algorithms=(alg,),
        )
        for alg, size in (("HS256", 31), ("HS256", 16), ("HS384", 47), ("HS512", 63), ("HS512", 32))
    ],
    Case(
        "hs256-short-raw-bytes", lambda k: forge(HS, key=b"secret"), lambda k: b"secret", "weak_key"
    ),
    Case(
        "hs256-short-secret-opt-out",
        lambda k: forge(HS, key=b"secret"),
        lambda k: b"secret",
        None,
        options={"allow_weak_keys": True},
    ),
    Case("hs256-empty-secret", lambda k: forge(HS, key=b""), lambda k: b"", "invalid_key"),
    # -- size caps: checked before any decoding or cryptography ------------------------------------
    Case(
        "token-over-default-cap", hs_token(payload=claims(pad="x" * 13000)), hs, "token_too_large"
    ),
    Case(
        "token-over-custom-cap", hs_token(), hs, "token_too_large", options={"max_token_size": 100}
    ),
    Case("token-10mb", lambda k: "e30." * 2_500_000 + "x", hs, "token_too_large"),
    Case("token-10mb-bytes", lambda k: b"A" * 10_000_000, hs, "token_too_large"),
    Case("header-over-cap", hs_token({**HS, "kid": "k" * 5000}), hs, "token_too_large"),
    Case(
        "payload-over-cap-raised-token-cap",
        hs_token(payload=claims(pad="x" * 40000)),
        hs,
        "token_too_large",
        options={"max_token_size": 40000},
    ),
    Case(
        "payload-nested-too-deep",
        hs_token(payload=_deep(40)),
        hs,
        "malformed",
        options={"audience": None, "issuer": None},
    ),
    Case(
        "payload-nested-very-deep",
        hs_token(payload=_deep(200_000)),
        hs,
        "malformed",
        options={"audience": None, "issuer": None, "max_token_size": 10**6},
    ),
    Case(
        "header-nested-too-deep",
        hs_token(b'{"alg":"HS256","x":' + b"[" * 40 + b"]" * 40 + b"}"),
        hs,
        "malformed",
    ),
    Case(
        "payload-nested-at-cap",
        hs_token(payload=_deep(15)),
        hs,
        None,
        options={"audience": None, "issuer": None},
    ),
    # -- crit and b64 (RFC 7515 §4.1.11, RFC 7797 §6) --------------------------------------------
    Case("crit-unknown", hs_token({**HS, "crit": ["exp"], "exp": NOW}), hs, "unsupported_crit"),
    Case("crit-unknown-absent", hs_token({**HS, "crit": ["foo"]}), hs, "unsupported_crit"),
    Case("crit-empty", hs_token({**HS, "crit": []}), hs, "unsupported_crit"),
    Case("crit-not-list", hs_token({**HS, "crit": "b64", "b64": True}), hs, "unsupported_crit"),
    Case("crit-registered-name", hs_token({**HS, "crit": ["alg"]}), hs, "unsupported_crit"),
    Case("crit-number", hs_token({**HS, "crit": [1]}), hs, "unsupported_crit"),
    Case(
        "crit-duplicate-name",
        hs_token({**HS, "crit": ["b64", "b64"], "b64": True}),
        hs,
        "unsupported_crit",
    ),
    Case("crit-b64-absent", hs_token({**HS, "crit": ["b64"]}), hs, "unsupported_crit"),
    Case("b64-false-not-critical", hs_token({**HS, "b64": False}), hs, "unsupported_crit"),
    Case("b64-true-not-critical", hs_token({**HS, "b64": True}), hs, "unsupported_crit"),
    Case("b64-false-in-jwt", hs_token({**HS, "b64": False, "crit": ["b64"]}), hs, "malformed"),
    Case("b64-not-bool", hs_token({**HS, "b64": "false", "crit": ["b64"]}), hs, "malformed"),
    Case("unknown-non-critical-header", hs_token({**HS, "foo": "bar", "x5t": "y"}), hs, None),
    # -- claim checks (RFC 7519 §4.1) -------------------------------------------------------------
    Case("valid", hs_token(), hs, None),
    Case("exp-now-equals-exp", hs_token(), hs, "expired", options={"now": NOW + 600}),
    Case("exp-one-second-before", hs_token(), hs, None, options={"now": NOW + 599}),
    Case("exp-within-leeway", hs_token(), hs, None, options={"now": NOW + 629, "leeway": 30}),
    Case("exp-at-leeway", hs_token(), hs, "expired", options={"now": NOW + 630, "leeway": 30}),
    Case("exp-long-ago", hs_token(), hs, "expired", options={"now": NOW + 10**9}),
    Case("nbf-future", hs_token(payload=claims(nbf=NOW + 60, iat=...)), hs, "not_yet_valid"),
    Case(
        "nbf-within-leeway",
        hs_token(payload=claims(nbf=NOW + 60, iat=...)),
        hs,
        None,
        options={"now": NOW + 30, "leeway": 30},
    ),
    Case(
        "nbf-past-leeway",
        hs_token(payload=claims(nbf=NOW + 61, iat=...)),
        hs,
        "not_yet_valid",
        options={"now": NOW, "leeway": 60},
    ),
    Case("iat-future", hs_token(payload=claims(iat=NOW + 60, nbf=...)), hs, "iat_in_future"),
    Case(
        "iat-within-leeway",
        hs_token(payload=claims(iat=NOW + 5, nbf=...)),
        hs,
        None,
        options={"now": NOW, "leeway": 5},
    ),
    Case(
        "iat-past-leeway",
        hs_token(payload=claims(iat=NOW + 6, nbf=...)),
        hs,
        "iat_in_future",
        options={"now": NOW, "leeway": 5},
    ),
    Case("no-time-claims", hs_token(payload=claims(exp=..., nbf=..., iat=...)), hs, None),
    Case(
        "exp-required-missing",
        hs_token(payload=claims(exp=...)),
        hs,
        "missing_claim",
        options={"required": ["exp"]},
    ),
    Case(
        "jti-required-missing",
        hs_token(payload=claims(jti=...)),
        hs,
        "missing_claim",
        options={"required": ["jti", "sub"]},
    ),
    Case(
        "aud-string-matches-list",
        hs_token(),
        hs,
        None,
        options={"audience": ["https://other.example", AUD]},
    ),
    Case(
        "aud-list-matches-string",
        hs_token(payload=claims(aud=["https://other.example", AUD])),
        hs,
        None,
    ),
    Case(
        "aud-mismatch",
        hs_token(payload=claims(aud="https://other.example")),
        hs,
        "invalid_audience",
    ),
    Case("aud-list-mismatch", hs_token(payload=claims(aud=["a", "b"])), hs, "invalid_audience"),
    Case(
        "aud-prefix-is-not-match",
        hs_token(payload=claims(aud=AUD + ".evil")),
        hs,
        "invalid_audience",
    ),
    Case(
        "aud-present-none-expected", hs_token(), hs, "invalid_audience", options={"audience": None}
    ),
    Case("aud-expected-missing", hs_token(payload=claims(aud=...)), hs, "missing_claim"),
    Case(
        "aud-absent-none-expected",
        hs_token(payload=claims(aud=...)),
        hs,
        None,
        options={"audience": None},
    ),
    Case("iss-list-matches", hs_token(), hs, None, options={"issuer": ["https://a.example", ISS]}),
    Case(
        "iss-mismatch", hs_token(payload=claims(iss="https://evil.example")), hs, "invalid_issuer"
    ),
    Case(
        "iss-mismatch-list",
        hs_token(payload=claims(iss="https://evil.example")),
        hs,
        "invalid_issuer",
        options={"issuer": ["https://a.example", ISS]},
    ),
    Case("iss-expected-missing", hs_token(payload=claims(iss=...)), hs, "missing_claim"),
    Case("iss-case-differs", hs_token(payload=claims(iss=ISS.upper())), hs, "invalid_issuer"),
    Case("sub-expected", hs_token(), hs, None, options={"subject": "alice"}),
    Case("sub-mismatch", hs_token(), hs, "invalid_claim", options={"subject": "bob"}),
    *[
        Case(
            f"typ-{label}",
            hs_token({"alg": "HS256", **({"typ": typ} if typ else {})}),
            hs,
            code,
            options={"typ": expected},
        )
        for label, typ, expected, code in (
            ("at+jwt", "at+jwt", "at+jwt", None),
            ("application-prefix", "application/at+jwt", "at+jwt", None),
            ("upper-case", "AT+JWT", "at+jwt", None),
            ("mixed-case-prefix", "Application/At+JWT", "at+jwt", None),
            ("expected-with-prefix", "at+jwt", "application/at+jwt", None),
            ("plain-jwt", "JWT", "at+jwt", "invalid_typ"),
            ("missing", None, "at+jwt", "invalid_typ"),
            ("other-prefix", "text/at+jwt", "at+jwt", "invalid_typ"),
            ("suffix-only", "jwt", "at+jwt", "invalid_typ"),
            ("double-prefix", "application/application/at+jwt", "at+jwt", "invalid_typ"),
        )
    ],
    Case(
        "typ-not-string",
        hs_token({"alg": "HS256", "typ": ["at+jwt"]}),
        hs,
        "malformed",
        options={"typ": "at+jwt"},
    ),
    Case(
        "typ-anything-when-not-expected",
        hs_token({"alg": "HS256", "typ": "secevent+jwt"}),
        hs,
        None,
    ),
]


def _run(case: Case, k: Keys) -> dict[str, Any]:
    options: dict[str, Any] = {"audience": AUD, "issuer": ISS, "now": NOW + 1, **case.options}
    return jwtkit.decode(case.token(k), case.key(k), list(case.algorithms), **options)


def test_case_names_are_unique() -> None:
    names = [case.name for case in CASES]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_attack(case: Case, keys: Keys) -> None:
    if case.code is None:
        assert isinstance(_run(case, keys), dict)
        return
    with pytest.raises(JWTKitError) as excinfo:
        _run(case, keys)
    assert excinfo.value.code == case.code, str(excinfo.value)


# -- properties that a table row cannot express ------------------------------------------------


def test_ten_megabyte_token_is_refused_with_bounded_memory(keys: Keys) -> None:
    token = "A" * 10_000_000 + "." + "A" * 10 + "." + "A" * 10
    tracemalloc.start()
    try:
        with pytest.raises(JWTKitError) as excinfo:
            jwtkit.decode(token, keys.hs256, ["HS256"])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert excinfo.value.code == "token_too_large"
    assert peak < 64 * 1024  # nothing proportional to the token was allocated


def test_deep_nesting_is_refused_with_bounded_memory(keys: Keys) -> None:
    token = forge(HS, _deep(300_000), key=keys.hs256)
    tracemalloc.start()
    try:
        with pytest.raises(JWTKitError) as excinfo:
            jwtkit.decode(token, keys.hs256, ["HS256"], max_token_size=10**7)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert excinfo.value.code == "malformed"
    assert peak < 8 * len(token)  # linear in the input, no parse tree or recursion blow-up


def test_kid_reaches_the_resolver_verbatim(keys: Keys) -> None:
    resolver = RecordingResolver({"p256-1": keys.p256.public()})
    for kid in ("../../dev/null", "' OR '1'='1"):
        with pytest.raises(KeyNotFoundError):
            jwtkit.decode(
                forge({"alg": "ES256", "kid": kid}, key=keys.p256),
                resolver,
                ["ES256"],
                audience=AUD,
                now=NOW,
            )
    assert resolver.seen == ["../../dev/null", "' OR '1'='1"]


def test_signature_errors_are_bland(keys: Keys) -> None:
    """Every signature failure has one message: nothing about why it failed leaks."""
    messages = set()
    for case in CASES:
        if case.code == "invalid_signature":
            with pytest.raises(JWTKitError) as excinfo:
                _run(case, keys)
            messages.add(str(excinfo.value))
    assert messages == {"signature verification failed"}


def test_claim_errors_name_the_claim(keys: Keys) -> None:
    expected = {
        "exp-now-equals-exp": "exp",
        "nbf-future": "nbf",
        "iat-future": "iat",
        "aud-mismatch": "aud",
        "iss-mismatch": "iss",
        "jti-required-missing": "jti",
        "exp-as-string": "exp",
        "sub-mismatch": "sub",
    }
    by_name = {case.name: case for case in CASES}
    for name, claim in expected.items():
        with pytest.raises(ClaimError) as excinfo:
            _run(by_name[name], keys)
        assert excinfo.value.claim == claim
        assert excinfo.value.reason
        assert claim in str(excinfo.value)


def test_encode_refuses_weak_keys_unless_opted_out(keys: Keys) -> None:
    for key, alg in ((keys.rsa1024, "RS256"), (Key.from_secret(b"short"), "HS256")):
        with pytest.raises(JWTKitError) as excinfo:
            jwtkit.encode(CLAIMS, key, alg)
        assert excinfo.value.code == "weak_key"
        token = jwtkit.encode(CLAIMS, key, alg, allow_weak_keys=True)
        public = key if key.is_symmetric else key.public()
        assert (
            jwtkit.decode(token, public, [alg], audience=AUD, now=NOW, allow_weak_keys=True)
            == CLAIMS
        )


def test_encode_refuses_public_key_and_none(keys: Keys) -> None:
    with pytest.raises(JWTKitError) as excinfo:
        jwtkit.encode(CLAIMS, keys.rsa.public(), "RS256")
    assert excinfo.value.code == "key_mismatch"
    with pytest.raises(JWTKitError) as excinfo:
        jwtkit.encode(CLAIMS, keys.hs256, "none")
    assert excinfo.value.code == "unsupported_algorithm"
    pem = keys.rsa.public().to_pem()
    with pytest.raises(JWTKitError) as excinfo:
        jwtkit.encode(CLAIMS, pem, "HS256")
    assert excinfo.value.code == "key_mismatch"  # an RSA key, never an HMAC secret
