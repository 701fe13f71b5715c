"""How the service's errors reach the wire: RFC 6749 §5.2 JSON with ``Cache-Control: no-store``.

:class:`~jwtkit.server.oauth.OAuthError` answers with its own status and headers; FastAPI's
validation errors and Starlette's own errors (404 for an unknown path, 405 for a wrong method,
with ``Allow``) become ``invalid_request``; a database that does not answer becomes 503
``temporarily_unavailable``; anything else is logged and answered 500 ``server_error`` without
detail.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from jwtkit.server.oauth import (
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    OAuthError,
    ServerError,
    TemporarilyUnavailable,
)
from jwtkit.server.responses import JSON as JSONResponse

__all__ = ["NO_STORE", "error_response", "install_error_handlers"]

log = logging.getLogger("jwtkit.server")

#: Headers of every response carrying tokens or errors (RFC 6749 §5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def error_response(exc: OAuthError) -> JSONResponse:
    """The JSON response (RFC 6749 §5.2) of ``exc``: its status, headers and no-store."""
    headers = {**exc.headers, **NO_STORE, "X-Content-Type-Options": "nosniff"}
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)


async def _oauth_error(_request: Request, exc: Exception) -> Response:
    assert isinstance(exc, OAuthError)
    return error_response(exc)


async def _http_error(_request: Request, exc: Exception) -> Response:
    """Starlette's own errors (no route: 404, wrong method: 405, ...) as OAuth JSON too."""
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    headers = dict(exc.headers or {})
    error: OAuthError
    if status == 404:
        error = NotFound("not found", headers=headers)
    elif status == 405:
        error = MethodNotAllowed("method not allowed", headers=headers)
    elif status >= 500:
        error = ServerError("internal error", status=status, headers=headers)
    else:
        error = InvalidRequest(str(exc.detail or "invalid request"), status=status, headers=headers)
    return error_response(error)


async def _validation_error(_request: Request, _exc: Exception) -> Response:
    return error_response(InvalidRequest("invalid request parameters"))


async def _db_down(_request: Request, exc: Exception) -> Response:
    log.error("database unavailable: %s", exc.__class__.__name__)
    return error_response(TemporarilyUnavailable("the database is unavailable"))


async def _unexpected(request: Request, _exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(ServerError("internal error"))


def install_error_handlers(app: FastAPI) -> None:
    """Register the service's exception handlers on ``app`` (see the module docstring)."""
    app.add_exception_handler(OAuthError, _oauth_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(OperationalError, _db_down)
    app.add_exception_handler(Exception, _unexpected)
