"""Resource owner password credentials grant (RFC 6749 §4.3). Legacy: RFC 9700 §2.4 says it
MUST NOT be used; kept for existing clients registered for it."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jwtkit.server.audit import audit
from jwtkit.server.grants._base import TokenRequest, require_grant
from jwtkit.server.oauth import InvalidGrant, InvalidRequest
from jwtkit.server.scopes import grant_scope
from jwtkit.server.tokens import hash_refresh_token, new_refresh_token
from jwtkit.store.sql import CredentialsChangedError, SessionCapError

if TYPE_CHECKING:
    from jwtkit.server.service import TokenService
    from jwtkit.store.sql import ClientRecord

__all__ = ["handle", "password_grant"]


def handle(svc: TokenService, client: ClientRecord, request: TokenRequest) -> dict[str, Any]:
    """The token endpoint's ``grant_type=password``: ``username``, ``password``, ``scope``."""
    p = request.params
    return password_grant(
        svc,
        client,
        p.get("username"),
        p.get("password"),
        p.get("scope"),
        request.address,
        jkt=request.dpop_jkt,
    )


def password_grant(
    svc: TokenService,
    client: ClientRecord,
    username: str | None,
    password: str | None,
    scope: str | None,
    address: str | None,
    *,
    jkt: str | None = None,
) -> dict[str, Any]:
    """Resource owner password credentials grant (RFC 6749 §4.3); the access token is bound to
    the DPoP key ``jkt`` when given (RFC 9449 §5).

    Returns the token response (dict): access_token, token_type, expires_in (s),
    refresh_token, scope.

    Raises:
        InvalidRequest: missing or too long parameters.
        UnauthorizedClient: the client is not registered for the grant.
        InvalidGrant: bad credentials, disabled user, session cap with ``refuse``
            (``LoginRateLimited``, 429 with ``Retry-After``, when rate-limited).
        InvalidScope: scope beyond the user's or the client's.
    """
    require_grant(client, "password")
    if username is None or password is None:
        raise InvalidRequest("username and password are required")
    if len(username) > 255:
        raise InvalidRequest("username is too long")
    user = svc.check_password(username, password, address, client_id=client.client_id)
    now = svc.clock()
    granted = grant_scope(scope, user.scope, client.scope)
    svc.limiter.succeeded(username, now)
    refresh = new_refresh_token()
    access_exp = int(now) + svc.settings.access_token_ttl
    try:
        session, evicted = svc.store.create_session(
            user=user,
            client_id=client.client_id,
            scope=granted,
            token_hash=hash_refresh_token(refresh),
            now=now,
            refresh_exp=now + svc.settings.refresh_token_ttl,
            access_exp=access_exp,
            cap=svc.settings.session_cap,
            policy=svc.settings.session_cap_policy,
            dpop_jkt=jkt if client.public else None,  # RFC 9449 §5: public clients
        )
    except CredentialsChangedError:  # disabled, deleted or new password since the check
        audit(
            "login_refused",
            username=username,
            client_id=client.client_id,
            ip=address,
            reason="credentials_changed",
        )
        raise InvalidGrant("invalid username or password") from None
    except SessionCapError:
        audit(
            "login_refused",
            username=username,
            client_id=client.client_id,
            ip=address,
            reason="session_cap",
        )
        raise InvalidGrant(f"session limit reached ({svc.settings.session_cap})") from None
    if evicted:
        svc.revoked(evicted, actor="session_cap")
    access, _, jti = svc.mint_access_token(
        sub=user.id, client=client, scope=granted, sid=session.sid, now=now, jkt=jkt
    )
    svc.metrics.issued("password")
    audit(
        "login_succeeded",
        username=username,
        sub=user.id,
        client_id=client.client_id,
        sid=session.sid,
        jti=jti,
        ip=address,
    )
    return svc.token_response(access, granted, refresh, dpop=jkt is not None)
