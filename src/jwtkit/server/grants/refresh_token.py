"""Refresh-token grant with rotation and reuse detection (RFC 6749 §6, RFC 9700 §4.14.2)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jwtkit.server.audit import audit
from jwtkit.server.grants._base import TokenRequest, require_grant
from jwtkit.server.oauth import InvalidGrant, InvalidRequest
from jwtkit.server.scopes import grant_scope
from jwtkit.server.tokens import hash_refresh_token, new_refresh_token

if TYPE_CHECKING:
    from jwtkit.server.service import TokenService
    from jwtkit.store.sql import ClientRecord

__all__ = ["handle", "refresh_grant"]

_MESSAGES = {
    "unknown": "unknown refresh token",
    "expired": "refresh token expired",
    "wrong_client": "refresh token was issued to another client",
    "session_revoked": "refresh token revoked",
    "dpop_key": "the refresh token is bound to another DPoP key (RFC 9449 §5)",
}


def handle(svc: TokenService, client: ClientRecord, request: TokenRequest) -> dict[str, Any]:
    """The token endpoint's ``grant_type=refresh_token``: ``refresh_token``, ``scope``."""
    return refresh_grant(
        svc,
        client,
        request.params.get("refresh_token"),
        request.params.get("scope"),
        jkt=request.dpop_jkt,
    )


def refresh_grant(
    svc: TokenService,
    client: ClientRecord,
    refresh_token: str | None,
    scope: str | None,
    *,
    jkt: str | None = None,
) -> dict[str, Any]:
    """Rotate ``refresh_token`` (str) and mint a new access token (bound to the DPoP key
    ``jkt`` when given, RFC 9449 §5).

    Returns the token response (dict) with a new access token and a new refresh token.

    Raises:
        InvalidRequest: no refresh token.
        UnauthorizedClient: the client is not registered for the grant.
        InvalidGrant: unknown, expired, consumed, revoked or another client's token (a consumed
            token also revokes its whole session); a key-bound token without a proof of its key.
        InvalidScope: a scope beyond the session's.
    """
    require_grant(client, "refresh_token")
    if refresh_token is None:
        raise InvalidRequest("refresh_token is required")
    if scope is not None:
        # Check the scope before consuming an active token: a refused request must leave it
        # usable (a session's scope never changes, so this cannot race the rotation). A
        # consumed token goes on to the rotation, whose reuse detection must still fire.
        found = svc.store.get_refresh_token(hash_refresh_token(refresh_token))
        if found is not None and found[0] == "active" and found[2] == client.client_id:
            current = svc.store.get_session(found[1])
            if current is not None:
                grant_scope(scope, current.scope)
    now = svc.clock()
    new_refresh = new_refresh_token()
    access_exp = int(now) + svc.settings.access_token_ttl
    result = svc.store.rotate_refresh_token(
        token_hash=hash_refresh_token(refresh_token),
        client_id=client.client_id,
        new_hash=hash_refresh_token(new_refresh),
        now=now,
        refresh_exp=now + svc.settings.refresh_token_ttl,
        access_exp=access_exp,
        grace_seconds=svc.settings.refresh_grace_seconds,
        dpop_jkt=jkt,
    )
    svc.metrics.refreshes.labels(result.outcome).inc()
    if result.outcome == "reuse":
        svc.metrics.reuse.inc()
        sid = result.revoked[0].value if result.revoked else None
        audit("refresh_reuse", client_id=client.client_id, sid=sid)
        svc.revoked(result.revoked, actor="refresh_reuse")
        raise InvalidGrant("refresh token already used; the session is revoked")
    if result.outcome not in ("ok", "grace") or result.session is None:
        raise InvalidGrant(_MESSAGES.get(result.outcome, "invalid refresh token"))
    session = result.session
    user = svc.store.get_user_by_id(session.user_id)
    if user is None or user.disabled:
        entry = svc.store.revoke_session(session.sid, "user_disabled", now)
        svc.revoked([entry] if entry else [], actor="user_disabled")
        raise InvalidGrant("the user is disabled")
    granted = session.scope if scope is None else grant_scope(scope, session.scope)
    access, _, _ = svc.mint_access_token(
        sub=user.id, client=client, scope=granted, sid=session.sid, now=now, jkt=jkt
    )
    svc.metrics.tokens_issued.labels("refresh_token").inc()
    granted_scope = session.scope if scope is None else granted
    return svc.token_response(access, granted_scope, new_refresh, dpop=jkt is not None)
