"""Two small web apps that sign users in through an OpenID provider: A (FastAPI) and B (Flask).

Used by ``jwtkit demo --web`` and by the browser tests. Each app has:

* ``GET /``: HTML; the signed-in username (``#username``) or a link to sign in (``#login``),
  and a form whose script posts notes with the ``X-CSRF-Token`` header;
* the relying party's routes (``/login``, ``/auth/callback``, ``/logout``,
  ``/auth/backchannel-logout``);
* ``GET /api/me``: 200 ``{"sub", "username"}`` when signed in, 401 JSON otherwise;
* ``POST /api/notes`` (JSON ``{"text": str}``): 201 when signed in with the right CSRF header,
  403 JSON without it; ``GET /api/notes``: the user's notes.

The API is guarded by :class:`~jwtkit.middleware.BearerGuard` in cookie mode: the session
cookie leads to the access token kept on the server, which is verified like a bearer token.
"""

from __future__ import annotations

import threading
from typing import Any

from jwtkit.jwks_client import JWKSClient
from jwtkit.middleware import BearerGuard, Principal, access_token_verifier
from jwtkit.web.relying_party import RelyingParty
from jwtkit.web.sessions import WebSession

__all__ = ["APP_JS", "app_a", "app_b", "home_page", "make_guard"]

APP_JS = """\
function csrfToken() {
  const wanted = document.body.dataset.csrfCookie;
  for (const part of document.cookie.split("; ")) {
    const [name, value] = part.split("=");
    if (name === wanted) return value;
  }
  return "";
}
async function addNote(event) {
  event.preventDefault();
  const text = document.getElementById("note").value;
  const r = await fetch("/api/notes", {
    method: "POST",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": csrfToken()},
    body: JSON.stringify({text}),
  });
  document.getElementById("status").textContent = r.status;
}
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("notes");
  if (form) form.addEventListener("submit", addNote);
});
"""

_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'",
}


def home_page(title: str, username: str | None, csrf_cookie: str) -> str:
    """The ``GET /`` page (HTML str); ``username`` is escaped; ``csrf_cookie`` is the name of
    the cookie the page's script reads the CSRF token from."""
    from html import escape

    if username is None:
        body = '<p>Not signed in. <a id="login" href="/login">Sign in</a></p>'
    else:
        body = (
            f'<p>Signed in as <strong id="username">{escape(username)}</strong>. '
            '<a id="logout" href="/logout">Sign out</a></p>'
            '<form id="notes"><input id="note" name="note" value="hello">'
            '<button type="submit">Add note</button></form><p id="status"></p>'
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title>"
        '<script src="/app.js"></script></head>'
        f'<body data-csrf-cookie="{escape(csrf_cookie)}"><h1>{escape(title)}</h1>{body}'
        "</body></html>"
    )


def make_guard(rp: RelyingParty, audience: str, algorithms: list[str] | None = None) -> BearerGuard:
    """A cookie-mode :class:`BearerGuard` for the app's API: the session's access token must
    be a JWT access token (RFC 9068) from ``rp``'s issuer for ``audience``."""
    issuer = rp.config.issuer
    verifier = access_token_verifier(
        JWKSClient.from_issuer(issuer, allow_http=rp.config.allow_http),
        issuer=issuer,
        audience=audience,
        algorithms=algorithms or ["ES256", "RS256", "EdDSA", "Ed25519"],
    )
    return rp.cookie_guard(verifier, credentials="both")


class _Notes:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._notes: dict[str, list[dict[str, Any]]] = {}

    def add(self, sub: str, body: Any) -> dict[str, Any] | None:
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str) or not 0 < len(text) <= 1000:
            return None
        with self._lock:
            notes = self._notes.setdefault(sub, [])
            note = {"id": len(notes) + 1, "text": text}
            notes.append(note)
            return note

    def list(self, sub: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._notes.get(sub, []))


def _me(principal: Principal, username: str | None) -> dict[str, Any]:
    return {"sub": principal.subject, "username": username or principal.subject}


def app_a(rp: RelyingParty, guard: BearerGuard, title: str = "App A") -> Any:
    """App A: FastAPI with :class:`~jwtkit.web.asgi.RelyingPartyRoutes` and the
    :class:`~jwtkit.middleware.asgi.BearerAuth` dependency in cookie mode."""
    from fastapi import Body, Depends, FastAPI
    from starlette.responses import HTMLResponse, JSONResponse, Response

    from jwtkit.middleware.asgi import AuthHTTPException, BearerAuth, auth_error_handler
    from jwtkit.web.asgi import RelyingPartyRoutes

    web = RelyingPartyRoutes(rp)
    auth = BearerAuth(guard)
    notes = _Notes()
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.router.routes.extend(web.routes)
    app.add_exception_handler(AuthHTTPException, auth_error_handler)

    @app.get("/")
    async def home(session: WebSession | None = Depends(web.session)) -> Response:
        name = session.username if session is not None else None
        return HTMLResponse(home_page(title, name, rp.config.csrf_cookie), headers=_PAGE_HEADERS)

    @app.get("/app.js")
    async def script() -> Response:
        return Response(APP_JS, media_type="text/javascript")

    @app.get("/api/me")
    async def me(
        principal: Principal = Depends(auth),
        session: WebSession | None = Depends(web.session),
    ) -> dict[str, Any]:
        return _me(principal, session.username if session is not None else None)

    @app.post("/api/notes", status_code=201)
    async def add_note(principal: Principal = Depends(auth), body: Any = Body(None)) -> Response:
        note = notes.add(principal.subject or "", body)
        if note is None:
            return JSONResponse({"error": "invalid_request"}, status_code=400)
        return JSONResponse(note, status_code=201)

    @app.get("/api/notes")
    async def list_notes(principal: Principal = Depends(auth)) -> list[dict[str, Any]]:
        return notes.list(principal.subject or "")

    return app


def app_b(rp: RelyingParty, guard: BearerGuard, title: str = "App B") -> Any:
    """App B: Flask with :class:`~jwtkit.web.wsgi.FlaskRelyingParty` and
    :class:`~jwtkit.middleware.wsgi.FlaskBearerAuth` in cookie mode."""
    from flask import Flask, Response, g, jsonify, request

    from jwtkit.middleware.wsgi import FlaskBearerAuth
    from jwtkit.web.wsgi import FlaskRelyingParty

    app = Flask("jwtkit-demo-b")
    web = FlaskRelyingParty(app, rp=rp)
    jwt = FlaskBearerAuth(app, guard=guard, protect_all=False)
    notes = _Notes()

    @app.get("/")
    def home() -> Response:
        session = web.current_session()
        page = home_page(
            title, session.username if session is not None else None, rp.config.csrf_cookie
        )
        return Response(page, mimetype="text/html", headers=_PAGE_HEADERS)

    @app.get("/app.js")
    def script() -> Response:
        return Response(APP_JS, mimetype="text/javascript")

    @app.get("/api/me")
    @jwt.required
    def me() -> Any:
        session = web.current_session()
        return jsonify(_me(g.jwtkit, session.username if session is not None else None))

    @app.post("/api/notes")
    @jwt.required
    def add_note() -> Any:
        body = request.get_json(silent=True)
        note = notes.add(g.jwtkit.subject or "", body)
        if note is None:
            return jsonify({"error": "invalid_request"}), 400
        return jsonify(note), 201

    @app.get("/api/notes")
    @jwt.required
    def list_notes() -> Any:
        return jsonify(notes.list(g.jwtkit.subject or ""))

    return app
