"""The OpenID Connect provider: authorization requests, OP sessions, consent, authorization
codes, ID tokens, userinfo, RP-initiated and back-channel logout. Transport-free: the routes in
:mod:`jwtkit.server.routes.authorize` and :mod:`jwtkit.server.routes.oidc` map HTTP onto it.

Sources: RFC 6749 §4.1 (code grant), RFC 7636 (PKCE, ``S256`` only), RFC 9207 (``iss`` in
authorization responses), RFC 9126 (PAR), RFC 8252 §7.3 (loopback redirect URIs), OIDC Core 1.0
(§3.1.2 authorization, §3.1.3.6 ID token, §5.3 userinfo), OIDC RP-Initiated Logout 1.0, OIDC
Back-Channel Logout 1.0.

Two levels of session: the **OP session** (one browser login; its id is the OIDC ``sid`` of every
ID token issued through it) and the **grant** (one client's refresh-token family, a ``sessions``
row; access tokens carry its id as ``sid``). Ending an OP session ends every grant made through
it, in the same transaction; reuse detection ends one grant.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import jwtkit
from jwtkit import jwe
from jwtkit.errors import JWTKitError
from jwtkit.jwa import CONTENT_ENCRYPTION, KEY_MANAGEMENT
from jwtkit.server.audit import audit
from jwtkit.server.oauth import (
    AccessDenied,
    ConsentRequired,
    InvalidGrant,
    InvalidRequest,
    InvalidScope,
    LoginRequired,
    OAuthError,
    RequestNotSupported,
    UnauthorizedClient,
    UnsupportedResponseType,
)
from jwtkit.server.redirects import match_redirect_uri
from jwtkit.server.scopes import grant_scope
from jwtkit.server.tokens import hash_refresh_token, new_refresh_token
from jwtkit.store.codes import AuthorizationCode, CodeStore, PendingRequest
from jwtkit.store.consents import ConsentStore
from jwtkit.store.logouts import LogoutStore
from jwtkit.store.op_sessions import OPSession, OPSessionStore
from jwtkit.store.registrations import ClientRegistration, RegistrationStore
from jwtkit.store.sql import ClientRecord, SessionCapError, UserRecord, new_id

if TYPE_CHECKING:
    from jwtkit.server.backchannel import BackchannelSender
    from jwtkit.server.keys import KeyManager
    from jwtkit.server.service import TokenService

__all__ = [
    "BACKCHANNEL_EVENT",
    "ID_TOKEN_ALGS",
    "OIDC_SCOPES",
    "PAR_PREFIX",
    "AuthorizationRequest",
    "BadAuthorizationRequest",
    "ErrorRedirect",
    "Provider",
    "digest",
    "s256",
]

log = logging.getLogger("jwtkit.server")

#: Scopes of OpenID Connect itself (OIDC Core §5.4, §11): allowed per client, never per user.
OIDC_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
#: RFC 9126 §2.2: the ``request_uri`` prefix of pushed requests.
PAR_PREFIX = "urn:ietf:params:oauth:request_uri:"
#: ID token algs we can sign with (the hash of ``at_hash`` is SHA-256 for all of them).
ID_TOKEN_ALGS = ("RS256", "ES256", "PS256")
#: ID token encryption ``alg`` values (OIDC Core §10.2): to the client's public RSA/EC/OKP key.
ID_TOKEN_ENCRYPTION_ALGS = (
    "RSA-OAEP",
    "RSA-OAEP-256",
    "RSA-OAEP-384",
    "RSA-OAEP-512",
    "ECDH-ES",
    "ECDH-ES+A128KW",
    "ECDH-ES+A192KW",
    "ECDH-ES+A256KW",
)
#: ID token encryption ``enc`` values; the default is OIDC Registration §2's A128CBC-HS256.
ID_TOKEN_ENCRYPTION_ENCS = tuple(CONTENT_ENCRYPTION)
DEFAULT_ID_TOKEN_ENCRYPTION_ENC = "A128CBC-HS256"
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")  # RFC 7636 §4.1
_CHALLENGE = re.compile(r"[A-Za-z0-9\-_]{43}")  # base64url(SHA-256), RFC 7636 §4.2
_MAX_PARAM = 2048
_AUTHZ_PARAMS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
    "prompt",
    "max_age",
    "login_hint",
    "response_mode",
    "dpop_jkt",
)
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"


def digest(value: str) -> str:
    """SHA-256 (hex) of a code, handle or cookie value: the only form stored."""
    return hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def s256(verifier: str) -> str:
    """The PKCE ``S256`` challenge of ``verifier`` (RFC 7636 §4.2): base64url(SHA-256)."""
    return _b64(hashlib.sha256(verifier.encode("ascii")).digest())


def id_token_encryption_key(jwks: str | Mapping[str, Any], alg: str) -> jwtkit.Key:
    """The key of a client's JWK Set (JSON text or dict, RFC 7517 §5) that ID tokens are
    encrypted to with ``alg`` (one of :data:`ID_TOKEN_ENCRYPTION_ALGS`): the first public key
    whose ``kty``/``crv`` fit the alg, whose ``use`` is absent or ``enc`` and whose ``alg``, when
    set, is ``alg``.

    Raises:
        ValueError: ``alg`` is not supported, the set is not a JWK Set, it holds a private key
            or a secret (``oct``), or no key fits (the message says which).
    """
    if alg not in ID_TOKEN_ENCRYPTION_ALGS:
        raise ValueError(
            f"ID token encryption alg must be one of {', '.join(ID_TOKEN_ENCRYPTION_ALGS)}"
        )
    try:
        keys = jwtkit.KeySet.from_jwks(jwks)
    except JWTKitError as exc:
        raise ValueError(f"not a usable JWK Set: {exc.message}") from None
    km = KEY_MANAGEMENT[alg]
    for key in keys:
        if key.kty == "oct":
            raise ValueError("a secret (oct) key cannot receive encrypted ID tokens")
        if key.is_private:
            raise ValueError("the ID token encryption JWK Set must hold public keys only")
    for key in keys:
        if (
            key.kty in km.ktys
            and (not km.curves or key.crv in km.curves)
            and key.use in (None, "enc")
            and key.alg in (None, alg)
        ):
            return key
    raise ValueError(f"the JWK Set has no public {'/'.join(km.ktys)} key for {alg}")


class BadAuthorizationRequest(OAuthError):
    """An authorization request that must NOT be answered with a redirect (unknown client,
    missing or unregistered ``redirect_uri``; RFC 6749 §4.1.2.1): shown as an error page."""

    error = "invalid_request"


class ErrorRedirect(Exception):
    """An authorization error to answer by redirecting to ``url`` (the client's redirect URI
    with ``error``, ``error_description``, ``state`` and ``iss``); ``error`` is the
    :class:`OAuthError`."""

    def __init__(self, url: str, error: OAuthError) -> None:
        super().__init__(error.description)
        self.url = url
        self.error = error


@dataclass(frozen=True)
class AuthorizationRequest:
    """A validated authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1).

    ``params`` holds the request parameters as validated (str -> str), to store between the
    login and consent pages; ``prompt`` is a frozenset; ``max_age`` seconds or None."""

    client: ClientRecord
    registration: ClientRegistration
    redirect_uri: str
    state: str | None
    scope: str
    nonce: str | None
    code_challenge: str
    prompt: frozenset[str]
    max_age: int | None
    login_hint: str | None
    params: Mapping[str, str] = field(repr=False)
    #: ``dpop_jkt`` (RFC 9449 §10): the DPoP key thumbprint the code will be bound to, or None.
    dpop_jkt: str | None = None


@dataclass(frozen=True)
class Interaction:
    """A login or consent page in progress: its handle (hidden form field) and request."""

    handle: str
    request: AuthorizationRequest


class Provider:
    """The OpenID Connect provider over a :class:`TokenService`.

    Args:
        tokens: the :class:`TokenService` (store, settings, clock, access tokens, revocation).
        id_keys: the :class:`KeyManager` of the ``id_token`` family (RS256 by default).
        sender: the :class:`BackchannelSender` delivering logout tokens.
    """

    def __init__(
        self, tokens: TokenService, id_keys: KeyManager, sender: BackchannelSender
    ) -> None:
        self.tokens = tokens
        self.settings = tokens.settings
        self.store = tokens.store
        self.id_keys = id_keys
        self.sender = sender
        self.issuer = tokens.issuer
        self.registrations = RegistrationStore(self.store.db)
        self.op_sessions = OPSessionStore(self.store.db)
        self.codes = CodeStore(self.store.db)
        self.consents = ConsentStore(self.store.db)
        self.logouts = LogoutStore(self.store.db)

    @property
    def clock(self) -> Callable[[], float]:
        """The service clock (seconds since the epoch)."""
        return self.tokens.clock

    # ---- authorization requests ---------------------------------------------------------------

    def resolve(self, params: Mapping[str, str]) -> AuthorizationRequest:
        """Validate an authorization request (RFC 6749 §4.1.1, OIDC Core §3.1.2.1); a
        ``request_uri`` from PAR is replaced by the pushed parameters (used once).

        Raises:
            BadAuthorizationRequest: unknown ``client_id``, missing or unregistered
                ``redirect_uri``, an unusable ``request_uri`` (no redirect: an error page).
            OAuthError: any other error, to send to the redirect URI.
        """
        client_id = params.get("client_id")
        client = self.store.get_client(client_id) if client_id else None
        if client is None:
            raise BadAuthorizationRequest("unknown or missing client_id")
        registration = self.registrations.client(client.client_id)
        request_uri = params.get("request_uri")
        if request_uri is not None:
            params = self._pushed(client, request_uri)
        elif registration.require_pushed_authorization_requests:
            uri = self._redirect_uri(params, registration)  # an error page unless registered
            error = InvalidRequest("this client must use pushed authorization requests (RFC 9126)")
            raise ErrorRedirect(self.error_redirect(uri, params.get("state"), error), error)
        return self._validate(client, registration, params, pushed=request_uri is not None)

    def _pushed(self, client: ClientRecord, request_uri: str) -> Mapping[str, str]:
        if not request_uri.startswith(PAR_PREFIX):
            raise BadAuthorizationRequest("request_uri is not supported except from PAR")
        found = self.codes.take_request(
            digest(request_uri[len(PAR_PREFIX) :]), "par", self.clock(), consume=True
        )
        if found is None or not hmac.compare_digest(found.client_id, client.client_id):
            raise BadAuthorizationRequest("request_uri is unknown, expired or already used")
        return found.params

    def _redirect_uri(self, params: Mapping[str, str], registration: ClientRegistration) -> str:
        uri = params.get("redirect_uri")
        if uri is None:
            if len(registration.redirect_uris) != 1:
                raise BadAuthorizationRequest("redirect_uri is required")
            return registration.redirect_uris[0]
        if not match_redirect_uri(uri, registration.redirect_uris):
            raise BadAuthorizationRequest("redirect_uri is not registered for this client")
        return uri

    def validate_pushed(
        self, client: ClientRecord, params: Mapping[str, str]
    ) -> AuthorizationRequest:
        """Validate a pushed authorization request of an authenticated ``client`` (RFC 9126
        §2.1); every error is an :class:`OAuthError` answered as JSON.

        Raises:
            OAuthError: ``invalid_request`` (also for a ``request_uri`` inside, §2.1) and the
                errors of :meth:`resolve`.
        """
        if "request_uri" in params:
            raise InvalidRequest("request_uri must not be pushed (RFC 9126 §2.1)")
        if params.get("client_id") not in (None, client.client_id):
            raise InvalidRequest("client_id does not match the authenticated client")
        registration = self.registrations.client(client.client_id)
        try:
            return self._validate(client, registration, params, pushed=True)
        except BadAuthorizationRequest as exc:
            raise InvalidRequest(exc.description) from None
        except ErrorRedirect as exc:
            raise exc.error from None

    def push(self, request: AuthorizationRequest) -> tuple[str, int]:
        """Store a pushed request; returns (``request_uri``, ``expires_in`` seconds)."""
        handle = secrets.token_urlsafe(32)
        now = self.clock()
        ttl = self.settings.pushed_request_ttl
        self.codes.add_request(
            digest(handle),
            kind="par",
            client_id=request.client.client_id,
            params=request.params,
            binding=None,
            now=now,
            expires_at=now + ttl,
        )
        return PAR_PREFIX + handle, ttl

    def _validate(
        self,
        client: ClientRecord,
        registration: ClientRegistration,
        params: Mapping[str, str],
        *,
        pushed: bool,
    ) -> AuthorizationRequest:
        redirect_uri = self._redirect_uri(params, registration)
        try:  # from here on every error goes back to the client's redirect URI
            return self._checked(client, registration, params, redirect_uri)
        except OAuthError as exc:
            state = params.get("state")
            state = state if state is not None and len(state) <= _MAX_PARAM else None
            raise ErrorRedirect(self.error_redirect(redirect_uri, state, exc), exc) from None

    def _checked(
        self,
        client: ClientRecord,
        registration: ClientRegistration,
        params: Mapping[str, str],
        redirect_uri: str,
    ) -> AuthorizationRequest:
        for name in _AUTHZ_PARAMS:
            if len(params.get(name, "")) > _MAX_PARAM:
                raise InvalidRequest(f"{name} is too long")
        if "request" in params:
            raise RequestNotSupported("request objects (JAR) are not supported")
        if params.get("response_type") != "code":
            if params.get("response_type") is None:
                raise InvalidRequest("response_type is required")
            raise UnsupportedResponseType("only response_type=code is supported")
        if params.get("response_mode") not in (None, "query"):
            raise InvalidRequest("only response_mode=query is supported")
        if "authorization_code" not in client.grant_types:
            raise UnauthorizedClient("this client may not use the authorization code grant")
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method")
        if challenge is None:
            raise InvalidRequest("code_challenge is required (PKCE, RFC 7636)")
        if method != "S256":
            raise InvalidRequest("code_challenge_method must be S256")
        if _CHALLENGE.fullmatch(challenge) is None:
            raise InvalidRequest("code_challenge is not a base64url SHA-256 value")
        prompt = frozenset((params.get("prompt") or "").split())
        if not prompt <= {"none", "login", "consent"}:
            raise InvalidRequest("prompt may be none, login or consent")
        if "none" in prompt and len(prompt) > 1:
            raise InvalidRequest("prompt=none cannot be combined with other values")
        max_age = None
        if "max_age" in params:
            raw = params["max_age"]
            if not raw.isdigit() or len(raw) > 10:
                raise InvalidRequest("max_age must be a non-negative integer")
            max_age = int(raw)
        dpop_jkt = params.get("dpop_jkt")
        if dpop_jkt is not None and _CHALLENGE.fullmatch(dpop_jkt) is None:
            raise InvalidRequest("dpop_jkt is not a base64url SHA-256 thumbprint (RFC 9449 §10)")
        scope = self._scope(client, params.get("scope"))
        clean = {k: params[k] for k in _AUTHZ_PARAMS if k in params}
        clean["client_id"] = client.client_id
        clean["redirect_uri"] = redirect_uri
        return AuthorizationRequest(
            client=client,
            registration=registration,
            redirect_uri=redirect_uri,
            state=params.get("state"),
            scope=scope,
            nonce=params.get("nonce"),
            code_challenge=challenge,
            prompt=prompt,
            max_age=max_age,
            login_hint=params.get("login_hint"),
            params=clean,
            dpop_jkt=dpop_jkt,
        )

    @staticmethod
    def _scope(client: ClientRecord, requested: str | None) -> str:
        allowed = set(client.scope.split())
        if requested is None:
            raise InvalidScope("scope is required")
        return grant_scope(requested, " ".join(allowed))

    def error_redirect(self, request_redirect: str, state: str | None, exc: OAuthError) -> str:
        """The URL that answers an authorization request with ``exc`` (RFC 6749 §4.1.2.1),
        with ``state`` and ``iss`` (RFC 9207 §2)."""
        params = {"error": exc.error, "error_description": exc.description}
        return self._redirect(request_redirect, params, state)

    def _redirect(self, uri: str, params: dict[str, str], state: str | None) -> str:
        from urllib.parse import urlencode

        if state is not None:
            params["state"] = state
        params["iss"] = self.issuer
        return uri + ("&" if "?" in uri else "?") + urlencode(params)

    def prune(self, now: float, retention: float = 7 * 86400.0) -> int:
        """Housekeeping: delete expired codes and requests, OP sessions that ended or expired
        more than ``retention`` seconds ago (default 7 days) and older delivery records."""
        n = self.codes.prune(now)
        n += self.op_sessions.prune(now, retention)
        n += self.logouts.prune(now - retention)
        return n

    # ---- browser sessions ---------------------------------------------------------------------

    def session_from_cookie(self, cookie: str | None) -> OPSession | None:
        """The active OP session of a cookie value (None: no cookie, unknown, ended, expired,
        or its user is gone or disabled)."""
        if not cookie or len(cookie) > 128:
            return None
        session = self.op_sessions.by_cookie(digest(cookie))
        if session is None or not session.is_active(self.clock()):
            return None
        user = self.store.get_user_by_id(session.user_id)
        if user is None or user.disabled:
            return None
        return session

    def login(
        self,
        username: str,
        password: str,
        address: str | None,
        *,
        client_id: str,
        current: OPSession | None,
    ) -> tuple[OPSession, str]:
        """Check a password typed on the login page (argon2id, the password grant's failed-login
        limits) and start an OP session: a fresh cookie value every time (no fixation). When the
        browser already has a session of the same user, that session gets the new cookie value
        and ``auth_time`` (its grants stay); otherwise a new session starts and the old one
        ends.

        Returns (session, cookie value).

        Raises:
            LoginRateLimited, InvalidGrant: as :meth:`TokenService.check_password`.
        """
        if len(username) > 255 or len(password) > 1024:
            raise InvalidGrant("invalid username or password")
        user = self.tokens.check_password(username, password, address, client_id=client_id)
        now = self.clock()
        self.tokens.limiter.succeeded(username, now)
        cookie = secrets.token_urlsafe(32)
        expires = now + self.settings.op_session_ttl
        same_user = current is not None and current.user_id == user.id
        if (
            same_user
            and current
            and self.op_sessions.renew(current.sid, digest(cookie), now, expires)
        ):
            audit("op_login", username=username, sub=user.id, sid=current.sid, ip=address)
            session = self.op_sessions.get(current.sid)
            if session is not None:
                return session, cookie
        if current is not None:
            self.end_op_session(current.sid, reason="replaced", actor="login")
        session = OPSession(new_id(), user.id, now, "pwd", now, expires, None, None)
        self.op_sessions.create(session, digest(cookie))
        audit("op_login", username=username, sub=user.id, sid=session.sid, ip=address)
        return session, cookie

    def needs_login(self, request: AuthorizationRequest, session: OPSession | None) -> bool:
        """True when the user must (re-)authenticate: no session, ``prompt=login`` or an
        ``auth_time`` older than ``max_age`` (OIDC Core §3.1.2.1)."""
        if session is None or "login" in request.prompt:
            return True
        return request.max_age is not None and self.clock() - session.auth_time > request.max_age

    def needs_consent(self, request: AuthorizationRequest, session: OPSession) -> bool:
        """True when the consent page must be shown: a third-party client asking for scopes the
        user has not allowed it, or ``prompt=consent`` (OIDC Core §3.1.2.4)."""
        if "consent" in request.prompt:
            return True
        if request.registration.first_party:
            return False
        allowed = self.consents.scopes(session.user_id, request.client.client_id)
        return not set(request.scope.split()) <= allowed

    def check_no_interaction(
        self, request: AuthorizationRequest, session: OPSession | None
    ) -> None:
        """``prompt=none``: refuse when a page would be needed (OIDC Core §3.1.2.6).

        Raises:
            LoginRequired, ConsentRequired.
        """
        if "none" not in request.prompt:
            return
        if session is None or self.needs_login(request, session):
            raise LoginRequired("the user is not signed in")
        if self.needs_consent(request, session):
            raise ConsentRequired("the user has not allowed this client these scopes")

    # ---- interactions (login and consent pages) ----------------------------------------------

    def begin_interaction(self, request: AuthorizationRequest, csrf: str) -> str:
        """Store ``request`` for the login/consent pages, bound to the browser's CSRF cookie
        value ``csrf``; returns the handle (str) the forms carry."""
        handle = secrets.token_urlsafe(32)
        now = self.clock()
        self.codes.add_request(
            digest(handle),
            kind="interaction",
            client_id=request.client.client_id,
            params=request.params,
            binding=digest(csrf),
            now=now,
            expires_at=now + self.settings.interaction_ttl,
        )
        return handle

    def interaction(self, handle: str, csrf: str, *, consume: bool) -> AuthorizationRequest:
        """The request of a login/consent page, checked against the browser's CSRF cookie.

        Raises:
            BadAuthorizationRequest: unknown, expired, used or another browser's handle.
        """
        found: PendingRequest | None = None
        if handle and len(handle) <= 128:
            found = self.codes.take_request(
                digest(handle), "interaction", self.clock(), consume=consume
            )
        if found is None or found.binding is None:
            raise BadAuthorizationRequest("this sign-in page has expired; start again")
        if not hmac.compare_digest(found.binding, digest(csrf)):
            raise BadAuthorizationRequest("this sign-in page belongs to another browser")
        client = self.store.get_client(found.client_id)
        if client is None:
            raise BadAuthorizationRequest("unknown client")
        registration = self.registrations.client(client.client_id)
        return self._validate(client, registration, found.params, pushed=True)

    # ---- codes --------------------------------------------------------------------------------

    def approve(self, request: AuthorizationRequest, session: OPSession, *, consent: bool) -> str:
        """Issue an authorization code for ``request`` in ``session`` (remembering a consent
        given on the page when ``consent``); returns the redirect URL with ``code``, ``state``
        and ``iss`` (RFC 6749 §4.1.2, RFC 9207)."""
        now = self.clock()
        if consent:
            self.consents.allow(session.user_id, request.client.client_id, request.scope, now)
        user = self.store.get_user_by_id(session.user_id)
        # OIDC scopes are allowed per client; any other scope also needs the user's (RFC 6749
        # §3.3: the grant may be narrower than asked, and the token response says so).
        mine = set(user.scope.split()) if user else set()
        scope = " ".join(s for s in request.scope.split() if s in OIDC_SCOPES or s in mine)
        code = secrets.token_urlsafe(32)
        self.codes.add_code(
            digest(code),
            AuthorizationCode(
                client_id=request.client.client_id,
                redirect_uri=request.redirect_uri,
                user_id=session.user_id,
                op_sid=session.sid,
                scope=scope,
                nonce=request.nonce,
                code_challenge=request.code_challenge,
                dpop_jkt=request.dpop_jkt,
                created_at=now,
                expires_at=now + self.settings.authorization_code_ttl,
            ),
        )
        audit("code_issued", client_id=request.client.client_id, sub=session.user_id)
        return self._redirect(request.redirect_uri, {"code": code}, request.state)

    def deny(self, request: AuthorizationRequest) -> str:
        """The redirect URL answering a refused consent: ``access_denied``."""
        return self.error_redirect(
            request.redirect_uri, request.state, AccessDenied("the user denied the request")
        )

    def redeem(
        self, client: ClientRecord, params: Mapping[str, str], jkt: str | None = None
    ) -> dict[str, Any]:
        """The token endpoint's ``grant_type=authorization_code`` (RFC 6749 §4.1.3, RFC 7636
        §4.6, OIDC Core §3.1.3): ``code``, ``redirect_uri``, ``code_verifier``; ``jkt`` the
        thumbprint of the request's DPoP proof (RFC 9449 §5) or None: the access token is
        bound to it, and so is a public client's refresh-token family.

        Returns the token response (dict) with an ``id_token`` when ``openid`` was granted, and
        a refresh token when the client may use the refresh_token grant.

        Raises:
            InvalidRequest: a missing parameter. UnauthorizedClient: grant not registered.
            InvalidGrant: unknown, expired, used (a replay also revokes the grant it produced,
                RFC 6749 §4.1.2), another client's code, a different redirect_uri, a wrong
                verifier, an OP session that has ended, or a code bound by ``dpop_jkt`` (RFC
                9449 §10) redeemed without a proof of that key.
        """
        if "authorization_code" not in client.grant_types:
            raise UnauthorizedClient("client may not use grant_type=authorization_code")
        code = params.get("code")
        verifier = params.get("code_verifier")
        if code is None:
            raise InvalidRequest("code is required")
        if verifier is None:
            raise InvalidRequest("code_verifier is required (PKCE, RFC 7636 §4.5)")
        now = self.clock()
        code_hash = digest(code)
        found = self.codes.consume(code_hash, now) if len(code) <= 128 else None
        if (
            found is None
            or found.outcome == "unknown"
            or (found.outcome == "ok" and found.code is None)
        ):
            raise InvalidGrant("unknown authorization code")
        if found.outcome == "replay":
            if found.grant_sid is not None:
                owner = self.op_sessions.grant_owner(found.grant_sid)
                entry = self.store.revoke_session(found.grant_sid, "code_replay", now)
                self.tokens.revoked([entry] if entry else [], actor="code_replay")
                audit("code_replay", client_id=client.client_id, sid=owner)
            raise InvalidGrant("authorization code already used; its tokens are revoked")
        issued = found.code
        assert issued is not None
        if not hmac.compare_digest(issued.client_id, client.client_id):
            raise InvalidGrant("the code was issued to another client")
        if issued.expires_at <= now:
            raise InvalidGrant("authorization code expired")
        if params.get("redirect_uri") != issued.redirect_uri:
            raise InvalidGrant("redirect_uri does not match the authorization request")
        if _VERIFIER.fullmatch(verifier) is None or not hmac.compare_digest(
            s256(verifier), issued.code_challenge
        ):
            raise InvalidGrant("code_verifier does not match the code_challenge")
        if issued.dpop_jkt is not None and (
            jkt is None or not hmac.compare_digest(issued.dpop_jkt, jkt)
        ):
            raise InvalidGrant("the code is bound to another DPoP key (dpop_jkt, RFC 9449 §10)")
        session = self.op_sessions.get(issued.op_sid)
        user = self.store.get_user_by_id(issued.user_id)
        if session is None or not session.is_active(now) or user is None or user.disabled:
            raise InvalidGrant("the sign-in session has ended")
        return self._tokens_for(client, user, session, issued, code_hash, now, jkt)

    def _tokens_for(
        self,
        client: ClientRecord,
        user: UserRecord,
        session: OPSession,
        issued: AuthorizationCode,
        code_hash: str,
        now: float,
        jkt: str | None,
    ) -> dict[str, Any]:
        refresh = new_refresh_token()
        try:
            grant, evicted = self.store.create_session(
                user=user,
                client_id=client.client_id,
                scope=issued.scope,
                token_hash=hash_refresh_token(refresh),
                now=now,
                refresh_exp=now + self.settings.refresh_token_ttl,
                access_exp=int(now) + self.settings.access_token_ttl,
                cap=self.settings.session_cap,
                policy=self.settings.session_cap_policy,
                dpop_jkt=jkt if client.public else None,  # RFC 9449 §5: public clients
            )
        except SessionCapError:
            raise InvalidGrant(f"session limit reached ({self.settings.session_cap})") from None
        if evicted:
            self.tokens.revoked(evicted, actor="session_cap")
        self.codes.set_grant(code_hash, grant.sid)
        if not self.op_sessions.link_grant(session.sid, grant.sid, client.client_id, now):
            raise InvalidGrant("the sign-in session has ended")
        access, _, jti = self.tokens.mint_access_token(
            sub=user.id, client=client, scope=issued.scope, sid=grant.sid, now=now, jkt=jkt
        )
        self.tokens.metrics.issued("authorization_code")
        audit("code_redeemed", client_id=client.client_id, sub=user.id, sid=grant.sid, jti=jti)
        body = self.tokens.token_response(
            access,
            issued.scope,
            refresh if "refresh_token" in client.grant_types else None,
            dpop=jkt is not None,
        )
        if "openid" in issued.scope.split():
            body["id_token"] = self.id_token(
                client, user, session, nonce=issued.nonce, access_token=access, scope=issued.scope
            )
        return body

    # ---- ID tokens and userinfo ----------------------------------------------------------------

    def id_token_key(self, client_id: str) -> jwtkit.Key:
        """The key that signs ``client_id``'s ID and logout tokens: the ``id_token`` family
        (RS256) or, for a client registered with the access tokens' alg, that family's key."""
        alg = self.registrations.client(client_id).id_token_signed_response_alg
        alg = alg or self.settings.id_token_alg
        if alg == self.id_keys.alg:
            return self.id_keys.signing_key()
        if alg == self.tokens.keys.alg:
            return self.tokens.keys.signing_key()
        return self.id_keys.signing_key()  # pragma: no cover - registration checks the alg

    def id_token_algs(self) -> list[str]:
        """The ID token algs this provider signs with (discovery)."""
        return list(dict.fromkeys([self.id_keys.alg, self.tokens.keys.alg]))

    def user_claims(self, user: UserRecord, scope: str) -> dict[str, Any]:
        """Profile claims for the granted ``scope`` (OIDC Core §5.4): ``name`` and
        ``preferred_username`` for ``profile``, ``email`` for ``email`` (when stored)."""
        scopes = set(scope.split())
        stored = self.registrations.claims(user.id)
        out: dict[str, Any] = {}
        if "profile" in scopes:
            out["preferred_username"] = user.username
            if stored.name:
                out["name"] = stored.name
        if "email" in scopes and stored.email:
            out["email"] = stored.email
        return out

    def id_token(
        self,
        client: ClientRecord,
        user: UserRecord,
        session: OPSession,
        *,
        nonce: str | None,
        access_token: str,
        scope: str,
    ) -> str:
        """Sign an ID token (OIDC Core §2, §3.1.3.6): ``iss sub aud exp iat auth_time nonce sid
        at_hash amr`` (+ ``acr`` when configured, + profile/email claims), header ``typ: JWT``.
        """
        now = int(self.clock())
        key = self.id_token_key(client.client_id)
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": user.id,
            "aud": client.client_id,
            "azp": client.client_id,
            "exp": now + self.settings.id_token_ttl,
            "iat": now,
            "auth_time": int(session.auth_time),
            "sid": session.sid,
            "amr": session.amr.split(),
            "at_hash": _b64(hashlib.sha256(access_token.encode("ascii")).digest()[:16]),
        }
        if nonce is not None:
            claims["nonce"] = nonce
        if self.settings.acr:
            claims["acr"] = self.settings.acr
        claims.update(self.user_claims(user, scope))
        signed = jwtkit.encode(claims, key, headers={"typ": "JWT", "kid": key.kid})
        return self.encrypt_id_token(self.registrations.client(client.client_id), signed)

    @staticmethod
    def encrypt_id_token(registration: ClientRegistration, signed: str) -> str:
        """Encrypt the signed ID token ``signed`` (compact JWS, str) as a nested JWT (``cty:
        JWT``, RFC 7519 §5.2) to the registration's encryption key when it registered an
        ``id_token_encrypted_response_alg`` (OIDC Core §10.2); else return it unchanged.
        Returns the compact JWE (str, five segments) or the JWS."""
        alg = registration.id_token_encrypted_response_alg
        if alg is None or registration.id_token_encryption_jwks is None:
            return signed
        key = id_token_encryption_key(registration.id_token_encryption_jwks, alg)
        enc = registration.id_token_encrypted_response_enc or DEFAULT_ID_TOKEN_ENCRYPTION_ENC
        headers = {"cty": "JWT", "kid": key.kid}
        return jwe.encrypt(signed, key, alg, enc, headers=headers)

    def userinfo(self, claims: Mapping[str, Any]) -> dict[str, Any]:
        """The userinfo response (OIDC Core §5.3.2) for a verified access token's ``claims``.

        Raises:
            OAuthError: ``insufficient_scope`` (403) without ``openid``; ``invalid_token`` when
                the user is gone or disabled.
        """
        from jwtkit.server.oauth import InsufficientScope, InvalidToken

        scope = str(claims.get("scope", ""))
        if "openid" not in scope.split():
            raise InsufficientScope(
                "the access token lacks the openid scope",
                headers={
                    "WWW-Authenticate": 'Bearer realm="jwtkit", error="insufficient_scope", '
                    'scope="openid"'
                },
            )
        user = self.store.get_user_by_id(str(claims.get("sub")))
        if user is None or user.disabled:
            raise InvalidToken(
                "the user is not active",
                headers={"WWW-Authenticate": 'Bearer realm="jwtkit", error="invalid_token"'},
            )
        return {"sub": user.id, **self.user_claims(user, scope)}

    # ---- logout -------------------------------------------------------------------------------

    def verify_id_token_hint(self, hint: str) -> dict[str, Any] | None:
        """The claims of an ID token this provider issued (signature and ``iss`` checked; an
        expired one is still a valid hint, OIDC RP-Initiated Logout §2), or None."""
        try:
            claims = jwtkit.decode_unverified(hint)
            iat = claims.get("iat")
            if not isinstance(iat, int) or isinstance(iat, bool):
                return None
            keyset = jwtkit.KeySet([*self.id_keys.keyset().keys, *self.tokens.keys.keyset().keys])
            verifier = jwtkit.Verifier(
                keyset,
                algorithms=list(ID_TOKEN_ALGS),
                issuer=self.issuer,
                audience=jwtkit.ANY_AUDIENCE,
                typ="JWT",
                required=["sub", "aud", "iat", "exp"],
            )
            return verifier.verify(hint, now=float(iat))
        except (JWTKitError, ValueError, TypeError):
            return None

    def logout_client(self, hint: Mapping[str, Any] | None, client_id: str | None) -> str | None:
        """The client an RP-initiated logout speaks for: the hint's ``aud`` (which must agree
        with ``client_id`` when both are given) or ``client_id``."""
        aud = hint.get("aud") if hint else None
        if isinstance(aud, list):
            aud = aud[0] if len(aud) == 1 else None
        if aud is not None and not isinstance(aud, str):
            return None
        if aud is not None and client_id is not None and aud != client_id:
            return None
        return aud or client_id

    def post_logout_redirect(
        self, client_id: str | None, uri: str | None, state: str | None
    ) -> str | None:
        """Where to send the browser after logout: ``uri`` with ``state`` when it is registered
        exactly for ``client_id`` (never otherwise)."""
        if uri is None or client_id is None:
            return None
        if uri not in self.registrations.client(client_id).post_logout_redirect_uris:
            return None
        if state is None:
            return uri
        from urllib.parse import urlencode

        return uri + ("&" if "?" in uri else "?") + urlencode({"state": state})

    def end_op_session(self, sid: str, *, reason: str, actor: str) -> bool:
        """End an OP session: every grant made through it dies in the same transaction (their
        ``sid`` revocations reach the verifiers), and each signed-in client with a
        ``backchannel_logout_uri`` is sent a logout token in the background. Returns False when
        it had already ended."""
        now = self.clock()
        session = self.op_sessions.get(sid)
        entries = self.op_sessions.end(sid, reason, now)
        if entries is None or session is None:
            return False
        self.tokens.revoked(entries, actor=actor)
        audit("op_session_ended", sid=sid, sub=session.user_id, reason=reason, actor=actor)
        for client_id in self.op_sessions.clients(sid):
            uri = self.registrations.client(client_id).backchannel_logout_uri
            if uri:
                self.sender.send(self.logout_token(client_id, session), sid, client_id, uri)
        return True

    def end_user_op_sessions(self, user_id: str, *, reason: str, actor: str) -> int:
        """End every active OP session of a user (password reset, disabled user, admin);
        returns how many ended (int)."""
        ended = 0
        for session in self.op_sessions.active_of(user_id, self.clock() - 1e9):
            ended += self.end_op_session(session.sid, reason=reason, actor=actor)
        return ended

    def end_grant_owner(self, grant_sid: str, *, reason: str, actor: str) -> bool:
        """End the OP session a grant was made through (``/logout`` with its token); False when
        the grant has none (a password-grant session)."""
        owner = self.op_sessions.grant_owner(grant_sid)
        return owner is not None and self.end_op_session(owner, reason=reason, actor=actor)

    def logout_token(self, client_id: str, session: OPSession) -> tuple[str, str]:
        """A logout token for ``client_id`` (OIDC Back-Channel Logout §2.4): ``typ:
        logout+jwt``, ``iss aud iat exp jti events sid sub``, never ``nonce``. Returns (token,
        jti)."""
        now = int(self.clock())
        jti = new_id()
        claims = {
            "iss": self.issuer,
            "aud": client_id,
            "iat": now,
            "exp": now + 120,
            "jti": jti,
            "sub": session.user_id,
            "sid": session.sid,
            "events": {BACKCHANNEL_EVENT: {}},
        }
        key = self.id_token_key(client_id)
        return jwtkit.encode(claims, key, headers={"typ": "logout+jwt", "kid": key.kid}), jti
