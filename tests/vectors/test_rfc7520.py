"""RFC 7520 ("JOSE Cookbook") JWS and JWK examples, RFC 7797 (``b64``) and RFC 8037 (Ed25519).

One generic runner reads every vector file: each serialization in ``output`` (compact, general
JSON, flattened JSON) must verify to ``input.payload`` with the public half of ``input.key``, and
for the deterministic algorithms (RSASSA-PKCS1-v1_5, HMAC, EdDSA: the files' ``reproducible``
flag) signing again must reproduce the published bytes exactly.

Where a vector disagrees with the standard it illustrates, the case says so and asserts what jwtkit
does instead (see ``DEVIATIONS``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from jwtkit import Key, KeySet, jws
from jwtkit._b64 import b64d, b64e_str
from jwtkit.errors import JWTKitError

from ._paths import VECTORS

RFC7520 = VECTORS / "rfc7520"
JWS_FILES = [
    *sorted((RFC7520 / "jws").glob("*.json")),
    *sorted((RFC7520 / "rfc7797").glob("*.json")),
    RFC7520 / "curve25519" / "jws.json",
]
JWK_FILES = sorted((RFC7520 / "jwk").glob("*.json"))

# Vectors that break the rule they illustrate: file name -> (serialization -> error code, why).
DEVIATIONS: dict[str, tuple[str, str]] = {
    "4.2.hmac-sha2_b64_false.json": (
        "unsupported_crit",
        "its protected header is {'alg':'HS256','b64':false} without \"crit\":[\"b64\"]; "
        "RFC 7797 §6 requires 'b64' to be listed in 'crit' (the cookbook file predates that "
        "rule; RFC 7797 §4.2's published example has the crit member: see "
        "test_rfc7797_section_4_2_example)",
    ),
}


def _load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def _ident(path: Path) -> str:
    return f"{path.parent.name}/{path.stem}"


def _signers(vec: dict[str, Any]) -> list[tuple[dict[str, Any], str]]:
    """(JWK, alg) pairs of a vector: ``input.key``/``input.alg`` are single or parallel lists."""
    keys, algs = vec["input"]["key"], vec["input"]["alg"]
    if isinstance(keys, list):
        return list(zip(keys, algs, strict=True))
    return [(keys, algs)]


def _verification_key(jwk: dict[str, Any]) -> Key:
    key = Key.from_jwk(jwk)
    return key if key.is_symmetric else key.public()


def _is_detached(token: str | dict[str, Any]) -> bool:
    if isinstance(token, str):
        return token.split(".")[1] == ""
    return "payload" not in token


def test_vector_folders_are_complete() -> None:
    # Guard against a partial checkout quietly shrinking the parametrized cases below.
    assert len(JWS_FILES) == 11
    assert len(JWK_FILES) == 6
    assert all(path.is_file() for path in JWS_FILES)


# -- every serialization of every JWS example verifies --------------------------------------------

VERIFY_CASES = [
    pytest.param(path, form, id=f"{_ident(path)}-{form}")
    for path in JWS_FILES
    for form in _load(path)["output"]
]


@pytest.mark.parametrize(("path", "form"), VERIFY_CASES)
def test_jws_example_verifies(path: Path, form: str) -> None:
    vec = _load(path)
    token = vec["output"][form]
    payload = vec["input"]["payload"].encode("utf-8")
    detached = payload if _is_detached(token) else None
    deviation = DEVIATIONS.get(path.name)
    for jwk, alg in _signers(vec):
        key = _verification_key(jwk)
        if deviation is not None:
            code, why = deviation
            with pytest.raises(JWTKitError) as excinfo:
                jws.verify(token, key, [alg], detached_payload=detached)
            assert excinfo.value.code == code, why
            continue
        result = jws.verify_detailed(token, key, [alg], detached_payload=detached)
        assert result.payload == payload
        assert result.key is key
        assert result.header["alg"] == alg
        # The algorithm allowlist is always enforced, even for a valid signature.
        others = [a for a in ("HS512", "RS512", "ES256", "Ed448") if a != alg]
        with pytest.raises(JWTKitError) as excinfo:
            jws.verify(token, key, others, detached_payload=detached)
        assert excinfo.value.code in {"alg_not_allowed", "key_not_found"}


@pytest.mark.parametrize("path", JWS_FILES, ids=_ident)
def test_jws_example_tampered_payload_fails(path: Path) -> None:
    vec = _load(path)
    if path.name in DEVIATIONS:
        return
    form = next(f for f in ("compact", "json_flat", "json") if f in vec["output"])
    token = vec["output"][form]
    payload = vec["input"]["payload"].encode("utf-8")
    jwk, alg = _signers(vec)[0]
    key = _verification_key(jwk)
    if _is_detached(token):
        tampered, detached = token, payload + b"!"
    elif isinstance(token, str):
        head, body, sig = token.split(".")
        b64 = vec["signing"].get("protected", {}).get("b64", True)
        body = b64e_str(b64d(body) + b"!") if b64 else body + "!"
        tampered, detached = f"{head}.{body}.{sig}", None
    else:
        tampered = {**token, "payload": b64e_str(b64d(token["payload"]) + b"!")}
        detached = None
    with pytest.raises(JWTKitError) as excinfo:
        jws.verify(tampered, key, [alg], detached_payload=detached)
    assert excinfo.value.code == "invalid_signature"


# -- deterministic examples are reproduced byte for byte ------------------------------------------

REPRODUCIBLE = [
    pytest.param(path, form, id=f"{_ident(path)}-{form}")
    for path in JWS_FILES
    if _load(path).get("reproducible") and path.name not in DEVIATIONS
    for form in _load(path)["output"]
]


def _sign_like(vec: dict[str, Any], form: str) -> str | dict[str, Any]:
    """Sign ``input.payload`` again with the headers the vector used."""
    payload = vec["input"]["payload"].encode("utf-8")
    published = vec["output"][form]
    detached = _is_detached(published)
    signing = vec["signing"]
    protected = dict(signing.get("protected") or {})
    b64 = protected.get("b64", True)
    (jwk, alg), *_ = _signers(vec)
    key = Key.from_jwk(jwk).with_params(kid=None)
    if form == "compact":
        extra = {k: v for k, v in protected.items() if k not in ("alg", "b64", "crit")}
        return jws.sign(payload, key, alg, headers=extra or None, detached=detached, b64=b64)
    protected = {k: v for k, v in protected.items() if k not in ("alg", "b64", "crit")}
    unprotected = signing.get("unprotected")
    return jws.sign_json(
        payload,
        [(key, alg, protected or None, unprotected)],
        flattened=form == "json_flat",
        detached=detached,
        b64=b64,
    )


@pytest.mark.parametrize(("path", "form"), REPRODUCIBLE)
def test_deterministic_example_is_reproduced(path: Path, form: str) -> None:
    vec = _load(path)
    assert _sign_like(vec, form) == vec["output"][form]


def test_multiple_signatures_example_reproduces_deterministic_members() -> None:
    """RFC 7520 §4.8: RS256 and HS256 signatures are reproduced, ES512 (randomized) verifies."""
    vec = _load(RFC7520 / "jws" / "4_8.multiple_signatures.json")
    payload = vec["input"]["payload"].encode("utf-8")
    signers = []
    for (jwk, alg), step in zip(_signers(vec), vec["signing"], strict=True):
        key = Key.from_jwk(jwk).with_params(kid=None)
        signers.append((key, alg, step.get("protected"), step.get("unprotected")))
    ours = jws.sign_json(payload, signers)
    published = vec["output"]["json"]
    assert ours["payload"] == published["payload"]
    assert ours["signatures"][0] == published["signatures"][0]
    assert ours["signatures"][2] == published["signatures"][2]
    assert ours["signatures"][1]["header"] == published["signatures"][1]["header"]
    ec_key = _verification_key(_signers(vec)[1][0])
    assert jws.verify(ours, ec_key, ["ES512"]) == payload


@pytest.mark.parametrize(
    "name", ["4_2.rsa-pss_signature.json", "4_3.ecdsa_signature.json"], ids=["PS384", "ES512"]
)
def test_randomized_examples_sign_and_verify(name: str) -> None:
    vec = _load(RFC7520 / "jws" / name)
    (jwk, alg), *_ = _signers(vec)
    payload = vec["input"]["payload"].encode("utf-8")
    key = Key.from_jwk(jwk)
    token = jws.sign(payload, key, alg, headers={"kid": jwk["kid"]})
    header_segment = token.split(".")[0]
    assert header_segment == vec["signing"]["protected_b64u"]
    assert token != vec["output"]["compact"]  # randomized: a fresh signature
    assert jws.verify(token, key.public(), [alg]) == payload


def test_rfc7797_section_4_2_example() -> None:
    """RFC 7797 §4.2, as published: header {"alg":"HS256","b64":false,"crit":["b64"]}."""
    vec = _load(RFC7520 / "rfc7797" / "4.2.hmac-sha2_b64_false.json")
    key = Key.from_jwk(vec["input"]["key"])
    payload = b"$.02"
    expected = (
        "eyJhbGciOiJIUzI1NiIsImI2NCI6ZmFsc2UsImNyaXQiOlsiYjY0Il19"
        "..A5dxf2s96_n5FLueVuW1Z_vh161FwXZC4YLPff6dmDY"
    )
    assert jws.sign(payload, key, "HS256", b64=False, detached=True) == expected
    assert jws.verify(expected, key, ["HS256"], detached_payload=payload) == payload
    flat = jws.sign_json(payload, [(key, "HS256", None, None)], flattened=True, b64=False)
    assert flat == {
        "payload": "$.02",
        "protected": expected.split(".", maxsplit=1)[0],
        "signature": expected.split(".")[2],
    }
    assert jws.verify(flat, key, ["HS256"]) == payload


def test_rfc7797_compact_example_signing_section_is_inconsistent() -> None:
    """rfc7797/hmac-sha2_b64_false.json: its ``signing`` block is broken, its ``output`` right.

    ``protected_b64u`` decodes to ``{"alg":"HS256","b64":,"crit":["b64"]}`` (not JSON) and ``sig``
    is the signature of a header without ``crit``; the ``output`` members (checked above) are
    consistent, so those are what we verify and reproduce.
    """
    vec = _load(RFC7520 / "rfc7797" / "hmac-sha2_b64_false.json")
    broken = b64d(vec["signing"]["protected_b64u"])
    assert broken == b'{"alg":"HS256","b64":,"crit":["b64"]}'
    header = vec["output"]["compact"].split(".")[0]
    assert json.loads(b64d(header)) == vec["signing"]["protected"]


# -- JWK examples (RFC 7520 §3) -------------------------------------------------------------------


@pytest.mark.parametrize("path", JWK_FILES, ids=lambda p: p.stem)
def test_jwk_example_round_trips(path: Path) -> None:
    jwk = _load(path)
    key = Key.from_jwk(jwk)
    if jwk.get("use") == "enc":
        # RFC 7520 §3.6 is an A256GCM content-encryption (``dir``) key: it imports for JWE, and
        # it can never sign or verify a JWS.
        assert key.alg == "A256GCM"
        assert not key.allows("HS256")
        with pytest.raises(JWTKitError) as excinfo:
            jws.sign(b"x", key, "HS256")
        assert excinfo.value.code == "key_mismatch"
    private = "d" in jwk or "k" in jwk
    assert key.is_private is private
    assert key.to_jwk(private=private) == jwk
    assert key.kid == jwk["kid"]
    assert Key.from_jwk(json.dumps(jwk)).thumbprint() == key.thumbprint()


@pytest.mark.parametrize(
    ("private_name", "public_name"),
    [
        ("3_2.ec_private_key.json", "3_1.ec_public_key.json"),
        ("3_4.rsa_private_key.json", "3_3.rsa_public_key.json"),
    ],
    ids=["EC-P521", "RSA"],
)
def test_jwk_private_example_has_public_example(private_name: str, public_name: str) -> None:
    private = Key.from_jwk(_load(RFC7520 / "jwk" / private_name))
    public = _load(RFC7520 / "jwk" / public_name)
    assert private.public().to_jwk() == public
    assert private.thumbprint() == Key.from_jwk(public).thumbprint()


def test_jwk_examples_verify_cookbook_signatures() -> None:
    """The §3 keys are the keys of the §4 signatures (RFC 7520 §4.1, §4.3, §4.4)."""
    jwk_dir, jws_dir = RFC7520 / "jwk", RFC7520 / "jws"
    pairs = [
        ("3_3.rsa_public_key.json", "4_1.rsa_v15_signature.json", "RS256"),
        ("3_3.rsa_public_key.json", "4_2.rsa-pss_signature.json", "PS384"),
        ("3_1.ec_public_key.json", "4_3.ecdsa_signature.json", "ES512"),
        (
            "3_5.symmetric_key_mac_computation.json",
            "4_4.hmac-sha2_integrity_protection.json",
            "HS256",
        ),
    ]
    keys = KeySet.from_jwks({"keys": [_load(jwk_dir / "3_5.symmetric_key_mac_computation.json")]})
    assert len(keys) == 1
    for key_name, sig_name, alg in pairs:
        key = Key.from_jwk(_load(jwk_dir / key_name))
        vec = _load(jws_dir / sig_name)
        assert jws.verify(vec["output"]["compact"], key, [alg]) == vec["input"]["payload"].encode(
            "utf-8"
        )
