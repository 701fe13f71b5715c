"""Bearer-token protection for Flask (WSGI): an extension with a scope decorator.

RFC 6750 (bearer tokens: ``Authorization: Bearer`` §2.1, ``WWW-Authenticate`` errors §3),
RFC 9068 (JWT access tokens). Same behaviour as :mod:`jwtkit.middleware.asgi`.

Usage::

    from flask import Flask, g
    from jwtkit.middleware import BearerGuard, access_token_verifier
    from jwtkit.middleware.wsgi import FlaskBearerAuth

    app = Flask(__name__)
    jwt = FlaskBearerAuth(app, guard=BearerGuard(verifier, denylist=denylist))

    @app.get("/reports")
    @jwt.requires_scopes("reports:read")
    def reports():
        return {"sub": g.jwtkit_claims["sub"]}

    @app.get("/health")
    @jwt.public
    def health(): ...

By default every view requires a valid token (``protect_all=True``); views marked with
:meth:`FlaskBearerAuth.public` are served without one. On success ``g.jwtkit`` is the
:class:`~jwtkit.middleware.Principal` and ``g.jwtkit_claims`` its claims (dict).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection
from typing import Any, TypeVar

from flask import Flask, Response, g, jsonify, request

from jwtkit.middleware._core import AuthError, BearerGuard, Principal, PublicPaths, RequestFacts

__all__ = ["FlaskBearerAuth"]

F = TypeVar("F", bound=Callable[..., Any])

_PUBLIC_ATTR = "_jwtkit_public"


class FlaskBearerAuth:
    """Flask extension: verifies ``Authorization: Bearer`` access tokens for each request.

    Args:
        app: the Flask app (or None, then call :meth:`init_app`).
        guard: the :class:`~jwtkit.middleware.BearerGuard` (verifier policy and denylist).
        protect_all: require a token for every view except those marked :meth:`public`,
            the ``static`` endpoint and ``public_paths`` (default True); when False only
            decorated views are checked.
        public_paths: paths served without a token, as the ASGI middleware's: exact
            (``"/health"``), prefixes (``"/static/"``) and globs (``"/docs*"``); see
            :class:`~jwtkit.middleware.PublicPaths`.

    Failures answer 401 ``invalid_token`` (or 401 with only ``realm`` when no token was sent),
    400 ``invalid_request``, 403 ``insufficient_scope``, 503 when the issuer's keys cannot be
    had, each with the RFC 6750 ``WWW-Authenticate`` header and a JSON body.
    """

    def __init__(
        self,
        app: Flask | None = None,
        *,
        guard: BearerGuard,
        protect_all: bool = True,
        public_paths: Collection[str] = (),
    ) -> None:
        self.guard = guard
        self.protect_all = protect_all
        self.public_paths = PublicPaths(public_paths)
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register the request hook and the error handler on ``app``."""
        app.extensions["jwtkit"] = self
        app.register_error_handler(AuthError, self._handle_error)
        if self.protect_all:
            app.before_request(self._before_request)

    @staticmethod
    def _handle_error(err: AuthError) -> Response:
        response = jsonify(err.body())
        response.status_code = err.status
        response.headers["Cache-Control"] = "no-store"
        for name, value in err.headers.items():
            response.headers[name] = value
        return response

    def _before_request(self) -> None:
        if request.endpoint is None or request.endpoint == "static":
            return  # 404/405 and static files: let Flask answer
        if self.public_paths(request.path):
            return
        func = self._view_function(request.endpoint)
        if func is not None and getattr(func, _PUBLIC_ATTR, False):
            return
        self.authenticate()

    @staticmethod
    def _view_function(endpoint: str | None) -> Callable[..., Any] | None:
        from flask import current_app

        if endpoint is None:
            return None
        return current_app.view_functions.get(endpoint)

    def authenticate(self) -> Principal:
        """Return the current request's :class:`Principal`, verifying the token once.

        Sets ``g.jwtkit`` (Principal) and ``g.jwtkit_claims`` (dict).

        Raises:
            AuthError: answered by the extension's error handler (401/400/503).
        """
        principal = g.get("jwtkit")
        if isinstance(principal, Principal):
            return principal
        authorizations = request.headers.getlist("Authorization")
        if len(authorizations) == 1:  # a cached token's hit, in one step (as the ASGI one)
            principal = self.guard.cached_principal(authorizations[0])
            if principal is not None:
                g.jwtkit = principal
                g.jwtkit_claims = principal.claims
                return principal
        # two Authorization headers: refused as 400 invalid_request (RFC 6750 §2)
        authorization = (
            "Bearer !" if len(authorizations) > 1 else request.headers.get("Authorization")
        )
        facts = RequestFacts(
            method=request.method,
            authorization=authorization,
            cookies=request.cookies,
            origin=request.headers.get("Origin"),
            sec_fetch_site=request.headers.get("Sec-Fetch-Site"),
            csrf_token=request.headers.get(self.guard.csrf_header),
            dpop=tuple(request.headers.getlist("DPoP")),
            url=request.base_url,
            path=request.script_root + request.path,
        )
        principal = self.guard.authenticate_request(facts)
        g.jwtkit = principal
        g.jwtkit_claims = principal.claims
        return principal

    def public(self, view: F) -> F:
        """Mark ``view`` as served without a token (only with ``protect_all=True``)."""
        setattr(view, _PUBLIC_ATTR, True)
        return view

    def required(self, view: F) -> F:
        """Decorator: require a valid token for ``view`` (useful with ``protect_all=False``)."""
        return self.requires_scopes()(view)

    def requires_scopes(self, *scopes: str) -> Callable[[F], F]:
        """Decorator: require a valid token holding every scope in ``scopes``.

        Raises (when the view is called): AuthError, answered as 401 ``invalid_token`` or
        403 ``insufficient_scope`` with the RFC 6750 ``WWW-Authenticate`` header.
        """
        needed: Collection[str] = frozenset(scopes)

        def decorator(view: F) -> F:
            @functools.wraps(view)
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                principal = self.authenticate()
                self.guard.require(principal, needed)
                return view(*args, **kwargs)

            return wrapper  # type: ignore[return-value]

        return decorator
