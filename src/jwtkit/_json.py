"""Strict JSON for JOSE (RFC 7515 §5.2, RFC 7519 §7.2, RFC 8259).

Parsing rejects duplicate member names (RFC 7515 §5.2 allows rejecting them and RFC 8725 §3.10
recommends it), NaN and Infinity, invalid UTF-8, and nesting deeper than a cap; it is checked
before the parser runs so a hostile document cannot exhaust the stack.
"""

from __future__ import annotations

import json
import re
from typing import Any

from jwtkit.errors import MalformedError

__all__ = ["DEFAULT_MAX_DEPTH", "dumps", "loads_object"]

DEFAULT_MAX_DEPTH = 16
# The closing quote is optional so that an unterminated string is one token: without it, the
# scan retried from every later quote, quadratic on '"\\"\\"...' (the parser rejects it anyway).
_TOKENS = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)
# A \uD800-\uDFFF escape; only when one appears is the parsed value walked for lone surrogates.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]").search


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for name, _ in pairs:
            if name in seen:
                raise MalformedError(f"duplicate JSON member name {name!r}")
            seen.add(name)
    return obj


def _constant(name: str) -> Any:
    raise MalformedError(f"JSON constant {name} is not allowed")


def _float(text: str) -> float:
    value = float(text)
    if value in (_INF, -_INF):  # e.g. 1e400: would make "exp" never expire
        raise MalformedError("JSON number is out of range")
    return value


_INF = float("inf")
_decoder = json.JSONDecoder(object_pairs_hook=_pairs, parse_constant=_constant, parse_float=_float)
_decode = _decoder.decode


def _depth(text: str) -> int:
    depth = best = 0
    for match in _TOKENS.finditer(text):
        tok = match.group()
        if tok in "[{":
            depth += 1
            best = max(best, depth)
        elif tok in "]}":
            depth -= 1
    return best


def _has_lone_surrogate(value: Any) -> bool:
    # Paired escapes were joined by the parser; what is left is not Unicode text (RFC 8259 §8.2).
    if type(value) is str:
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if type(value) is dict:
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in value.items())
    if type(value) is list:
        return any(_has_lone_surrogate(v) for v in value)
    return False


def loads_object(data: bytes | str, what: str = "JSON", max_depth: int = DEFAULT_MAX_DEPTH) -> Any:
    """Parse a JSON object strictly.

    Args:
        data: UTF-8 bytes or str.
        what: name of the part (e.g. ``"header"``), used in error messages.
        max_depth: maximum nesting of objects and arrays (int).

    Returns:
        The parsed object (dict).

    Raises:
        MalformedError: invalid UTF-8 or JSON, a duplicate member name, NaN/Infinity, nesting
            deeper than ``max_depth``, a lone surrogate escape such as ``"\\ud800"`` (not Unicode
            text, RFC 8259 §8.2, RFC 7493 §2.1), or a top-level value that is not an object.
    """
    try:
        if isinstance(data, bytes):
            text = data.decode("utf-8")
        else:
            text = data
            text.encode("utf-8")  # a str may hold a raw lone surrogate
    except UnicodeError:
        raise MalformedError(f"{what} is not UTF-8") from None
    # Cheap C-speed pre-check; the exact scan runs only when the bracket count could exceed the cap.
    if text.count("{") + text.count("[") > max_depth and _depth(text) > max_depth:
        raise MalformedError(f"{what} is nested deeper than {max_depth}")
    try:
        obj = _decode(text)
    except MalformedError as exc:
        raise MalformedError(f"{what}: {exc.message}") from None
    except (ValueError, RecursionError):
        raise MalformedError(f"{what} is not valid JSON") from None
    if type(obj) is not dict:
        raise MalformedError(f"{what} is not a JSON object")
    if "\\u" in text and _SURROGATE_ESCAPE(text) and _has_lone_surrogate(obj):
        raise MalformedError(f"{what} contains a lone UTF-16 surrogate escape")
    return obj


_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def dumps(obj: Any) -> bytes:
    """Serialize to compact UTF-8 JSON bytes (no NaN/Infinity; non-ASCII kept as UTF-8).

    Raises:
        MalformedError: the value is not JSON-serializable or contains NaN/Infinity.
    """
    try:
        return _encode(obj).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise MalformedError(f"value is not JSON-serializable: {exc}") from None
