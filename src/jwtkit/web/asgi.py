"""The relying party for Starlette and FastAPI: its routes and a session dependency.

Usage with FastAPI::

    from jwtkit.web import RelyingParty, RelyingPartyConfig
    from jwtkit.web.asgi import RelyingPartyRoutes

    rp = RelyingParty(RelyingPartyConfig(issuer="https://id.example", client_id="app",
                                         client_secret="...", base_url="https://app.example"))
    web = RelyingPartyRoutes(rp)
    app = FastAPI(routes=web.routes)

    @app.get("/")
    async def home(session: WebSession | None = Depends(web.session)): ...

The routes' work (store, calls to the issuer) is blocking, so it runs in a worker thread.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

import anyio.to_thread
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Route

from jwtkit.web._pages import WebRequest, WebResponse, handle, route_paths
from jwtkit.web.relying_party import RelyingParty
from jwtkit.web.sessions import WebSession

__all__ = ["RelyingPartyRoutes"]

_MAX_FORM = 64 * 1024


def to_starlette(out: WebResponse) -> Response:
    """Translate a neutral :class:`~jwtkit.web._pages.WebResponse` to a Starlette response."""
    response = Response(out.body, status_code=out.status, headers=out.headers)
    for cookie in out.cookies:
        response.raw_headers.append((b"set-cookie", cookie.encode("latin-1")))
    return response


class RelyingPartyRoutes:
    """Starlette routes for a :class:`~jwtkit.web.RelyingParty` (login, callback, logout,
    back-channel logout) and a dependency returning the request's session.

    Args:
        rp: the relying party.
    """

    def __init__(self, rp: RelyingParty) -> None:
        self.rp = rp

    @property
    def routes(self) -> list[Route]:
        """The routes to add to the app (list of :class:`starlette.routing.Route`)."""
        return [
            Route(path, self.endpoint, methods=list(methods))
            for path, methods in route_paths(self.rp).items()
        ]

    async def endpoint(self, request: Request) -> Response:
        """Answer one relying-party route (see :func:`jwtkit.web._pages.handle`)."""
        form: dict[str, str] = {}
        if request.method == "POST":
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > _MAX_FORM:
                    return Response("request too large", status_code=413)
            form = dict(parse_qsl(body.decode("utf-8", "replace"), max_num_fields=20))
        req = WebRequest(
            method=request.method,
            path=request.url.path,
            query=dict(request.query_params),
            form=form,
            cookies=dict(request.cookies),
            headers={k.lower(): v for k, v in request.headers.items()},
        )
        out = await anyio.to_thread.run_sync(handle, self.rp, req)
        if out is None:
            return Response("not found", status_code=404)
        return to_starlette(out)

    async def session(self, request: HTTPConnection) -> WebSession | None:
        """Dependency: the request's live :class:`~jwtkit.web.sessions.WebSession` (refreshed
        when near expiry) or None when not signed in."""
        session_id = request.cookies.get(self.rp.config.session_cookie)
        if not session_id:
            return None
        return await anyio.to_thread.run_sync(self.rp.session, session_id)
