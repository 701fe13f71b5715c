"""Framework-neutral bearer-token checking shared by the ASGI and WSGI integrations.

RFC 6750 (bearer tokens), RFC 9068 (JWT profile for OAuth 2.0 access tokens).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from jwtkit._scope import is_scope_token, split_scope
from jwtkit.errors import (
    InvalidClaimError,
    InvalidDPoPProofError,
    JWKSFetchError,
    JWTKitError,
    RevocationUnavailableError,
    RevokedError,
)
from jwtkit.middleware.dpop import bound_jkt
from jwtkit.revocation import Denylist

if TYPE_CHECKING:
    from jwtkit.jwk import Key
    from jwtkit.jwt import Verifier
    from jwtkit.middleware.csrf import CSRFPolicy
    from jwtkit.middleware.dpop import DPoPPolicy

__all__ = [
    "AuthError",
    "BearerGuard",
    "PublicPaths",
    "Principal",
    "RequestFacts",
    "SessionTokenSource",
    "access_token_verifier",
    "parse_bearer",
    "parse_scopes",
]

logger = logging.getLogger("jwtkit.middleware")

# RFC 6750 §2.1: b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
_B64TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")

# What we say about each error code: fixed strings only (RFC 6750 §3: error_description is
# %x20-21 / %x23-5B / %x5D-7E), so nothing from the token is echoed into a header.
_DESCRIPTIONS: dict[str, str] = {
    "malformed": "the access token is malformed",
    "token_too_large": "the access token is too large",
    "unsupported_algorithm": "the access token's alg is not supported",
    "alg_not_allowed": "the access token's alg is not allowed",
    "unsupported_crit": "the access token has an unsupported crit header",
    "invalid_key": "no usable key for the access token",
    "weak_key": "no usable key for the access token",
    "key_mismatch": "the access token's key does not fit its alg",
    "key_not_found": "no key matches the access token's kid",
    "invalid_signature": "the access token's signature is invalid",
    "invalid_typ": "the token is not an access token (typ)",
    "invalid_claim": "the access token has an invalid claim",
    "missing_claim": "the access token lacks a required claim",
    "expired": "the access token expired",
    "not_yet_valid": "the access token is not valid yet",
    "iat_in_future": "the access token was issued in the future",
    "invalid_audience": "the access token is not meant for this audience",
    "invalid_issuer": "the access token is from an unexpected issuer",
    "revoked": "the access token has been revoked",
}
_GENERIC = "the access token is invalid"


def _quote(value: str) -> str:
    """Return ``value`` as an RFC 9110 quoted-string limited to RFC 6750's safe characters."""
    safe = "".join(c for c in value if 0x20 <= ord(c) <= 0x7E and c not in '"\\')
    return f'"{safe}"'


_DOT_SEGMENT = re.compile(r"(^|/)\.{1,2}(/|$)")


class PublicPaths:
    """Which request paths are served without a token: the one matcher of every adapter (the
    ASGI middleware and the Flask extension answer alike).

    Each entry is one of:

    * an exact path, ``"/health"``: that path, and the same path with one trailing ``/``;
    * a prefix, ending in ``/``: ``"/static/"`` matches ``/static/`` and everything below it;
    * a glob, with ``*`` (any characters within one path segment), ``**`` (any characters,
      ``/`` included) or ``?`` (one character but ``/``): ``"/docs*"``, ``"/files/*/public"``,
      ``"/api/**/openapi.json"``.

    Matching is case-sensitive, on the decoded path. A path with a ``.`` or ``..`` segment or an
    empty segment (``//``) is never public (fail closed: it could resolve elsewhere).

    Args:
        entries: the paths (iterable of str); each must start with ``/``.

    Raises:
        ValueError: an entry does not start with ``/``.
    """

    def __init__(self, entries: Iterable[str] = ()) -> None:
        self.entries = tuple(entries)
        exact: set[str] = set()
        prefixes: list[str] = []
        globs: list[re.Pattern[str]] = []
        for entry in self.entries:
            if not isinstance(entry, str) or not entry.startswith("/"):
                raise ValueError(f"public path {entry!r} must be a str starting with '/'")
            if any(c in entry for c in "*?"):
                globs.append(re.compile(_glob_regex(entry)))
            elif entry.endswith("/"):
                prefixes.append(entry)
            else:
                exact.update((entry, entry + "/"))
        self._exact = frozenset(exact)
        self._prefixes = tuple(prefixes)
        self._globs = tuple(globs)

    def __bool__(self) -> bool:
        return bool(self.entries)

    def __call__(self, path: str) -> bool:
        """True when ``path`` (str, decoded, without the query) is public."""
        if not self.entries or not path.startswith("/"):
            return False
        if "//" in path or _DOT_SEGMENT.search(path):
            return False
        if path in self._exact or path.startswith(self._prefixes):
            return True
        return any(g.fullmatch(path) for g in self._globs)


def _glob_regex(pattern: str) -> str:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return "".join(out)


