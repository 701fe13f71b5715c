"""The OAuth 2.0 ``scope`` grammar (RFC 6749 §3.3), shared by the token service and the
middleware.

``scope = scope-token *( SP scope-token )`` and ``scope-token = 1*( %x21 / %x23-5B / %x5D-7E )``:
only a single space (%x20) separates tokens; no other whitespace (tab, newline, NBSP, any Unicode
space), no leading, trailing or doubled space, no ``"`` or ``\\``, nothing outside printable
ASCII.
"""

from __future__ import annotations

import re

__all__ = ["SCOPE_TOKEN", "is_scope_token", "split_scope"]

#: One scope-token (RFC 6749 §3.3).
SCOPE_TOKEN = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+")
_SCOPE = re.compile(r"[\x21\x23-\x5b\x5d-\x7e]+(?: [\x21\x23-\x5b\x5d-\x7e]+)*")


def is_scope_token(value: object) -> bool:
    """True when ``value`` is a str that is exactly one RFC 6749 §3.3 scope-token."""
    return isinstance(value, str) and SCOPE_TOKEN.fullmatch(value) is not None


def split_scope(value: str) -> list[str]:
    """Split a ``scope`` value into its scope-tokens (list of str, in order, duplicates kept).

    Raises:
        ValueError: ``value`` does not match the RFC 6749 §3.3 grammar (empty, only spaces,
            another separator, a doubled/leading/trailing space, a forbidden character).
    """
    if not isinstance(value, str) or _SCOPE.fullmatch(value) is None:
        raise ValueError("malformed scope (RFC 6749 §3.3)")
    return value.split(" ")
