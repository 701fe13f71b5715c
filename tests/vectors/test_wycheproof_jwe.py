"""Wycheproof ``json_web_encryption_test.json``: every case through jwtkit.jwe.

A ``valid`` case must decrypt to ``pt`` with the group's private key; an ``invalid`` one must
raise a :class:`~jwtkit.errors.JWTKitError` (never another exception, never a plaintext). The
policy allows the token's own ``alg`` (RSA1_5 included, behind its opt-in), every ``enc`` and
``zip: DEF``, so that each case fails for its stated fault rather than for the policy.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from jwtkit import Key, jwe
from jwtkit.errors import JWTKitError
from jwtkit.jwa import CONTENT_ENCRYPTION

from ._paths import VECTORS

DATA: dict[str, Any] = json.loads(
    (VECTORS / "wycheproof" / "json_web_encryption_test.json").read_text(encoding="utf-8")
)
CASES = [
    pytest.param(group, test, id=f"{test['tcId']}-{test['comment']}")
    for group in DATA["testGroups"]
    for test in group["tests"]
]


def _alg(token: Any) -> Any:
    segment = token.get("protected", "") if isinstance(token, dict) else token.split(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
        return header["alg"]
    except (ValueError, KeyError, TypeError):  # a case whose header is the fault
        return "A128KW"


def test_the_file_is_complete() -> None:
    assert DATA["schema"] == "json_web_encryption_schema.json"
    # The header says 135; the groups hold 139 cases (tcIds 1-139).
    assert DATA["numberOfTests"] == 135
    assert len(CASES) == 139


@pytest.mark.parametrize(("group", "test"), CASES)
def test_wycheproof_jwe(group: dict[str, Any], test: dict[str, Any]) -> None:
    key = Key.from_jwk(group["private"])
    token = test["jwe"]
    options: dict[str, Any] = {"compression_algorithms": ["DEF"], "allow_rsa1_5": True}
    algs = [_alg(token)]
    if test["result"] == "valid":
        plaintext = jwe.decrypt(token, key, algs, list(CONTENT_ENCRYPTION), **options)
        assert plaintext == bytes.fromhex(test["pt"])
        return
    with pytest.raises(JWTKitError):
        jwe.decrypt(token, key, algs, list(CONTENT_ENCRYPTION), **options)
