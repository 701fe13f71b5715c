"""Strict base64url (RFC 7515 §2, RFC 4648 §5): no padding, no stray characters, canonical bits."""

from __future__ import annotations

import binascii
import re

from jwtkit.errors import MalformedError

__all__ = ["b64d", "b64e", "b64e_str"]

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_VALID = re.compile(r"[A-Za-z0-9_-]*").fullmatch
_VALID_BYTES = re.compile(rb"[A-Za-z0-9_-]*").fullmatch
# For a final group of 2 (3) characters, the low 4 (2) bits of the last character must be zero.
_LAST2_OK = frozenset(c for i, c in enumerate(_ALPHABET) if i & 0x0F == 0)
_LAST3_OK = frozenset(c for i, c in enumerate(_ALPHABET) if i & 0x03 == 0)
_b64decode = binascii.a2b_base64
_URL_TO_STD = bytes.maketrans(b"-_", b"+/")


def b64d(data: str | bytes, what: str = "segment") -> bytes:
    """Decode unpadded base64url strictly (RFC 7515 §2).

    Args:
        data: the encoded text (str, or ASCII bytes).
        what: name of the part being decoded, used in the error message.

    Returns:
        The decoded bytes.

    Raises:
        MalformedError: padding, a character outside the base64url alphabet, a length that is 1
            modulo 4, or non-zero trailing bits (a non-canonical encoding).
    """
    if isinstance(data, str):
        if not _VALID(data):
            raise MalformedError(f"{what} is not base64url")
        raw = data.encode("ascii")
    else:
        if not _VALID_BYTES(data):
            raise MalformedError(f"{what} is not base64url")
        raw = data
    rem = len(raw) & 3
    if rem:
        if rem == 1:
            raise MalformedError(f"{what} has an impossible base64url length")
        last = chr(raw[-1])
        if last not in (_LAST2_OK if rem == 2 else _LAST3_OK):
            raise MalformedError(f"{what} has non-canonical base64url trailing bits")
        raw += b"==" if rem == 2 else b"="
    return _b64decode(raw.translate(_URL_TO_STD))


_STD_TO_URL = bytes.maketrans(b"+/", b"-_")
_b64encode = binascii.b2a_base64


def b64e(data: bytes) -> bytes:
    """Encode bytes as unpadded base64url (RFC 7515 §2); returns ASCII bytes."""
    return _b64encode(data, newline=False).rstrip(b"=").translate(_STD_TO_URL)


def b64e_str(data: bytes) -> str:
    """Encode bytes as unpadded base64url (RFC 7515 §2); returns str."""
    return _b64encode(data, newline=False).rstrip(b"=").translate(_STD_TO_URL).decode("ascii")
