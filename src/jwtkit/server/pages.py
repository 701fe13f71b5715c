"""HTML pages of the provider: Jinja2 templates shipped in the package (``templates/``, no CDN
assets), autoescaped, with the security headers of every page and the browser cookies.

* Every page: ``X-Frame-Options: DENY`` and ``Content-Security-Policy: ... frame-ancestors
  'none'`` (RFC 7034, CSP Level 2), ``Cache-Control: no-store``, ``Referrer-Policy: no-referrer``.
* Cookies: ``__Host-`` names (RFC 6265bis §4.1.3.2: ``Secure``, ``Path=/``, no ``Domain``),
  ``HttpOnly``, ``SameSite=Lax``. The OP session cookie holds a random value (only its SHA-256 is
  stored); the CSRF cookie is the double-submit token every form repeats.
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

__all__ = [
    "CSRF_COOKIE",
    "PAGE_HEADERS",
    "SESSION_COOKIE",
    "STATIC",
    "csrf_ok",
    "csrf_token",
    "error_page",
    "forget_session",
    "page",
    "redirect",
    "remember_session",
    "set_csrf",
]

SESSION_COOKIE = "__Host-jwtkit-session"
CSRF_COOKIE = "__Host-jwtkit-csrf"
STATIC = Path(__file__).resolve().parent / "static"

#: Headers of every HTML page and browser redirect.
PAGE_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'",
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

_env = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def page(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    """Render template ``name`` with ``context`` (every value autoescaped) as an HTML response
    with :data:`PAGE_HEADERS`."""
    context.setdefault("title", "jwtkit")
    html = _env.get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)


def error_page(
    status: int, code: str, message: str, title: str = "Something went wrong"
) -> Response:
    """An error page (never a redirect): ``code`` is the OAuth error code shown."""
    return page("error.html", status, title=title, code=code, message=message)


def redirect(url: str) -> Response:
    """A 303 See Other to ``url`` (after a form POST the browser GETs it) with
    :data:`PAGE_HEADERS`."""
    return RedirectResponse(url, status_code=303, headers=PAGE_HEADERS)


def _cookie(response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name, value, max_age=max_age, path="/", secure=True, httponly=True, samesite="lax"
    )


def csrf_token(request: Request) -> str:
    """The browser's CSRF token (its cookie), or a new random one (set it with
    :func:`set_csrf`)."""
    current = request.cookies.get(CSRF_COOKIE) or ""
    if (
        32 <= len(current) <= 64
        and current.isascii()
        and current.replace("-", "").replace("_", "").isalnum()
    ):
        return current
    return secrets.token_urlsafe(32)


def set_csrf(response: Response, token: str) -> Response:
    """Set the CSRF cookie to ``token`` on ``response``; returns it."""
    _cookie(response, CSRF_COOKIE, token, None)
    return response


def csrf_ok(request: Request, submitted: str | None) -> bool:
    """True when the form's CSRF token equals the CSRF cookie (constant-time compare)."""
    cookie = request.cookies.get(CSRF_COOKIE)
    if not cookie or not submitted:
        return False
    return hmac.compare_digest(cookie.encode(), submitted.encode())


def remember_session(response: Response, cookie: str, max_age: int) -> Response:
    """Set the OP session cookie (``max_age`` seconds) on ``response``; returns it."""
    _cookie(response, SESSION_COOKIE, cookie, max_age)
    return response


def forget_session(response: Response) -> Response:
    """Delete the OP session cookie on ``response``; returns it."""
    response.delete_cookie(SESSION_COOKIE, path="/", secure=True, httponly=True, samesite="lax")
    return response
