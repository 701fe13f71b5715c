"""Verifiers for resource servers: bearer-token guards for ASGI and WSGI apps.

* :class:`BearerGuard` (framework-neutral): reads ``Authorization: Bearer`` (RFC 6750 §2.1),
  verifies the JWT access token with a :class:`jwtkit.Verifier` policy (RFC 9068 §4), checks the
  revocation :class:`~jwtkit.revocation.Denylist`, and returns a :class:`Principal`; failures are
  :class:`AuthError` carrying the RFC 6750 §3 ``WWW-Authenticate`` challenge.
* :mod:`jwtkit.middleware.asgi`: Starlette/FastAPI middleware and dependencies (needs starlette).
* :mod:`jwtkit.middleware.wsgi`: a Flask extension (needs flask).
* :class:`~jwtkit.middleware.dpop.DPoPPolicy`: ``Authorization: DPoP`` with a proof per request
  (RFC 9449 §7), given to the guard as ``dpop=``.
* :mod:`jwtkit.middleware.csrf`: cookie mode's CSRF defence (signed double-submit token bound
  to the session, Origin / Sec-Fetch-Site checks).
* :mod:`jwtkit.middleware.listener`: Redis revocation listeners, thread and asyncio (needs redis).

This package imports none of starlette, flask, redis or httpx itself.
"""

from __future__ import annotations

from jwtkit.middleware._core import (
    AuthError,
    BearerGuard,
    Principal,
    PublicPaths,
    RequestFacts,
    SessionTokenSource,
    access_token_verifier,
    parse_scopes,
)
from jwtkit.middleware.dpop import DPoPPolicy

__all__ = [
    "AuthError",
    "BearerGuard",
    "DPoPPolicy",
    "Principal",
    "PublicPaths",
    "RequestFacts",
    "SessionTokenSource",
    "access_token_verifier",
    "parse_scopes",
]
