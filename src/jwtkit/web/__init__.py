"""Web apps that sign users in through an OpenID provider and keep the tokens on the server.

* :class:`RelyingParty` (framework-neutral): OIDC authorization code + PKCE sign-in (PAR when
  the issuer offers it), ID token checks with jwtkit's own verifier, server-side sessions with
  refresh, RP-initiated and back-channel logout.
* :mod:`jwtkit.web.sessions`: session stores (in memory, SQL via SQLAlchemy, Redis).
* :mod:`jwtkit.web.asgi`: routes and a session dependency for Starlette/FastAPI.
* :mod:`jwtkit.web.wsgi`: a Flask extension.
* APIs called by the app's pages: :meth:`RelyingParty.cookie_guard` gives a
  :class:`~jwtkit.middleware.BearerGuard` in cookie mode, with the CSRF defence of
  :mod:`jwtkit.middleware.csrf`.

See docs/web.md for the threat model and the settings.
"""

from __future__ import annotations

from jwtkit.web.relying_party import (
    LoginError,
    LogoutTokenError,
    RelyingParty,
    RelyingPartyConfig,
)
from jwtkit.web.sessions import (
    MemorySessionStore,
    RedisSessionStore,
    SessionStore,
    SQLSessionStore,
    WebSession,
)

__all__ = [
    "LoginError",
    "LogoutTokenError",
    "MemorySessionStore",
    "RedisSessionStore",
    "RelyingParty",
    "RelyingPartyConfig",
    "SQLSessionStore",
    "SessionStore",
    "WebSession",
]
