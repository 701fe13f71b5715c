"""The bearer's own sessions: ``POST /logout``, ``GET /sessions``, ``DELETE /sessions/{sid}``
(bearer tokens per RFC 6750 §2.1, errors per §3.1)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response

from jwtkit.errors import JWTKitError
from jwtkit.middleware import Principal
from jwtkit.server.deps import (
    FORM_BODY,
    NO_STORE,
    bearer_principal,
    bearer_token,
    invalid_token,
    optional_form,
    resource_claims,
    token_service,
)
from jwtkit.server.oauth import InvalidToken, NotFound
from jwtkit.server.responses import JSON as JSONResponse
from jwtkit.server.service import TokenService, session_view
from jwtkit.server.tokens import token_kind

__all__ = ["router"]

router = APIRouter(tags=["sessions"])
Bearer = Depends(bearer_principal)
Service = Depends(token_service)


@router.post("/logout", openapi_extra=FORM_BODY)
def logout(
    request: Request, params: dict[str, str] = Depends(optional_form), svc: TokenService = Service
) -> Response:
    """End the session of the presented token: form ``token`` (a refresh or access token)
    or ``Authorization: Bearer`` (an access token; a DPoP-bound one under ``Authorization:
    DPoP`` with a ``DPoP`` proof, RFC 9449 §7). Returns 204; 401 ``invalid_token`` when
    the token is not one of this service's."""
    token_value = params.get("token")
    if token_value is None:
        token_value = bearer_token(request)
        if token_kind(token_value) != "opaque":  # RFC 9449 §7 for DPoP-bound access tokens
            resource_claims(request, token_value, svc, check_revoked=False)
    try:
        known = svc.logout(token_value)
    except JWTKitError as exc:
        raise invalid_token(exc) from None
    if not known:
        raise InvalidToken("unknown token")
    return Response(status_code=204, headers=NO_STORE)


@router.get("/sessions")
def list_sessions(who: Principal = Bearer, svc: TokenService = Service) -> Response:
    """The bearer's own active sessions: ``{"sessions": [{sid, client_id, scope,
    created_at, last_used_at, expires_at, revoked_at, revoked_reason, current}]}`` (times in
    seconds since the epoch). Needs ``Authorization: Bearer <access token>`` (RFC 6750
    §2.1); 401 ``invalid_request`` without one, 401 ``invalid_token`` (RFC 6750 §3.1) when
    it does not verify, is revoked or has no ``sid`` (a client_credentials token)."""
    rows = svc.sessions_of(str(who.claims["sub"]))
    body = {"sessions": [session_view(s, who.claims["sid"]) for s in rows]}
    return JSONResponse(body, headers=NO_STORE)


@router.delete("/sessions/{sid}", status_code=204)
def delete_session(sid: str, who: Principal = Bearer, svc: TokenService = Service) -> Response:
    """End one of the bearer's own sessions (``sid``: str, from ``GET /sessions``); its
    refresh tokens die and its ``sid`` is revoked. Returns 204; 404 ``invalid_request`` when
    the session is not the bearer's; 401 as for ``GET /sessions`` (RFC 6750 §3.1)."""
    if not svc.end_own_session(str(who.claims["sub"]), sid):
        raise NotFound("no such session")
    return Response(status_code=204, headers=NO_STORE)