def parse_scopes(claims: Mapping[str, Any]) -> frozenset[str]:
    """Return the scopes of verified access-token claims (frozenset of str).

    Reads ``scope``, a string in the RFC 6749 §3.3 grammar (RFC 9068 §2.2.3, RFC 8693 §4.2): only
    a single %x20 separates scope-tokens, each made of %x21 / %x23-5B / %x5D-7E. A JSON array of
    scope-tokens in ``scope`` or ``scp`` is accepted too, as some issuers send one. An empty
    string or array, or no claim, means no scope.

    Raises:
        InvalidClaimError: the claim is present but malformed (another separator such as a tab
            or a Unicode space, a doubled or edge space, a forbidden character, a non-string
            member, another type): the token is refused rather than read differently from how
            its issuer meant it.
    """
    name = "scope" if "scope" in claims else "scp"
    if name not in claims:
        return frozenset()
    value = claims[name]
    if value == "" or (isinstance(value, list | tuple) and not value):
        return frozenset()
    if isinstance(value, str):
        try:
            return frozenset(split_scope(value))
        except ValueError:
            pass
    elif isinstance(value, list | tuple) and all(is_scope_token(v) for v in value):
        return frozenset(value)
    raise InvalidClaimError(name, "malformed scope (RFC 6749 §3.3)")


@dataclass(frozen=True)
class Principal:
    """Who the verified access token speaks for, handed to request handlers.

    Attributes:
        claims: the verified claims (dict).
        subject: ``sub`` (str or None).
        scopes: granted scopes (frozenset of str).
        client_id: ``client_id`` (RFC 9068 §2.2; str or None).
        token: the raw access token (str), to forward to downstream services.
    """

    claims: Mapping[str, Any]
    subject: str | None
    scopes: frozenset[str]
    client_id: str | None
    token: str = field(repr=False)

    def has_scopes(self, *scopes: str) -> bool:
        """Return True when every scope in ``scopes`` was granted."""
        return set(scopes) <= self.scopes

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any], token: str) -> Principal:
        """Build a principal from verified claims and the raw token.

        Raises:
            InvalidClaimError: a malformed ``scope``/``scp`` claim (see :func:`parse_scopes`).
        """
        sub = claims.get("sub")
        client_id = claims.get("client_id")
        return cls(
            claims=claims,
            subject=sub if isinstance(sub, str) else None,
            scopes=parse_scopes(claims),
            client_id=client_id if isinstance(client_id, str) else None,
            token=token,
        )


def _principal(
    claims: Mapping[str, Any],
    subject: str | None,
    scopes: frozenset[str],
    client_id: str | None,
    token: str,
) -> Principal:
    """A :class:`Principal` with these fields, made without the frozen dataclass's
    ``object.__setattr__`` per field (at a third of the cost, on every request); equal to
    ``Principal(claims=..., ...)`` in every respect."""
    principal = object.__new__(Principal)
    fields = principal.__dict__
    fields["claims"] = claims
    fields["subject"] = subject
    fields["scopes"] = scopes
    fields["client_id"] = client_id
    fields["token"] = token
    return principal


def _subject_and_client(claims: Mapping[str, Any]) -> tuple[str | None, str | None]:
    sub = claims.get("sub")
    client_id = claims.get("client_id")
    return (
        sub if isinstance(sub, str) else None,
        client_id if isinstance(client_id, str) else None,
    )


class _Verified:
    """One entry of :class:`BearerGuard`'s verified-token cache: what a full verification of
    the token established, kept so that a hit is a dict lookup plus the checks that change
    from one request to the next (time claims, JWK Set freshness, denylist).

    Attributes:
        claims: a private copy of the verified claims (dict; never handed out, never changed).
        until: the cache's own deadline (seconds since the epoch: remembered at + ``cache_ttl``).
        lo, hi: a window of times (seconds since the epoch, floats) in which the verifier's time
            checks certainly pass and ``until`` is not reached
            (:meth:`jwtkit.Verifier.time_window`): a hit inside it skips those checks; outside
            it they are run exactly.
        marker: the fresh JWK Set the token was verified under (the entry dies with it).
        jkt: the token's ``cnf.jkt`` (:func:`~jwtkit.middleware.dpop.bound_jkt`) or None.
        fields: the :class:`Principal`'s ``__dict__`` but for its claims (dict; ``token`` is
            the cache key, equal to every request's token).
        ids: the claims the denylist judges: ``jti``, ``sid``, ``sub``, ``iat`` (None: absent),
            for :meth:`~jwtkit.revocation.Denylist.admits`.
        header: the usual ``Authorization`` header value of the token, ``Bearer <token>``
            (bytes, as ASGI servers give it): the entry's second key.
    """

    __slots__ = (
        "claims",
        "fields",
        "header",
        "hi",
        "ids",
        "jkt",
        "lo",
        "marker",
        "until",
    )

    def __init__(
        self,
        claims: dict[str, Any],
        until: float,
        window: tuple[float, float],
        marker: object,
        principal: Principal,
    ) -> None:
        self.claims = claims
        self.until = until
        self.lo, self.hi = window
        self.marker = marker
        self.jkt = bound_jkt(claims)
        self.ids = tuple(claims.get(name) for name in ("jti", "sid", "sub", "iat"))
        self.fields: dict[str, Any] = {
            "claims": None,
            "subject": principal.subject,
            "scopes": principal.scopes,
            "client_id": principal.client_id,
            "token": principal.token,
        }
        self.header = b"Bearer " + principal.token.encode("ascii")  # a b64token: ASCII

    def principal(self) -> Principal:
        """A new :class:`Principal` of this entry, with its own copy of the claims; equal to
        ``Principal(claims=dict(self.claims), ...)`` in every respect, made without the frozen
        dataclass's ``object.__setattr__`` per field."""
        principal = _new_principal(Principal)
        fields = principal.__dict__
        fields.update(self.fields)
        fields["claims"] = self.claims.copy()
        return principal


