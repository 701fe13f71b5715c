"""A cached client for a remote JWK Set (RFC 7517 §5), found directly or through issuer metadata.

:class:`JWKSClient` fetches the issuer's JWK Set over HTTP(S) with httpx, caches it for the
``Cache-Control: max-age`` the issuer sends (RFC 9111 §5.2.2.1), clamped to configured bounds, and
implements the :class:`jwtkit.jwk.KeyResolver` protocol, so a :class:`jwtkit.Verifier` takes it as
its key source::

    client = JWKSClient.from_issuer("https://issuer.example")
    verifier = jwtkit.Verifier(client, algorithms=["ES256"], issuer="https://issuer.example",
                               audience="https://api.example", typ="at+jwt")
    claims = verifier.verify(token)            # sync: fetches with httpx.Client when needed
    claims = await verifier.averify(token)     # async: fetches with httpx.AsyncClient

Behaviour:

* discovery: :meth:`JWKSClient.from_issuer` reads RFC 8414 authorization server metadata
  (``/.well-known/oauth-authorization-server``), falling back to OpenID Connect Discovery 1.0 §4
  (``/.well-known/openid-configuration``), and requires the metadata's ``issuer`` to equal the
  issuer URL exactly (RFC 8414 §3.3);
* a token whose ``kid`` is unknown triggers a refetch, at most once per ``refetch_cooldown``
  seconds, so forged ``kid`` values cannot make us hammer the issuer;
* one fetch is in flight at a time, across threads, event loops and the sync and async paths
  (a :class:`threading.Lock`, which async callers poll without blocking their loop behind an
  :class:`asyncio.Lock` per event loop); callers that waited for a fetch use its result instead
  of fetching again;
* when the issuer is unreachable the cached keys keep being served for ``max_stale`` seconds
  after they expired; after that, :class:`~jwtkit.errors.JWKSFetchError` is raised;
* it never fetches a URL taken from a token: ``jku`` and ``x5u`` header parameters are ignored
  (RFC 8725 §3.10); redirects are not followed;
* keys the client does not understand are skipped (RFC 7517 §5: "implementations SHOULD ignore
  JWKs within a JWK Set that use kty values that are not understood"); keys named with the
  RFC 9864 fully-specified algorithm names (``alg: "Ed25519"``) are accepted as well as ``EdDSA``.

httpx is imported lazily, when the first fetch happens, so ``import jwtkit`` does not load it.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import re
import threading
import time
import weakref
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple
from urllib.parse import urlsplit, urlunsplit

from jwtkit.errors import (
    JWKSFetchError,
    JWTKitError,
    KeyNotFoundError,
    MalformedError,
    PyJWKClientError,
)

if TYPE_CHECKING:
    import httpx

    from jwtkit.jwk import Key, KeySet

__all__ = ["JWKSClient", "PyJWKClient", "SigningKeyNotFoundError"]

logger = logging.getLogger("jwtkit.jwks_client")

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_MAX_DELTA = 2**31  # RFC 9111 §1.2.2: larger delta-seconds count as 2147483648
_NO_CACHE = re.compile(r"(?:^|,)\s*(?:no-store|no-cache)\s*(?:,|=|$)", re.IGNORECASE)
_ACCEPT = "application/jwk-set+json, application/json;q=0.9"
_LOOPBACK_NAMES = ("localhost",)
# JWK members that only a secret or a private key has (RFC 7518 §6.2.2, §6.3.2, §6.4.1; RFC 8037).
_SECRET_MEMBERS = frozenset(("d", "p", "q", "dp", "dq", "qi", "oth", "k"))


class _Fetched(NamedTuple):
    """One HTTP response, read in full (bounded by ``max_response_bytes``)."""

    status_code: int
    headers: Mapping[str, str]
    body: bytes


def _is_loopback(host: str | None) -> bool:
    if host is None:
        return False
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(url: str, *, allow_http: bool, what: str) -> str:
    """Return ``url`` if it is an absolute https URL (or http on loopback / when allowed)."""
    if not isinstance(url, str):
        raise JWKSFetchError(f"{what} is not a string")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError:
        raise JWKSFetchError(f"{what} is not a valid URL: {url[:200]!r}") from None
    if parts.scheme == "https" and hostname:
        return url
    if parts.scheme == "http" and hostname and (allow_http or _is_loopback(hostname)):
        return url
    raise JWKSFetchError(f"{what} must be an absolute https URL: {url!r}")


def metadata_urls(issuer: str) -> list[str]:
    """Return the metadata URLs to try for ``issuer`` (list of str), in order.

    RFC 8414 §3.1 inserts ``/.well-known/oauth-authorization-server`` between the host and the
    issuer's path; OpenID Connect Discovery 1.0 §4 appends ``/.well-known/openid-configuration``
    to the issuer (and, as widely deployed, RFC 8414 §5 allows the same insertion rule for it).
    """
    parts = urlsplit(issuer)
    path = parts.path.rstrip("/")
    rfc8414 = urlunsplit(
        (parts.scheme, parts.netloc, "/.well-known/oauth-authorization-server" + path, "", "")
    )
    oidc = urlunsplit(
        (parts.scheme, parts.netloc, path + "/.well-known/openid-configuration", "", "")
    )
    return [rfc8414, oidc]


def parse_max_age(cache_control: str | None, age: str | None = None) -> float | None:
    """Return the freshness lifetime in seconds from a ``Cache-Control`` header (RFC 9111 §5.2.2).

    ``no-store``/``no-cache`` give 0; ``max-age=N`` gives N minus the ``Age`` header (if any),
    N above 2147483648 counting as 2147483648 (RFC 9111 §1.2.2); no usable directive gives None.
    """
    if not cache_control:
        return None
    if _NO_CACHE.search(cache_control):
        return 0.0
    match = _MAX_AGE.search(cache_control)
    if match is None:
        return None
    digits = match.group(1).lstrip("0") or "0"
    value = float(_MAX_DELTA) if len(digits) > 10 else float(min(int(digits), _MAX_DELTA))
    if age is not None and age.strip().isdigit():
        value -= float(age.strip())
    return max(value, 0.0)


class JWKSClient:
    """Fetches, caches and serves the keys of a remote JWK Set; a :class:`KeyResolver`.

    Args:
        jwks_uri: the JWK Set URL (str, https; http is accepted for loopback hosts or with
            ``allow_http=True``). Use :meth:`from_issuer` to find it through issuer metadata.
        min_ttl: lower bound, in seconds, for how long a fetched set is fresh (default 60).
        max_ttl: upper bound, in seconds (default 86400).
        default_ttl: freshness, in seconds, when the response has no ``max-age`` (default 300).
        refetch_cooldown: minimum seconds between two fetches forced by an unknown ``kid`` or
            retried after a failure (default 10).
        max_stale: seconds after expiry during which cached keys are still served when the
            issuer cannot be reached (default 3600; 0 disables).
        timeout: HTTP timeout in seconds for connect/read/write/pool, and the most one
            response may take to arrive in full (default 5).
        max_response_bytes: cap on the size of a JWK Set or metadata document (default 512 KiB).
        allow_http: allow plain ``http`` URLs for non-loopback hosts (default False).
        headers: extra request headers (e.g. ``User-Agent``).
        clock: monotonic clock in seconds (injectable for tests; default :func:`time.monotonic`).
        http_client: an ``httpx.Client`` to use for sync fetches (default: one per fetch).
        async_http_client: an ``httpx.AsyncClient`` for async fetches (default: one per fetch).

    Raises (from the resolve methods): :class:`~jwtkit.errors.KeyNotFoundError` when no key
    matches even after a refetch, :class:`~jwtkit.errors.JWKSFetchError` when the set cannot be
    fetched and no usable cached copy exists.
    """

    def __init__(
        self,
        jwks_uri: str | None,
        *,
        issuer: str | None = None,
        min_ttl: float = 60.0,
        max_ttl: float = 86400.0,
        default_ttl: float = 300.0,
        refetch_cooldown: float = 10.0,
        max_stale: float = 3600.0,
        timeout: float = 5.0,
        max_response_bytes: int = 512 * 1024,
        allow_http: bool = False,
        headers: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
    ) -> None:
        if jwks_uri is None and issuer is None:
            raise ValueError("give jwks_uri or issuer")
        if not 0 <= min_ttl <= max_ttl:
            raise ValueError("need 0 <= min_ttl <= max_ttl")
        self.allow_http = allow_http
        self.jwks_uri = (
            _check_url(jwks_uri, allow_http=allow_http, what="jwks_uri")
            if jwks_uri is not None
            else None
        )
        self.issuer = issuer
        self.metadata: dict[str, Any] | None = None
        self.min_ttl = float(min_ttl)
        self.max_ttl = float(max_ttl)
        self.default_ttl = min(max(float(default_ttl), self.min_ttl), self.max_ttl)
        self.refetch_cooldown = float(refetch_cooldown)
        self.max_stale = float(max_stale)
        self.timeout = float(timeout)
        self.max_response_bytes = int(max_response_bytes)
        self.headers = {"Accept": _ACCEPT, **dict(headers or {})}
        self.clock = clock
        self._http_client = http_client
        self._async_http_client = async_http_client
        self._keyset: KeySet | None = None
        self._expires_at = 0.0  # clock time at which the cached set stops being fresh
        self._last_attempt: float | None = None  # clock time of the last fetch attempt
        self._completed = 0  # counts finished fetch attempts (single flight: waiters compare it)
        self._in_flight = False
        self._last_error: JWKSFetchError | None = None
        self.fetch_count = 0  # successful or failed HTTP fetches of the JWK Set (for metrics)
        self._lock = threading.Lock()
        self._alocks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"JWKSClient(jwks_uri={self.jwks_uri!r}, issuer={self.issuer!r})"

    @classmethod
    def from_issuer(cls, issuer: str, **kwargs: Any) -> JWKSClient:
        """Return a client whose JWK Set URL comes from ``issuer``'s metadata.

        The metadata (RFC 8414 §3, falling back to OpenID Connect Discovery 1.0 §4) is fetched
        lazily, on first use, by the sync or the async path; its ``issuer`` must equal ``issuer``
        exactly (RFC 8414 §3.3) and its ``jwks_uri`` must be an https URL (or http on loopback).

        Args:
            issuer: the issuer identifier URL (str), exactly as it appears in tokens' ``iss``.
            **kwargs: the same keyword options as :class:`JWKSClient`.

        Raises:
            JWKSFetchError: ``issuer`` is not an acceptable URL.
        """
        _check_url(issuer, allow_http=bool(kwargs.get("allow_http")), what="issuer")
        return cls(None, issuer=issuer, **kwargs)

    # -- public API ------------------------------------------------------------------------

    @property
    def keyset(self) -> KeySet | None:
        """The cached :class:`~jwtkit.jwk.KeySet`, or None before the first successful fetch."""
        return self._keyset

    def get_keyset(self, *, force: bool = False) -> KeySet:
        """Return the JWK Set, fetching it (sync) when the cache is not fresh.

        Args:
            force: refetch even if fresh (still subject to ``refetch_cooldown``).

        Raises:
            JWKSFetchError: the fetch failed and no cached set is within ``max_stale``.
        """
        need, gen = self._need_fetch(force)
        if need:
            # On an event loop's thread never block: the fetch holding the lock may be a task of
            # this very loop (a sync verify() inside async code), which would deadlock.
            try:
                asyncio.get_running_loop()
                on_loop = True
            except RuntimeError:
                on_loop = False
            if self._lock.acquire(blocking=not on_loop):
                try:
                    if self._completed == gen:  # nobody fetched while we waited for the lock
                        self._fetch_sync()
                finally:
                    self._lock.release()
        return self._serve()

    async def aget_keyset(self, *, force: bool = False) -> KeySet:
        """Async :meth:`get_keyset`: fetches with ``httpx.AsyncClient`` under an asyncio lock."""
        need, gen = self._need_fetch(force)
        if need:
            async with self._async_lock():
                # The threading lock is shared with the sync path and other event loops; poll
                # it (never block the loop) until it is ours or another fetch has finished.
                while not self._lock.acquire(blocking=False):
                    if self._completed != gen:
                        break
                    await asyncio.sleep(0.005)
                else:
                    try:
                        if self._completed == gen:
                            await self._fetch_async()
                    finally:
                        self._lock.release()
        return self._serve()

    def resolve_key(self, header: Mapping[str, Any]) -> Key:
        """Return the key for a JWS protected header (KeyResolver protocol, RFC 7515 §4.1.4).

        Looks the ``kid`` (and ``alg``) up in the cached set; when nothing matches, refetches
        once (subject to ``refetch_cooldown``) and looks again. ``jku``/``x5u`` are ignored.

        Raises:
            KeyNotFoundError: no key matches. JWKSFetchError: no usable JWK Set.
        """
        keyset = self.get_keyset()
        try:
            return keyset.resolve_key(header)
        except KeyNotFoundError:
            fresh = self.get_keyset(force=True)
            if fresh is keyset:
                raise
            return fresh.resolve_key(header)

    async def aresolve_key(self, header: Mapping[str, Any]) -> Key:
        """Async :meth:`resolve_key` (KeyResolver protocol); never blocks the event loop."""
        keyset = self.fresh_keyset()
        if keyset is None:
            keyset = await self.aget_keyset()
        try:
            return keyset.resolve_key(header)
        except KeyNotFoundError:
            fresh = await self.aget_keyset(force=True)
            if fresh is keyset:
                raise
            return fresh.resolve_key(header)

    def invalidate(self) -> None:
        """Mark the cached set as expired (it stays usable as a stale copy)."""
        self._expires_at = 0.0

    # -- cache logic -----------------------------------------------------------------------

    def fresh_keyset(self) -> KeySet | None:
        """Return the cached KeySet if it is still fresh (no I/O), else None."""
        if self._keyset is not None and self.clock() < self._expires_at:
            return self._keyset
        return None

    def _need_fetch(self, force: bool) -> tuple[bool, int]:
        """Decide whether to fetch or wait for a fetch; returns (need, completed counter seen)."""
        now = self.clock()
        gen = self._completed
        fresh = self._keyset is not None and now < self._expires_at
        if fresh and not force:
            return False, gen
        if self._in_flight:
            if self._keyset is not None and not force:
                return False, gen  # a refresh is under way: serve the cached keys meanwhile
            return True, gen  # wait for the fetch in flight and use its result
        if self._last_attempt is not None and now - self._last_attempt < self.refetch_cooldown:
            # Recently tried: a forced refetch waits for the cooldown, and a failed refresh is
            # not retried on every request. With no keys at all, report the last error.
            return False, gen
        return True, gen

    def _serve(self) -> KeySet:
        keyset = self._keyset
        if keyset is None:
            raise self._last_error or JWKSFetchError("JWK Set not fetched yet")
        now = self.clock()
        if now >= self._expires_at + self.max_stale:
            raise JWKSFetchError(
                "JWK Set is stale beyond max_stale and could not be refreshed"
                + (f": {self._last_error.message}" if self._last_error else "")
            )
        return keyset

    def _ttl(self, response: _Fetched) -> float:
        ttl = parse_max_age(response.headers.get("cache-control"), response.headers.get("age"))
        if ttl is None:
            return self.default_ttl
        return min(max(ttl, self.min_ttl), self.max_ttl)

    def _begin(self) -> None:
        self._in_flight = True
        self._last_attempt = self.clock()

    def _end(self) -> None:
        self._completed += 1
        self._in_flight = False

    def _succeed(self, keyset: KeySet, ttl: float) -> None:
        self._keyset = keyset
        self._expires_at = self.clock() + ttl
        self._last_error = None

    def _fail(self, exc: JWKSFetchError) -> None:
        self._last_error = exc
        logger.warning("jwtkit: JWK Set fetch failed (%s); serving cached keys if any", exc)

    # -- parsing ---------------------------------------------------------------------------

    def _read_json(self, response: _Fetched, what: str) -> Any:
        if response.status_code != 200:
            raise JWKSFetchError(f"{what}: HTTP status {response.status_code}")
        from jwtkit._json import loads_object

        try:  # strict: duplicate member names, NaN, deep nesting and non-UTF-8 are refused
            return loads_object(response.body, what)
        except MalformedError as exc:
            raise JWKSFetchError(exc.message) from exc

    def _parse_jwks(self, doc: Any) -> KeySet:
        from jwtkit.jwk import Key, KeySet

        if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
            raise JWKSFetchError("JWK Set: not a JSON object with a 'keys' array (RFC 7517 §5)")
        keys: list[Key] = []
        for entry in doc["keys"]:
            if not isinstance(entry, dict):
                continue
            secret = sorted(_SECRET_MEMBERS.intersection(entry))
            if secret or entry.get("kty") == "oct":
                # A published set holds public keys only (RFC 7517 §5, RFC 7518 §6.3.2): a shared
                # secret served over the network, or a private key anyone could read, is never
                # trusted, and the whole document is refused (the cache keeps the last good set).
                raise JWKSFetchError(
                    "JWK Set: a member is a secret or private key"
                    f" (kid={str(entry.get('kid'))[:64]!r}, members {secret or ['kty=oct']}):"
                    " a published JWK Set holds public keys only"
                )
            if entry.get("use") not in (None, "sig"):
                continue  # encryption keys never verify signatures (RFC 7517 §4.2)
            try:
                key = Key.from_jwk(entry)
            except JWTKitError as exc:  # unknown kty/crv/alg: skip (RFC 7517 §5)
                logger.info("jwtkit: skipping a JWK (kid=%r): %s", entry.get("kid"), exc)
                continue
            keys.append(key)
        try:
            return KeySet(keys)
        except JWTKitError as exc:  # e.g. two keys of one type share a kid
            raise JWKSFetchError(f"JWK Set: {exc.message}") from exc

    def _parse_metadata(self, doc: Any) -> str:
        if not isinstance(doc, dict):
            raise JWKSFetchError("issuer metadata is not a JSON object")
        if doc.get("issuer") != self.issuer:
            raise JWKSFetchError(
                "issuer metadata 'issuer' does not match the issuer URL (RFC 8414 §3.3)"
            )
        jwks_uri = doc.get("jwks_uri")
        if not isinstance(jwks_uri, str):
            raise JWKSFetchError("issuer metadata has no 'jwks_uri'")
        self.metadata = doc
        return _check_url(jwks_uri, allow_http=self.allow_http, what="jwks_uri")

    # -- sync I/O --------------------------------------------------------------------------

    def _sync_get(self, url: str) -> _Fetched:
        import httpx

        deadline = time.monotonic() + self.timeout
        try:
            with contextlib.ExitStack() as stack:
                client = self._http_client or stack.enter_context(
                    httpx.Client(timeout=self.timeout, follow_redirects=False)
                )
                response = stack.enter_context(
                    client.stream("GET", url, headers=self.headers, follow_redirects=False)
                )
                body = bytearray()
                for chunk in response.iter_bytes():
                    self._take(body, chunk, deadline, url)
                return _Fetched(response.status_code, response.headers, bytes(body))
        except httpx.HTTPError as exc:
            raise JWKSFetchError(f"GET {url}: {type(exc).__name__}") from exc

    def _take(self, body: bytearray, chunk: bytes, deadline: float, url: str) -> None:
        """Append one response chunk to ``body``, enforcing the whole-response deadline
        (``deadline``, :func:`time.monotonic` seconds) and the size cap.

        Raises:
            JWKSFetchError: past the deadline, or larger than ``max_response_bytes``.
        """
        body.extend(chunk)
        if time.monotonic() > deadline:  # a byte-by-byte drip never trips httpx's read timeout
            raise JWKSFetchError(f"GET {url}: took longer than {self.timeout} s")
        if len(body) > self.max_response_bytes:
            raise JWKSFetchError(f"GET {url}: response larger than {self.max_response_bytes} bytes")

    def _discover_sync(self) -> str:
        assert self.issuer is not None
        last: JWKSFetchError | None = None
        for url in metadata_urls(self.issuer):
            try:
                response = self._sync_get(url)
                if response.status_code == 404:
                    continue
                return self._parse_metadata(self._read_json(response, "issuer metadata"))
            except JWKSFetchError as exc:
                last = last or exc  # the first real failure says more than a fallback's 404
        raise last or JWKSFetchError(
            f"no issuer metadata (HTTP 404 at {metadata_urls(self.issuer)})"
        )

    def _fetch_sync(self) -> None:
        self._begin()
        try:
            if self.jwks_uri is None:
                self.jwks_uri = self._discover_sync()
            self.fetch_count += 1
            response = self._sync_get(self.jwks_uri)
            keyset = self._parse_jwks(self._read_json(response, "JWK Set"))
            self._succeed(keyset, self._ttl(response))
        except JWKSFetchError as exc:
            self._fail(exc)
        finally:
            self._end()

    # -- async I/O -------------------------------------------------------------------------

    def _async_lock(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()
        lock = self._alocks.get(loop)
        if lock is None:
            lock = self._alocks[loop] = asyncio.Lock()
        return lock

    async def _async_get(self, url: str) -> _Fetched:
        import httpx

        deadline = time.monotonic() + self.timeout
        try:
            async with contextlib.AsyncExitStack() as stack:
                client = self._async_http_client
                if client is None:
                    client = await stack.enter_async_context(
                        httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
                    )
                response = await stack.enter_async_context(
                    client.stream("GET", url, headers=self.headers, follow_redirects=False)
                )
                body = bytearray()
                async for chunk in response.aiter_bytes():
                    self._take(body, chunk, deadline, url)
                return _Fetched(response.status_code, response.headers, bytes(body))
        except httpx.HTTPError as exc:
            raise JWKSFetchError(f"GET {url}: {type(exc).__name__}") from exc

    async def _discover_async(self) -> str:
        assert self.issuer is not None
        last: JWKSFetchError | None = None
        for url in metadata_urls(self.issuer):
            try:
                response = await self._async_get(url)
                if response.status_code == 404:
                    continue
                return self._parse_metadata(self._read_json(response, "issuer metadata"))
            except JWKSFetchError as exc:
                last = last or exc  # the first real failure says more than a fallback's 404
        raise last or JWKSFetchError(
            f"no issuer metadata (HTTP 404 at {metadata_urls(self.issuer)})"
        )

    async def _fetch_async(self) -> None:
        self._begin()
        try:
            if self.jwks_uri is None:
                self.jwks_uri = await self._discover_async()
            self.fetch_count += 1
            response = await self._async_get(self.jwks_uri)
            keyset = self._parse_jwks(self._read_json(response, "JWK Set"))
            self._succeed(keyset, self._ttl(response))
        except JWKSFetchError as exc:
            self._fail(exc)
        finally:
            self._end()


class PyJWKClient:
    """PyJWT's ``jwt.PyJWKClient`` over :class:`JWKSClient` (Cache-Control caching, single-flight
    fetches, refetch on an unknown ``kid`` with a cooldown, stale copies when the issuer is down).

    Args:
        uri: the JWK Set URL (https; http on loopback hosts).
        cache_keys, max_cached_keys, cache_jwk_set: accepted for PyJWT's signature; the client
            always caches the set (for the issuer's ``max-age``, ``lifespan`` without one).
        lifespan: seconds a fetched set is fresh when the response sends no ``max-age``.
        headers: extra request headers.
        timeout: HTTP timeout in seconds.
        ssl_context: an ``ssl.SSLContext`` for the HTTPS connection.
        cooldown_duration: least seconds between refetches forced by an unknown ``kid``.

    Raises:
        JWKSFetchError (PyJWT's PyJWKClientError): ``uri`` is not an acceptable URL.
    """

    def __init__(
        self,
        uri: str,
        cache_keys: bool = False,
        max_cached_keys: int = 16,
        cache_jwk_set: bool = True,
        lifespan: float = 300,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30,
        ssl_context: Any = None,
        cooldown_duration: float = 30,
    ) -> None:
        http_client = None
        if ssl_context is not None:
            import httpx

            http_client = httpx.Client(verify=ssl_context, timeout=timeout, follow_redirects=False)
        self.uri = uri
        self.client = JWKSClient(
            uri,
            min_ttl=min(60.0, float(lifespan)),
            default_ttl=float(lifespan),
            refetch_cooldown=float(cooldown_duration),
            timeout=float(timeout),
            headers=headers,
            http_client=http_client,
        )

    def fetch_data(self) -> dict[str, Any]:
        """Fetch the JWK Set now and return it as ``{"keys": [...]}`` (public members).

        Raises:
            JWKSFetchError: the fetch failed.
        """
        return self.client.get_keyset(force=True).to_jwks()

    def get_jwk_set(self, refresh: bool = False) -> Any:
        """The JWK Set as a :class:`jwtkit.PyJWKSet` (cached unless ``refresh``).

        Raises:
            JWKSFetchError: no usable set.
        """
        from jwtkit._pyjwt import PyJWKSet

        return PyJWKSet.from_dict(self.client.get_keyset(force=refresh).to_jwks())

    def get_signing_keys(self, refresh: bool = False) -> list[Any]:
        """The signing keys (``use`` absent or ``sig``, with a ``kid``) as :class:`jwtkit.PyJWK`.

        Raises:
            JWKSFetchError: no usable set; SigningKeyNotFoundError: no signing key in it.
        """
        from jwtkit._pyjwt import PyJWK

        keys = [
            PyJWK.from_key(key)
            for key in self.client.get_keyset(force=refresh)
            if key.use in (None, "sig") and key.kid is not None
        ]
        if not keys:
            raise SigningKeyNotFoundError("the JWKS endpoint did not contain any signing keys")
        return keys

    def get_signing_key(self, kid: str) -> Any:
        """The signing key with this ``kid`` (refetching once, within the cooldown, if unknown).

        Raises:
            SigningKeyNotFoundError (a KeyNotFoundError and PyJWT's PyJWKClientError): no such
            key. JWKSFetchError: no usable set.
        """
        from jwtkit._pyjwt import PyJWK

        keyset = self.client.get_keyset()
        key = keyset.get(kid) if isinstance(kid, str) else None
        if key is None:
            fresh = self.client.get_keyset(force=True)
            key = fresh.get(kid) if isinstance(kid, str) and fresh is not keyset else None
        if key is None:
            raise SigningKeyNotFoundError(
                f"Unable to find a signing key that matches: {str(kid)[:64]!r}"
            )
        return PyJWK.from_key(key)

    def get_signing_key_from_jwt(self, token: str | bytes) -> Any:
        """The signing key for a token, by its header's ``kid`` (the header is read unverified,
        only to pick the key; nothing else in it is trusted, RFC 8725 §3.10).

        Raises:
            MalformedError: not a compact JWT; and the errors of :meth:`get_signing_key`.
        """
        from jwtkit.jwt import get_unverified_header

        return self.get_signing_key(get_unverified_header(token).get("kid"))  # type: ignore[arg-type]


class SigningKeyNotFoundError(KeyNotFoundError, PyJWKClientError):
    """:class:`PyJWKClient` found no signing key: a KeyNotFoundError (code ``key_not_found``) that
    PyJWT's ``except jwt.PyJWKClientError`` catches."""
