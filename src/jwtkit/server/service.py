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

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

import jwtkit
from jwtkit.errors import JWTKitError, RevokedError
from jwtkit.server.audit import audit
from jwtkit.server.keys import KeyManager
from jwtkit.server.metrics import Metrics
from jwtkit.server.oauth import ClientCredentials, OAuthError
from jwtkit.server.passwords import SecretHasher, VerifiedSecretCache
from jwtkit.server.ratelimit import LoginRateLimiter
from jwtkit.server.settings import SIGNING_ALGORITHMS, Settings
from jwtkit.store.sql import (
    ClientRecord,
    RevocationEntry,
    SessionCapError,
    SessionRecord,
    SQLStore,
    UserRecord,
    new_id,
)

__all__ = ["GRANT_TYPES", "TokenService", "hash_refresh_token", "session_view"]

log = logging.getLogger("jwtkit.server")

#: Grant types the token endpoint supports (RFC 6749 §4.3, §4.4, §6).
GRANT_TYPES = ("password", "refresh_token", "client_credentials")
_BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="jwtkit"'}


def hash_refresh_token(token: str) -> str:
    """SHA-256 of a refresh token, hex (str): the only form in which it is stored."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


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


class RevocationPublisher:
    """Sends revocation entries to Redis when configured (best effort after the DB commit)."""

    def __init__(self, mirror: Any | None) -> None:
        self.mirror = mirror
        self.dirty = False

    def __call__(self, entries: Iterable[RevocationEntry]) -> None:
        """Mirror and announce ``entries``; on a Redis failure log it and mark for resync."""
        entries = list(entries)
        if self.mirror is None or not entries:
            return
        try:
            self.mirror.publish(entries)
        except Exception as exc:  # redis.RedisError and OS errors: the DB already has it
            self.dirty = True
            log.error("could not mirror %d revocation(s) to Redis: %s", len(entries), exc)


class TokenService:
    """Issues, rotates, revokes and introspects tokens.

    Args:
        settings: :class:`Settings`.
        store: :class:`SQLStore` (the source of truth).
        keys: :class:`KeyManager`.
        hasher: :class:`SecretHasher` for passwords and client secrets.
        limiter: :class:`LoginRateLimiter`.
        publish: callable taking revocation entries (the Redis mirror) or None.
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
        publish: Callable[[Iterable[RevocationEntry]], None] | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.store = store
        self.keys = keys
        self.hasher = hasher
        self.limiter = limiter
        self.publish = publish or (lambda entries: None)
        self.metrics = metrics or Metrics()
        self.clock = clock
        self.issuer = settings.effective_issuer
        self.secret_cache = VerifiedSecretCache(settings.client_secret_cache_seconds)
        self._verifier: jwtkit.Verifier | None = None

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
        """Authenticate the client of a request (RFC 6749 §2.3, §3.2.1).

        Public clients identify themselves by ``client_id`` alone (when ``allow_public``);
        confidential clients must present their secret (argon2id-verified).

        Raises:
            OAuthError: ``invalid_client`` (401; ``WWW-Authenticate: Basic`` when Basic was
                used or no credentials were sent).
        """
        headers = _BASIC_CHALLENGE
        if creds.client_id is None:
            raise OAuthError("invalid_client", "client authentication required", 401, headers)
        client = self.store.get_client(creds.client_id)
        if client is None:
            self.hasher.verify(None, creds.secret or "")  # same time as a wrong secret
            raise OAuthError("invalid_client", "unknown client or bad credentials", 401, headers)
        if client.public:
            if creds.secret is not None:
                raise OAuthError("invalid_client", "public clients have no secret", 401, headers)
            if not allow_public:
                raise OAuthError(
                    "invalid_client", "this endpoint needs a confidential client", 401, headers
                )
            return client
        stored = client.secret_hash or ""
        if creds.secret is None:
            raise OAuthError("invalid_client", "unknown client or bad credentials", 401, headers)
        if self.secret_cache.check(client.client_id, stored, creds.secret):
            return client
        if not self.hasher.verify(client.secret_hash, creds.secret):
            raise OAuthError("invalid_client", "unknown client or bad credentials", 401, headers)
        self.secret_cache.remember(client.client_id, stored, creds.secret)
        return client

    # ---- scopes ------------------------------------------------------------------------------

    @staticmethod
    def _grant_scope(requested: str | None, *allowed: str) -> str:
        """The scope to grant (space-separated str): the request's, which must lie within every
        ``allowed`` set, else their intersection (RFC 6749 §3.3).

        Raises:
            OAuthError: ``invalid_scope``.
        """
        sets = [set(a.split()) for a in allowed]
        ceiling = set.intersection(*sets) if sets else set()
        if requested is None:
            return " ".join(sorted(ceiling))
        wanted = requested.split()
        if not all(s.isprintable() and '"' not in s and "\\" not in s for s in wanted):
            raise OAuthError("invalid_scope", "malformed scope")
        extra = [s for s in wanted if s not in ceiling]
        if extra:
            raise OAuthError("invalid_scope", f"scope not allowed: {' '.join(sorted(extra))}")
        return " ".join(dict.fromkeys(wanted))

    def _check_grant(self, client: ClientRecord, grant: str) -> None:
        if grant not in client.grant_types:
            raise OAuthError("unauthorized_client", f"client may not use grant_type={grant}")

    # ---- tokens ------------------------------------------------------------------------------

    def _access_token(
        self,
        *,
        sub: str,
        client: ClientRecord | str,
        scope: str,
        sid: str | None,
        now: float,
        aud: str | None = None,
    ) -> tuple[str, int, str]:
        """Sign an RFC 9068 access token; returns (token, exp, jti)."""
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
        key = self.keys.signing_key()
        token = jwtkit.encode(claims, key, headers={"typ": "at+jwt", "kid": key.kid})
        return token, exp, jti

    def _token_response(
        self, access: str, scope: str, refresh: str | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.settings.access_token_ttl,
            "scope": scope,
        }
        if refresh is not None:
            body["refresh_token"] = refresh
        return body

    def password_grant(
        self,
        client: ClientRecord,
        username: str | None,
        password: str | None,
        scope: str | None,
        address: str | None,
    ) -> dict[str, Any]:
        """Resource owner password credentials grant (RFC 6749 §4.3).

        Returns the token response (dict): access_token, token_type, expires_in (s),
        refresh_token, scope.

        Raises:
            OAuthError: ``invalid_request`` (missing parameters), ``unauthorized_client``,
                ``invalid_grant`` (bad credentials, disabled user, session cap with ``refuse``;
                429 with ``Retry-After`` when rate-limited), ``invalid_scope``.
        """
        self._check_grant(client, "password")
        if username is None or password is None:
            raise OAuthError("invalid_request", "username and password are required")
        if len(username) > 255:
            raise OAuthError("invalid_request", "username is too long")
        now = self.clock()

        def rate_limited(retry: int) -> OAuthError:
            self.metrics.failed_logins.labels("rate_limited").inc()
            audit("login_rate_limited", username=username, client_id=client.client_id, ip=address)
            return OAuthError(
                "invalid_grant",
                f"too many failed logins; retry in {retry} s",
                429,
                {"Retry-After": str(retry)},
            )

        retry = self.limiter.retry_after(username, address, now)
        if retry is not None:
            raise rate_limited(retry)
        user = self.store.get_user(username)
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
            audit(
                "login_failed",
                username=username,
                client_id=client.client_id,
                ip=address,
                reason=reason,
            )
            raise OAuthError("invalid_grant", "invalid username or password")
        granted = self._grant_scope(scope, user.scope, client.scope)
        self.limiter.succeeded(username, now)
        refresh = secrets.token_urlsafe(32)
        access_exp = int(now) + self.settings.access_token_ttl
        try:
            session, evicted = self.store.create_session(
                user=user,
                client_id=client.client_id,
                scope=granted,
                token_hash=hash_refresh_token(refresh),
                now=now,
                refresh_exp=now + self.settings.refresh_token_ttl,
                access_exp=access_exp,
                cap=self.settings.session_cap,
                policy=self.settings.session_cap_policy,
            )
        except SessionCapError:
            audit(
                "login_refused",
                username=username,
                client_id=client.client_id,
                ip=address,
                reason="session_cap",
            )
            raise OAuthError(
                "invalid_grant", f"session limit reached ({self.settings.session_cap})"
            ) from None
        if evicted:
            self._revoked(evicted, actor="session_cap")
        access, _, jti = self._access_token(
            sub=user.id, client=client, scope=granted, sid=session.sid, now=now
        )
        self.metrics.tokens_issued.labels("password").inc()
        audit(
            "login_succeeded",
            username=username,
            sub=user.id,
            client_id=client.client_id,
            sid=session.sid,
            jti=jti,
            ip=address,
        )
        return self._token_response(access, granted, refresh)

    def refresh_grant(
        self, client: ClientRecord, refresh_token: str | None, scope: str | None
    ) -> dict[str, Any]:
        """Refresh-token grant with rotation and reuse detection (RFC 6749 §6, RFC 9700
        §4.14.2).

        Returns the token response (dict) with a new access token and a new refresh token.

        Raises:
            OAuthError: ``invalid_request`` (missing token), ``unauthorized_client``,
                ``invalid_grant`` (unknown, expired, consumed, revoked or another client's token;
                a consumed token also revokes its whole session), ``invalid_scope``.
        """
        self._check_grant(client, "refresh_token")
        if refresh_token is None:
            raise OAuthError("invalid_request", "refresh_token is required")
        if scope is not None:
            # Check the scope before consuming an active token: a refused request must leave it
            # usable (a session's scope never changes, so this cannot race the rotation). A
            # consumed token goes on to the rotation, whose reuse detection must still fire.
            found = self.store.get_refresh_token(hash_refresh_token(refresh_token))
            if found is not None and found[0] == "active" and found[2] == client.client_id:
                current = self.store.get_session(found[1])
                if current is not None:
                    self._grant_scope(scope, current.scope)
        now = self.clock()
        new_refresh = secrets.token_urlsafe(32)
        access_exp = int(now) + self.settings.access_token_ttl
        result = self.store.rotate_refresh_token(
            token_hash=hash_refresh_token(refresh_token),
            client_id=client.client_id,
            new_hash=hash_refresh_token(new_refresh),
            now=now,
            refresh_exp=now + self.settings.refresh_token_ttl,
            access_exp=access_exp,
            grace_seconds=self.settings.refresh_grace_seconds,
        )
        self.metrics.refreshes.labels(result.outcome).inc()
        if result.outcome == "reuse":
            self.metrics.reuse.inc()
            sid = result.revoked[0].value if result.revoked else None
            audit("refresh_reuse", client_id=client.client_id, sid=sid)
            self._revoked(result.revoked, actor="refresh_reuse")
            raise OAuthError("invalid_grant", "refresh token already used; the session is revoked")
        if result.outcome not in ("ok", "grace") or result.session is None:
            messages = {
                "unknown": "unknown refresh token",
                "expired": "refresh token expired",
                "wrong_client": "refresh token was issued to another client",
                "session_revoked": "refresh token revoked",
            }
            raise OAuthError("invalid_grant", messages.get(result.outcome, "invalid refresh token"))
        session = result.session
        user = self.store.get_user_by_id(session.user_id)
        if user is None or user.disabled:
            entry = self.store.revoke_session(session.sid, "user_disabled", now)
            self._revoked([entry] if entry else [], actor="user_disabled")
            raise OAuthError("invalid_grant", "the user is disabled")
        granted = session.scope if scope is None else self._grant_scope(scope, session.scope)
        access, _, _ = self._access_token(
            sub=user.id, client=client, scope=granted, sid=session.sid, now=now
        )
        self.metrics.tokens_issued.labels("refresh_token").inc()
        return self._token_response(
            access, session.scope if scope is None else granted, new_refresh
        )

    def client_credentials_grant(self, client: ClientRecord, scope: str | None) -> dict[str, Any]:
        """Client credentials grant (RFC 6749 §4.4): an access token whose ``sub`` is the
        client id, without ``sid`` and without a refresh token.

        Raises:
            OAuthError: ``unauthorized_client`` (public client or grant not allowed),
                ``invalid_scope``.
        """
        if client.public:
            raise OAuthError("unauthorized_client", "public clients cannot use client_credentials")
        self._check_grant(client, "client_credentials")
        granted = self._grant_scope(scope, client.scope)
        access, _, _ = self._access_token(
            sub=client.client_id, client=client, scope=granted, sid=None, now=self.clock()
        )
        self.metrics.tokens_issued.labels("client_credentials").inc()
        return self._token_response(access, granted)

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

    def _revoked(self, entries: Iterable[RevocationEntry], *, actor: str) -> None:
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
        self._revoked([entry], actor=actor)
        return True

    def revoke_user(self, user: UserRecord, *, reason: str, actor: str) -> int:
        """End every session of a user: each by ``sid``, plus a ``sub`` cut-off of ``int(now)``
        (tokens issued later in the same second stay valid). Returns the sessions ended (int)."""
        now = self.clock()
        entries = self.store.revoke_user(user.id, reason, now, now + self.settings.access_token_ttl)
        self._revoked(entries, actor=actor)
        return sum(1 for e in entries if e.kind == "sid")

    def revoke(self, client: ClientRecord, token: str | None, hint: str | None) -> None:
        """Token revocation (RFC 7009 §2.1): a refresh token ends its session (and so its access
        tokens); an access token is revoked by ``jti`` until its ``exp``. Unknown, invalid or
        expired tokens are not an error (§2.2).

        Raises:
            OAuthError: ``invalid_request`` (no token), ``unauthorized_client`` (the token was
                issued to another client), ``unsupported_token_type`` (unknown hint).
        """
        if token is None:
            raise OAuthError("invalid_request", "token is required")
        if hint is not None and hint not in ("access_token", "refresh_token"):
            raise OAuthError("unsupported_token_type", f"unsupported token_type_hint {hint!r}")
        if "." not in token:
            found = self.store.get_refresh_token(hash_refresh_token(token))
            if found is None:
                return
            _, sid, client_id, _ = found
            if not hmac.compare_digest(client_id, client.client_id):
                raise OAuthError("unauthorized_client", "the token was issued to another client")
            self.revoke_session(sid, reason="revoked", actor=f"client:{client.client_id}")
            return
        try:
            claims = self.verify_access_token(token, check_revoked=False)
        except JWTKitError:
            return
        if claims.get("client_id") != client.client_id:
            raise OAuthError("unauthorized_client", "the token was issued to another client")
        entry = self.store.revoke_jti(str(claims["jti"]), float(claims["exp"]), self.clock())
        self._revoked([entry], actor=f"client:{client.client_id}")

    def logout(self, token: str) -> bool:
        """End the session of a refresh or access token (a client-credentials access token,
        which has no session, is revoked by ``jti``).

        Returns True when the token was recognised (the session may already have ended).

        Raises:
            JWTKitError: an access token that does not verify (except for revocation).
        """
        if "." not in token:
            found = self.store.get_refresh_token(hash_refresh_token(token))
            if found is None:
                return False
            self.revoke_session(found[1], reason="logout", actor="logout")
            audit("logout", sid=found[1])
            return True
        claims = self.verify_access_token(token, check_revoked=False)
        sid = claims.get("sid")
        if isinstance(sid, str):
            self.revoke_session(sid, reason="logout", actor="logout")
            audit("logout", sid=sid, sub=claims.get("sub"))
        else:
            entry = self.store.revoke_jti(str(claims["jti"]), float(claims["exp"]), self.clock())
            self._revoked([entry], actor="logout")
        return True

    # ---- introspection -----------------------------------------------------------------------

    def introspect(self, token: str | None, hint: str | None) -> dict[str, Any]:
        """Token introspection (RFC 7662 §2.2): ``{"active": false}`` for anything not currently
        valid (unknown, expired, consumed, revoked by jti, sid or sub, disabled user); otherwise
        ``active`` plus scope, client_id, username, token_type, exp, iat, sub, aud, iss, jti, sid.

        Raises:
            OAuthError: ``invalid_request`` (no token).
        """
        if token is None:
            raise OAuthError("invalid_request", "token is required")
        inactive: dict[str, Any] = {"active": False}
        now = self.clock()
        if "." not in token:
            found = self.store.get_refresh_token(hash_refresh_token(token))
            if found is None:
                return inactive
            state, sid, client_id, exp = found
            session = self.store.get_session(sid)
            if state != "active" or exp <= now or session is None or not session.is_active(now):
                return inactive
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
        out: dict[str, Any] = {"active": True, "token_type": "Bearer"}
        for name in ("scope", "client_id", "exp", "iat", "sub", "aud", "iss", "jti", "sid"):
            if name in claims:
                out[name] = claims[name]
        if "sid" in claims:
            user = self.store.get_user_by_id(str(claims["sub"]))
            if user is None or user.disabled:
                return inactive
            out["username"] = user.username
        return out