_new_principal = object.__new__
_STATIC_KEYS = object()  # the cache marker of a key source without a JWK Set to refresh
_TIMES = (float, int)  # the types of time a cache entry's window is compared with (not bool)


class AuthError(Exception):
    """An authentication or authorization failure, ready to be sent as an HTTP response.

    Attributes:
        status: HTTP status (int): 401, 403, 400, or 503 when keys cannot be fetched.
        error: OAuth error code (``invalid_token``, ``insufficient_scope``, ``invalid_request``,
            RFC 9449's ``invalid_dpop_proof`` and ``use_dpop_nonce``) or None when the request
            carried no credentials (RFC 6750 §3.1).
        description: human-readable description (str or None), safe for a header.
        code: the jwtkit error code behind it (str or None), for logs and tests.
        headers: response headers (dict of str), including ``WWW-Authenticate`` (one challenge
            per name in ``schemes``; the ``DPoP`` one with ``algs``) and ``DPoP-Nonce`` when a
            fresh server nonce is sent (RFC 9449 §7.1, §9).
    """

    def __init__(
        self,
        status: int,
        error: str | None,
        description: str | None,
        *,
        realm: str,
        scope: Iterable[str] = (),
        code: str | None = None,
        schemes: Sequence[str] = ("Bearer",),
        algs: str | None = None,
        nonce: str | None = None,
    ) -> None:
        self.status = status
        self.error = error
        self.description = description
        self.code = code
        params = [f"realm={_quote(realm)}"]
        if error is not None:
            params.append(f"error={_quote(error)}")
            if description:
                params.append(f"error_description={_quote(description)}")
        scopes = " ".join(sorted(scope))
        if scopes:
            params.append(f"scope={_quote(scopes)}")
        challenges = [  # RFC 9449 §7.1: the DPoP challenge names the proof algs
            f"{name} "
            + ", ".join([*params, f"algs={_quote(algs)}"] if name == "DPoP" and algs else params)
            for name in schemes
        ]
        self.headers: dict[str, str] = {"WWW-Authenticate": ", ".join(challenges)}
        if nonce is not None:  # RFC 9449 §9
            self.headers["DPoP-Nonce"] = nonce
        if status == 503:
            self.headers = {"Retry-After": "5"}
        super().__init__(description or error or "authentication required")

    def body(self) -> dict[str, str]:
        """Return the JSON body (dict): ``error`` and ``error_description`` when known."""
        out: dict[str, str] = {}
        if self.error:
            out["error"] = self.error
        if self.description:
            out["error_description"] = self.description
        if not out:
            out["error"] = "unauthorized"
        return out


SESSION_COOKIE = "__Host-jwtkit-session"
CREDENTIALS = ("header", "cookie", "both")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})  # RFC 9110 §9.2.1


@dataclass(frozen=True)
class RequestFacts:
    """What the guard reads from one HTTP request, gathered by a framework adapter.

    Attributes:
        method: the HTTP method (str, upper case).
        authorization: the ``Authorization`` header (str or None).
        cookies: the request's cookies (mapping of name to value).
        origin: the ``Origin`` header (str or None).
        sec_fetch_site: the ``Sec-Fetch-Site`` header (str or None).
        csrf_token: the CSRF header's value (str or None).
        websocket: True for a WebSocket handshake (its Origin is checked like an unsafe
            request's: cross-site WebSocket hijacking).
        dpop: every ``DPoP`` header value (tuple of str; RFC 9449 §4.1 allows exactly one).
        url: the request's URL without query (str: ``scheme://host[:port]/path``) or None.
        path: the request's path (str), appended to a configured ``external_url``.
    """

    method: str
    authorization: str | None = None
    cookies: Mapping[str, str] = field(default_factory=dict)
    origin: str | None = None
    sec_fetch_site: str | None = None
    csrf_token: str | None = None
    websocket: bool = False
    dpop: tuple[str, ...] = ()
    url: str | None = None
    path: str = "/"


class SessionTokenSource(Protocol):
    """Where cookie mode finds the access token of a server-side session (e.g.
    :class:`jwtkit.web.RelyingParty`): refreshed when near expiry, None when the session is
    unknown or ended."""

    def access_token(self, session_id: str) -> str | None:
        """Return the session's current access token (str) or None."""

    async def aaccess_token(self, session_id: str) -> str | None:
        """Async :meth:`access_token`."""


