"""Refresh-token grant with rotation and reuse detection (RFC 6749 §6, RFC 9700 §4.14.2)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from jwtkit.server.audit import audit
from jwtkit.server.grants._base import TokenRequest, require_grant
from jwtkit.server.oauth import InvalidGrant, InvalidRequest
from jwtkit.server.scopes import grant_scope
from jwtkit.server.tokens import hash_refresh_token, new_refresh_token

if TYPE_CHECKING:
    from jwtkit.server.service import TokenService
    from jwtkit.store.records import RotateResult
    from jwtkit.store.sql import ClientRecord

__all__ = ["handle", "refresh_grant", "refresh_grant_async"]

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
            token also revokes its whole session); a key-bound token without a proof of its key;
            a token whose user is disabled or deleted (its session is revoked).
        InvalidScope: a scope beyond the session's.
    """
    rotation = _prepare(svc, client, refresh_token, scope, jkt)
    return _finish(svc, client, rotation, svc.store.rotate_refresh_token(**rotation.args))


async def refresh_grant_async(
    svc: TokenService, client: ClientRecord, request: TokenRequest
) -> dict[str, Any]:
    """:func:`refresh_grant` for the event loop: the rotation's transaction runs on the
    store's writer thread (:meth:`~jwtkit.store._db.Database.write_grouped_async`) and the
    rest, which does no I/O, here. Only for requests without ``scope`` (whose check reads the
    database first); same returns and errors as :func:`refresh_grant`."""
    rotation = _prepare(svc, client, request.params.get("refresh_token"), None, request.dpop_jkt)
    result = await svc.store.sessions.rotate_async(**rotation.args)
    if svc.keys.is_fresh():  # signs from the cached key table: no I/O
        return _finish(svc, client, rotation, result)
    # The key table is due for a reload (a read and perhaps a write): never on the loop,
    # where a write would wait for the write lock that the loop's own group commit holds.
    return await asyncio.to_thread(_finish, svc, client, rotation, result)


class _Rotation:
    """What :func:`_prepare` decided: the rotation's arguments and the new pair's parts."""

    __slots__ = ("args", "jkt", "new_refresh", "now", "scope")

    def __init__(
        self, args: dict[str, Any], new_refresh: str, now: float, scope: str | None, jkt: str | None
    ) -> None:
        self.args, self.new_refresh, self.now, self.scope, self.jkt = (
            args,
            new_refresh,
            now,
            scope,
            jkt,
        )


def _prepare(
    svc: TokenService,
    client: ClientRecord,
    refresh_token: str | None,
    scope: str | None,
    jkt: str | None,
) -> _Rotation:
    require_grant(client, "refresh_token")
    if refresh_token is None:
        raise InvalidRequest("refresh_token is required")
    token_hash = hash_refresh_token(refresh_token)
    if scope is not None:
        # Check the scope before consuming an active token: a refused request must leave it
        # usable (a session's scope never changes, so this cannot race the rotation). A
        # consumed token goes on to the rotation, whose reuse detection must still fire.
        found = svc.store.get_refresh_token(token_hash)
        if found is not None and found[0] == "active" and found[2] == client.client_id:
            current = svc.store.get_session(found[1])
            if current is not None:
                grant_scope(scope, current.scope)
    now = svc.clock()
    new_refresh = new_refresh_token()
    args = {
        "token_hash": token_hash,
        "client_id": client.client_id,
        "new_hash": hash_refresh_token(new_refresh),
        "now": now,
        "refresh_exp": now + svc.settings.refresh_token_ttl,
        "access_exp": int(now) + svc.settings.access_token_ttl,
        "grace_seconds": svc.settings.refresh_grace_seconds,
        "dpop_jkt": jkt,
    }
    return _Rotation(args, new_refresh, now, scope, jkt)


def _finish(
    svc: TokenService, client: ClientRecord, rotation: _Rotation, result: RotateResult
) -> dict[str, Any]:
    """Answer a committed rotation: the token response, or the grant's error."""
    svc.metrics.refreshed(result.outcome)
    if result.outcome == "reuse":
        svc.metrics.reuse.inc()
        sid = result.revoked[0].value if result.revoked else None
        audit("refresh_reuse", client_id=client.client_id, sid=sid)
        svc.revoked(result.revoked, actor="refresh_reuse")
        raise InvalidGrant("refresh token already used; the session is revoked")
    if result.outcome == "user_disabled":
        svc.revoked(result.revoked, actor="user_disabled")
        raise InvalidGrant("the user is disabled")
    if result.outcome not in ("ok", "grace") or result.session is None:
        raise InvalidGrant(_MESSAGES.get(result.outcome, "invalid refresh token"))
    session, scope, jkt = result.session, rotation.scope, rotation.jkt
    granted = session.scope if scope is None else grant_scope(scope, session.scope)
    access, _, _ = svc.mint_access_token(
        sub=session.user_id,
        client=client,
        scope=granted,
        sid=session.sid,
        now=rotation.now,
        jkt=jkt,
    )
    svc.metrics.issued("refresh_token")
    return svc.token_response(access, granted, rotation.new_refresh, dpop=jkt is not None)
