"""Token revocation (``POST /revoke``, RFC 7009) and introspection (``POST /introspect``,
RFC 7662)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from jwtkit.server.deps import FORM_BODY, NO_STORE, client_credentials, form, token_service
from jwtkit.server.oauth import ClientCredentials, InvalidRequest
from jwtkit.server.responses import JSON as JSONResponse
from jwtkit.server.service import TokenService

__all__ = ["router"]

router = APIRouter(tags=["oauth"])


def _require_token(params: dict[str, str]) -> None:
    """``token`` is required (RFC 7009 §2.1, RFC 7662 §2.1), also in an empty body.

    Raises:
        InvalidRequest: it is missing.
    """
    if "token" not in params:
        raise InvalidRequest("token is required")


@router.post("/revoke", openapi_extra=FORM_BODY)
def revoke(
    params: dict[str, str] = Depends(form),
    creds: ClientCredentials = Depends(client_credentials),
    svc: TokenService = Depends(token_service),
) -> Response:
    """Token revocation (RFC 7009): ``token`` (refresh or access token), optional
    ``token_type_hint``; client-authenticated (public clients by ``client_id``). A refresh
    token ends its whole session; an access token is revoked by ``jti``. Returns 200 with
    an empty body, also for unknown tokens (§2.2)."""
    _require_token(params)
    client = svc.authenticate_client(creds)
    svc.revoke(client, params.get("token"), params.get("token_type_hint"))
    return Response(status_code=200, headers=NO_STORE)


@router.post("/introspect", openapi_extra=FORM_BODY)
def introspect(
    params: dict[str, str] = Depends(form),
    creds: ClientCredentials = Depends(client_credentials),
    svc: TokenService = Depends(token_service),
) -> Response:
    """Token introspection (RFC 7662 §2): ``token``, optional ``token_type_hint``;
    confidential-client authentication required. Returns ``{"active": false}`` or
    ``{"active": true, scope, client_id, username, token_type, exp, iat, sub, aud, iss, jti,
    sid}``, knowing about revocations by jti, sid and sub."""
    _require_token(params)
    client = svc.authenticate_client(creds, allow_public=False)
    body = svc.introspect(params.get("token"), params.get("token_type_hint"), client)
    return JSONResponse(body, headers=NO_STORE)