def access_token_verifier(
    key: Any,
    *,
    issuer: str | Sequence[str],
    audience: str | Sequence[str],
    algorithms: Sequence[str],
    leeway: float = 0,
    typ: str | None = "at+jwt",
    required: Sequence[str] = ("iss", "exp", "aud", "iat"),
    **kwargs: Any,
) -> Verifier:
    """Return a :class:`jwtkit.Verifier` with the policy for JWT access tokens (RFC 9068 §4).

    Args:
        key: a Key, KeySet or key resolver such as :class:`jwtkit.jwks_client.JWKSClient`.
        issuer: expected ``iss`` (str or list of str).
        audience: this resource server's identifier(s) expected in ``aud``.
        algorithms: allowed ``alg`` values (no default: RFC 8725 §3.1).
        leeway: clock-skew allowance in seconds (float).
        typ: expected ``typ`` header (default ``"at+jwt"``, RFC 9068 §2.1; None disables).
        required: claims that must be present.
        **kwargs: further :class:`jwtkit.Verifier` options.
    """
    from jwtkit.jwt import Verifier

    return Verifier(
        key,
        algorithms=list(algorithms),
        issuer=issuer,
        audience=audience,
        leeway=leeway,
        typ=typ,
        required=tuple(required),
        **kwargs,
    )


def parse_bearer(authorization: str | None) -> str | None:
    """The credential of an ``Authorization: Bearer`` header value (RFC 6750 §2.1), shared by
    the verifier middleware and the token service.

    Returns None when there is no bearer credential (no header, another scheme), else the
    stripped credential (str; possibly empty, which callers refuse).
    """
    if not authorization:
        return None
    scheme, _, rest = authorization.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return rest.strip()


