"""Hostile-review regressions for the JOSE core: each test is one defect found in review.

Every bad input must raise a JWTKitError subclass with a sensible code (or, for a programming
error in the arguments, TypeError/ValueError): never another exception, never a silent accept.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import warnings
from typing import Any

import pytest

import jwtkit
from jwtkit import Key, KeySet, jws
from jwtkit.errors import JWTKitError

SECRET = b"k" * 32
NOW = 1_700_000_000


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _forge(header: bytes, payload: bytes, secret: bytes = SECRET) -> str:
    """A correctly HS256-signed compact JWS with exactly these header and payload bytes."""
    signing_input = f"{_b64(header)}.{_b64(payload)}".encode("ascii")
    return f"{signing_input.decode()}.{_b64(hmac.digest(secret, signing_input, hashlib.sha256))}"


def _code(fn: Any) -> str:
    with pytest.raises(JWTKitError) as info:
        fn()
    return info.value.code


# -- time arguments: NaN/Infinity must not turn every claim check off --------------------------


@pytest.mark.parametrize("leeway", [math.nan, math.inf])
def test_non_finite_leeway_is_refused(leeway: float) -> None:
    token = jwtkit.encode({"exp": 10}, SECRET, "HS256")
    with pytest.raises(ValueError, match="leeway"):
        jwtkit.decode(token, SECRET, ["HS256"], leeway=leeway, now=NOW)


@pytest.mark.parametrize("now", [math.nan, math.inf, -math.inf])
def test_non_finite_now_is_refused(now: float) -> None:
    token = jwtkit.encode({"exp": 10}, SECRET, "HS256")
    with pytest.raises(ValueError, match="now"):
        jwtkit.decode(token, SECRET, ["HS256"], now=now)
    verifier = jwtkit.Verifier(SECRET, algorithms=["HS256"])
    with pytest.raises(ValueError, match="now"):
        verifier.check_claims({"exp": 10}, now=now)


@pytest.mark.parametrize("now", ["5", True, b"1"])
def test_now_of_the_wrong_type_is_a_type_error(now: Any) -> None:
    token = jwtkit.encode({"exp": 10}, SECRET, "HS256")
    with pytest.raises(TypeError, match="now"):
        jwtkit.decode(token, SECRET, ["HS256"], now=now)


def test_typ_argument_must_be_a_str() -> None:
    token = jwtkit.encode({}, SECRET, "HS256")
    with pytest.raises(TypeError, match="typ"):
        jwtkit.decode(token, SECRET, ["HS256"], typ=5)  # type: ignore[arg-type]


# -- keys and payloads of the wrong type must not become zero bytes ----------------------------


@pytest.mark.parametrize("secret", [32, [1] * 32, None, 3.0])
def test_secret_of_the_wrong_type_is_a_type_error(secret: Any) -> None:
    with pytest.raises(TypeError):
        Key.from_secret(secret)
    with pytest.raises(TypeError):
        jwtkit.encode({"a": 1}, secret, "HS256")


@pytest.mark.parametrize("payload", [5, None, [1, 2]])
def test_jws_payload_of_the_wrong_type_is_a_type_error(payload: Any) -> None:
    key = Key.generate("EC")
    with pytest.raises(TypeError):
        jws.sign(payload, key)
    with pytest.raises(TypeError):
        jws.sign_json(payload, [(key, None, None, None)])


def test_encode_headers_must_be_a_mapping() -> None:
    with pytest.raises(TypeError, match="headers"):
        jwtkit.encode({"a": 1}, SECRET, "HS256", headers=[("typ", "x")])  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "params",
    [{"kid": 5}, {"use": "weird"}, {"key_ops": "sign"}, {"key_ops": ["sign", "fly"]}],
)
def test_key_parameters_are_checked_when_built_in_code(params: dict[str, Any]) -> None:
    key = Key.generate("EC")
    with pytest.raises((TypeError, ValueError)):
        key.with_params(**params)
    with pytest.raises((TypeError, ValueError)):
        Key.from_cryptography(key.raw, **params)


def test_secret_kid_must_be_a_str() -> None:
    with pytest.raises(TypeError, match="kid"):
        Key.from_secret(SECRET, kid=5)  # type: ignore[arg-type]


# -- JSON: lone surrogates are not Unicode text (RFC 8259 §8.2, RFC 7493 §2.1) -----------------


@pytest.mark.parametrize(
    ("header", "payload"),
    [
        (b'{"alg":"HS256"}', b'{"sub":"\\ud800"}'),
        (b'{"alg":"HS256"}', b'{"\\udfff":1}'),
        (b'{"alg":"HS256","kid":"\\udc00x"}', b"{}"),
        (b'{"alg":"HS256"}', b'{"a":["\\ud83d"]}'),
    ],
)
def test_lone_surrogates_are_malformed(header: bytes, payload: bytes) -> None:
    token = _forge(header, payload)
    assert _code(lambda: jwtkit.decode(token, SECRET, ["HS256"], now=NOW)) == "malformed"
    assert _code(lambda: jwtkit.decode_unverified(token)) == "malformed"


def test_surrogate_pairs_are_still_accepted() -> None:
    token = _forge(b'{"alg":"HS256"}', b'{"sub":"\\ud83d\\ude00","x":"\\\\ud800"}')
    claims = jwtkit.decode(token, SECRET, ["HS256"], now=NOW)
    assert claims == {"sub": "\U0001f600", "x": "\\ud800"}


# -- null is not "absent" for registered claims and header parameters -------------------------


@pytest.mark.parametrize("claim", ["iss", "sub", "aud", "jti"])
def test_null_string_claims_are_invalid(claim: str) -> None:
    token = _forge(b'{"alg":"HS256"}', f'{{"{claim}":null}}'.encode())
    assert _code(lambda: jwtkit.decode(token, SECRET, ["HS256"], now=NOW)) == "invalid_claim"


def test_null_crit_is_refused() -> None:
    token = _forge(b'{"alg":"HS256","crit":null}', b"{}")
    assert _code(lambda: jwtkit.decode(token, SECRET, ["HS256"], now=NOW)) == "unsupported_crit"
    with pytest.raises(JWTKitError):
        jwtkit.decode_unverified(token)


@pytest.mark.parametrize("name", ["kid", "typ"])
def test_null_kid_and_typ_are_malformed(name: str) -> None:
    token = _forge(f'{{"alg":"HS256","{name}":null}}'.encode(), b"{}")
    keyset = KeySet([Key.from_secret(SECRET, kid="a")])
    for key in (SECRET, keyset):
        assert _code(lambda k=key: jwtkit.decode(token, k, ["HS256"], now=NOW)) == "malformed"


def test_null_kid_is_malformed_in_jws_json_with_a_key_set() -> None:
    key = Key.generate("EC")
    flat = jws.sign_json(b"x", [(key, None, {"kid": None}, None)], flattened=True)
    flat["header"] = {"kid": None}  # unprotected: hand-made, as sign_json refuses to write it
    assert _code(lambda: jws.verify(flat, KeySet([key.public()]), ["ES256"])) == "malformed"


# -- the Verifier's header cache must not be shared with callers -------------------------------


def test_mutating_a_verified_header_does_not_change_later_verifications() -> None:
    a, b = Key.from_secret(SECRET, kid="a"), Key.from_secret(b"t" * 32, kid="b")
    verifier = jwtkit.Verifier(KeySet([a, b]), algorithms=["HS256"])
    token = jwtkit.encode({"x": 1}, a)
    first = verifier.verify_detailed(token, now=NOW)
    first.header["kid"] = "b"
    first.header["alg"] = "HS512"
    again = verifier.verify_detailed(token, now=NOW)
    assert again.header["kid"] == "a" and again.header["alg"] == "HS256"


def test_raw_lone_surrogate_in_json_text_is_malformed() -> None:
    with pytest.raises(JWTKitError) as info:
        Key.from_jwk('{"kty":"oct","k":"AAAA","kid":"\ud800"}')
    assert info.value.code == "invalid_key"
    with pytest.raises(JWTKitError) as info2:
        jws.verify('{"payload":"","protected":"\ud800","signature":""}', SECRET, ["HS256"])
    assert info2.value.code == "malformed"


# -- PyJWT users pass pyca/cryptography key objects to encode/decode --------------------------


def test_pyca_key_objects_work_as_in_pyjwt() -> None:
    from cryptography.hazmat.primitives.asymmetric import dsa, ec
    from cryptography.utils import CryptographyDeprecationWarning

    private = ec.generate_private_key(ec.SECP256R1())
    token = jwtkit.encode({"sub": "a"}, private, algorithm="ES256")
    assert jwtkit.decode(token, private.public_key(), algorithms=["ES256"]) == {"sub": "a"}
    assert jws.verify(jws.sign(b"x", private), private.public_key(), ["ES256"]) == b"x"
    # never an HMAC secret: an HS256 token does not verify with the public key object
    hs = jwtkit.encode({"sub": "a"}, SECRET, "HS256")
    assert _code(lambda: jwtkit.decode(hs, private.public_key(), ["HS256"])) == "key_mismatch"
    with warnings.catch_warnings():  # cryptography 51 deprecates DSA; jwtkit still refuses it
        warnings.simplefilter("ignore", CryptographyDeprecationWarning)
        dsa_key = dsa.generate_private_key(2048)
    assert _code(lambda: jwtkit.decode(token, dsa_key.public_key(), ["ES256"])) == "invalid_key"


def test_pem_given_as_a_secret_says_how_to_load_it() -> None:
    pem = Key.generate("EC").public().to_pem()
    with pytest.raises(JWTKitError, match="Key.from_pem") as info:
        Key.from_secret(pem)
    assert info.value.code == "invalid_key"


def test_key_material_as_bytes_or_str_works_as_in_pyjwt() -> None:
    from cryptography.hazmat.primitives import serialization

    rsa = Key.generate("RSA")
    ed = Key.generate("OKP")
    ssh = rsa.public().raw.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    openssh_private = ed.raw.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    token = jwtkit.encode({"sub": "a"}, rsa.to_pem(private=True).decode(), "RS256")
    for material in (
        rsa.public().to_pem(),
        rsa.public().to_pem().decode(),
        ssh,
        rsa.public().raw.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        ),
        json.dumps(rsa.public().to_jwk()),
    ):
        assert jwtkit.decode(token, material, ["RS256"]) == {"sub": "a"}
        # the same material never acts as an HMAC secret
        forged = jwtkit.encode({"sub": "a"}, b"k" * 32, "HS256")
        assert _code(lambda m=material, f=forged: jwtkit.decode(f, m, ["HS256"])) == "key_mismatch"
    signed = jwtkit.encode({"sub": "b"}, openssh_private, "EdDSA")
    assert jwtkit.decode(signed, ed.public(), ["EdDSA"]) == {"sub": "b"}
    der_private = rsa.raw.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    assert jwtkit.decode(jwtkit.encode({}, der_private, "PS256"), rsa.public(), ["PS256"]) == {}
    # A plain secret that merely starts with 0x30 is still a secret.
    secret = b"0" + b"s" * 40
    assert jwtkit.decode(jwtkit.encode({}, secret, "HS256"), secret, ["HS256"]) == {}
    for bad in (
        b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
        b"ssh-rsa AAAA",
        b"{}",
    ):
        assert _code(lambda b=bad: jwtkit.decode(token, b, ["RS256"])) == "invalid_key"
    with pytest.raises(TypeError):
        Key.from_material(5)  # type: ignore[arg-type]


@pytest.mark.parametrize("claims", [{1: "a", "1": "b"}, {1: "a"}, {None: 1}, {True: 1}])
def test_encode_refuses_claim_names_that_are_not_strings(claims: dict[Any, Any]) -> None:
    assert _code(lambda: jwtkit.encode(claims, SECRET, "HS256")) == "malformed"


def test_encode_accepts_str_subclass_claim_names() -> None:
    import enum

    class Claim(enum.StrEnum):
        SUB = "sub"

    token = jwtkit.encode({Claim.SUB: "alice"}, SECRET, "HS256")
    assert jwtkit.decode(token, SECRET, ["HS256"]) == {"sub": "alice"}


@pytest.mark.parametrize("headers", [{"kid": 5}, {"typ": ["JWT"]}, {"cty": 1}, {"b64": False}])
def test_sign_refuses_headers_its_own_verify_would_refuse(headers: dict[str, Any]) -> None:
    key = Key.generate("EC")
    assert _code(lambda: jwtkit.encode({}, key, headers=headers)) == "malformed"
    assert _code(lambda: jws.sign(b"x", key, headers=headers)) == "malformed"
    assert _code(lambda: jws.sign_json(b"x", [(key, None, headers, None)])) == "malformed"


def test_nesting_scan_is_linear_on_unterminated_escaped_strings() -> None:
    """A 4 KB header of '"\\"\\"...' after 17 brackets made the depth regex quadratic (~30 ms
    before any signature check). Counted in regex steps, not time: the scan must see each
    string token once, so the whole header is one token after the brackets."""
    from jwtkit import _json

    text = "[" * 17 + '"' + '\\"' * 5000
    tokens = _json._TOKENS.findall(text)
    assert len(tokens) == 17 + 1
    assert _code(lambda: _json.loads_object(text, "x")) == "malformed"


@pytest.mark.parametrize("unprotected", [{"b64": False}, {"crit": ["b64"]}, {"kid": 7}])
def test_sign_json_refuses_unprotected_headers_verify_would_refuse(
    unprotected: dict[str, Any],
) -> None:
    key = Key.generate("EC")
    with pytest.raises(JWTKitError) as info:
        jws.sign_json(b"x", [(key, None, None, unprotected)])
    assert info.value.code == "malformed"


def test_der_material_ending_in_a_whitespace_byte_is_not_stripped() -> None:
    from cryptography.hazmat.primitives import serialization

    for _ in range(5000):  # about 1 key in 43 ends with one of the 6 whitespace bytes
        key = Key.generate("EC")
        der = key.public().raw.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if der[-1:] in (b" ", b"\t", b"\n", b"\r", b"\x0b", b"\x0c"):
            break
    else:
        pytest.fail("no DER key ending in a whitespace byte was generated")
    token = jwtkit.encode({"sub": "a"}, key)
    assert jwtkit.decode(token, der, ["ES256"]) == {"sub": "a"}
    forged = jwtkit.encode({"sub": "a"}, b"k" * 32, "HS256")
    assert _code(lambda: jwtkit.decode(forged, der, ["HS256"])) == "key_mismatch"
