"""CSRF defence for requests authenticated by a session cookie (framework-neutral).

Two layers, as the OWASP Cross-Site Request Forgery Prevention Cheat Sheet recommends:

1. **Signed double-submit token bound to the session.** The token is ``<nonce>.<mac>`` where
   ``mac`` is HMAC-SHA256 (keyed with the app's secret) over the session id and the nonce. The
   page's scripts read it from a non-``HttpOnly`` cookie (its name contains ``csrf``) and send it
   back in the ``X-CSRF-Token`` header; the check requires the header, requires it to equal the
   cookie, and requires its MAC to match *this* session, each compared in constant time
   (:func:`hmac.compare_digest`). A forged form cannot set a header, and a token stolen from
   another session does not verify.
2. **Origin and Fetch Metadata.** Unsafe requests (every method but GET, HEAD, OPTIONS, TRACE;
   RFC 9110 §9.2.1) whose ``Origin`` is not one of the app's own origins (RFC 6454; ``null``
   included), or which the browser marks ``Sec-Fetch-Site: cross-site`` or ``same-site`` (W3C
   Fetch Metadata), are refused before any session is looked up.

Failures are :class:`CSRFError`: HTTP 403 with a JSON body whose ``error`` is a stable code
(``cross_origin_request``, ``csrf_token_missing``, ``csrf_token_invalid``), never a redirect.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Collection
from urllib.parse import urlsplit

from jwtkit.middleware._core import SAFE_METHODS, AuthError

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SAFE_METHODS",
    "CSRFError",
    "CSRFPolicy",
    "origin_of",
]

CSRF_COOKIE = "__Host-jwtkit-csrf"
CSRF_HEADER = "X-CSRF-Token"
_DOMAIN = b"jwtkit-csrf-v1\x00"
_MAX_TOKEN = 256

_DESCRIPTIONS = {
    "cross_origin_request": "the request comes from another origin",
    "csrf_token_missing": "the X-CSRF-Token header is missing",
    "csrf_token_invalid": "the CSRF token does not match this session",
}


class CSRFError(AuthError):
    """A refused unsafe request (HTTP 403, JSON body, no ``WWW-Authenticate`` challenge).

    Attributes:
        code / error: ``cross_origin_request``, ``csrf_token_missing`` or ``csrf_token_invalid``.
    """

    def __init__(self, code: str) -> None:
        super().__init__(403, code, _DESCRIPTIONS[code], realm="", code=code)
        self.headers = {}


def origin_of(url: str) -> str:
    """Return the RFC 6454 ASCII serialization ``scheme://host[:port]`` of ``url`` (str).

    Default ports (80 for http, 443 for https) are left out, as browsers send them.

    Raises:
        ValueError: ``url`` is not an absolute http(s) URL.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"not an absolute http(s) URL: {url!r}")
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    if port is None or (parts.scheme, port) in (("http", 80), ("https", 443)):
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


class CSRFPolicy:
    """Issues and checks CSRF tokens bound to a session, and checks the request's origin.

    Args:
        secret: HMAC key (bytes, at least 32); the same in every process serving the app.
        allowed_origins: the app's own origins (``https://app.example``, with a port when not
            the default); each is normalized with :func:`origin_of`.
        header_name: request header that carries the token (default ``X-CSRF-Token``).
        cookie_name: the non-HttpOnly cookie that carries it for scripts (default
            ``__Host-jwtkit-csrf``; must contain ``csrf``).

    Raises:
        ValueError: a short secret, no allowed origin, a malformed origin or a cookie name
            without ``csrf``.
    """

    def __init__(
        self,
        secret: bytes,
        *,
        allowed_origins: Collection[str],
        header_name: str = CSRF_HEADER,
        cookie_name: str = CSRF_COOKIE,
    ) -> None:
        if not isinstance(secret, bytes) or len(secret) < 32:
            raise ValueError("the CSRF secret must be at least 32 bytes")
        if "csrf" not in cookie_name.lower():
            raise ValueError("the CSRF cookie's name must contain 'csrf'")
        origins = frozenset(origin_of(o) for o in allowed_origins)
        if not origins:
            raise ValueError("give at least one allowed origin")
        self._secret = secret
        self.allowed_origins = origins
        self.header_name = header_name
        self.cookie_name = cookie_name

    def __repr__(self) -> str:
        return f"CSRFPolicy(allowed_origins={sorted(self.allowed_origins)!r})"

    def _mac(self, session_id: str, nonce: str) -> str:
        # Length-prefixed so that no (session id, nonce) pair collides with another.
        sid = session_id.encode()
        msg = _DOMAIN + len(sid).to_bytes(4, "big") + sid + nonce.encode()
        return hmac.new(self._secret, msg, hashlib.sha256).hexdigest()

    def issue(self, session_id: str) -> str:
        """Return a new CSRF token (str, ``<nonce>.<hex mac>``) bound to ``session_id``."""
        nonce = secrets.token_urlsafe(16)
        return f"{nonce}.{self._mac(session_id, nonce)}"

    def check_origin(self, method: str, origin: str | None, sec_fetch_site: str | None) -> None:
        """Refuse an unsafe request from another origin (Origin header, Fetch Metadata).

        Args:
            method: the HTTP method (str); safe methods pass.
            origin: the ``Origin`` header (str or None).
            sec_fetch_site: the ``Sec-Fetch-Site`` header (str or None).

        Raises:
            CSRFError: ``cross_origin_request``.
        """
        if method.upper() in SAFE_METHODS:
            return
        site = (sec_fetch_site or "").strip().lower()
        if site in ("cross-site", "same-site"):
            raise CSRFError("cross_origin_request")
        if origin is not None:
            try:
                ok = origin_of(origin.strip()) in self.allowed_origins
            except ValueError:
                ok = False  # "null", garbage
            if not ok:
                raise CSRFError("cross_origin_request")

    def check_token(self, session_id: str, sent: str | None, cookie: str | None) -> None:
        """Check the token sent in the header against the cookie and the session.

        Args:
            session_id: the opaque session id from the session cookie (str).
            sent: the ``X-CSRF-Token`` header (or form field) value (str or None).
            cookie: the CSRF cookie's value (str or None).

        Raises:
            CSRFError: ``csrf_token_missing`` (no header value), ``csrf_token_invalid`` (not the
                cookie's value, malformed, or bound to another session).
        """
        if not sent:
            raise CSRFError("csrf_token_missing")
        sent_b = sent.encode("utf-8", "replace")
        cookie_b = (cookie or "").encode("utf-8", "replace")
        same = hmac.compare_digest(sent_b, cookie_b)
        nonce, dot, mac = sent.partition(".")
        if not dot or len(sent) > _MAX_TOKEN:
            raise CSRFError("csrf_token_invalid")
        good = hmac.compare_digest(
            mac.encode("utf-8", "replace"), self._mac(session_id, nonce).encode()
        )
        if not (same and good):
            raise CSRFError("csrf_token_invalid")

    def check(
        self,
        *,
        method: str,
        session_id: str,
        sent: str | None,
        cookie: str | None,
        origin: str | None,
        sec_fetch_site: str | None,
    ) -> None:
        """Both layers for one request: :meth:`check_origin`, then (unsafe methods only)
        :meth:`check_token`.

        Raises:
            CSRFError: see the two methods.
        """
        self.check_origin(method, origin, sec_fetch_site)
        if method.upper() not in SAFE_METHODS:
            self.check_token(session_id, sent, cookie)