class BearerGuard:
    """Checks ``Authorization: Bearer`` access tokens with a verifier policy and a denylist.

    Args:
        verifier: a :class:`jwtkit.Verifier` (see :func:`access_token_verifier`).
        denylist: a :class:`jwtkit.revocation.Denylist` kept in sync by a revocation listener
            (None: rely on the access tokens' short lifetime). Without one, or when no listener
            fills it, the guard logs a warning once, at its first request. A denylist whose
            fail-closed listener is down too long makes requests fail with 503.
        realm: the ``realm`` sent in ``WWW-Authenticate`` challenges (str).
        cache_size: how many verified tokens to remember (0 disables; default 1024). A client
            sends the same access token many times; a hit skips the signature check but still
            re-checks the time claims (``exp``, ``nbf``, ``iat`` with the verifier's leeway) and
            the denylist on every request.
        cache_ttl: seconds a verified token is remembered (default 60). When the key source is a
            :class:`~jwtkit.jwks_client.JWKSClient`, entries die as soon as its cached JWK Set
            stops being fresh or is replaced, so a key the issuer withdrew stops verifying at the
            next refresh, exactly as without the cache.
        clock: wall clock in seconds since the epoch (default :func:`time.time`; injectable).
        credentials: where the access token comes from: ``"header"`` (``Authorization: Bearer``
            only, the default), ``"cookie"`` (the session cookie only) or ``"both"`` (the header
            when sent, else the cookie).
        sessions: cookie mode's :class:`SessionTokenSource`, which maps the opaque session
            cookie to the access token kept on the server (required unless ``"header"``).
        csrf: cookie mode's :class:`~jwtkit.middleware.csrf.CSRFPolicy` (required unless
            ``"header"``): unsafe requests carried by the cookie need the app's origin and the
            ``X-CSRF-Token`` header bound to the session (403 otherwise).
        session_cookie: the session cookie's name (default ``__Host-jwtkit-session``).
        dpop: a :class:`~jwtkit.middleware.dpop.DPoPPolicy` to accept ``Authorization: DPoP``
            (RFC 9449 §7) next to ``Bearer`` (or instead of it, ``required=True``). With or
            without it, a DPoP-bound token (``cnf.jkt``) is never accepted under ``Bearer``.

    Raises:
        ValueError: an unknown ``credentials`` value, or cookie mode without ``sessions`` and
            ``csrf``.
    """

    def __init__(
        self,
        verifier: Verifier,
        *,
        denylist: Denylist | None = None,
        realm: str = "jwtkit",
        cache_size: int = 1024,
        cache_ttl: float = 60.0,
        clock: Callable[[], float] = time.time,
        credentials: str = "header",
        sessions: SessionTokenSource | None = None,
        csrf: CSRFPolicy | None = None,
        session_cookie: str = SESSION_COOKIE,
        dpop: DPoPPolicy | None = None,
    ) -> None:
        if credentials not in CREDENTIALS:
            raise ValueError(f"credentials must be one of {CREDENTIALS}")
        if credentials != "header" and (sessions is None or csrf is None):
            raise ValueError("cookie mode needs sessions= and csrf=")
        self.credentials = credentials
        self.sessions = sessions
        self.csrf = csrf
        self.session_cookie = session_cookie
        self.dpop = dpop
        self.verifier = verifier
        self.denylist = denylist
        if denylist is not None:  # revocations outlive exp by this guard's leeway (13.8)
            denylist.keep_for_leeway(verifier.leeway)
        self.realm = realm
        self.cache_size = int(cache_size)
        self.cache_ttl = float(cache_ttl)
        self._cache: dict[str, _Verified] = {}
        self._headers: dict[bytes, _Verified] = {}  # the same entries by _Verified.header
        self._cache_lock = threading.Lock()
        self.clock = clock
        self._source_checked = False
        fresh = getattr(verifier.key_source, "fresh_keyset", None)
        self._fresh_keyset: Callable[[], object] | None = fresh if callable(fresh) else None

    # -- verified-token cache -------------------------------------------------------------

    def _keyset_marker(self) -> object:
        """The JWK Set a verification made now relies on: the key source's fresh set (None
        when it is not fresh), or a constant for a static key or key set."""
        fresh = self._fresh_keyset
        return fresh() if fresh is not None else _STATIC_KEYS

    def _marker(self, key: Key, before: object) -> object:
        """The JWK Set a verification that used ``key`` can be cached under: the fresh set
        now, if it holds that very key (or is the one that was fresh before the verification
        began); None (not cacheable) when the set is not fresh or was replaced by one without
        the key meanwhile. A static key source gives its constant."""
        after = self._keyset_marker()
        if after is _STATIC_KEYS or after is None or after is before:
            return after
        keys = getattr(after, "keys", None)
        if keys is not None and any(k is key for k in keys):
            return after
        return None

    def _cached(self, token: str, now: float) -> _Verified | None:
        """The cache entry of ``token`` if a full verification would still accept it at
        ``now`` (signature, ``iss``, ``aud``, ``typ`` and the other static checks were done once;
        the JWK Set it was verified under still being the fresh one, the cache's ttl and
        ``exp``/``nbf``/``iat`` with the verifier's leeway are checked here, every time: inside
        the entry's window by two comparisons, outside it exactly); else None, the entry
        dropped, so that the full verification answers (with its precise error)."""
        if not self.cache_size:
            return None
        entry = self._cache.get(token)
        if entry is None:
            return None
        if entry.marker is not self._keyset_marker():
            self._forget(token)
            return None
        if type(now) in _TIMES and entry.lo <= now < entry.hi:
            return entry
        if now >= entry.until:
            self._forget(token)
            return None
        try:
            self.verifier.check_times(entry.claims, now)
        except JWTKitError:
            self._forget(token)
            return None
        return entry

    def cached_principal(self, authorization: str | bytes | None) -> Principal | None:
        """The cache-hit path of :meth:`authenticate` in one step, for adapters to try first:
        the :class:`Principal` that :meth:`authenticate` (or :meth:`authenticate_request` with
        this header) would return now, when the header is ``Bearer <token>`` (RFC 6750 §2.1, the
        scheme in any case) with a cached token and every per-request check passes: the time
        window (``exp``/``nbf``/``iat`` with leeway, the cache's ttl), the JWK Set it was
        verified under still being the fresh one, no DPoP binding (RFC 9449 §7.2), the denylist.

        Args:
            authorization: the ``Authorization`` header value (str, or bytes as ASGI gives it,
                read as latin-1; None: no header).

        Returns:
            The principal (its own copy of the claims), or None whenever anything else is to be
            said, or checked more closely (no such header, another form of it, a token not
            cached, a time outside the window, a DPoP policy or cookie credentials, a refusal):
            then call :meth:`authenticate`/:meth:`authenticate_request`, which answers, with
            the precise error when it refuses. Raises no :class:`AuthError` (a refusal is
            None); errors of the guard's own parts (its ``clock``, the key source, a denylist
            subclass's ``check`` raising something other than its revocation errors) propagate.
        """
        if (
            authorization is None
            or self.dpop is not None
            or self.credentials == "cookie"
            or not self.cache_size
        ):
            return None
        if isinstance(authorization, bytes):
            entry = self._headers.get(authorization)
            text = authorization.decode("latin-1") if entry is None else ""
        else:
            entry, text = None, authorization
        if entry is None:  # not the usual "Bearer <token>" of a cached token: look closer
            if not text.startswith("Bearer ") and text[:7].lower() != "bearer ":
                return None
            # A cached token is a non-empty b64token: with the header starting with a letter
            # and ending in a token character, parse_bearer() would give exactly this slice.
            entry = self._cache.get(text[7:])
            if entry is None:
                return None
        now = self.clock()
        if type(now) not in _TIMES or not entry.lo <= now < entry.hi or entry.jkt is not None:
            return None
        if entry.marker is not self._keyset_marker():  # verified under the fresh JWK Set
            return None
        denylist = self.denylist
        if denylist is not None:
            if type(denylist) is Denylist:
                jti, sid, sub, iat = entry.ids
                if not denylist.admits(jti, sid, sub, iat):
                    return None
            else:  # a subclass may judge otherwise: its own check()
                try:
                    denylist.check(entry.claims)
                except (RevokedError, RevocationUnavailableError):
                    return None
        return entry.principal()

    def _forget(self, token: str) -> None:
        with self._cache_lock:  # every mutation holds the lock; lookups need none
            entry = self._cache.pop(token, None)
            if entry is not None:
                self._headers.pop(entry.header, None)

    def _remember(
        self, token: str, principal: Principal, key: Key, before: object, now: float
    ) -> Principal:
        """Cache ``principal``'s token, fully verified with ``key`` and accepted at ``now``,
        under the JWK Set :meth:`_marker` names (not at all when it names none; ``before``: the
        marker taken before the verification). Returns ``principal``."""
        if not self.cache_size:
            return principal
        marker = self._marker(key, before)
        if marker is not None:
            claims = dict(principal.claims)
            until = now + self.cache_ttl
            window = self.verifier.time_window(claims, now, until)
            entry = _Verified(claims, until, window, marker, principal)
            with self._cache_lock:
                if len(self._cache) >= self.cache_size:
                    oldest = self._cache.pop(next(iter(self._cache)))  # oldest first
                    self._headers.pop(oldest.header, None)
                self._cache[token] = entry
                self._headers[entry.header] = entry
        return principal

    def extract(self, authorization: str | None) -> str:
        """Return the bearer token from an ``Authorization`` header value (RFC 6750 §2.1).

        Raises:
            AuthError: 401 without error code when there is no bearer credential (RFC 6750
                §3.1); 400 ``invalid_request`` when the credential is syntactically wrong.
        """
        token = parse_bearer(authorization)
        if token is None:
            raise AuthError(401, None, None, realm=self.realm, **self._challenge())
        if token in self._cache:  # only well-formed tokens are ever cached
            return token
        if not token or _B64TOKEN.fullmatch(token) is None:
            raise AuthError(
                400,
                "invalid_request",
                "the Authorization header is not a valid bearer credential",
                realm=self.realm,
                **self._challenge(),
            )
        return token

    def _challenge(self, dpop_request: bool = False) -> dict[str, Any]:
        """The ``schemes``/``algs`` of this guard's challenges (RFC 9449 §7.1)."""
        if self.dpop is None:
            return {}
        if dpop_request or self.dpop.required:
            return {"schemes": ("DPoP",), "algs": self.dpop.algs}
        return {"schemes": ("Bearer", "DPoP"), "algs": self.dpop.algs}

    def _credential(self, facts: RequestFacts) -> tuple[str, bool]:
        """The access token of the ``Authorization`` header and whether it came under the
        ``DPoP`` scheme (RFC 9449 §7.1); only called with a DPoP policy.

        Raises:
            AuthError: as :meth:`extract`; 400 ``invalid_request`` for a ``Bearer`` token sent
                with a ``DPoP`` proof; 401 ``invalid_token`` for ``Bearer`` when DPoP is required.
        """
        assert self.dpop is not None
        scheme, _, rest = (facts.authorization or "").strip().partition(" ")
        if scheme.lower() == "dpop":
            token = rest.strip()
            if token not in self._cache and (not token or _B64TOKEN.fullmatch(token) is None):
                raise AuthError(
                    400,
                    "invalid_request",
                    "the Authorization header is not a valid DPoP credential",
                    realm=self.realm,
                    **self._challenge(True),
                )
            return token, True
        token = self.extract(facts.authorization)
        if self.dpop.required:
            raise AuthError(
                401,
                "invalid_token",
                "this resource requires a DPoP-bound access token",
                realm=self.realm,
                code="dpop_required",
                **self._challenge(True),
            )
        if facts.dpop:
            raise AuthError(
                400,
                "invalid_request",
                "a DPoP proof was sent with a Bearer access token",
                realm=self.realm,
                code="invalid_dpop_proof",
                **self._challenge(),
            )
        return token, False

    def _check_proof(
        self, facts: RequestFacts, token: str, claims: dict[str, Any], dpop: bool, now: float
    ) -> None:
        """Check the DPoP proof of a ``DPoP``-scheme request against its verified token (RFC
        9449 §7.1), on every request, cached token or not; nothing to do under ``Bearer``.

        Raises:
            AuthError: 401 with the proof's error code (``invalid_dpop_proof``,
                ``use_dpop_nonce`` with a fresh ``DPoP-Nonce``).
        """
        if not dpop:
            return
        assert self.dpop is not None
        try:
            self.dpop.check(
                facts.dpop,
                method=facts.method,
                url=self.dpop.htu(facts.url, facts.path),
                token=token,
                claims=claims,
                now=now,
            )
        except InvalidDPoPProofError as exc:
            raise AuthError(
                401,
                exc.code,
                str(exc)[:200],
                realm=self.realm,
                code=exc.code,
                nonce=self.dpop.fresh_nonce(exc),
                **self._challenge(True),
            ) from None

    def _error(self, exc: JWTKitError, dpop: bool = False) -> AuthError:
        if isinstance(exc, JWKSFetchError):
            return AuthError(
                503, None, "the issuer's keys are unavailable", realm=self.realm, code=exc.code
            )
        if isinstance(exc, RevocationUnavailableError):
            return AuthError(
                503, None, "revocation status is unavailable", realm=self.realm, code=exc.code
            )
        return AuthError(
            401,
            "invalid_token",
            _DESCRIPTIONS.get(exc.code, _GENERIC),
            realm=self.realm,
            code=exc.code,
            **self._challenge(dpop),
        )

    def _downgrade(self) -> AuthError:
        """RFC 9449 §7.2: a DPoP-bound token under ``Bearer`` (its binding would be lost)."""
        return AuthError(
            401,
            "invalid_token",
            "the access token is DPoP-bound: send it under the DPoP scheme with a proof",
            realm=self.realm,
            code="dpop_bound_token",
            **self._challenge(True),
        )

    def _check_revocation(self, claims: Mapping[str, Any], dpop: bool) -> None:
        """The denylist's verdict on verified claims, on every request (cached or not).

        Raises:
            AuthError: 401 ``invalid_token`` (code ``revoked``), or 503 when the denylist's
                fail-closed sources are down.
        """
        if self.denylist is not None:
            try:
                self.denylist.check(claims)
            except (RevokedError, RevocationUnavailableError) as exc:
                raise self._error(exc, dpop) from None

    def _finish(self, claims: dict[str, Any], token: str, *, dpop: bool = False) -> Principal:
        """The checks of freshly verified claims beyond the verifier's, then the
        :class:`Principal` (whose ``claims`` is ``claims`` itself).

        Raises:
            AuthError: 401 ``invalid_token``: a DPoP-bound token under ``Bearer`` (§7.2), a
                non-string ``jti``/``sid``/``sub``, a revoked token, a malformed scope; 503 when
                revocation status is unavailable.
        """
        if not dpop and bound_jkt(claims) is not None:  # RFC 9449 §7.2: no downgrade to Bearer
            raise self._downgrade()
        for name in ("jti", "sid", "sub"):  # denylist keys: a non-string one is refused (no 500)
            if not isinstance(claims.get(name, ""), str):
                raise AuthError(
                    401,
                    "invalid_token",
                    _DESCRIPTIONS["invalid_claim"],
                    realm=self.realm,
                    code="invalid_claim",
                    **self._challenge(dpop),
                )
        if not self._source_checked:
            self._warn_without_source()
        self._check_revocation(claims, dpop)
        try:
            scopes = parse_scopes(claims)
        except JWTKitError as exc:  # a malformed scope claim
            raise self._error(exc, dpop) from None
        subject, client_id = _subject_and_client(claims)
        return _principal(claims, subject, scopes, client_id, token)

    def _finish_cached(self, entry: _Verified, *, dpop: bool = False) -> Principal:
        """:meth:`_finish` for a cache hit: the same checks in the same order, those that
        cannot change for the same token and policy (claim types, scope syntax) having passed
        when it was cached. The principal gets its own copy of the claims.

        Raises:
            AuthError: as :meth:`_finish`.
        """
        if not dpop and entry.jkt is not None:
            raise self._downgrade()
        self._check_revocation(entry.claims, dpop)
        return entry.principal()

    def _warn_without_source(self) -> None:
        """Log once when nothing tells this guard about revocations (no denylist, or a
        denylist no listener fills): revoked tokens then stay valid here until their ``exp``."""
        self._source_checked = True
        if self.denylist is None or not self.denylist.sources:
            logger.warning(
                "jwtkit: this verifier has no revocation source (%s): revoked access tokens "
                "are accepted until they expire; run a revocation listener "
                "(jwtkit.middleware.listener) on its denylist",
                "no denylist" if self.denylist is None else "no listener fills its denylist",
            )

    def authenticate(self, authorization: str | None, *, now: float | None = None) -> Principal:
        """Verify the request's bearer token; returns a :class:`Principal`.

        Args:
            authorization: the ``Authorization`` header value (str or None).
            now: the current time in seconds since the epoch (None: the clock).

        Raises:
            AuthError: 401 ``invalid_token`` (or no error code when no token was sent), 400
                ``invalid_request``, or 503 when the issuer's keys cannot be fetched.
        """
        token = self.extract(authorization)
        now = self.clock() if now is None else now
        entry = self._cached(token, now)
        if entry is not None:
            return self._finish_cached(entry)
        before = self._keyset_marker() if self.cache_size else None
        try:
            verified = self.verifier.verify_detailed(token, now=now)
        except JWTKitError as exc:
            raise self._error(exc) from None
        principal = self._finish(verified.claims, token)
        return self._remember(token, principal, verified.key, before, now)

    async def aauthenticate(
        self, authorization: str | None, *, now: float | None = None
    ) -> Principal:
        """Async :meth:`authenticate`: keys are fetched without blocking the event loop."""
        token = self.extract(authorization)
        now = self.clock() if now is None else now
        entry = self._cached(token, now)
        if entry is not None:
            return self._finish_cached(entry)
        before = self._keyset_marker() if self.cache_size else None
        try:
            verified = await self.verifier.averify_detailed(token, now=now)
        except JWTKitError as exc:
            raise self._error(exc) from None
        principal = self._finish(verified.claims, token)
        return self._remember(token, principal, verified.key, before, now)

    def _authenticate_dpop(self, facts: RequestFacts, now: float | None) -> Principal:
        """:meth:`authenticate_request` with a DPoP policy, header credentials."""
        token, dpop = self._credential(facts)
        now = self.clock() if now is None else now
        entry = self._cached(token, now)
        if entry is not None:
            self._check_proof(facts, token, dict(entry.claims), dpop, now)
            return self._finish_cached(entry, dpop=dpop)
        before = self._keyset_marker() if self.cache_size else None
        try:
            verified = self.verifier.verify_detailed(token, now=now)
        except JWTKitError as exc:
            raise self._error(exc, dpop) from None
        self._check_proof(facts, token, verified.claims, dpop, now)
        principal = self._finish(verified.claims, token, dpop=dpop)
        return self._remember(token, principal, verified.key, before, now)

    async def _aauthenticate_dpop(self, facts: RequestFacts, now: float | None) -> Principal:
        """Async :meth:`_authenticate_dpop`."""
        token, dpop = self._credential(facts)
        now = self.clock() if now is None else now
        entry = self._cached(token, now)
        if entry is not None:
            self._check_proof(facts, token, dict(entry.claims), dpop, now)
            return self._finish_cached(entry, dpop=dpop)
        before = self._keyset_marker() if self.cache_size else None
        try:
            verified = await self.verifier.averify_detailed(token, now=now)
        except JWTKitError as exc:
            raise self._error(exc, dpop) from None
        self._check_proof(facts, token, verified.claims, dpop, now)
        principal = self._finish(verified.claims, token, dpop=dpop)
        return self._remember(token, principal, verified.key, before, now)

    # -- cookie mode -----------------------------------------------------------------------

    @property
    def csrf_header(self) -> str:
        """The request header that carries the CSRF token (str; ``X-CSRF-Token`` by default)."""
        return self.csrf.header_name if self.csrf is not None else "X-CSRF-Token"

    def _session_id(self, facts: RequestFacts) -> str | None:
        """Return the session id when the request is carried by the session cookie, after the
        CSRF checks; None when the ``Authorization`` header is to be used instead.

        Raises:
            AuthError: 401 (no credential), 403 :class:`~jwtkit.middleware.csrf.CSRFError`.
        """
        if self.credentials == "header" or (
            self.credentials == "both" and facts.authorization is not None
        ):
            return None
        assert self.csrf is not None  # checked in __init__
        unsafe = facts.websocket or facts.method.upper() not in SAFE_METHODS
        if unsafe:  # first, before any session is looked up
            self.csrf.check_origin("POST", facts.origin, facts.sec_fetch_site)
        session_id = facts.cookies.get(self.session_cookie)
        if not session_id:
            raise AuthError(401, None, None, realm=self.realm)
        if unsafe and not facts.websocket:
            self.csrf.check_token(
                session_id, facts.csrf_token, facts.cookies.get(self.csrf.cookie_name)
            )
        return session_id

    def _session_ended(self) -> AuthError:
        return AuthError(
            401, "invalid_token", "the session has ended", realm=self.realm, code="session_ended"
        )

    def authenticate_request(self, facts: RequestFacts, *, now: float | None = None) -> Principal:
        """Authenticate one request by its ``Authorization`` header or its session cookie,
        as ``credentials`` says; returns a :class:`Principal`.

        In cookie mode an unsafe request must come from the app's origin and carry the CSRF
        header bound to the session; the session's access token is then verified as a bearer
        token would be.

        Raises:
            AuthError: as :meth:`authenticate`; 401 ``invalid_token`` (code ``session_ended``)
                for an unknown or ended session; 403 CSRFError.
        """
        session_id = self._session_id(facts)
        if session_id is None:
            if self.dpop is None:
                return self.authenticate(facts.authorization, now=now)
            return self._authenticate_dpop(facts, now)
        assert self.sessions is not None
        token = self.sessions.access_token(session_id)
        if token is None:
            raise self._session_ended()
        return self.authenticate("Bearer " + token, now=now)

    async def aauthenticate_request(
        self, facts: RequestFacts, *, now: float | None = None
    ) -> Principal:
        """Async :meth:`authenticate_request`."""
        session_id = self._session_id(facts)
        if session_id is None:
            if self.dpop is None:
                return await self.aauthenticate(facts.authorization, now=now)
            return await self._aauthenticate_dpop(facts, now)
        assert self.sessions is not None
        token = await self.sessions.aaccess_token(session_id)
        if token is None:
            raise self._session_ended()
        return await self.aauthenticate("Bearer " + token, now=now)

    def require(self, principal: Principal, scopes: Iterable[str]) -> Principal:
        """Return ``principal`` if it holds every scope in ``scopes``.

        Raises:
            AuthError: 403 ``insufficient_scope`` with the needed ``scope`` (RFC 6750 §3.1).
        """
        needed = frozenset(scopes)
        missing = needed - principal.scopes
        if missing:
            raise AuthError(
                403,
                "insufficient_scope",
                "the access token lacks a required scope",
                realm=self.realm,
                scope=needed,
                code="insufficient_scope",
            )
        return principal
