"""Redirect URI rules (RFC 6749 §3.1.2, RFC 8252 §7, RFC 9700 §4.1.3): what may be registered
and how a request's ``redirect_uri`` is matched against the registered list.

* Registered: absolute, no fragment, no user info; ``https``, or ``http`` on a loopback IP
  literal (``127.0.0.1``, ``[::1]``), or a private-use scheme with a dot (``com.example.app:``,
  RFC 8252 §7.1).
* Matched: exactly (simple string comparison, RFC 3986 §6.2.1), except that a registered
  loopback URI matches the same URI on any port (RFC 8252 §7.3).
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import SplitResult, urlsplit

__all__ = ["check_registrable", "is_loopback", "match_redirect_uri"]

_LOOPBACK = ("127.0.0.1", "::1")


def _split(uri: str) -> SplitResult | None:
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError:
        return None
    return parts


def is_loopback(uri: str) -> bool:
    """True for an ``http`` URI whose host is a loopback IP literal (RFC 8252 §7.3)."""
    parts = _split(uri)
    return parts is not None and parts.scheme == "http" and parts.hostname in _LOOPBACK


def check_registrable(uri: str) -> str | None:
    """Why ``uri`` (str) cannot be registered as a redirect URI, or None when it can."""
    if len(uri) > 2000 or any(ord(c) <= 0x20 or ord(c) == 0x7F for c in uri):
        return "too long or contains spaces or control characters"
    parts = _split(uri)
    if parts is None or not parts.scheme:
        return "not an absolute URI"
    if parts.fragment or "#" in uri:
        return "a redirect URI must not have a fragment (RFC 6749 §3.1.2)"
    if parts.username is not None or parts.password is not None:
        return "a redirect URI must not carry user info"
    if parts.scheme == "https":
        return None if parts.hostname else "https URI without a host"
    if parts.scheme == "http":
        if parts.hostname in _LOOPBACK:
            return None
        return "http is allowed only on 127.0.0.1 or [::1] (RFC 8252 §7.3); use https"
    if "." in parts.scheme:
        return None  # RFC 8252 §7.1 private-use scheme (reverse domain name)
    return f"scheme {parts.scheme!r} is not allowed (https, loopback http, or com.example.app:)"


def match_redirect_uri(requested: str, registered: Iterable[str]) -> bool:
    """True when ``requested`` equals one of ``registered`` exactly, or differs from a
    registered loopback URI only in its port (RFC 8252 §7.3)."""
    registered = list(registered)
    if requested in registered:
        return True
    asked = _split(requested)
    if asked is None or asked.fragment or "#" in requested or not is_loopback(requested):
        return False
    for uri in registered:
        if not is_loopback(uri):
            continue
        reg = _split(uri)
        if reg is None:  # pragma: no cover - is_loopback parsed it
            continue
        same = (reg.scheme, reg.hostname, reg.path, reg.query) == (
            asked.scheme,
            asked.hostname,
            asked.path,
            asked.query,
        )
        if same and asked.username is None and asked.password is None:
            return True
    return False
