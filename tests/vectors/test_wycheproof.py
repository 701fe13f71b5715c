"""Project Wycheproof JOSE vectors: ``json_web_signature_test.json`` and ``json_web_key_test.json``.

One generic runner: each case's key (``public`` when given, else ``private``; a JWK Set for the
key-set file) verifies the case's ``jws`` with every algorithm jwtkit supports in the allowlist, so
that only the key's own binding (type, curve, ``alg``, ``use``, ``key_ops``) and the token decide.
A ``valid`` case must verify to the payload in the token; an ``invalid`` case must raise a
:class:`~jwtkit.errors.JWTKitError` (never another exception, never an accept) with the error code
that names the reason (``expected_code``).

A few vectors are wrong, or looser than jwtkit's policy. Each is listed in ``OVERRIDES`` by test
id, with the reason and what jwtkit does instead.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jwtkit import Key, KeySet, jws
from jwtkit.errors import JWTKitError
from jwtkit.jwa import ALGORITHMS

from ._paths import VECTORS

WYCHEPROOF = VECTORS / "wycheproof"
FILES = {
    "jws": (WYCHEPROOF / "json_web_signature_test.json", "json_web_signature_schema.json", 401),
    "jwk": (WYCHEPROOF / "json_web_key_test.json", "json_web_key_schema.json", 26),
}
ALL_ALGORITHMS = sorted(ALGORITHMS)


@dataclass(frozen=True)
class Override:
    """jwtkit's answer where it differs from the vector's ``result``.

    Attributes:
        code: the error code jwtkit raises, or None when jwtkit accepts.
        why: the reason (quoted in the assertion message).
    """

    code: str | None
    why: str


_PS256_BOUND = (
    "the key's JWK says alg PS256 but RFC 7520 Figure 20 is signed with PS384; a key bound to an "
    "alg is used with that alg only (RFC 7517 §4.4, RFC 8725 §3.1), so the token is refused"
)
_ES521 = (
    "the key's JWK says alg 'ES521', which is not a registered JWS algorithm (Figure 27 uses "
    "ES512); a JWK bound to an unknown alg is refused at import (RFC 7517 §4.4)"
)
_QUESTION_MARK = (
    "'?' is outside the base64url alphabet (RFC 7515 §2, RFC 4648 §5); Wycheproof marks this "
    "valid because lenient decoders skip the character, jwtkit refuses it"
)
_SIGNED_BEFORE_INSERT = (
    "'?' is outside the base64url alphabet; the MAC was computed before the character was "
    "inserted, and jwtkit checks the signature over the exact segment text before decoding the "
    "payload, so the answer is invalid_signature (with a valid MAC over the same text it is "
    "malformed: test_attacks.py 'junk-in-payload')"
)
_PADDING_LOST = (
    "the vector is byte-identical to the valid tcId 357: the '=' padding it meant to test was lost "
    "when the file was generated; the token is correct, so jwtkit accepts it (the padded form is "
    "refused: test_padding_the_vectors_meant_is_refused)"
)

_KID_BOUND = (
    "the modified header names kid 'X...' while the verifying key's kid is 'kid-...': a single key "
    "with a kid is refused for another kid before any signature check, as a KeySet refuses it "
    "(issue 13 item 17), so the answer is key_not_found"
)
_JWK_BOUND = (
    "the header embeds the attacker's jwk; it is never used to verify, and a verifying key that is "
    "not the embedded one is refused (go-jose#241: never report header identity the verifying key "
    "does not have)"
)
_LOCAL_SET_MAY_MIX = (
    "a local JWK Set is trusted and may mix an oct secret with public keys: each key is bound to "
    "its alg and found by kid, so the HS256 token names the secret unambiguously (issue 13 item "
    "21); a set fetched by JWKSClient refuses secrets and private members"
)

OVERRIDES: dict[tuple[str, int], Override] = {
    ("jws", 8): Override("key_not_found", _KID_BOUND),
    ("jws", 25): Override("key_not_found", _KID_BOUND),
    ("jws", 40): Override("key_not_found", _KID_BOUND),
    ("jws", 32): Override("key_not_found", _JWK_BOUND),
    ("jwk", 1): Override(None, _LOCAL_SET_MAY_MIX),
    ("jws", 346): Override("key_mismatch", _PS256_BOUND),
    ("jws", 350): Override("key_mismatch", _PS256_BOUND),
    ("jws", 347): Override("unsupported_algorithm", _ES521),
    ("jws", 351): Override("unsupported_algorithm", _ES521),
    ("jws", 372): Override("malformed", _QUESTION_MARK),
    ("jws", 373): Override("invalid_signature", _SIGNED_BEFORE_INSERT),
    ("jws", 367): Override(None, _PADDING_LOST),
    ("jws", 370): Override(None, _PADDING_LOST),
}

# Error code by Wycheproof flag, then by test comment (the reason the case must fail).
CODE_BY_FLAG = {
    "ModifiedPadding": "invalid_signature",
    "ModifiedSignature": "invalid_signature",
    "AlgIsNone": "unsupported_algorithm",
    "JsonSerialization": "malformed",
    "DuplicateKid": "invalid_key",
    "MixedKeySet": "invalid_key",
}
CODE_BY_COMMENT = {
    "rejectsModifiedSignature": "invalid_signature",
    "rejectsModifiedPayload": "invalid_signature",
    "rejectsMissingPayload": "invalid_signature",
    "rejectsMissingSignature": "invalid_signature",
    "rejectsMissingSignatureAndSeparator": "malformed",
    "rejectsMissingPayloadAndSeparator": "malformed",
    "rejectsModifiedHeader": "invalid_signature",
    "rejectsMissingHeader": "malformed",
    "rejectsMissingHeaderAndSeparator": "malformed",
    "rejectsMissingHeaderAndSignature": "malformed",
    "rejectsMissingHeaderSignatureAndSeparators": "malformed",
    "rejectsMissingHeaderSignatureAndSeparator": "malformed",
    "rejectsEmptyString": "malformed",
    "rejectsExtraEmptyComponent": "malformed",
    "rejectsExtraComponent": "malformed",
    "rejectsNoneAlgorithmAndMissingSignature": "unsupported_algorithm",
    "rejectsSymmetryConfusionAttacks_aesKeyFromEcVerificationKeyBytes": "key_mismatch",
    "rejectsAttackerProvidedEmbeddedJwk": "invalid_signature",
    "rejectWrongUse": "key_mismatch",
    "rejectWrongKeyOps": "key_mismatch",
    "rejectsSpacesInMac": "malformed",
    "rejectsInvalidCharacterInsertedInMac": "malformed",
    "rejects0ReplacedbyInvalidCharacter": "malformed",
    "rejectsInvalidCharacters": "malformed",
    "spacesInHeader": "malformed",
    "invalidCharactersInHeader": "malformed",
    "spacesInPayload": "malformed",
    "invalidCharactersInPayload": "malformed",
    "InvalidCharacterInPayload": "malformed",
    # The MAC is over the canonical encoding, so the modified text fails verification first.
    "ModifiedUnusedBitsInPayload": "invalid_signature",
    "MacOfIncorrectlyEncodedMessage": "malformed",
    "SignatureTooLong": "invalid_signature",
    "TrailingZeros": "invalid_signature",
    "RisTooBig": "invalid_signature",
    "SisTooBig": "invalid_signature",
    "IntegerOverflow": "invalid_signature",
    "BufferOverflow": "invalid_signature",
    # json_web_key_test.json
    "rejectsWrongUse": "key_mismatch",
    "rejectsKeyWithRocaVulnerability": "weak_key",
    "rejects1024bitRsaKey": "weak_key",
    "rejectsPublicExponent1": "invalid_key",
    "key_too_short": "weak_key",
    "empty_key": "invalid_key",
    "mismatchedAlgAndCurve": "unsupported_algorithm",
    "rejectsModifiedKey": "invalid_key",
    "rejectsAesKey": "unsupported_algorithm",
}
# Cases whose comment is shared by cases failing for different reasons: by (file, tcId).
CODE_BY_CASE: dict[tuple[str, int], str] = {
    ("jwk", 21): "key_mismatch",  # "rejectsModifiedKey": the modification is use "enc"
    # The key is bound to a JWE alg (RSA1_5, A256GCM, A256KW): no key in the set fits the JWS alg.
    ("jwk", 6): "key_not_found",  # "rejectsWrongUse"
    ("jwk", 25): "key_not_found",  # "rejectsAesKey"
    ("jwk", 26): "key_not_found",  # "rejectsAesKey"
}


def _expected_code(kind: str, group: dict[str, Any], test: dict[str, Any]) -> str:
    case = (kind, test["tcId"])
    if case in CODE_BY_CASE:
        return CODE_BY_CASE[case]
    for flag in test["flags"]:
        if flag in CODE_BY_FLAG:
            return CODE_BY_FLAG[flag]
    if "WrongPrimitive" in test["flags"]:
        # The key is bound to one alg: a header naming another alg is a key mismatch; a header
        # naming the key's alg over a signature made with another primitive fails to verify.
        header = json.loads(_b64url(test["jws"].split(".")[0]))
        bound = (group.get("public") or group["private"])["alg"]
        return "invalid_signature" if header["alg"] == bound else "key_mismatch"
    comment = test["comment"]
    if comment.startswith(("rIs", "rIsZero")):
        return "invalid_signature"
    return CODE_BY_COMMENT[comment]


def _load(kind: str) -> dict[str, Any]:
    path, schema, count = FILES[kind]
    data: dict[str, Any] = json.loads(Path(path).read_text(encoding="utf-8"))
    assert data["schema"] == schema
    assert data["numberOfTests"] == count
    return data


def _cases() -> list[Any]:
    params = []
    for kind in FILES:
        for group in _load(kind)["testGroups"]:
            for test in group["tests"]:
                ident = f"{kind}-{test['tcId']}-{test['comment']}"
                params.append(pytest.param(kind, group, test, id=ident))
    return params


CASES = _cases()


def _key_source(kind: str, group: dict[str, Any]) -> Key | KeySet:
    jwk = group.get("public") or group["private"]
    if kind == "jwk":
        return KeySet.from_jwks(jwk)
    return Key.from_jwk(jwk)


def _verify(kind: str, group: dict[str, Any], token: str) -> bytes:
    return jws.verify(token, _key_source(kind, group), ALL_ALGORITHMS)


def _b64url(segment: str) -> bytes:
    """Decode base64url independently of jwtkit (stdlib, strict alphabet)."""
    std = segment.translate(str.maketrans("-_", "+/")) + "=" * (-len(segment) % 4)
    return base64.b64decode(std, validate=True)


def _stated_payload(token: str) -> bytes:
    """The payload the token carries."""
    return _b64url(token.split(".")[1])


def test_case_count() -> None:
    assert Counter(p.values[0] for p in CASES) == {"jws": 401, "jwk": 26}
    assert {(k, i) for k, i in OVERRIDES} <= {(p.values[0], p.values[2]["tcId"]) for p in CASES}


@pytest.mark.parametrize(("kind", "group", "test"), CASES)
def test_wycheproof(kind: str, group: dict[str, Any], test: dict[str, Any]) -> None:
    token = test["jws"]
    override = OVERRIDES.get((kind, test["tcId"]))
    if override is not None:
        if override.code is None:
            assert _verify(kind, group, token) == _stated_payload(token), override.why
            return
        with pytest.raises(JWTKitError) as excinfo:
            _verify(kind, group, token)
        assert excinfo.value.code == override.code, override.why
        return
    if test["result"] == "valid":
        assert _verify(kind, group, token) == _stated_payload(token)
        return
    assert test["result"] == "invalid"
    with pytest.raises(JWTKitError) as excinfo:
        _verify(kind, group, token)
    assert excinfo.value.code == _expected_code(kind, group, test)


def _jws_case(tc_id: int) -> tuple[dict[str, Any], dict[str, Any]]:
    for group in _load("jws")["testGroups"]:
        for test in group["tests"]:
            if test["tcId"] == tc_id:
                return group, test
    raise LookupError(tc_id)


def test_padding_lost_vectors_equal_the_valid_one() -> None:
    _, valid = _jws_case(357)
    for tc_id in (367, 370):
        _, test = _jws_case(tc_id)
        assert test["jws"] == valid["jws"], _PADDING_LOST


@pytest.mark.parametrize("segment", [0, 1, 2], ids=["header", "payload", "signature"])
def test_padding_the_vectors_meant_is_refused(segment: int) -> None:
    """What tcId 367/370 meant to test: '=' padding in a segment is refused (RFC 7515 §2)."""
    group, valid = _jws_case(357)
    parts = valid["jws"].split(".")
    parts[segment] += "=" * (-len(parts[segment]) % 4 or 4)
    if segment < 2:  # MAC the padded text, so that the padding is the only fault
        mac = hmac.digest(_b64url(group["private"]["k"]), ".".join(parts[:2]).encode(), "sha256")
        parts[2] = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    with pytest.raises(JWTKitError) as excinfo:
        _verify("jws", group, ".".join(parts))
    assert excinfo.value.code == "malformed"


def test_rfc7520_keys_with_correct_alg_verify_the_overridden_figures() -> None:
    """With the alg the figures really use, the keys of tcId 346/347 verify them."""
    for tc_id, alg in ((346, "PS384"), (347, "ES512")):
        group, test = _jws_case(tc_id)
        jwk = {**group["public"], "alg": alg}
        assert jws.verify(test["jws"], Key.from_jwk(jwk), [alg]) == _stated_payload(test["jws"])
