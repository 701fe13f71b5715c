"""The token lifecycle: grants, rotation, reuse detection, revocation, introspection, sessions.

This is the transport-free core of the token service; :mod:`jwtkit.server.app` maps HTTP onto it
and the admin CLI calls it directly. Sources: RFC 6749 (grants, errors), RFC 9068 (JWT access
tokens), RFC 9700 §4.14.2 (refresh-token rotation and reuse detection), RFC 7009 (revocation),
RFC 7662 (introspection).

Revocation follows :mod:`jwtkit.revocation`: the database records revoked ``jti`` (until the
token's ``exp``), revoked ``sid`` (until the session's last access token can expire) and ``sub``
cut-offs; when Redis is configured each one is mirrored and published after it commits.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import jwtkit
from jwtkit.dpop import DPoPNonces
from jwtkit.errors import JWTKitError, RevokedError
from jwtkit.server.audit import audit
from jwtkit.server.client_secrets import ClientSecretHasher
from jwtkit.server.dpop import InvalidDPoPProof, TokenEndpointDPoP
from jwtkit.server.grants import GRANTS, TokenRequest, client_credentials, password, refresh_token
from jwtkit.server.keys import KeyManager
from jwtkit.server.metrics import Metrics
from jwtkit.server.oauth import (
    ClientAuthRateLimited,
    ClientCredentials,
    InvalidClient,
    InvalidGrant,
    InvalidRequest,
    LoginRateLimited,
    UnauthorizedClient,
    UnsupportedTokenType,
)
from jwtkit.server.passwords import HashAdmission, SecretHasher, VerifiedSecretCache
from jwtkit.server.ratelimit import ClientAuthRateLimiter, LocalRateLimiter, LoginRateLimiter
from jwtkit.server.settings import SIGNING_ALGORITHMS, Settings
from jwtkit.server.tokens import hash_refresh_token, token_kind
from jwtkit.server.usernames import find_user

if TYPE_CHECKING:
    from jwtkit.server.provider import Provider
from jwtkit.store.sql import (
    ClientRecord,
    RevocationEntry,
    SessionRecord,
    SQLStore,
    UserRecord,
    new_id,
)

__all__ = ["GRANT_TYPES", "TokenService", "hash_refresh_token", "session_view"]

log = logging.getLogger("jwtkit.server")

#: Grant types the token endpoint supports (RFC 6749 §4.3, §4.4, §6), from the grant registry.
GRANT_TYPES = tuple(GRANTS)


def session_view(session: SessionRecord, current_sid: str | None = None) -> dict[str, Any]:
    """A session as JSON (dict): sid, client_id, scope, created_at, last_used_at, expires_at
    (seconds since the epoch), active, revoked_at, revoked_reason and ``current``."""
    return {
        "sid": session.sid,
        "client_id": session.client_id,
        "scope": session.scope,
        "created_at": int(session.created_at),
        "last_used_at": int(session.last_used_at),
        "expires_at": int(session.expires_at),
        "revoked_at": int(session.revoked_at) if session.revoked_at is not None else None,
        "revoked_reason": session.revoked_reason,
        "current": session.sid == current_sid,
    }


#: The one ``error_description`` of every client-authentication failure (issue 13 item 11).
CLIENT_AUTH_FAILED = "client authentication failed"


class TokenService:
    """Issues, rotates, revokes and introspects tokens.

    Args:
        settings: :class:`Settings`.
        store: :class:`SQLStore` (the source of truth).
        keys: :class:`KeyManager`.
        hasher: :class:`SecretHasher` for passwords (and argon2id client hashes of earlier
            versions).
        limiter: :class:`LoginRateLimiter`.
        publish: called with revocation entries the store has committed (the running
            service's relay wakes up; the outbox row is already written), or None.
        client_limiter: :class:`ClientAuthRateLimiter` (default: in process, from settings).
        client_secrets: :class:`ClientSecretHasher` (default: from settings, argon2id legacy
            through ``hasher``).
        metrics: :class:`Metrics`.
        clock: returns now, seconds since the epoch (float).
    """

    def __init__(
        self,
        settings: Settings,
        store: SQLStore,
        keys: KeyManager,
        *,
        hasher: SecretHasher,
        limiter: LoginRateLimiter,
        client_limiter: ClientAuthRateLimiter | None = None,
        client_secrets: ClientSecretHasher | None = None,
        publish: Callable[[Iterable[RevocationEntry]], None] | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.keys = keys
        self.hasher = hasher
        self.limiter = limiter
        self.client_limiter = client_limiter or ClientAuthRateLimiter(
            LocalRateLimiter(),
            settings.client_auth_failure_window,
            settings.client_auth_max_failures_per_client,
            settings.client_auth_max_failures_per_address,
        )
        pepper = settings.client_secret_pepper
        self.client_secrets = client_secrets or ClientSecretHasher(
            pepper.get_secret_value().encode() if pepper else None, hasher
        )
        self.publish = publish or (lambda entries: None)
        self.metrics = metrics or Metrics()
        self.clock = clock
        self.issuer = settings.effective_issuer
        nonce_secret = settings.dpop_nonce_secret
        self.dpop = TokenEndpointDPoP(
            f"{self.issuer}/token",
            nonces=None
            if nonce_secret is None
            else DPoPNonces(nonce_secret.get_secret_value().encode()),
        )
        self.password_admission = HashAdmission(max_waiting=settings.password_hash_queue)
        self.secret_cache = VerifiedSecretCache(settings.client_secret_cache_seconds)
        self._verifier: jwtkit.Verifier | None = None
        #: The OpenID Connect provider over this service (set by ``build_services``).
        self.provider: Provider | None = None

    def _access_verifier(self) -> jwtkit.Verifier:
        """The Verifier for the service's own access tokens: signature, ``iss``, ``typ`` and
        required claims are checked, whatever the token's ``aud`` (``jwtkit.ANY_AUDIENCE``):
        the issuer answers for every audience it issued to (RFC 7662 §2.2, RFC 7009 §2.1)."""
        if self._verifier is None:
            self._verifier = jwtkit.Verifier(
                self.keys,
                algorithms=list(SIGNING_ALGORITHMS),
                issuer=self.issuer,
                audience=jwtkit.ANY_AUDIENCE,
                typ="at+jwt",
                required=["exp", "iat", "jti", "sub", "client_id", "aud"],
            )
        return self._verifier

    # ---- clients -----------------------------------------------------------------------------

    def authenticate_client(
        self, creds: ClientCredentials, *, allow_public: bool = True
    ) -> ClientRecord:
        """Authenticate the client of a request (RFC 6749 §2.3, §3.2.1) under the client
        authentication limits (RFC 6749 §2.3.1: brute-force protection).

        Public clients identify themselves by ``client_id`` alone (when ``allow_public``);
        confidential clients present their secret, checked with one keyed hash
        (:class:`~jwtkit.server.client_secrets.ClientSecretHasher`; an argon2id hash of an
        earlier version is checked once more that way and then replaced).

        Every failure gets the same answer and, but for legacy argon2id hashes, the same cost:
        an unknown client, a wrong or missing secret, a secret sent by a public client, a public
        client where a confidential one is needed (issue 13 item 11). Failures count per client
        id and per address (``creds.address``); once a limit is reached the request is refused
        before any lookup or hash.

        Raises:
            ClientAuthRateLimited: 429 ``invalid_client`` with ``Retry-After``.
            InvalidClient: ``invalid_client`` (401, with a Basic challenge).
        """
        if creds.client_id is None:
            raise InvalidClient(CLIENT_AUTH_FAILED)
        client_id, address, secret = creds.client_id, creds.address, creds.secret
        now = self.clock()
        retry = self.client_limiter.retry_after(client_id, address, now)
        if retry is not None:
            raise self._client_rate_limited(client_id, address, retry)
        client = self.store.get_client(client_id)
        if client is not None and client.public and secret is None and allow_public:
            return client
        stored = None if client is None or client.public else client.secret_hash
        if client is not None and stored is not None and secret is not None:
            if self.secret_cache.check(client_id, stored, secret):
                return client
            ok = self.client_secrets.verify(stored, secret)
        else:
            ok = self.client_secrets.verify(None, secret or "")  # the same one hash
        if not ok or client is None or secret is None or stored is None:
            if client is not None and self.store.clients.changed_since(client):
                # The cached record was stale (changed by another process): check again.
                return self.authenticate_client(creds, allow_public=allow_public)
            over = self.client_limiter.failed(client_id, address, now)
            self.metrics.failed_client_auth.inc()
            audit("client_auth_failed", client_id=client_id, ip=address)
            if over:
                raise self._client_rate_limited(
                    client_id, address, self.client_limiter.next_window(now)
                )
            raise InvalidClient(CLIENT_AUTH_FAILED)
        if self.client_secrets.needs_upgrade(stored):
            upgraded = self.client_secrets.hash(secret)
            if self.store.replace_client_secret_hash(client_id, stored, upgraded):
                audit("client_secret_upgraded", client_id=client_id)
                stored = upgraded
        self.secret_cache.remember(client_id, stored, secret)
        return client

    def _client_rate_limited(
        self, client_id: str, address: str | None, retry: int
    ) -> ClientAuthRateLimited:
        audit("client_auth_rate_limited", client_id=client_id, ip=address)
        return ClientAuthRateLimited(
            f"too many failed client authentications; retry in {retry} s", retry_after=retry
        )

    def client_from_memory(self, creds: ClientCredentials) -> ClientRecord | None:
        """The client of ``creds`` when it authenticates without any I/O: its record is in the
        store's cache and (confidential) this secret was verified recently
        (:class:`VerifiedSecretCache`). None means "ask :meth:`authenticate_client`", which
        also gives every failure its full cost and its error; never raises."""
        if creds.client_id is None or not isinstance(self.client_limiter.counter, LocalRateLimiter):
            return None  # a shared (Redis) limiter is I/O: the thread pool path checks it
        if self.client_limiter.retry_after(creds.client_id, creds.address, self.clock()):
            return None  # limited: the full path answers 429
        client = self.store.clients.cached(creds.client_id)
        if client is None:
            return None
        if client.public:
            return client if creds.secret is None else None
        if creds.secret is None:
            return None
        if self.secret_cache.check(client.client_id, client.secret_hash or "", creds.secret):
            return client
        return None

    async def client_from_memory_async(self, creds: ClientCredentials) -> ClientRecord | None:
        """:meth:`client_from_memory` for a caller on an event loop: when the client's cached
        record has aged (``client_cache_seconds``) and could otherwise be used from memory, it
        is read again first, once for all the requests of this moment on this loop
        (:meth:`~jwtkit.store.clients.ClientStore.reload_async`, in a worker thread), rather
        than each of them taking the thread pool. Returns the same as
        :meth:`client_from_memory`.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the read failed (the service answers 503).
        """
        client = self.client_from_memory(creds)
        if (
            client is None
            and creds.client_id
            and isinstance(self.client_limiter.counter, LocalRateLimiter)
            and self.store.clients.is_stale(creds.client_id)
        ):
            await self.store.clients.reload_async(creds.client_id)
            client = self.client_from_memory(creds)
        return client

    def check_password(
        self, username: str, password: str, address: str | None, *, client_id: str
    ) -> UserRecord:
        """Check a user's password (argon2id) under the failed-login limits; shared by the
        password grant and the login page. The caller calls ``limiter.succeeded`` once it
        goes on to sign the user in.

        Args:
            username, password: what the user typed (str). address: client IP (str or None).
            client_id: the client the login is for (str; audit only).

        Returns the user (:class:`UserRecord`), enabled.

        Raises:
            LoginRateLimited: too many failures for the username or the address (429).
            InvalidGrant: bad credentials or a disabled user (one message for both).
        """
        now = self.clock()

        def rate_limited(retry: int) -> LoginRateLimited:
            self.metrics.failed_logins.labels("rate_limited").inc()
            audit("login_rate_limited", username=username, client_id=client_id, ip=address)
            return LoginRateLimited(
                f"too many failed logins; retry in {retry} s", retry_after=retry
            )

        retry = self.limiter.retry_after(username, address, now)
        if retry is not None:
            raise rate_limited(retry)
        user = find_user(self.store, username)  # canonical form (RFC 8265), else as stored
        ok = self.hasher.verify(user.password_hash if user else None, password)
        # Concurrent logins all pass the check above before any failure is counted: check again
        # (a correct password raced past the limit is refused) and answer failures beyond it
        # as rate-limited, so a burst learns no more than ``login_max_failures_per_user``.
        retry = max(1, int(self.limiter.window - (now % self.limiter.window)))
        if ok and self.limiter.retry_after(username, address, now) is not None:
            raise rate_limited(retry)
        if not ok or user is None or user.disabled:
            reason = "disabled" if (ok and user is not None) else "bad_credentials"
            if self.limiter.failed(username, address, now):
                raise rate_limited(retry)
            self.metrics.failed_logins.labels(reason).inc()
            audit("login_failed", username=username, client_id=client_id, ip=address, reason=reason)
            raise InvalidGrant("invalid username or password")
        return user

    # ---- tokens ------------------------------------------------------------------------------

    def mint_access_token(
        self,
        *,
        sub: str,
        client: ClientRecord | str,
        scope: str,
        sid: str | None,
        now: float,
        aud: str | None = None,
        jkt: str | None = None,
    ) -> tuple[str, int, str]:
        """Sign an RFC 9068 access token for ``sub`` (str) and ``client`` (record or id) with
        ``scope`` (str), ``sid`` (str or None), ``now`` (seconds since the epoch), ``aud``
        (default the client's audience, else the service's) and ``jkt`` (a DPoP key's
        thumbprint: the token is bound to it by ``cnf.jkt``, RFC 9449 §6.1). Returns
        (token, exp, jti)."""
        client_id = client if isinstance(client, str) else client.client_id
        if aud is None:
            aud = (
                None if isinstance(client, str) else client.audience
            ) or self.settings.effective_audience
        iat = int(now)
        exp = iat + self.settings.access_token_ttl
        jti = new_id()
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": sub,
            "aud": aud,
            "exp": exp,
            "iat": iat,
            "jti": jti,
            "client_id": client_id,
            "scope": scope,
        }
        if sid is not None:
            claims["sid"] = sid
        if jkt is not None:
            claims["cnf"] = {"jkt": jkt}
        key = self.keys.signing_key()
        token = jwtkit.encode(claims, key, headers={"typ": "at+jwt", "kid": key.kid})
        return token, exp, jti

    def token_response(
        self, access: str, scope: str, refresh: str | None = None, *, dpop: bool = False
    ) -> dict[str, Any]:
        """The RFC 6749 §5.1 token response (dict): access_token, token_type ``Bearer`` (or
        ``DPoP`` for a DPoP-bound access token, RFC 9449 §5), expires_in (s), scope and, when
        given, refresh_token."""
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "DPoP" if dpop else "Bearer",
            "expires_in": self.settings.access_token_ttl,
            "scope": scope,
        }
        if refresh is not None:
            body["refresh_token"] = refresh
        return body

    def token(self, grant: str, client: ClientRecord, request: TokenRequest) -> dict[str, Any]:
        """Run the registered handler of ``grant`` (a key of :data:`GRANTS`) for ``client``.

        Raises:
            KeyError: an unknown grant type (the route checks :data:`GRANT_TYPES` first).
            OAuthError: whatever the grant raises (RFC 6749 §5.2); InvalidDPoPProof for a client
                registered with ``dpop_bound_access_tokens`` that sent no proof (RFC 9449 §5.2).
        """
        self.check_dpop_requirement(client, request)
        return GRANTS[grant](self, client, request)

    @staticmethod
    def check_dpop_requirement(client: ClientRecord, request: TokenRequest) -> None:
        """Refuse a token request without a DPoP proof from a client registered with
        ``dpop_bound_access_tokens`` (RFC 9449 §5.2).

        Raises:
            InvalidDPoPProof: 400 ``invalid_dpop_proof``.
        """
        if client.dpop_bound_access_tokens and request.dpop_jkt is None:
            raise InvalidDPoPProof("this client must send a DPoP proof (dpop_bound_access_tokens)")

    def password_grant(
        self,
        client: ClientRecord,
        username: str | None,
        secret: str | None,
        scope: str | None,
        address: str | None,
    ) -> dict[str, Any]:
        """Password grant (RFC 6749 §4.3): :func:`.grants.password.password_grant`."""
        return password.password_grant(self, client, username, secret, scope, address)

    def refresh_grant(
        self, client: ClientRecord, token: str | None, scope: str | None
    ) -> dict[str, Any]:
        """Refresh grant (RFC 6749 §6): :func:`.grants.refresh_token.refresh_grant`."""
        return refresh_token.refresh_grant(self, client, token, scope)

    def client_credentials_grant(self, client: ClientRecord, scope: str | None) -> dict[str, Any]:
        """Client credentials grant (RFC 6749 §4.4); see
        :func:`jwtkit.server.grants.client_credentials.client_credentials_grant`."""
        return client_credentials.client_credentials_grant(self, client, scope)

    # ---- verification ------------------------------------------------------------------------

    def verify_access_token(self, token: str, *, check_revoked: bool = True) -> dict[str, Any]:
        """Verify one of this service's access tokens: signature through the published keys,
        ``typ`` at+jwt, ``iss``, ``exp``/``iat``, then the three revocation grains.

        Returns the claims (dict).

        Raises:
            JWTKitError: the core's errors (``invalid_signature``, ``expired``, ...) and
                :class:`RevokedError` (``revoked``).
        """
        now = self.clock()
        claims = self._access_verifier().verify(token, now=now)
        if check_revoked:
            grain = self.store.revoked_grain(claims)
            if grain is not None:
                raise RevokedError(f"token revoked ({grain})")
        return claims

    # ---- revocation --------------------------------------------------------------------------

    def revoked(self, entries: Iterable[RevocationEntry], *, actor: str) -> None:
        """Count, audit and announce revocation ``entries`` that the store has committed (with
        their outbox rows, in the same transaction): ``publish`` only wakes the relay, which
        reads the outbox, so nothing depends on this process reaching Redis."""
        entries = list(entries)
        for entry in entries:
            self.metrics.revocations.labels(entry.kind).inc()
            audit(
                "revocation",
                grain=entry.kind,
                value=entry.value,
                until=int(entry.until),
                cutoff=entry.cutoff,
                actor=actor,
            )
        self.publish(entries)

    def revoke_session(self, sid: str, *, reason: str, actor: str) -> bool:
        """End one session: its refresh tokens die and its ``sid`` is revoked (until its last
        access token expires). Returns False when it did not exist or was already ended."""
        entry = self.store.revoke_session(sid, reason, self.clock())
        if entry is None:
            return False
        self.revoked([entry], actor=actor)
        return True

    def revoke_user(self, user: UserRecord, *, reason: str, actor: str) -> int:
        """End every session of a user: each by ``sid``, plus a ``sub`` cut-off of ``int(now)``
        (tokens issued later in the same second stay valid). Returns the sessions ended (int)."""
        now = self.clock()
        entries = self.store.revoke_user(user.id, reason, now, now + self.settings.access_token_ttl)
        self.revoked(entries, actor=actor)
        return sum(1 for e in entries if e.kind == "sid")

    def revoke(self, client: ClientRecord, token: str | None, hint: str | None) -> None:
        """Token revocation (RFC 7009 §2.1): a refresh token ends its session (and so its access
        tokens); an access token is revoked by ``jti`` until its ``exp``. Unknown, invalid or
        expired tokens are not an error (§2.2).

        Raises:
            InvalidRequest: no token. UnauthorizedClient: the token was issued to another
                client. UnsupportedTokenType: an unknown hint.
        """
        if token is None:
            raise InvalidRequest("token is required")
        if hint is not None and hint not in ("access_token", "refresh_token"):
            raise UnsupportedTokenType(f"unsupported token_type_hint {hint!r}")
        if token_kind(token) == "opaque":
            found = self.store.get_refresh_token(hash_refresh_token(token))
            if found is None:
                return
            _, sid, client_id, _ = found
            if not hmac.compare_digest(client_id, client.client_id):
                raise UnauthorizedClient("the token was issued to another client")
            self.revoke_session(sid, reason="revoked", actor=f"client:{client.client_id}")
            return
        try:
            claims = self.verify_access_token(token, check_revoked=False)
        except JWTKitError:
            return
        if claims.get("client_id") != client.client_id:
            raise UnauthorizedClient("the token was issued to another client")
        entry = self.store.revoke_jti(str(claims["jti"]), float(claims["exp"]), self.clock())
        self.revoked([entry], actor=f"client:{client.client_id}")

    def logout(self, token: str) -> bool:
        """End the session of a refresh or access token (a client-credentials access token,
        which has no session, is revoked by ``jti``).

        Returns True when the token was recognised (the session may already have ended).

        Raises:
            JWTKitError: an access token that does not verify (except for revocation).
        """
        if token_kind(token) == "opaque":
            found = self.store.get_refresh_token(hash_refresh_token(token))
            if found is None:
                return False
            self._logout_grant(found[1])
            audit("logout", sid=found[1])
            return True
        claims = self.verify_access_token(token, check_revoked=False)
        sid = claims.get("sid")
        if isinstance(sid, str):
            self._logout_grant(sid)
            audit("logout", sid=sid, sub=claims.get("sub"))
        else:
            entry = self.store.revoke_jti(str(claims["jti"]), float(claims["exp"]), self.clock())
            self.revoked([entry], actor="logout")
        return True

    def _logout_grant(self, sid: str) -> None:
        """Logout of a grant: a grant made through an OP session ends that OP session (and so
        every grant made through it, with back-channel logout); others end alone."""
        if self.provider is None or not self.provider.end_grant_owner(
            sid, reason="logout", actor="logout"
        ):
            self.revoke_session(sid, reason="logout", actor="logout")

    # ---- sessions ----------------------------------------------------------------------------

    def sessions_of(self, sub: str) -> list[SessionRecord]:
        """The active sessions of user ``sub`` (str), oldest first."""
        return self.store.list_sessions(sub, self.clock())

    def end_own_session(self, sub: str, sid: str) -> bool:
        """End session ``sid`` (str) on behalf of its own user ``sub`` (str).

        Returns False when ``sid`` is malformed or not one of ``sub``'s sessions."""
        if len(sid) > 64 or any(ord(c) < 0x20 or ord(c) == 0x7F for c in sid):
            return False  # no session has such a sid (and PostgreSQL refuses NUL)
        session = self.store.get_session(sid)
        if session is None or session.user_id != sub:
            return False
        self.revoke_session(sid, reason="user", actor=f"user:{sub}")
        return True

    # ---- introspection -----------------------------------------------------------------------

    def resource_identifiers(self, client: ClientRecord) -> frozenset[str]:
        """The ``aud`` values that name resource server ``client`` (frozenset of str): its
        client id and its registered ``audience`` (the default audience when it has none)."""
        return frozenset({client.client_id, client.audience or self.settings.effective_audience})

    def introspect(
        self, token: str | None, hint: str | None, client: ClientRecord | None = None
    ) -> dict[str, Any]:
        """Token introspection (RFC 7662 §2.2): ``{"active": false}`` for anything not currently
        valid (unknown, expired, consumed, revoked by jti, sid or sub, disabled user) or not the
        caller's business; otherwise ``active`` plus token_type (``access_token`` or
        ``refresh_token``, RFC 7662's hint values), scope, client_id, username, exp, iat, sub,
        aud, iss, jti, sid.

        Who may learn what (RFC 7662 §2.1, §4; issue 13 item 10): ``client`` (the
        authenticated caller) must be registered as a resource server; it learns about an
        access token whose ``aud`` names it (:meth:`resource_identifiers`) or that was issued to
        it, and about a refresh token only when the token is its own. Anything else is
        ``{"active": false}``, the same answer as an unknown token. ``client`` None is the
        service itself (admin tools), which may introspect anything.

        Raises:
            InvalidRequest: no token.
        """
        if token is None:
            raise InvalidRequest("token is required")
        inactive: dict[str, Any] = {"active": False}
        if client is not None and (client.public or not client.resource_server):
            return inactive
        now = self.clock()
        if token_kind(token) == "opaque":
            found = self.store.get_refresh_token(hash_refresh_token(token))
            if found is None:
                return inactive
            state, sid, client_id, exp = found
            session = self.store.get_session(sid)
            if state != "active" or exp <= now or session is None or not session.is_active(now):
                return inactive
            if client is not None and not hmac.compare_digest(client_id, client.client_id):
                return inactive  # a refresh token is only its own client's business
            user = self.store.get_user_by_id(session.user_id)
            if user is None or user.disabled:
                return inactive
            return {
                "active": True,
                "token_type": "refresh_token",
                "scope": session.scope,
                "client_id": client_id,
                "username": user.username,
                "sub": user.id,
                "exp": int(exp),
                "iss": self.issuer,
                "sid": sid,
            }
        try:
            claims = self.verify_access_token(token)
        except JWTKitError:
            return inactive
        if client is not None and not self._may_see(client, claims):
            return inactive
        out: dict[str, Any] = {"active": True, "token_type": "access_token"}
        for name in ("scope", "client_id", "exp", "iat", "sub", "aud", "iss", "jti", "sid", "cnf"):
            if name in claims:
                out[name] = claims[name]
        if "sid" in claims:
            user = self.store.get_user_by_id(str(claims["sub"]))
            if user is None or user.disabled:
                return inactive
            out["username"] = user.username
        return out

    def _may_see(self, client: ClientRecord, claims: dict[str, Any]) -> bool:
        """True when resource server ``client`` is an audience of the access token ``claims``
        or the client it was issued to."""
        if claims.get("client_id") == client.client_id:
            return True
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        names = self.resource_identifiers(client)
        return any(isinstance(a, str) and a in names for a in audiences)
