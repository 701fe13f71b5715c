"""Direct dispatch of the hottest endpoints (issue 12): ``POST /token``, the JWK Set and the
metadata documents skip Starlette's route matching and FastAPI's dependency resolution, which
cost more per request than these endpoints' own work.

An endpoint opts in with :func:`direct` when it takes the :class:`~starlette.requests.Request`
alone and returns a :class:`~starlette.responses.Response`. It stays an ordinary FastAPI route
(the OpenAPI document, ``/docs``, the route template in the metrics), and :class:`DirectRoutes`
calls the very same function for its exact method and path. Errors take the app's exception
handlers, as they would through the router; anything without a handler (the 500) goes on to
the app's :class:`~starlette.middleware.errors.ServerErrorMiddleware`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette._utils import get_route_path, is_async_callable
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["DirectRoutes", "direct"]

Endpoint = Callable[[Request], Awaitable[Response]]
E = TypeVar("E", bound=Endpoint)

_DIRECT = "__jwtkit_direct__"


def direct(endpoint: E) -> E:
    """Mark ``endpoint`` (``async def f(request: Request) -> Response``) for
    :class:`DirectRoutes`; returns it unchanged. Apply it below the router's decorator."""
    setattr(endpoint, _DIRECT, True)
    return endpoint


class DirectRoutes:
    """ASGI middleware: answer the routes of ``app`` whose endpoint is marked :func:`direct`
    by calling that endpoint, for exactly its path and methods; pass everything else on.

    Args:
        app: the wrapped ASGI app (the rest of the middleware stack and the router).
        routes: the routes to look through (the :class:`~fastapi.APIRouter` ``routes`` that
            the app includes without a prefix).
        handlers_of: the FastAPI app whose exception handlers answer errors.

    Raises:
        ValueError: a direct route has path parameters (only fixed paths are matched).
    """

    def __init__(self, app: ASGIApp, routes: Iterable[BaseRoute], handlers_of: FastAPI) -> None:
        self.app = app
        self.handlers_of = handlers_of
        self._table = self._build(routes)

    @staticmethod
    def _build(routes: Iterable[BaseRoute]) -> dict[tuple[str, str], tuple[APIRoute, Endpoint]]:
        table: dict[tuple[str, str], tuple[APIRoute, Endpoint]] = {}
        for route in routes:
            if isinstance(route, APIRoute) and getattr(route.endpoint, _DIRECT, False):
                if route.param_convertors:  # only fixed paths: no parameters to convert
                    raise ValueError(f"direct route {route.path} has path parameters")
                for method in route.methods or ():
                    table[(method, route.path)] = (route, route.endpoint)
        return table

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Answer a direct route, else run the wrapped app."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = self._table.get((scope["method"], get_route_path(scope)))
        if found is None:
            await self.app(scope, receive, send)
            return
        route, endpoint = found
        scope["route"] = route  # the metrics' route template, as the router would set it
        scope["endpoint"] = endpoint
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise  # the app's ServerErrorMiddleware answers 500
            if _is_async(handler):
                response = await handler(request, exc)
            else:
                response = await run_in_threadpool(handler, request, exc)
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Any:
        """The app's handler for ``exc`` by its class hierarchy (as Starlette's
        ExceptionMiddleware looks it up), leaving ``Exception`` itself to the outer 500
        handler."""
        handlers = self.handlers_of.exception_handlers
        for cls in type(exc).__mro__:
            if cls is Exception:
                return None
            if cls in handlers:
                return handlers[cls]
        return None


def _is_async(handler: Any) -> bool:
    return bool(is_async_callable(handler))
