"""The relying party for Flask: its routes and the current session.

Usage::

    from jwtkit.web import RelyingParty, RelyingPartyConfig
    from jwtkit.web.wsgi import FlaskRelyingParty

    app = Flask(__name__)
    web = FlaskRelyingParty(app, RelyingParty(RelyingPartyConfig(...)))

    @app.get("/")
    def home():
        session = web.current_session()   # WebSession or None
"""

from __future__ import annotations

from flask import Flask, Response, g, request

from jwtkit.web._pages import WebRequest, handle, route_paths
from jwtkit.web.relying_party import RelyingParty
from jwtkit.web.sessions import WebSession

__all__ = ["FlaskRelyingParty"]

_MAX_FORM = 64 * 1024


class FlaskRelyingParty:
    """Flask extension: registers a :class:`~jwtkit.web.RelyingParty`'s routes (login,
    callback, logout, back-channel logout) on ``app``.

    Args:
        app: the Flask app (or None, then call :meth:`init_app`).
        rp: the relying party.
    """

    def __init__(self, app: Flask | None = None, *, rp: RelyingParty) -> None:
        self.rp = rp
        if app is not None:
            self.init_app(app)

    def init_app(self, app: Flask) -> None:
        """Register the routes on ``app``."""
        app.extensions["jwtkit_web"] = self
        for i, (path, methods) in enumerate(route_paths(self.rp).items()):
            app.add_url_rule(path, f"jwtkit_web_{i}", self._endpoint, methods=list(methods))

    def _endpoint(self) -> Response:
        form: dict[str, str] = {}
        if request.method == "POST":
            if (request.content_length or 0) > _MAX_FORM:
                return Response("request too large", status=413)
            form = {k: v for k, v in request.form.items()}
        req = WebRequest(
            method=request.method,
            path=request.path,
            query={k: v for k, v in request.args.items()},
            form=form,
            cookies=dict(request.cookies),
            headers={k.lower(): v for k, v in request.headers.items()},
        )
        out = handle(self.rp, req)
        if out is None:
            return Response("not found", status=404)
        response = Response(out.body, status=out.status, headers=out.headers)
        for cookie in out.cookies:
            response.headers.add("Set-Cookie", cookie)
        return response

    def current_session(self) -> WebSession | None:
        """The current request's live :class:`~jwtkit.web.sessions.WebSession` (refreshed when
        near expiry) or None when not signed in; looked up once per request."""
        if "jwtkit_web_session" not in g:
            session_id = request.cookies.get(self.rp.config.session_cookie)
            g.jwtkit_web_session = self.rp.session(session_id) if session_id else None
        session: WebSession | None = g.jwtkit_web_session
        return session
