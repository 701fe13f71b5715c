"""Issue 13, JOSE core items 16-21, each as a class of cases (table-driven where the class is wide).

16. key confusion, in two layers: (a) an untyped key (bytes, bytearray, memoryview, str) is refused
    when the allowlist spans HMAC and an asymmetric family, on every verify path; (b) key or
    certificate material never becomes an HMAC secret, whatever hides its armour.
17. header identity (``kid``, ``jwk``, ``x5c``) is bound to the verifying key on every path
    (the table is in ``test_attacks.py``; here it runs through the other entry points).
18. size caps hold for every input form, a JWS JSON mapping included.
19. separators are counted before a token is split.
20. a key resolver that returns the wrong thing or raises gives a JWTKitError, never TypeError.
21. a local JWK Set may mix kinds; a fetched one refuses secrets and private members.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import tracemalloc
from collections.abc import Callable
from types import MappingProxyType
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs7, pkcs12

import jwtkit
from jwtkit import Key, KeySet, jws
from jwtkit.errors import JWTKitError
from jwtkit.jwks_client import JWKSClient

from . import test_attacks
from ._helpers import AUD, CLAIMS, ISS, NOW, b64u, forge, serve_json
from .conftest import Keys

SECRET = bytes(range(32))
HS = {"alg": "HS256", "typ": "JWT"}
_NO_ENCRYPTION = serialization.NoEncryption()


def _code(fn: Callable[[], Any]) -> str:
    with pytest.raises(JWTKitError) as info:
        fn()
    return info.value.code


# -- 16 (a): an untyped key with an allowlist that spans HMAC and asymmetric -------------------

MIXED_ALLOWLISTS = [
    ["RS256", "HS256"],
    ["HS256", "ES256"],
    ["EdDSA", "HS512"],
    ["PS256", "HS384", "ES384"],
    ["HS256", "Ed25519"],
    ["ES256K", "HS256"],
]


def _untyped_keys(k: Keys) -> dict[str, Any]:
    pem = k.rsa.public().to_pem()
    return {
        "secret-bytes": SECRET,
        "secret-bytearray": bytearray(SECRET),
        "secret-memoryview": memoryview(SECRET),
        "secret-str": "s" * 32,
        "pem-bytes": pem,
        "pem-str": pem.decode(),
        "jwk-text": json.dumps(k.rsa.public().to_jwk()),
    }


def _verify_paths(token: str) -> dict[str, Callable[[Any, list[str]], Any]]:
    flattened = dict(zip(("protected", "payload", "signature"), token.split("."), strict=True))
    return {
        "decode": lambda key, algs: jwtkit.decode(token, key, algs, audience=AUD, now=NOW),
        "Verifier": lambda key, algs: jwtkit.Verifier(key, algorithms=algs),
        "jws.verify": lambda key, algs: jws.verify(token, key, algs),
        "jws.verify-json": lambda key, algs: jws.verify(flattened, key, algs),
        "jws.verify_detailed": lambda key, algs: jws.verify_detailed(token, key, algs),
    }


@pytest.mark.parametrize("algs", MIXED_ALLOWLISTS, ids="+".join)
@pytest.mark.parametrize(
    "form",
    [
        "secret-bytes",
        "secret-bytearray",
        "secret-memoryview",
        "secret-str",
        "pem-bytes",
        "pem-str",
        "jwk-text",
    ],
)
@pytest.mark.parametrize(
    "path", ["decode", "Verifier", "jws.verify", "jws.verify-json", "jws.verify_detailed"]
)
def test_untyped_key_with_mixed_allowlist_is_refused(
    form: str, algs: list[str], path: str, keys: Keys
) -> None:
    token = forge(HS, key=SECRET)
    key = _untyped_keys(keys)[form]
    with pytest.raises(JWTKitError) as info:
        _verify_paths(token)[path](key, algs)
    assert info.value.code == "key_mismatch"
    assert "Key.from_secret" in str(info.value)  # says what to do


def test_typed_keys_with_mixed_allowlist_work(keys: Keys) -> None:
    algs = ["RS256", "HS256"]
    hs_token = forge(HS, CLAIMS, key=SECRET)
    assert jwtkit.decode(hs_token, Key.from_secret(SECRET), algs, audience=AUD, now=NOW) == CLAIMS
    rs_token = forge({"alg": "RS256"}, CLAIMS, key=keys.rsa)
    public = Key.from_pem(keys.rsa.public().to_pem())
    assert jwtkit.decode(rs_token, public, algs, audience=AUD, now=NOW) == CLAIMS
    both = KeySet([Key.from_secret(SECRET, kid="hs"), public.with_params(kid="rs")])
    assert jwtkit.decode(hs_token, both, algs, audience=AUD, now=NOW) == CLAIMS
    assert jwtkit.decode(rs_token, both, algs, audience=AUD, now=NOW) == CLAIMS
    # The HS256 token forged with the public key's PEM meets an RSA key: refused.
    forged = forge(HS, CLAIMS, key=keys.rsa.public().to_pem())
    assert _code(lambda: jwtkit.decode(forged, public, algs, audience=AUD, now=NOW)) == (
        "key_mismatch"
    )
    # One family: bytes stay accepted (PyJWT's usage).
    assert jwtkit.decode(hs_token, SECRET, ["HS256", "HS512"], audience=AUD, now=NOW) == CLAIMS
    pem = keys.rsa.public().to_pem()
    assert jwtkit.decode(rs_token, pem, ["RS256", "ES256"], audience=AUD, now=NOW) == CLAIMS


# -- 16 (b): key material never becomes an HMAC secret -----------------------------------------


def _material(k: Keys) -> dict[str, bytes]:
    """Key and certificate material in forms that hide the armour from a prefix check."""
    enc, fmt = serialization.Encoding, serialization.PublicFormat
    rsa_pub = k.rsa.raw.public_key()
    spki = rsa_pub.public_bytes(enc.PEM, fmt.SubjectPublicKeyInfo)
    der = rsa_pub.public_bytes(enc.DER, fmt.SubjectPublicKeyInfo)
    ssh = rsa_pub.public_bytes(enc.OpenSSH, fmt.OpenSSH)
    ec_pem = k.p256.public().to_pem()
    ed_pem = k.ed25519.public().to_pem()
    jwk_text = json.dumps(k.rsa.public().to_jwk()).encode()
    body = b"".join(spki.splitlines()[1:-1])
    bag = b"Bag Attributes\n    localKeyID: 01 00 00 00 \n    friendlyName: key\nsubject=/CN=x\n"
    return {
        "pem-bom": b"\xef\xbb\xbf" + spki,
        "pem-nbsp": "\u00a0".encode() + spki,
        "pem-nul": b"\x00" + spki,
        "pem-nuls": b"\x00" * 7 + spki,
        "pem-bag-attributes": bag + spki,
        "certificate-bag-attributes": bag + k.cert_pem,
        "pem-zero-width-space": "\u200b".encode() + spki,
        "pem-word-joiner": "\u2060".encode() + spki,
        "pem-bom-in-the-middle": spki[:10] + b"\xef\xbb\xbf" + spki[10:],
        "pem-utf16-bom": spki.decode().encode("utf-16"),
        "pem-utf16le-no-bom": spki.decode().encode("utf-16-le"),
        "pem-utf32": spki.decode().encode("utf-32"),
        "pem-crlf": spki.replace(b"\n", b"\r\n"),
        "pem-vertical-tab-form-feed": b"\x0b\x0c" + spki,
        "pem-escape-sequence": b"\x1b[0m" + spki,
        "pem-text-before": b"public key:\n" + spki,
        "pem-text-after": spki + b"\ncopied from the admin console\n",
        "pem-latin1-junk": b"\xe9\xe8" + spki,
        "pem-lowercase-armour": spki.replace(b"BEGIN", b"begin"),
        "pem-fullwidth-dashes": spki.replace(b"-----", "－－－－－".encode()),
        "pem-body-without-armour": body,
        "pem-body-lines-without-armour": b"\n".join(spki.splitlines()[1:-1]),
        "pkcs1-pem-bom": b"\xef\xbb\xbf" + rsa_pub.public_bytes(enc.PEM, fmt.PKCS1),
        "ec-pem-nbsp": "\u00a0".encode() + ec_pem,
        "ed25519-pem-zwsp": "\u200b".encode() + ed_pem,
        "certificate-bom": b"\xef\xbb\xbf" + k.cert_pem,
        "csr-like-armour": b"-----BEGIN CERTIFICATE REQUEST-----\nMIIB\n-----END CERTIFICATE "
        b"REQUEST-----\n",
        "rfc4716-ssh2": b"---- BEGIN SSH2 PUBLIC KEY ----\nAAAAB3NzaC1yc2E=\n---- END SSH2 PUBLIC "
        b"KEY ----\n",
        "ssh-bom": b"\xef\xbb\xbf" + ssh,
        "ssh-nul": b"\x00" + ssh,
        "ssh-text-before": b"authorized key: " + ssh,
        "ssh-certificate-type": b"ssh-rsa-cert-v01@openssh.com AAAAHHNzaC1yc2EtY2VydA== x",
        "putty": b"PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n",
        "jwk-bom": b"\xef\xbb\xbf" + jwk_text,
        "jwk-text-before": b"key = " + jwk_text,
        "jwk-python-repr": str(k.rsa.public().to_jwk()).encode(),
        "jwk-escaped-kty": jwk_text.replace(b'"kty"', b'"\\u006bty"'),
        "jwk-set": json.dumps({"keys": [k.rsa.public().to_jwk()]}).encode(),
        "der-spki": der,
        "der-bom": b"\xef\xbb\xbf" + der,
        "der-nul": b"\x00" + der,
        "der-whitespace-before": b" \n" + der,
        "der-certificate-nul": b"\x00" + k.cert_der,
        "der-base64url": base64.urlsafe_b64encode(der).rstrip(b"="),
        "der-hex": der.hex().encode(),
        "der-hex-upper": der.hex().upper().encode(),
        "der-newline-after": der + b"\n",
        "der-junk-after": der + b"\x00\x00 trailing",
        "der-certificate-crlf-after": k.cert_der + b"\r\n",
        "der-pkcs7-certificates": pkcs7.serialize_certificates(
            [x509.load_der_x509_certificate(k.cert_der)], enc.DER
        ),
        "der-pkcs12-certificate": pkcs12.serialize_key_and_certificates(
            None, None, x509.load_der_x509_certificate(k.cert_der), None, _NO_ENCRYPTION
        ),
        "pem-base64-of-whole-file": base64.b64encode(spki),
        "pem-hex-of-whole-file": spki.hex().encode(),
        "ssh-blob-without-type": ssh.split()[1],
        "jwk-base64": base64.b64encode(jwk_text),
        "jwk-yaml": b"kty: RSA\nn: " + k.rsa.public().to_jwk()["n"].encode() + b"\ne: AQAB\n",
        "pem-combining-marks": spki.replace(b"BEGIN", "B\u0301EGIN".encode()),
        "pem-soft-hyphen": spki.replace(b"-----BEGIN", "-----\u00adBEGIN".encode()),
        "pem-tag-characters": "\U000e0001".encode() + spki,
        "pem-line-separator": "\u2028".encode() + spki,
        "pem-private-use": "\ue000".encode() + spki,
        "pem-in-json-string": json.dumps({"key": spki.decode()}).encode(),
        "pkcs7-pem": pkcs7.serialize_certificates(
            [x509.load_der_x509_certificate(k.cert_der)], enc.PEM
        ),
    }


MATERIAL_NAMES = sorted(
    [
        "pem-bom",
        "pem-nbsp",
        "pem-nul",
        "pem-nuls",
        "pem-bag-attributes",
        "certificate-bag-attributes",
        "pem-zero-width-space",
        "pem-word-joiner",
        "pem-bom-in-the-middle",
        "pem-utf16-bom",
        "pem-utf16le-no-bom",
        "pem-utf32",
        "pem-crlf",
        "pem-vertical-tab-form-feed",
        "pem-escape-sequence",
        "pem-text-before",
        "pem-text-after",
        "pem-latin1-junk",
        "pem-lowercase-armour",
        "pem-fullwidth-dashes",
        "pem-body-without-armour",
        "pem-body-lines-without-armour",
        "pkcs1-pem-bom",
        "ec-pem-nbsp",
        "ed25519-pem-zwsp",
        "certificate-bom",
        "csr-like-armour",
        "rfc4716-ssh2",
        "ssh-bom",
        "ssh-nul",
        "ssh-text-before",
        "ssh-certificate-type",
        "putty",
        "jwk-bom",
        "jwk-text-before",
        "jwk-python-repr",
        "jwk-escaped-kty",
        "jwk-set",
        "der-spki",
        "der-bom",
        "der-nul",
        "der-whitespace-before",
        "der-certificate-nul",
        "der-base64url",
        "der-hex",
        "der-hex-upper",
        "der-newline-after",
        "der-junk-after",
        "der-certificate-crlf-after",
        "der-pkcs7-certificates",
        "der-pkcs12-certificate",
        "pem-base64-of-whole-file",
        "pem-hex-of-whole-file",
        "ssh-blob-without-type",
        "jwk-base64",
        "jwk-yaml",
        "pem-combining-marks",
        "pem-soft-hyphen",
        "pem-tag-characters",
        "pem-line-separator",
        "pem-private-use",
        "pem-in-json-string",
        "pkcs7-pem",
    ]
)


def _forms(raw: bytes) -> list[bytes | str]:
    """The material as bytes, and as str when it is UTF-8 text."""
    try:
        return [raw, raw.decode("utf-8")]
    except UnicodeDecodeError:
        return [raw]


def test_material_table_is_complete(keys: Keys) -> None:
    assert sorted(_material(keys)) == MATERIAL_NAMES


@pytest.mark.parametrize("name", MATERIAL_NAMES)
def test_key_material_never_becomes_an_hmac_secret(name: str, keys: Keys) -> None:
    raw = _material(keys)[name]
    forged = forge(HS, CLAIMS, key=raw)  # HMAC keyed with the material itself
    for material in _forms(raw):
        with pytest.raises(JWTKitError) as info:
            Key.from_secret(material)
        assert info.value.code == "invalid_key"
        try:
            key = Key.from_material(material)
        except JWTKitError as exc:
            assert exc.code == "invalid_key"
        else:
            assert not key.is_symmetric
        for verify in (
            lambda m=material: jwtkit.decode(forged, m, ["HS256"], audience=AUD, now=NOW),
            lambda m=material: jws.verify(forged, m, ["HS256"]),
            lambda m=material: jwtkit.Verifier(m, algorithms=["HS256"]).verify(forged, now=NOW),
            lambda m=material: jwtkit.encode(CLAIMS, m, "HS256"),
            lambda m=material: jws.sign(b"x", m, "HS256"),
        ):
            assert _code(verify) in {"invalid_key", "key_mismatch"}
    oct_jwk = {"kty": "oct", "k": b64u(raw)}
    assert _code(lambda: Key.from_jwk(oct_jwk)) == "invalid_key"


@pytest.mark.parametrize(
    "name",
    [
        "pem-bom",
        "pem-nbsp",
        "pem-nul",
        "pem-bag-attributes",
        "pem-utf16-bom",
        "der-bom",
        "der-newline-after",
        "der-pkcs12-certificate",
        "pem-base64-of-whole-file",
        "pem-body-without-armour",
        "jwk-base64",
    ],
)
def test_hidden_armour_still_loads_the_key_it_is(name: str, keys: Keys) -> None:
    key = Key.from_material(_material(keys)[name])
    assert key.thumbprint() == keys.rsa.public().thumbprint()
    token = forge({"alg": "RS256"}, CLAIMS, key=keys.rsa)
    assert jwtkit.decode(token, _material(keys)[name], ["RS256"], audience=AUD, now=NOW)


@pytest.mark.parametrize(
    "secret",
    [
        bytes(range(32)),
        bytes(range(48, 80)),  # starts with 0x30 ("0"): not DER
        b"\x30" + bytes(range(31)),
        "correct horse battery staple, a passphrase",
        "0123456789abcdef0123456789abcdef",  # hex text of 16 bytes
        base64.b64encode(bytes(range(32))).decode(),
        bytes(range(32)).hex(),
        "my secret { with braces } and then some more",
        "a" * 64,
    ],
)
def test_ordinary_secrets_are_still_secrets(secret: bytes | str) -> None:
    key = Key.from_secret(secret)
    assert key.is_symmetric
    assert Key.from_material(secret).is_symmetric
    token = jwtkit.encode({"sub": "a"}, secret, "HS256")
    assert jwtkit.decode(token, secret, ["HS256"]) == {"sub": "a"}


# -- 17: header identity on every entry point --------------------------------------------------

IDENTITY_CASES = [
    case
    for case in test_attacks.CASES
    if case.name.startswith(("identity-", "embedded-jwk", "x5c-"))
]


@pytest.mark.parametrize("case", IDENTITY_CASES, ids=lambda c: c.name)
def test_identity_is_bound_on_every_path(case: test_attacks.Case, keys: Keys) -> None:
    token = str(case.token(keys))
    algs = list(case.algorithms)
    flattened = dict(zip(("protected", "payload", "signature"), token.split("."), strict=True))
    verifier = jwtkit.Verifier(case.key(keys), algorithms=algs, audience=AUD, issuer=ISS)
    paths: list[Callable[[], Any]] = [
        lambda: jws.verify(token, case.key(keys), algs),
        lambda: jws.verify(flattened, case.key(keys), algs),
        lambda: verifier.verify(token, now=NOW + 1),
        lambda: asyncio.run(verifier.averify(token, now=NOW + 1)),
    ]
    for path in paths:
        if case.code is None:
            path()
        else:
            assert _code(path) == case.code


def test_verified_header_identity_is_the_keys(keys: Keys) -> None:
    token = forge(
        {"alg": "ES256", "kid": "p256-1", "jwk": keys.p256.public().to_jwk()}, key=keys.p256
    )
    result = jwtkit.Verifier(keys.p256.public(), algorithms=["ES256"], audience=AUD)
    detail = result.verify_detailed(token, now=NOW + 1)
    assert detail.header["kid"] == detail.key.kid
    assert Key.from_jwk(detail.header["jwk"]).thumbprint() == detail.key.thumbprint()


# -- 18: size caps on every input form ---------------------------------------------------------


def _json_token(k: Keys, payload: bytes) -> dict[str, Any]:
    return jws.sign_json(payload, [(k.hs256, "HS256", None, None)], flattened=True)


@pytest.mark.parametrize(
    "form",
    ["dict", "mapping-proxy", "general-dict", "json-str", "json-bytes", "json-bytearray"],
)
def test_size_cap_holds_for_every_input_form(form: str, keys: Keys) -> None:
    big = _json_token(keys, b"A" * 10_000_000)
    general = {
        "payload": big["payload"],
        "signatures": [{k: big[k] for k in ("protected", "signature")}],
    }
    token: Any = {
        "dict": big,
        "mapping-proxy": MappingProxyType(big),
        "general-dict": general,
        "json-str": json.dumps(big),
        "json-bytes": json.dumps(big).encode(),
        "json-bytearray": bytearray(json.dumps(big).encode()),
    }[form]
    tracemalloc.start()
    try:
        started = time.perf_counter()
        code = _code(lambda: jws.verify(token, keys.hs256, ["HS256"]))
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == "token_too_large"
    assert peak < 1_000_000, peak  # nothing proportional to the payload was built
    assert elapsed < 5  # generous bound for a shared machine; the check is one walk


def test_size_cap_counts_every_member_of_a_mapping(keys: Keys) -> None:
    small = _json_token(keys, b"hello")
    assert jws.verify(small, keys.hs256, ["HS256"]) == b"hello"
    padded = {**small, "header": {"x": "y" * 20_000}}
    assert _code(lambda: jws.verify(padded, keys.hs256, ["HS256"])) == "token_too_large"
    many = {**small, "header": {f"n{i}": i for i in range(5000)}}
    assert _code(lambda: jws.verify(many, keys.hs256, ["HS256"])) == "token_too_large"
    deep: Any = {}
    node = deep
    for _ in range(100):
        node["x"] = {}
        node = node["x"]
    nested = {**small, "header": deep}
    assert _code(lambda: jws.verify(nested, keys.hs256, ["HS256"])) == "malformed"
    raised = jws.verify(
        {**small, "header": {"x": "y" * 20_000}}, keys.hs256, ["HS256"], max_token_size=100_000
    )
    assert raised == b"hello"


# -- 19: count separators before splitting -----------------------------------------------------

SEPARATOR_TOKENS = {
    "ten-megabytes-of-dots": "." * 10_000_000,
    "dots-and-letters": "a." * 5_000_000,
    "many-segments": ".".join(["e30"] * 1_000_000),
    "four-dots-jwe-like": "a.b.c.d." + "e" * 9_000_000,
}


@pytest.mark.parametrize("name", sorted(SEPARATOR_TOKENS))
@pytest.mark.parametrize("as_bytes", [False, True], ids=["str", "bytes"])
def test_separators_are_counted_before_splitting(name: str, as_bytes: bool, keys: Keys) -> None:
    text = SEPARATOR_TOKENS[name]
    token: str | bytes = text.encode() if as_bytes else text
    cap = 100_000_000
    paths: list[Callable[[], Any]] = [
        lambda: jwtkit.decode(token, keys.hs256, ["HS256"], max_token_size=cap),
        lambda: jws.verify(token, keys.hs256, ["HS256"], max_token_size=cap),
        lambda: jwtkit.Verifier(keys.hs256, algorithms=["HS256"], max_token_size=cap).verify(token),
    ]
    for path in paths:
        tracemalloc.start()
        try:
            code = _code(path)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert code == "malformed"
        assert peak < 2 * len(token) + 1_000_000, peak  # at most a copy, never a list of parts


def test_unverified_reads_count_separators_too() -> None:
    for read in (jwtkit.get_unverified_header, jwtkit.decode_unverified):
        assert _code(lambda r=read: r("." * 10_000)) == "malformed"
        assert _code(lambda r=read: r("." * 10_000_000)) == "token_too_large"


# -- 20: a key resolver that misbehaves gives a JWTKitError ------------------------------------


def _returns(value: Any) -> Any:
    class Resolver:
        def resolve_key(self, header: Any) -> Any:
            return value

        async def aresolve_key(self, header: Any) -> Any:
            return value

    return Resolver()


def _raises(exc: BaseException) -> Any:
    class Resolver:
        def resolve_key(self, header: Any) -> Any:
            raise exc

        async def aresolve_key(self, header: Any) -> Any:
            raise exc

    return Resolver()


def _sync_aresolve(value: Any) -> Any:
    class Resolver:
        def resolve_key(self, header: Any) -> Any:
            return value

        def aresolve_key(self, header: Any) -> Any:  # not a coroutine function
            return value

    return Resolver()


RESOLVERS: dict[str, Callable[[Keys], Any]] = {
    "returns-empty-str": lambda k: _returns(""),
    "returns-empty-bytes": lambda k: _returns(b""),
    "returns-secret-bytes": lambda k: _returns(SECRET),
    "returns-secret-str": lambda k: _returns("s" * 32),
    "returns-none": lambda k: _returns(None),
    "returns-int": lambda k: _returns(0),
    "returns-list": lambda k: _returns([k.hs256]),
    "returns-dict-jwk": lambda k: _returns(k.hs256.to_jwk(private=True)),
    "returns-keyset": lambda k: _returns(KeySet([k.hs256])),
    "returns-pyca-key": lambda k: _returns(k.rsa.raw.public_key()),
    "returns-coroutine-in-sync-path": lambda k: _sync_aresolve(asyncio.sleep(0)),
    "raises-key-error": lambda k: _raises(KeyError("kid")),
    "raises-value-error": lambda k: _raises(ValueError("bad")),
    "raises-type-error": lambda k: _raises(TypeError("bad")),
    "raises-runtime-error": lambda k: _raises(RuntimeError("database is down")),
    "raises-zero-division": lambda k: _raises(ZeroDivisionError()),
    "sync-aresolve-returns-none": lambda k: _sync_aresolve(None),
}


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
@pytest.mark.parametrize("name", sorted(RESOLVERS))
def test_a_misbehaving_resolver_gives_a_jwtkit_error(name: str, keys: Keys) -> None:
    token = forge({**HS, "kid": "hs256"}, CLAIMS, key=keys.hs256)
    flattened = dict(zip(("protected", "payload", "signature"), token.split("."), strict=True))
    resolver = RESOLVERS[name](keys)
    verifier = jwtkit.Verifier(resolver, algorithms=["HS256"], audience=AUD)
    paths: list[Callable[[], Any]] = [
        lambda: jwtkit.decode(token, resolver, ["HS256"], audience=AUD, now=NOW),
        lambda: jws.verify(token, resolver, ["HS256"]),
        lambda: jws.verify(flattened, resolver, ["HS256"]),
        lambda: verifier.verify(token, now=NOW),
        lambda: asyncio.run(verifier.averify(token, now=NOW)),
    ]
    for path in paths:
        assert _code(path) in {"invalid_key", "key_not_found"}


def test_resolver_failure_keeps_its_cause(keys: Keys) -> None:
    token = forge({**HS, "kid": "hs256"}, CLAIMS, key=keys.hs256)
    with pytest.raises(JWTKitError) as info:
        jws.verify(token, _raises(RuntimeError("database is down")), ["HS256"])
    assert isinstance(info.value.__cause__, RuntimeError)


def test_a_good_sync_aresolve_is_used(keys: Keys) -> None:
    token = forge({**HS, "kid": "hs256"}, CLAIMS, key=keys.hs256)
    verifier = jwtkit.Verifier(_sync_aresolve(keys.hs256), algorithms=["HS256"], audience=AUD)
    assert asyncio.run(verifier.averify(token, now=NOW)) == CLAIMS


# -- 21: local JWK Sets may mix kinds; fetched ones hold public keys only ----------------------


def test_local_jwk_set_may_mix_kinds(keys: Keys) -> None:
    document = {
        "keys": [
            keys.hs256.to_jwk(private=True),
            keys.rsa.public().to_jwk(),
            keys.p256.to_jwk(private=True),
        ]
    }
    for source in (document, json.dumps(document)):
        keyset = KeySet.from_jwks(source)
        for alg, signer in (("HS256", keys.hs256), ("RS256", keys.rsa), ("ES256", keys.p256)):
            token = forge({"alg": alg, "kid": signer.kid}, CLAIMS, key=signer)
            assert (
                jwtkit.decode(token, keyset, ["HS256", "RS256", "ES256"], audience=AUD, now=NOW)
                == CLAIMS
            )
        # Each key is bound to its type: the RSA key's PEM cannot key an HMAC token.
        forged = forge(
            {"alg": "HS256", "kid": keys.rsa.kid}, CLAIMS, key=keys.rsa.public().to_pem()
        )
        assert (
            _code(
                lambda k=keyset, t=forged: jwtkit.decode(
                    t, k, ["HS256", "RS256"], audience=AUD, now=NOW
                )
            )
            == "key_not_found"
        )


FETCHED_MEMBERS: dict[str, Callable[[Keys], dict[str, Any]]] = {
    "oct": lambda k: k.hs256.to_jwk(private=True),
    "oct-without-k": lambda k: {"kty": "oct", "kid": "x"},
    "rsa-private": lambda k: k.rsa_other.to_jwk(private=True),
    "rsa-d-only": lambda k: {**k.rsa_other.public().to_jwk(), "d": "AQAB"},
    "ec-private": lambda k: k.p256.to_jwk(private=True),
    "okp-private": lambda k: k.ed25519.to_jwk(private=True),
    "enc-private": lambda k: {**k.p384.to_jwk(private=True), "use": "enc"},
    "k-member-on-rsa": lambda k: {**k.rsa_other.public().to_jwk(), "k": "AAAA"},
}


@pytest.mark.parametrize("name", sorted(FETCHED_MEMBERS))
def test_fetched_jwk_set_refuses_secrets_and_private_members(name: str, keys: Keys) -> None:
    document = {"keys": [keys.rsa.public().to_jwk(), FETCHED_MEMBERS[name](keys)]}
    token = forge({"alg": "RS256", "kid": keys.rsa.kid}, CLAIMS, key=keys.rsa)
    with serve_json(document) as url:
        client = JWKSClient(url)
        assert _code(client.get_keyset) == "jwks_fetch_failed"
        verifier = jwtkit.Verifier(JWKSClient(url), algorithms=["RS256", "HS256"], audience=AUD)
        assert _code(lambda: verifier.verify(token, now=NOW)) == "jwks_fetch_failed"


def test_fetched_public_jwk_set_is_used(keys: Keys) -> None:
    document = {"keys": [keys.rsa.public().to_jwk(), keys.p256.public().to_jwk()]}
    token = forge({"alg": "RS256", "kid": keys.rsa.kid}, CLAIMS, key=keys.rsa)
    with serve_json(document) as url:
        verifier = jwtkit.Verifier(JWKSClient(url), algorithms=["RS256"], audience=AUD)
        assert verifier.verify(token, now=NOW) == CLAIMS


# -- the same classes on the JWE paths (jwtkit.jwe) ---------------------------------------------

JWE_KEY = Key.from_secret(bytes(range(16)), kid="kw")


def _jwe_decrypt(token: Any, key: Any = JWE_KEY, **caps: Any) -> bytes:
    from jwtkit import jwe

    return jwe.decrypt(token, key, ["A128KW"], ["A128GCM"], **caps)


@pytest.mark.parametrize("name", sorted(SEPARATOR_TOKENS))
def test_jwe_separators_are_counted_before_splitting(name: str) -> None:
    token = SEPARATOR_TOKENS[name]
    tracemalloc.start()
    try:
        code = _code(lambda: _jwe_decrypt(token, max_token_size=100_000_000))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert code == "malformed"
    assert peak < 2 * len(token) + 1_000_000, peak


def test_jwe_size_cap_holds_for_a_mapping() -> None:
    from jwtkit import jwe

    small = jwe.encrypt_json(b"hi", [(JWE_KEY, "A128KW", None)], "A128GCM", flattened=True)
    assert _jwe_decrypt(small) == b"hi"
    big = {**small, "ciphertext": "A" * 10_000_000}
    for token in (big, MappingProxyType(big)):
        tracemalloc.start()
        try:
            code = _code(lambda t=token: _jwe_decrypt(t))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert code == "token_too_large"
        assert peak < 1_000_000, peak


@pytest.mark.filterwarnings("ignore:coroutine .* was never awaited:RuntimeWarning")
@pytest.mark.parametrize("name", sorted(RESOLVERS))
def test_jwe_misbehaving_resolver_gives_a_jwtkit_error(name: str, keys: Keys) -> None:
    from jwtkit import jwe

    token = jwe.encrypt(b"hi", JWE_KEY, "A128KW", "A128GCM")
    assert _code(lambda: _jwe_decrypt(token, RESOLVERS[name](keys))) in {
        "invalid_key",
        "key_not_found",
    }


@pytest.mark.parametrize(
    "algs",
    [["A128KW", "RSA-OAEP-256"], ["dir", "ECDH-ES"], ["PBES2-HS256+A128KW", "RSA-OAEP"]],
    ids="+".join,
)
@pytest.mark.parametrize("form", ["secret-bytes", "secret-str", "pem-bytes", "pem-str"])
def test_jwe_untyped_key_with_mixed_key_management_is_refused(
    algs: list[str], form: str, keys: Keys
) -> None:
    from jwtkit import jwe

    token = jwe.encrypt(b"hi", JWE_KEY, "A128KW", "A128GCM")
    key = _untyped_keys(keys)[form]
    with pytest.raises(JWTKitError) as info:
        jwe.decrypt(token, key, algs, ["A128GCM"])
    assert info.value.code == "key_mismatch"
    # Typed, or with one family, it decrypts.
    if "A128KW" in algs:
        assert jwe.decrypt(token, JWE_KEY, algs, ["A128GCM"]) == b"hi"
    assert jwe.decrypt(token, JWE_KEY.raw, ["A128KW", "A256KW"], ["A128GCM"]) == b"hi"
