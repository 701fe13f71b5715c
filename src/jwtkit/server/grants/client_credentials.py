"""Client credentials grant (RFC 6749 §4.4): an access token whose ``sub`` is the client id,
without ``sid`` and without a refresh token."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jwtkit.server.grants._base import TokenRequest, require_grant
from jwtkit.server.oauth import UnauthorizedClient
from jwtkit.server.scopes import grant_scope

if TYPE_CHECKING:
    from jwtkit.server.service import TokenService
    from jwtkit.store.sql import ClientRecord

__all__ = ["client_credentials_grant", "handle"]


def handle(svc: TokenService, client: ClientRecord, request: TokenRequest) -> dict[str, Any]:
    """The token endpoint's ``grant_type=client_credentials``: ``scope``."""
    return client_credentials_grant(svc, client, request.params.get("scope"), jkt=request.dpop_jkt)


def client_credentials_grant(
    svc: TokenService, client: ClientRecord, scope: str | None, *, jkt: str | None = None
) -> dict[str, Any]:
    """Mint an access token for the client itself (bound to the DPoP key ``jkt`` when given).

    Returns the token response (dict): access_token, token_type, expires_in, scope.

    Raises:
        UnauthorizedClient: a public client, or the grant is not registered for the client.
        InvalidScope: a scope beyond the client's.
    """
    if client.public:
        raise UnauthorizedClient("public clients cannot use client_credentials")
    require_grant(client, "client_credentials")
    granted = grant_scope(scope, client.scope)
    access, _, _ = svc.mint_access_token(
        sub=client.client_id, client=client, scope=granted, sid=None, now=svc.clock(), jkt=jkt
    )
    svc.metrics.issued("client_credentials")
    return svc.token_response(access, granted, dpop=jkt is not None)
