"""The token endpoint: ``POST /token`` (RFC 6749 §3.2), one handler per grant in
:mod:`jwtkit.server.grants`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from jwtkit.server.deps import (
    FORM_BODY,
    NO_STORE,
    client_address,
    client_credentials,
    form,
    password_work,
    token_service,
)
from jwtkit.server.direct import direct
from jwtkit.server.grants import ASYNC_GRANTS, GRANTS, NON_BLOCKING, TokenRequest
from jwtkit.server.oauth import InvalidRequest, UnsupportedGrantType
from jwtkit.server.responses import JSON as JSONResponse

__all__ = ["router"]

router = APIRouter(tags=["oauth"])


@router.post("/token", openapi_extra=FORM_BODY)
@direct
async def token(http: Request) -> Response:
    """Token endpoint (RFC 6749 §3.2, form-encoded). ``grant_type`` is ``password``
    (username, password, scope), ``refresh_token`` (refresh_token, scope) or
    ``client_credentials`` (scope). Client authentication: ``client_secret_basic``,
    ``client_secret_post``, or ``client_id`` alone for public clients.

    A ``DPoP`` header (RFC 9449 §5) binds the access token to the proof's key: ``cnf.jkt``
    and ``token_type: "DPoP"``; a bad proof is 400 ``invalid_dpop_proof``.

    Returns 200 ``{access_token, token_type: "Bearer", expires_in, refresh_token?, scope}``
    with ``Cache-Control: no-store``; errors are RFC 6749 §5.2 JSON (400, 401
    ``invalid_client``, 429 when failed logins are rate-limited).
    """
    # Called directly (jwtkit.server.direct), so the dependencies are called here rather than
    # declared (issue 12); the OpenAPI operation is described in routes/docs.py.
    params = await form(http)
    creds = await client_credentials(http, params)
    address = await client_address(http)
    svc = await token_service(http)
    grant = params.get("grant_type")
    if grant is None:
        raise InvalidRequest("grant_type is required")
    if grant not in GRANTS:
        raise UnsupportedGrantType(f"grant_type {grant!r} is not supported")
    # RFC 9449 §5: a DPoP proof binds the access token to the client's key (checked first)
    jkt = svc.dpop.thumbprint(http.headers.getlist("dpop"), svc.clock())
    request = TokenRequest(params, address, jkt)
    # A grant that does no I/O, for a client that authenticates from memory, is answered on
    # the event loop, without a thread hop; a refresh there hands only its transaction to the
    # store's writer (issue 12); everything else runs in the thread pool.
    fast = grant in NON_BLOCKING or (grant in ASYNC_GRANTS and "scope" not in params)
    client = await svc.client_from_memory_async(creds) if fast else None
    fresh = client is not None and svc.keys.is_fresh()
    if client is not None and not fresh and svc.keys.cache_seconds > 0:
        # The key table aged: one reload off the loop for every request of this moment (on
        # this loop), then sign here (rather than all of them taking the thread pool).
        await svc.keys.refresh_async()
        fresh = svc.keys.is_fresh()
    if client is not None and fresh:
        if grant in NON_BLOCKING:
            body = svc.token(grant, client, request)
        else:  # one write transaction on the store's writer; the rest here
            svc.check_dpop_requirement(client, request)
            body = await ASYNC_GRANTS[grant](svc, client, request)
        return JSONResponse(body, headers={**NO_STORE, **svc.dpop.response_headers(svc.clock())})

    def work() -> dict[str, Any]:
        client = svc.authenticate_client(creds)
        return svc.token(grant, client, request)

    if grant == "password":  # argon2id: through the bounded admission (issue 13 item 3)
        body = await password_work(svc, work)
    else:
        body = await run_in_threadpool(work)
    return JSONResponse(body, headers={**NO_STORE, **svc.dpop.response_headers(svc.clock())})
