"""PyJWT's documented usages (https://pyjwt.readthedocs.io/en/stable/usage.html and api.html),
written once against a module ``jwt`` so that they run unchanged with ``import jwt`` (PyJWT) and
``import jwtkit as jwt``.

Each example takes the module and an :class:`Env` and returns something comparable (claims, a
header, the text an ``except`` branch prints). The only substitution: the docs key HMAC with the
6-byte ``"secret"``; jwtkit refuses secrets shorter than the hash on purpose (RFC 7518 §3.2) and
PyJWT warns, so the examples use ``env.secret`` (32 bytes) and ``test_pyjwt_compat.py`` checks the
refusal of the short one separately. Keys are generated per run in the forms the docs show (PKCS#1
and SEC1 PEM as bytes, PKCS#8 PEM as str, SPKI PEM); the docs' JWKS endpoint is a loopback server;
``time.sleep`` is replaced by tokens dated in the past.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

Example = Callable[[ModuleType, "Env"], Any]


@dataclass(frozen=True)
class Env:
    """Key material and endpoints the examples use."""

    secret: str
    rsa_private_pem: bytes  # "-----BEGIN RSA PRIVATE KEY-----" (PKCS#1), as in the docs
    rsa_public_pem: bytes
    rsa_private_pem_str: str
    rsa_public_pem_str: str
    rsa_encrypted_pem: bytes
    ed25519_private_pem: str
    ed25519_public_pem: str
    ec_private_pem: bytes  # "-----BEGIN EC PRIVATE KEY-----" (SEC1)
    ec_public_pem: bytes
    jwks_url: str  # a loopback JWK Set holding the RSA key with kid "rsa-kid"
    jwks_token: str  # RS256, kid "rsa-kid", aud "https://expenses-api", expired
    id_token: str  # RS256, kid "rsa-kid", aud "client-1", with at_hash of access_token
    access_token: str


def hs256(jwt: ModuleType, env: Env) -> Any:
    key = env.secret
    encoded = jwt.encode({"some": "payload"}, key, algorithm="HS256")
    return jwt.decode(encoded, key, algorithms="HS256")


def rs256_pem_bytes(jwt: ModuleType, env: Env) -> Any:
    encoded = jwt.encode({"some": "payload"}, env.rsa_private_pem, algorithm="RS256")
    return jwt.decode(encoded, env.rsa_public_pem, algorithms=["RS256"])


def rs256_encrypted_key_object(jwt: ModuleType, env: Env) -> Any:
    from cryptography.hazmat.primitives import serialization

    private_key = serialization.load_pem_private_key(env.rsa_encrypted_pem, password=b"abc123")
    encoded = jwt.encode({"some": "payload"}, private_key, algorithm="RS256")
    return jwt.decode(encoded, env.rsa_public_pem, algorithms=["RS256"])


def ps256_pem_str(jwt: ModuleType, env: Env) -> Any:
    encoded = jwt.encode({"some": "payload"}, env.rsa_private_pem_str, algorithm="PS256")
    return jwt.decode(encoded, env.rsa_public_pem_str, algorithms=["PS256"])


def eddsa_pem_str(jwt: ModuleType, env: Env) -> Any:
    encoded = jwt.encode({"some": "payload"}, env.ed25519_private_pem, algorithm="EdDSA")
    return jwt.decode(encoded, env.ed25519_public_pem, algorithms=["EdDSA"])


def es256_pem_bytes(jwt: ModuleType, env: Env) -> Any:
    encoded = jwt.encode({"some": "payload"}, env.ec_private_pem, algorithm="ES256")
    return jwt.decode(encoded, env.ec_public_pem, algorithms=["ES256"])


def additional_headers(jwt: ModuleType, env: Env) -> Any:
    token = jwt.encode(
        {"some": "payload"},
        env.secret,
        algorithm="HS256",
        headers={"kid": "230498151c214b788dd97f22b85410a5"},
    )
    return jwt.get_unverified_header(token), jwt.decode(token, env.secret, algorithms=["HS256"])


def typ_header_removed(jwt: ModuleType, env: Env) -> Any:
    token = jwt.encode({"some": "payload"}, env.secret, algorithm="HS256", headers={"typ": None})
    return jwt.get_unverified_header(token)


def claims_without_validation(jwt: ModuleType, env: Env) -> Any:
    encoded = jwt.encode({"some": "payload"}, env.secret, algorithm="HS256")
    return jwt.decode(encoded, options={"verify_signature": False})


def headers_without_validation(jwt: ModuleType, env: Env) -> Any:
    encoded = jwt.encode(
        {"some": "payload"},
        env.secret,
        algorithm="HS256",
        headers={"kid": "230498151c214b788dd97f22b85410a5"},
    )
    return jwt.get_unverified_header(encoded)


def exp_claim_forms(jwt: ModuleType, env: Env) -> Any:
    token = jwt.encode({"exp": 1371720939}, env.secret)
    jwt.encode({"exp": datetime.datetime.now(tz=datetime.UTC)}, env.secret)
    return jwt.get_unverified_header(token)["alg"]


def exp_expired(jwt: ModuleType, env: Env) -> Any:
    token = jwt.encode({"exp": 1371720939}, env.secret)
    try:
        jwt.decode(token, env.secret, algorithms=["HS256"])
    except jwt.ExpiredSignatureError:
        return "expired"
    return "accepted"


def exp_verification_off(jwt: ModuleType, env: Env) -> Any:
    token = jwt.encode({"exp": 1371720939, "sub": "a"}, env.secret)
    return jwt.decode(token, env.secret, algorithms=["HS256"], options={"verify_exp": False})


def exp_leeway_seconds(jwt: ModuleType, env: Env) -> Any:
    now = datetime.datetime.now(tz=datetime.UTC)
    token = jwt.encode({"exp": now - datetime.timedelta(seconds=2)}, env.secret)
    return sorted(jwt.decode(token, env.secret, leeway=5, algorithms=["HS256"]))


def exp_leeway_timedelta(jwt: ModuleType, env: Env) -> Any:
    now = datetime.datetime.now(tz=datetime.UTC)
    token = jwt.encode({"exp": now - datetime.timedelta(seconds=2)}, env.secret)
    decoded = jwt.decode(
        token, env.secret, leeway=datetime.timedelta(seconds=5), algorithms=["HS256"]
    )
    return sorted(decoded)


def nbf_claim_forms(jwt: ModuleType, env: Env) -> Any:
    jwt.encode({"nbf": 1371720939}, env.secret)
    token = jwt.encode({"nbf": datetime.datetime.now(tz=datetime.UTC)}, env.secret)
    return sorted(jwt.decode(token, env.secret, leeway=5, algorithms=["HS256"]))


def nbf_leeway(jwt: ModuleType, env: Env) -> Any:
    payload = {"nbf": datetime.datetime.now(tz=datetime.UTC) - datetime.timedelta(seconds=3)}
    token = jwt.encode(payload, env.secret)
    return sorted(jwt.decode(token, env.secret, leeway=5, algorithms=["HS256"]))


def iss_invalid(jwt: ModuleType, env: Env) -> Any:
    token = jwt.encode({"some": "payload", "iss": "urn:foo"}, env.secret)
    try:
        jwt.decode(token, env.secret, issuer="urn:invalid", algorithms=["HS256"])
    except jwt.InvalidIssuerError:
        return "invalid issuer"
    return "accepted"


def aud_list(jwt: ModuleType, env: Env) -> Any:
    token = jwt.encode({"some": "payload", "aud": ["urn:foo", "urn:bar"]}, env.secret)
    first = jwt.decode(token, env.secret, audience="urn:foo", algorithms=["HS256"])
    second = jwt.decode(token, env.secret, audience="urn:bar", algorithms=["HS256"])
    return first, second


def aud_single(jwt: ModuleType, env: Env) -> Any:
    token = jwt.encode({"some": "payload", "aud": "urn:foo"}, env.secret)
    return jwt.decode(token, env.secret, audience="urn:foo", algorithms=["HS256"])


def aud_iterable_and_invalid(jwt: ModuleType, env: Env) -> Any:
    token = jwt.encode({"some": "payload", "aud": "urn:foo"}, env.secret)
    decoded = jwt.decode(token, env.secret, audience=["urn:foo", "urn:bar"], algorithms=["HS256"])
    try:
        jwt.decode(token, env.secret, audience=["urn:invalid"], algorithms=["HS256"])
    except jwt.InvalidAudienceError:
        return decoded, "invalid audience"
    return decoded, "accepted"


def iat_claim_forms(jwt: ModuleType, env: Env) -> Any:
    jwt.encode({"iat": 1371720939}, env.secret)
    token = jwt.encode({"iat": datetime.datetime.now(tz=datetime.UTC)}, env.secret)
    return sorted(jwt.decode(token, env.secret, algorithms=["HS256"]))


def sub_claim(jwt: ModuleType, env: Env) -> Any:
    token = jwt.encode({"some": "payload", "sub": "1234567890"}, env.secret)
    return jwt.decode(token, env.secret, algorithms=["HS256"])["sub"]


def jti_claim(jwt: ModuleType, env: Env) -> Any:
    jti = str(uuid.uuid4())
    token = jwt.encode({"some": "payload", "jti": jti}, env.secret)
    return jwt.decode(token, env.secret, algorithms=["HS256"])["jti"] == jti


def key_length_enforced(jwt: ModuleType, env: Env) -> Any:
    strict_jwt = jwt.PyJWT(options={"enforce_minimum_key_length": True})
    try:
        strict_jwt.encode({"some": "payload"}, "short", algorithm="HS256")
    except jwt.InvalidKeyError:
        return "key too short"
    return "accepted"


def key_length_warning_filter(jwt: ModuleType, env: Env) -> Any:
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=jwt.InsecureKeyLengthWarning)
        token = jwt.encode({"some": "payload"}, env.secret, algorithm="HS256")
    return jwt.decode(token, env.secret, algorithms=["HS256"])


def require_claims(jwt: ModuleType, env: Env) -> Any:
    token = jwt.encode({"sub": "1234567890", "iat": 1371720939}, env.secret)
    try:
        jwt.decode(
            token, env.secret, options={"require": ["exp", "iss", "sub"]}, algorithms=["HS256"]
        )
    except jwt.MissingRequiredClaimError as e:
        return e.claim
    return "accepted"


def jwks_client_signing_key_from_jwt(jwt: ModuleType, env: Env) -> Any:
    jwks_client = jwt.PyJWKClient(env.jwks_url, headers={"User-agent": "custom-user-agent"})
    signing_key = jwks_client.get_signing_key_from_jwt(env.jwks_token)
    return jwt.decode(
        env.jwks_token,
        signing_key,
        audience="https://expenses-api",
        options={"verify_exp": False},
        algorithms=["RS256"],
    )


def jwks_client_key_attribute(jwt: ModuleType, env: Env) -> Any:
    jwks_client = jwt.PyJWKClient(env.jwks_url)
    signing_key = jwks_client.get_signing_key_from_jwt(env.jwks_token)
    return jwt.decode(
        env.jwks_token,
        signing_key.key,
        audience="https://expenses-api",
        options={"verify_exp": False},
        algorithms=["RS256"],
    )


def jwks_client_by_kid(jwt: ModuleType, env: Env) -> Any:
    jwks_client = jwt.PyJWKClient(env.jwks_url)
    signing_key = jwks_client.get_signing_key("rsa-kid")
    return signing_key.key_id, jwt.decode(
        env.jwks_token,
        signing_key.key,
        audience="https://expenses-api",
        options={"verify_exp": False},
        algorithms=["RS256"],
    )


def oidc_login_flow(jwt: ModuleType, env: Env) -> Any:
    jwks_client = jwt.PyJWKClient(env.jwks_url)
    signing_key = jwks_client.get_signing_key_from_jwt(env.id_token)
    data = jwt.decode_complete(
        env.id_token, key=signing_key, audience="client-1", algorithms=["RS256"]
    )
    payload, header = data["payload"], data["header"]
    alg_obj = jwt.get_algorithm_by_name(header["alg"])
    digest = alg_obj.compute_hash_digest(env.access_token.encode())
    # The docs strip "=" (a str) from bytes, a TypeError on Python 3; b"=" is what they mean.
    at_hash = base64.urlsafe_b64encode(digest[: (len(digest) // 2)]).rstrip(b"=").decode()
    return at_hash == payload["at_hash"], sorted(payload)


def decode_complete_parts(jwt: ModuleType, env: Env) -> Any:
    token = jwt.encode({"some": "payload"}, env.secret, algorithm="HS256")
    data = jwt.decode_complete(token, env.secret, algorithms=["HS256"])
    return sorted(data), data["payload"], data["header"], isinstance(data["signature"], bytes)


def options_disable_claim_checks(jwt: ModuleType, env: Env) -> Any:
    token = jwt.encode({"aud": "urn:other", "iss": "urn:other", "exp": 1371720939}, env.secret)
    return jwt.decode(
        token,
        env.secret,
        algorithms=["HS256"],
        audience="urn:foo",
        issuer="urn:foo",
        options={"verify_aud": False, "verify_iss": False, "verify_exp": False},
    )


def exception_hierarchy(jwt: ModuleType, env: Env) -> Any:
    token = jwt.encode({"some": "payload"}, env.secret, algorithm="HS256")
    tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    caught = []
    for bad in (tampered, "not-a-token"):
        try:
            jwt.decode(bad, env.secret, algorithms=["HS256"])
        except jwt.DecodeError:
            caught.append("DecodeError")
    try:
        jwt.decode(tampered, env.secret, algorithms=["HS256"])
    except jwt.InvalidTokenError:
        caught.append("InvalidTokenError")
    try:
        jwt.decode(tampered, env.secret, algorithms=["HS256"])
    except jwt.InvalidSignatureError:
        caught.append("InvalidSignatureError")
    try:
        jwt.decode(token, env.secret, algorithms=["HS512"])
    except jwt.InvalidAlgorithmError:
        caught.append("InvalidAlgorithmError")
    future = jwt.encode({"nbf": 4102444800}, env.secret, algorithm="HS256")
    try:
        jwt.decode(future, env.secret, algorithms=["HS256"])
    except jwt.ImmatureSignatureError:
        caught.append("ImmatureSignatureError")
    return caught


def at_hash_digest(jwt: ModuleType, env: Env) -> Any:
    return jwt.get_algorithm_by_name("RS256").compute_hash_digest(b"abc") == (
        hashlib.sha256(b"abc").digest()
    )


EXAMPLES: dict[str, Example] = {
    name: fn
    for name, fn in globals().items()
    if callable(fn) and getattr(fn, "__module__", None) == __name__ and name != "Env"
}
