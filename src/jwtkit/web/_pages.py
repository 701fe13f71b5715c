"""The relying party's routes as framework-neutral handlers: a :class:`WebRequest` in, a
:class:`WebResponse` out. The Starlette and Flask adapters only translate."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import jinja2

from jwtkit.middleware.csrf import CSRFError
from jwtkit.web.relying_party import LoginError, LogoutTokenError, RelyingParty

__all__ = ["WebRequest", "WebResponse", "handle"]

_HTML_HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # same-origin, not no-referrer: with no-referrer a form POST carries "Origin: null".
    "Referrer-Policy": "same-origin",
    # No form-action: Chromium applies it to the redirect to the issuer after the logout POST.
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "frame-ancestors 'none'; base-uri 'none'",
}


@dataclass(frozen=True)
class WebRequest:
    """One request to a relying-party route, as the adapters see it.

    Attributes:
        method: HTTP method (str, upper case).
        path: the URL path (str).
        query: query parameters (mapping; one value each).
        form: form fields of a POST (mapping; one value each).
        cookies: request cookies (mapping).
        headers: request headers (mapping with lower-case names).
    """

    method: str
    path: str
    query: Mapping[str, str] = field(default_factory=dict)
    form: Mapping[str, str] = field(default_factory=dict)
    cookies: Mapping[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class WebResponse:
    """What a route answers: status, headers, ``Set-Cookie`` values and a body (bytes)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    cookies: list[str] = field(default_factory=list)
    body: bytes = b""


def set_cookie(name: str, value: str, *, max_age: int, http_only: bool = True) -> str:
    """A ``Set-Cookie`` value for a ``__Host-`` cookie: ``Secure``, ``Path=/``, no ``Domain``,
    ``SameSite=Lax``, ``HttpOnly`` unless ``http_only`` is False (RFC 6265bis §4.1.3.2)."""
    parts = [f"{name}={value}", "Path=/", "Secure", "SameSite=Lax", f"Max-Age={max_age}"]
    if http_only:
        parts.append("HttpOnly")
    return "; ".join(parts)


def clear_cookie(name: str, *, http_only: bool = True) -> str:
    """A ``Set-Cookie`` value that removes cookie ``name``."""
    return set_cookie(name, "", max_age=0, http_only=http_only)


@cache
def _templates() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("jwtkit.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )


def _html(status: int, template: str, **context: Any) -> WebResponse:
    body = _templates().get_template(template).render(**context).encode()
    return WebResponse(status, dict(_HTML_HEADERS), body=body)


def _json(status: int, body: Mapping[str, Any]) -> WebResponse:
    headers = {"Content-Type": "application/json", "Cache-Control": "no-store"}
    return WebResponse(status, headers, body=json.dumps(body).encode())


def _redirect(location: str, status: int = 303) -> WebResponse:
    return WebResponse(status, {"Location": location, "Cache-Control": "no-store"})


def _login(rp: RelyingParty, req: WebRequest) -> WebResponse:
    try:
        start = rp.begin_login(req.query.get("next"))
    except LoginError as exc:
        return _error_page(rp, exc, 502)
    out = _redirect(start.url, 302)
    ttl = int(rp.config.login_timeout)
    out.cookies.append(set_cookie(rp.config.login_cookie, start.transaction, max_age=ttl))
    return out


def _error_page(rp: RelyingParty, exc: LoginError, status: int) -> WebResponse:
    return _html(
        status,
        "error.html",
        message=exc.message,
        code=exc.code,
        oauth_error=exc.oauth_error,
        login=rp.config.login_path,
    )


def _callback(rp: RelyingParty, req: WebRequest) -> WebResponse:
    cfg = rp.config
    try:
        session_id, _, return_to = rp.finish_login(req.query, req.cookies.get(cfg.login_cookie))
    except LoginError as exc:
        status = 502 if exc.code == "issuer_unavailable" else 400
        out = _error_page(rp, exc, status)
        out.cookies.append(clear_cookie(cfg.login_cookie))
        return out
    old = req.cookies.get(cfg.session_cookie)
    if old:
        rp.logout_locally(old)  # a new session id on every sign-in (no fixation)
    ttl = int(cfg.session_lifetime)
    out = _redirect(return_to)
    out.cookies += [
        clear_cookie(cfg.login_cookie),
        set_cookie(cfg.session_cookie, session_id, max_age=ttl),
        set_cookie(cfg.csrf_cookie, rp.csrf_token(session_id), max_age=ttl, http_only=False),
    ]
    return out


def _logout_page(rp: RelyingParty, req: WebRequest) -> WebResponse:
    cfg = rp.config
    session_id = req.cookies.get(cfg.session_cookie)
    session = rp.session(session_id)
    if session is None or session_id is None:
        out = _redirect(cfg.post_logout_path)
        out.cookies += [
            clear_cookie(cfg.session_cookie),
            clear_cookie(cfg.csrf_cookie, http_only=False),
        ]
        return out
    return _html(
        200,
        "logout.html",
        username=session.username,
        action=cfg.logout_path,
        csrf_token=rp.csrf_token(session_id),
        home=cfg.home_path,
    )


def _logout(rp: RelyingParty, req: WebRequest) -> WebResponse:
    cfg = rp.config
    session_id = req.cookies.get(cfg.session_cookie) or ""
    try:
        rp.csrf.check_origin(
            req.method, req.headers.get("origin"), req.headers.get("sec-fetch-site")
        )
        # The logout form carries its own token (bound to the session) in a field.
        rp.csrf.check_token(session_id, req.form.get("csrf_token"), req.form.get("csrf_token"))
    except CSRFError as exc:
        return _json(exc.status, exc.body())
    out = _redirect(rp.logout(session_id))
    out.cookies += [
        clear_cookie(cfg.session_cookie),
        clear_cookie(cfg.csrf_cookie, http_only=False),
    ]
    return out


def _backchannel(rp: RelyingParty, req: WebRequest) -> WebResponse:
    try:
        rp.backchannel_logout(req.form.get("logout_token"))
    except LogoutTokenError as exc:
        # OIDC Back-Channel Logout 1.0 §2.8: 400, optionally with an OAuth error body.
        return _json(400, {"error": "invalid_request", "error_description": exc.message})
    except LoginError:
        return _json(503, {"error": "temporarily_unavailable"})
    return _json(200, {})


def handle(rp: RelyingParty, req: WebRequest) -> WebResponse | None:
    """Answer ``req`` when its path and method are one of the relying party's routes;
    None otherwise. Blocking (store, HTTP to the issuer): async adapters call it in a thread.

    Routes (paths from :class:`~jwtkit.web.RelyingPartyConfig`): GET login, GET callback,
    GET logout (confirmation page), POST logout (CSRF-checked; then RP-initiated logout at the
    issuer), POST back-channel logout (200 / 400 JSON).
    """
    cfg = rp.config
    routes = {
        ("GET", cfg.login_path): _login,
        ("GET", cfg.redirect_path): _callback,
        ("GET", cfg.logout_path): _logout_page,
        ("POST", cfg.logout_path): _logout,
        ("POST", cfg.backchannel_logout_path): _backchannel,
    }
    handler = routes.get((req.method.upper(), req.path))
    return handler(rp, req) if handler is not None else None


def route_paths(rp: RelyingParty) -> dict[str, tuple[str, ...]]:
    """The relying party's paths and their methods (dict), for adapters that register routes."""
    cfg = rp.config
    return {
        cfg.login_path: ("GET",),
        cfg.redirect_path: ("GET",),
        cfg.logout_path: ("GET", "POST"),
        cfg.backchannel_logout_path: ("POST",),
    }
