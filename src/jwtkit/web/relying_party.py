"""The OpenID Connect relying party: sign-in, refresh, logout, back-channel logout.

Framework-neutral (the Starlette and Flask adapters are thin layers over it); HTTP through
httpx, ID tokens and logout tokens checked with jwtkit's own :class:`~jwtkit.Verifier` and the
issuer's JWK Set through :class:`~jwtkit.jwks_client.JWKSClient`.

* Discovery: OpenID Connect Discovery 1.0 §4 (``issuer`` must equal the configured one, §4.3).
* Login: authorization code flow (OIDC Core §3.1) with PKCE ``S256`` (RFC 7636), ``state``,
  ``nonce``, through a pushed authorization request (RFC 9126) when the metadata advertises
  ``pushed_authorization_request_endpoint``.
* Callback: ``state`` (RFC 6749 §10.12), ``iss`` (RFC 9207 §2.4), the token request (RFC 6749
  §4.1.3), the ID token (OIDC Core §3.1.3.7: signature, ``iss``, ``aud``, ``azp``, ``exp``,
  ``iat``, ``nonce``; ``at_hash`` §3.1.3.8 when present).
* Sessions: server-side (:mod:`jwtkit.web.sessions`); the access token is refreshed (RFC 6749
  §6) before it expires; a refused refresh ends the app session.
* Logout: RP-initiated logout 1.0 (``end_session_endpoint``, ``id_token_hint``,
  ``post_logout_redirect_uri``, ``state``) and back-channel logout 1.0 §2.6 (logout tokens).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import httpx

from jwtkit.errors import JWTKitError
from jwtkit.jwa import get_algorithm
from jwtkit.jwks_client import JWKSClient
from jwtkit.jwt import Verifier
from jwtkit.middleware import BearerGuard
from jwtkit.middleware.csrf import CSRFPolicy, origin_of
from jwtkit.web.sessions import MemorySessionStore, SessionStore, WebSession, session_key

__all__ = [
    "BACKCHANNEL_LOGOUT_EVENT",
    "LoginError",
    "LoginStart",
    "LogoutTokenError",
    "RelyingParty",
    "RelyingPartyConfig",
]

BACKCHANNEL_LOGOUT_EVENT = "http://schemas.openid.net/event/backchannel-logout"
_ID_TOKEN_ALGS = ("RS256", "ES256", "PS256", "ES384", "RS384", "PS384", "EdDSA", "Ed25519")
_MAX_TOKEN_RESPONSE = 256 * 1024
_COOKIE_PREFIX = re.compile(r"__Host-[A-Za-z0-9!#$%&'*+\-.^_`|~]*")


class LoginError(JWTKitError):
    """A sign-in that cannot complete; ``code`` says why.

    Codes: ``login_state_missing`` (no pending login for this browser), ``state_mismatch``,
    ``iss_mismatch`` (RFC 9207), ``authorization_error`` (the issuer answered with ``error``;
    see ``oauth_error``), ``token_error`` (the token endpoint refused; ``oauth_error``),
    ``invalid_id_token`` (see ``reason``), ``issuer_unavailable``.
    """

    code = "login_error"

    def __init__(self, code: str, message: str, *, oauth_error: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.oauth_error = oauth_error


class LogoutTokenError(JWTKitError):
    """A back-channel logout token that is refused (OIDC Back-Channel Logout 1.0 §2.6).

    ``reason`` is one of ``invalid``, ``wrong_typ``, ``no_event``, ``no_sid_or_sub``,
    ``has_nonce``, ``replayed``.
    """

    code = "invalid_logout_token"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _safe_path(value: str | None, default: str) -> str:
    """A same-origin path to return to after sign-in (no scheme, no host, no ``//``)."""
    if not value or not value.startswith("/") or value.startswith(("//", "/\\")):
        return default
    if any(ord(c) < 0x21 or c == "\\" for c in value) or len(value) > 2048:
        return default
    return value


@dataclass(frozen=True)
class RelyingPartyConfig:
    """Settings of a relying party (defaults in docs/web.md).

    Attributes:
        issuer: the OpenID provider's issuer URL (str, exactly as in its tokens' ``iss``).
        client_id: this app's client id at the issuer (str).
        base_url: this app's own origin, e.g. ``https://app.example`` (str); the redirect and
            back-channel URIs are made from it, and unsafe requests must come from it.
        client_secret: the secret of a confidential client (str or None for a public client).
        redirect_path: the callback path (default ``/auth/callback``).
        scopes: scopes to request (default ``openid profile email offline_access``).
        login_path / logout_path: where the login and logout routes are mounted (``/login``,
            ``/logout``).
        backchannel_logout_path: the back-channel logout receiver (``/auth/backchannel-logout``).
        post_logout_path: where logout ends up (``/``).
        home_path: where sign-in returns when no ``next`` was given (``/``).
        cookie_prefix: the start of the cookie names (default ``__Host-jwtkit-``; must start
            with ``__Host-``): ``<prefix>session`` (HttpOnly), ``<prefix>csrf`` (readable by the
            page's scripts), ``<prefix>login`` (HttpOnly, during sign-in). Browsers do not
            separate cookies by port, so two apps on one host need two prefixes.
        session_lifetime: absolute session lifetime in seconds (default 28800, 8 h).
        refresh_margin: refresh the access token this many seconds before it expires (60).
        login_timeout: seconds a started sign-in may take (600).
        leeway: clock skew allowed on ID and logout tokens, seconds (30).
        id_token_algorithms: accepted ``alg`` values for ID and logout tokens.
        use_par: True/False, or None to use PAR whenever the issuer advertises it.
        resource: an RFC 8707 ``resource`` to ask access tokens for (str or None).
        http_timeout: seconds for each call to the issuer (5).
        allow_http: allow an http issuer that is not loopback (False).
        secret_key: HMAC key for CSRF tokens (bytes, >= 32; None: random per process, so set
            it when several processes serve the app).
    """

    issuer: str
    client_id: str
    base_url: str
    client_secret: str | None = field(default=None, repr=False)
    redirect_path: str = "/auth/callback"
    scopes: Sequence[str] = ("openid", "profile", "email", "offline_access")
    login_path: str = "/login"
    logout_path: str = "/logout"
    backchannel_logout_path: str = "/auth/backchannel-logout"
    post_logout_path: str = "/"
    home_path: str = "/"
    cookie_prefix: str = "__Host-jwtkit-"
    session_lifetime: float = 8 * 3600.0
    refresh_margin: float = 60.0
    login_timeout: float = 600.0
    leeway: float = 30.0
    id_token_algorithms: Sequence[str] = _ID_TOKEN_ALGS
    use_par: bool | None = None
    resource: str | None = None
    http_timeout: float = 5.0
    allow_http: bool = False
    secret_key: bytes | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not _COOKIE_PREFIX.fullmatch(self.cookie_prefix):
            raise ValueError("cookie_prefix must start with __Host- and be a cookie-name token")
        origin_of(self.base_url)  # raises ValueError for a bad base_url

    @property
    def session_cookie(self) -> str:
        """The session cookie's name (str)."""
        return self.cookie_prefix + "session"

    @property
    def csrf_cookie(self) -> str:
        """The CSRF cookie's name (str; contains ``csrf``)."""
        return self.cookie_prefix + "csrf"

    @property
    def login_cookie(self) -> str:
        """The sign-in transaction cookie's name (str)."""
        return self.cookie_prefix + "login"

    @property
    def origin(self) -> str:
        """This app's origin (RFC 6454 serialization, str)."""
        return origin_of(self.base_url)

    @property
    def redirect_uri(self) -> str:
        """The absolute callback URL registered at the issuer (str)."""
        return self.origin + self.redirect_path

    @property
    def backchannel_logout_uri(self) -> str:
        """The absolute back-channel logout URL to register at the issuer (str)."""
        return self.origin + self.backchannel_logout_path

    @property
    def post_logout_redirect_uri(self) -> str:
        """The absolute URL the issuer sends the browser back to after logout (str)."""
        return self.origin + self.post_logout_path


@dataclass(frozen=True)
class LoginStart:
    """The start of a sign-in: send the browser to ``url`` with ``transaction`` in the login
    cookie."""

    url: str
    transaction: str = field(repr=False)


class RelyingParty:
    """An OpenID Connect client of one issuer, with server-side sessions.

    It is a :class:`~jwtkit.middleware.SessionTokenSource`, so a
    :class:`~jwtkit.middleware.BearerGuard` in cookie mode finds the session's access token
    through it (see :meth:`cookie_guard`).

    Args:
        config: the :class:`RelyingPartyConfig`.
        store: a :class:`~jwtkit.web.sessions.SessionStore` (default: in memory).
        http_client: an ``httpx.Client`` for calls to the issuer (default: one of its own).
        clock: wall clock in seconds since the epoch (default :func:`time.time`).

    Raises:
        ValueError: a bad ``base_url`` or a short ``secret_key``.
    """

    def __init__(
        self,
        config: RelyingPartyConfig,
        *,
        store: SessionStore | None = None,
        http_client: httpx.Client | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.store: SessionStore = store if store is not None else MemorySessionStore()
        self.clock = clock
        self._own_http = http_client is None
        self.http = http_client or httpx.Client(timeout=config.http_timeout, follow_redirects=False)
        self.csrf = CSRFPolicy(
            config.secret_key or secrets.token_bytes(32),
            allowed_origins=[config.origin],
            cookie_name=config.csrf_cookie,
        )
        self._metadata: dict[str, Any] | None = None
        self._jwks: JWKSClient | None = None
        self._lock = threading.Lock()
        self._refresh_locks: dict[str, threading.Lock] = {}

    def __repr__(self) -> str:
        return f"RelyingParty(issuer={self.config.issuer!r}, client_id={self.config.client_id!r})"

    def close(self) -> None:
        """Close the HTTP client (when the relying party made it)."""
        if self._own_http:
            self.http.close()

    def __enter__(self) -> RelyingParty:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- issuer metadata and keys ----------------------------------------------------------

    def _get_json(self, url: str) -> Any:
        try:
            r = self.http.get(url, headers={"Accept": "application/json"})
            if r.status_code != 200:
                raise LoginError("issuer_unavailable", f"{url} answered {r.status_code}")
            return r.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise LoginError("issuer_unavailable", f"cannot read {url}: {exc}") from None

    def metadata(self) -> dict[str, Any]:
        """Return the issuer's OpenID Connect Discovery document (dict), fetched once.

        Raises:
            LoginError: ``issuer_unavailable`` (unreachable, not JSON, ``issuer`` differs
                from the configured one, or no authorization/token endpoint or JWK Set).
        """
        if self._metadata is not None:
            return self._metadata
        issuer = self.config.issuer
        doc = self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        if not isinstance(doc, dict) or doc.get("issuer") != issuer:
            raise LoginError("issuer_unavailable", "the discovery document's issuer differs")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(doc.get(name), str):
                raise LoginError("issuer_unavailable", f"the discovery document lacks {name}")
        with self._lock:
            self._jwks = JWKSClient(
                doc["jwks_uri"], issuer=issuer, allow_http=self.config.allow_http
            )
            self._metadata = doc
        return doc

    def _verifier(self, *, typ: str | None, required: Sequence[str]) -> Verifier:
        meta = self.metadata()
        assert self._jwks is not None
        offered = meta.get("id_token_signing_alg_values_supported")
        algs = [a for a in self.config.id_token_algorithms if not offered or a in offered]
        return Verifier(
            self._jwks,
            algorithms=algs or list(self.config.id_token_algorithms),
            issuer=self.config.issuer,
            audience=self.config.client_id,
            leeway=self.config.leeway,
            required=tuple(required),
            typ=typ,
        )

    # -- calls to the issuer ---------------------------------------------------------------

    def _client_auth(self, form: dict[str, str]) -> dict[str, str]:
        """Add client authentication to a token/PAR request; returns extra headers."""
        secret = self.config.client_secret
        if secret is None:
            form["client_id"] = self.config.client_id
            return {}
        methods = self.metadata().get(
            "token_endpoint_auth_methods_supported", ["client_secret_basic"]
        )
        if "client_secret_basic" in methods:
            # RFC 6749 §2.3.1: form-urlencode id and secret before Basic.
            raw = f"{quote(self.config.client_id, safe='')}:{quote(secret, safe='')}"
            return {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}
        form["client_id"] = self.config.client_id
        form["client_secret"] = secret
        return {}

    def _post_form(self, url: str, form: dict[str, str], what: str) -> dict[str, Any]:
        headers = {"Accept": "application/json", **self._client_auth(form)}
        try:
            r = self.http.post(url, data=form, headers=headers)
            body = r.json() if len(r.content) <= _MAX_TOKEN_RESPONSE else None
        except (httpx.HTTPError, ValueError):
            raise LoginError("issuer_unavailable", f"the {what} cannot be reached") from None
        if not isinstance(body, dict):
            raise LoginError("token_error", f"the {what} answered {r.status_code}")
        if r.status_code >= 400 or "error" in body:
            error = body.get("error")
            raise LoginError(
                "token_error",
                f"the {what} refused: {error}",
                oauth_error=error if isinstance(error, str) else None,
            )
        return body

    # -- login -----------------------------------------------------------------------------

    def begin_login(self, return_to: str | None = None) -> LoginStart:
        """Start a sign-in (OIDC Core §3.1.2.1, RFC 7636 ``S256``, RFC 9126 when advertised).

        Args:
            return_to: a same-origin path to come back to (others become ``home_path``).

        Returns:
            :class:`LoginStart`: the authorization URL and the opaque transaction id to keep in
            the login cookie.

        Raises:
            LoginError: ``issuer_unavailable``, or ``token_error`` when the PAR is refused.
        """
        meta = self.metadata()
        cfg = self.config
        state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
        challenge = _b64url(hashlib.sha256(verifier.encode()).digest())
        params: dict[str, str] = {
            "response_type": "code",
            "client_id": cfg.client_id,
            "redirect_uri": cfg.redirect_uri,
            "scope": " ".join(cfg.scopes),
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
        if cfg.resource:
            params["resource"] = cfg.resource
        par = meta.get("pushed_authorization_request_endpoint")
        use_par = cfg.use_par if cfg.use_par is not None else isinstance(par, str)
        if use_par:
            if not isinstance(par, str):
                raise LoginError("issuer_unavailable", "the issuer has no PAR endpoint")
            pushed = self._post_form(par, dict(params), "pushed authorization endpoint")
            request_uri = pushed.get("request_uri")
            if not isinstance(request_uri, str):
                raise LoginError("token_error", "the PAR response has no request_uri")
            query = {"client_id": cfg.client_id, "request_uri": request_uri}
        else:
            query = params
        transaction = secrets.token_urlsafe(32)
        self.store.put_pending(
            session_key(transaction),
            {
                "state": state,
                "nonce": nonce,
                "verifier": verifier,
                "return_to": _safe_path(return_to, cfg.home_path),
            },
            cfg.login_timeout,
        )
        endpoint = meta["authorization_endpoint"]
        sep = "&" if urlsplit(endpoint).query else "?"
        return LoginStart(endpoint + sep + urlencode(query), transaction)

    def finish_login(
        self, params: Mapping[str, str], transaction: str | None
    ) -> tuple[str, WebSession, str]:
        """Complete a sign-in from the callback's query parameters.

        Args:
            params: the callback's query (``code``, ``state``, ``iss``, or ``error``).
            transaction: the login cookie's value (str or None).

        Returns:
            (session id for the cookie (str), the new :class:`WebSession`, path to return to).

        Raises:
            LoginError: see its codes; the pending login is used up either way.
        """
        pending = self.store.take_pending(session_key(transaction)) if transaction else None
        if pending is None:
            raise LoginError("login_state_missing", "no sign-in is pending for this browser")
        state = params.get("state") or ""
        if not hmac.compare_digest(state.encode(), str(pending["state"]).encode()):
            raise LoginError("state_mismatch", "the state does not match this sign-in")
        meta = self.metadata()
        iss = params.get("iss")
        iss_expected = iss is not None or meta.get("authorization_response_iss_parameter_supported")
        if iss_expected and iss != self.config.issuer:  # RFC 9207 §2.4
            raise LoginError("iss_mismatch", "the authorization response's iss differs")
        if "error" in params:
            raise LoginError(
                "authorization_error",
                "the issuer refused the sign-in",
                oauth_error=params.get("error"),
            )
        code = params.get("code")
        if not code:
            raise LoginError("authorization_error", "the callback carries no code")
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.config.redirect_uri,
            "code_verifier": str(pending["verifier"]),
        }
        if self.config.resource:
            form["resource"] = self.config.resource
        tokens = self._post_form(meta["token_endpoint"], form, "token endpoint")
        claims = self.check_id_token(tokens, nonce=str(pending["nonce"]))
        session_id = secrets.token_urlsafe(32)
        now = self.clock()
        session = WebSession(
            key=session_key(session_id),
            iss=self.config.issuer,
            sub=claims["sub"],
            sid=claims.get("sid") if isinstance(claims.get("sid"), str) else None,
            claims={k: claims[k] for k in _KEPT_CLAIMS if k in claims},
            id_token=tokens["id_token"],
            access_token=tokens["access_token"],
            access_expires_at=now + _expires_in(tokens),
            refresh_token=_refresh_token(tokens),
            created_at=now,
            expires_at=now + self.config.session_lifetime,
        )
        self.store.save(session)
        return session_id, session, str(pending["return_to"])

    def check_id_token(
        self, tokens: Mapping[str, Any], *, nonce: str | None, expect_sub: str | None = None
    ) -> dict[str, Any]:
        """Verify a token response's ID token (OIDC Core §3.1.3.7, §3.1.3.8, §12.2).

        Args:
            tokens: the token response (dict with ``id_token``, ``access_token``).
            nonce: the nonce sent with the request (None after a refresh: then a ``nonce``
                is not checked).
            expect_sub: after a refresh, the ``sub`` the session already has.

        Returns:
            the verified claims (dict).

        Raises:
            LoginError: ``invalid_id_token`` (``token_type`` not Bearer, no ID token, bad
                signature or claims, ``typ`` of another kind of JWT, wrong ``azp``, ``nonce``,
                ``at_hash`` or ``sub``).
        """
        id_token = tokens.get("id_token")
        access_token = tokens.get("access_token")
        if not isinstance(access_token, str) or not access_token:
            raise LoginError("invalid_id_token", "the token response has no access token")
        if str(tokens.get("token_type", "")).lower() != "bearer":
            raise LoginError("invalid_id_token", "the access token is not a Bearer token")
        if not isinstance(id_token, str):
            raise LoginError("invalid_id_token", "the token response has no ID token")
        verifier = self._verifier(typ=None, required=("iss", "sub", "aud", "exp", "iat"))
        try:
            verified = verifier.verify_detailed(id_token, now=self.clock())
        except JWTKitError as exc:
            raise LoginError("invalid_id_token", f"the ID token is invalid ({exc.code})") from None
        header, claims = verified.header, verified.claims
        typ = header.get("typ")
        if typ is not None and str(typ).lower() not in ("jwt", "application/jwt"):
            raise LoginError("invalid_id_token", "the ID token's typ is another kind of JWT")
        if not isinstance(claims.get("sub"), str) or not claims["sub"]:
            raise LoginError("invalid_id_token", "the ID token's sub is not a string")
        aud = claims.get("aud")
        azp = claims.get("azp")
        if (isinstance(aud, list) and len(aud) > 1 and azp is None) or (
            azp is not None and azp != self.config.client_id
        ):
            raise LoginError("invalid_id_token", "the ID token's azp is not this client")
        if nonce is not None:
            got = claims.get("nonce")
            if not isinstance(got, str) or not hmac.compare_digest(got.encode(), nonce.encode()):
                raise LoginError("invalid_id_token", "the ID token's nonce does not match")
        if expect_sub is not None and claims["sub"] != expect_sub:
            raise LoginError("invalid_id_token", "the refreshed ID token is for another sub")
        at_hash = claims.get("at_hash")
        if at_hash is not None:
            want = _token_hash(access_token, str(header["alg"]))
            if not isinstance(at_hash, str) or not hmac.compare_digest(
                at_hash.encode(), want.encode()
            ):
                raise LoginError("invalid_id_token", "the ID token's at_hash does not match")
        return claims

    # -- sessions and refresh --------------------------------------------------------------

    def session(self, session_id: str | None) -> WebSession | None:
        """Return the live session of a session cookie, refreshing its access token when it
        expires within ``refresh_margin`` seconds; None when unknown, expired or ended.

        A refresh the issuer refuses, or a new ID token that does not verify, ends the session
        at once; when the issuer cannot be reached the old access token is used while it is
        still valid, and the session ends when it expires.
        """
        if not session_id:
            return None
        key = session_key(session_id)
        session = self.store.load(key)
        if session is None or not self._needs_refresh(session):
            return session
        with self._lock:
            lock = self._refresh_locks.setdefault(key, threading.Lock())
        with lock:  # one refresh per session at a time (rotation would see a reuse)
            try:
                return self._refresh_once(key)
            finally:
                with self._lock:
                    self._refresh_locks.pop(key, None)

    def _refresh_once(self, key: str) -> WebSession | None:
        """Refresh under the store's claim on the session, so that other processes sharing the
        store wait for this refresh and use its result (bounded wait)."""
        name = "refresh\x00" + key
        hold = self.config.http_timeout * 2 + 5  # a crashed holder's claim expires by itself
        deadline = time.monotonic() + hold
        while not self.store.claim(name, self.clock() + hold):
            if time.monotonic() > deadline:
                return self.store.load(key)  # still being refreshed elsewhere: as it is
            time.sleep(0.02)
        try:
            session = self.store.load(key)  # another request may have refreshed it
            if session is None or not self._needs_refresh(session):
                return session
            return self._refresh(session)
        finally:
            self.store.release(name)

    def _needs_refresh(self, session: WebSession) -> bool:
        return self.clock() >= session.access_expires_at - self.config.refresh_margin

    def _refresh(self, session: WebSession) -> WebSession | None:
        expired = self.clock() >= session.access_expires_at
        if session.refresh_token is None:
            if expired:
                self.store.delete(session.key)
                return None
            return session
        form = {"grant_type": "refresh_token", "refresh_token": session.refresh_token}
        if self.config.resource:
            form["resource"] = self.config.resource
        try:
            tokens = self._post_form(self.metadata()["token_endpoint"], form, "token endpoint")
            if "id_token" in tokens:
                self.check_id_token(tokens, nonce=None, expect_sub=session.sub)
            elif str(tokens.get("token_type", "")).lower() != "bearer" or not isinstance(
                tokens.get("access_token"), str
            ):
                raise LoginError("token_error", "the refresh response has no Bearer token")
        except LoginError as exc:
            if exc.code == "issuer_unavailable" and not expired:
                return session  # try again on the next request
            self.store.delete(session.key)
            return None
        session.access_token = tokens["access_token"]
        session.access_expires_at = self.clock() + _expires_in(tokens)
        session.refresh_token = _refresh_token(tokens) or session.refresh_token
        if isinstance(tokens.get("id_token"), str):
            session.id_token = tokens["id_token"]
        self.store.save(session)
        return session

    def access_token(self, session_id: str) -> str | None:
        """Return the session's current access token (str), refreshed when near expiry, or
        None (the :class:`~jwtkit.middleware.SessionTokenSource` protocol)."""
        session = self.session(session_id)
        return session.access_token if session is not None else None

    async def aaccess_token(self, session_id: str) -> str | None:
        """Async :meth:`access_token` (the store and the refresh run in a worker thread)."""
        import anyio.to_thread

        return await anyio.to_thread.run_sync(self.access_token, session_id)

    def csrf_token(self, session_id: str) -> str:
        """Return a new CSRF token bound to ``session_id`` (str), for the CSRF cookie."""
        return self.csrf.issue(session_id)

    def cookie_guard(
        self, verifier: Verifier, *, credentials: str = "cookie", **kwargs: Any
    ) -> BearerGuard:
        """Return a :class:`~jwtkit.middleware.BearerGuard` in cookie mode over this RP's
        sessions and CSRF policy (``credentials``: ``"cookie"`` or ``"both"``)."""
        return BearerGuard(
            verifier,
            credentials=credentials,
            sessions=self,
            csrf=self.csrf,
            session_cookie=self.config.session_cookie,
            **kwargs,
        )

    # -- logout ----------------------------------------------------------------------------

    def logout(self, session_id: str | None) -> str:
        """End the app session and return where to send the browser (str): the issuer's
        ``end_session_endpoint`` with ``id_token_hint``, ``client_id``,
        ``post_logout_redirect_uri`` and ``state`` (RP-Initiated Logout 1.0 §2), or the
        post-logout path when the issuer has none or there was no session."""
        session = self.store.load(session_key(session_id)) if session_id else None
        if session is not None:
            self.store.delete(session.key)
        try:
            endpoint = self.metadata().get("end_session_endpoint")
        except LoginError:
            endpoint = None
        if session is None or not isinstance(endpoint, str):
            return self.config.post_logout_path
        query = {
            "id_token_hint": session.id_token,
            "client_id": self.config.client_id,
            "post_logout_redirect_uri": self.config.post_logout_redirect_uri,
            "state": secrets.token_urlsafe(16),
        }
        sep = "&" if urlsplit(endpoint).query else "?"
        return endpoint + sep + urlencode(query)

    def logout_locally(self, session_id: str) -> None:
        """End the app session of ``session_id`` here only (the issuer is not told)."""
        self.store.delete(session_key(session_id))

    def backchannel_logout(self, logout_token: str | None) -> int:
        """Verify a logout token (OIDC Back-Channel Logout 1.0 §2.4, §2.6) and end the
        matching sessions at once; returns how many ended (int).

        Checks: signature with the issuer's JWK Set, ``typ: logout+jwt`` (when present it must
        be that), ``iss``, ``aud`` (this client), ``iat``, ``exp``, ``jti``, the
        ``events`` member for back-channel logout (a JSON object), ``sid`` and/or ``sub``, no
        ``nonce``, and ``jti`` not seen before.

        Raises:
            LogoutTokenError: see its ``reason`` values.
        """
        if not isinstance(logout_token, str) or not logout_token:
            raise LogoutTokenError("invalid", "no logout_token")
        verifier = self._verifier(typ=None, required=("iss", "aud", "iat", "exp", "jti"))
        try:
            verified = verifier.verify_detailed(logout_token, now=self.clock())
        except JWTKitError as exc:
            raise LogoutTokenError("invalid", f"the logout token is invalid ({exc.code})") from None
        typ = verified.header.get("typ")
        if typ is not None and str(typ).lower() not in ("logout+jwt", "application/logout+jwt"):
            raise LogoutTokenError("wrong_typ", "the token is not a logout token (typ)")
        claims = verified.claims
        events = claims.get("events")
        if not isinstance(events, dict) or not isinstance(
            events.get(BACKCHANNEL_LOGOUT_EVENT), dict
        ):
            raise LogoutTokenError("no_event", "the logout token lacks the logout event")
        if "nonce" in claims:
            raise LogoutTokenError("has_nonce", "a logout token must not carry a nonce")
        sid, sub, jti = claims.get("sid"), claims.get("sub"), claims.get("jti")
        if (sid is not None and not isinstance(sid, str)) or (
            sub is not None and not isinstance(sub, str)
        ):
            raise LogoutTokenError("invalid", "sid and sub must be strings")
        if sid is None and sub is None:
            raise LogoutTokenError("no_sid_or_sub", "the logout token has neither sid nor sub")
        if not isinstance(jti, str) or not jti:
            raise LogoutTokenError("invalid", "the logout token's jti is not a string")
        exp = claims["exp"]
        until = float(exp) + self.config.leeway if math.isfinite(float(exp)) else self.clock()
        if not self.store.claim(f"logout-jti\x00{self.config.issuer}\x00{jti}", until):
            raise LogoutTokenError("replayed", "this logout token was already used")
        return self.store.delete_matching(self.config.issuer, sid=sid, sub=sub)


_KEPT_CLAIMS = (
    "sub",
    "name",
    "preferred_username",
    "given_name",
    "family_name",
    "email",
    "email_verified",
    "auth_time",
    "acr",
    "amr",
    "sid",
)


def _expires_in(tokens: Mapping[str, Any]) -> float:
    value = tokens.get("expires_in")
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1e9:
        return float(value)
    return 300.0  # RFC 6749 §5.1: RECOMMENDED; assume a short lifetime when absent


def _refresh_token(tokens: Mapping[str, Any]) -> str | None:
    value = tokens.get("refresh_token")
    return value if isinstance(value, str) and value else None


def _token_hash(token: str, alg: str) -> str:
    """``at_hash``: the left half of the hash of the ASCII token (OIDC Core §3.1.3.6), with
    the hash of the ID token's ``alg`` (SHA-512 for EdDSA over Ed25519)."""
    name = get_algorithm(alg).hash_name or "SHA512"
    digest = hashlib.new(name.lower(), token.encode()).digest()
    return _b64url(digest[: len(digest) // 2])
