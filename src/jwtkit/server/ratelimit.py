"""Failure rate limits: password logins per username and per client address, client
authentication per client id and per address (in process, or Redis).

Fixed windows of ``window`` seconds. A request is refused with HTTP 429 *before* any password or
secret is checked when one of its counters has reached its limit in the current window (RFC 6749
§2.3.1 and §4.3.2 ask for brute-force protection of both).

Addresses are aggregated before they are counted (:func:`limit_address`): an IPv6 client owns a
whole /64 (RFC 6177, RFC 7721), so each address of it is the same key; an IPv4-mapped IPv6 address
counts as its IPv4 address.

The in-process table (:class:`LocalRateLimiter`) is bounded and evicts per key, never dropping a
counter that has reached its limit before its window ends (a victim's lockout survives a flood of
new keys).
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import threading
from collections import OrderedDict
from typing import Protocol

from jwtkit.server.usernames import login_key

log = logging.getLogger("jwtkit.server")

__all__ = [
    "ClientAuthRateLimiter",
    "FailureCounter",
    "FailureLimiter",
    "FallbackCounter",
    "LocalRateLimiter",
    "LoginRateLimiter",
    "limit_address",
]

#: Length of the IPv6 prefix one client is assumed to control (RFC 6177 §3: a /64 per site
#: at the least, often a /56 or /48; a /64 is the smallest unit an attacker can rotate within).
IPV6_PREFIX = 64


@functools.lru_cache(maxsize=4096)
def limit_address(host: str | None) -> str | None:
    """The key under which a client address is rate-limited (str), or None without one.

    IPv4 addresses are kept as they are; an IPv6 address becomes its /64 network
    (``2001:db8:1:2::/64``), an IPv4-mapped one (``::ffff:192.0.2.1``) its IPv4 address; a
    zone index (``fe80::1%eth0``) is dropped. A value that is not an IP address (a Unix socket
    path, a test client's name) is returned unchanged. (A pure function of ``host``: the
    last 4,096 answers are kept, as parsing the address costs more than the request's own
    limit checks.)
    """
    if not host:
        return None
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0].strip("[]"))
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, IPV6_PREFIX), strict=False))
    return str(ip)


class FailureCounter(Protocol):
    """Storage of failure counters (:class:`LocalRateLimiter` or
    :class:`jwtkit.store.redis.RedisRateLimiter`)."""

    def failures(self, name: str, window: int, now: float) -> int:
        """Failures of ``name`` in the current window."""

    def record_failure(self, name: str, window: int, now: float) -> int:
        """Count one failure; returns the new count."""

    def reset(self, name: str, window: int, now: float) -> None:
        """Forget the failures of ``name``."""


class LocalRateLimiter:
    """In-process fixed-window counters (one instance only), bounded to ``max_entries`` keys.

    One entry per key: (window number, count), in least-recently-updated order. When the table is
    full, a new key takes the place of an entry from a past window or of a counter still below
    its limit (oldest first, a bounded number of probes, so an insert costs O(1)). A counter at or
    above its limit (a lockout: see :meth:`protect`) is never evicted before its window ends; if
    only such entries remain, new keys share one *overflow* counter per window, which the limits
    then apply to together (fail closed: untracked keys are limited jointly, never not at all).

    Args:
        max_entries: most keys kept (int).
        probes: most entries looked at per eviction (int).
    """

    _OVERFLOW = "\x00overflow"

    def __init__(self, max_entries: int = 100_000, probes: int = 16) -> None:
        self._counts: OrderedDict[str, tuple[int, int]] = OrderedDict()
        self._overflow: tuple[int, int] = (0, 0)
        self._lock = threading.Lock()
        self._max = max(1, max_entries)
        self._probes = max(1, probes)
        self._limits: dict[str, int] = {}

    def protect(self, prefix: str, limit: int) -> None:
        """Never evict a counter of a key starting with ``prefix`` once it has reached
        ``limit`` (int), until its window ends."""
        self._limits[prefix] = min(limit, self._limits.get(prefix, limit))

    def _locked_out(self, name: str, count: int) -> bool:
        return any(name.startswith(p) and count >= n for p, n in self._limits.items())

    def failures(self, name: str, window: int, now: float) -> int:
        """Failures of ``name`` in the current window (int)."""
        slot = int(now // window)
        entry = self._counts.get(name)
        if entry is not None:
            return entry[1] if entry[0] == slot else 0
        overflow_slot, overflow = self._overflow
        return overflow if overflow_slot == slot else 0

    def _make_room(self, slot: int) -> bool:
        """Evict one entry (the caller holds the lock); False when every probed one is a live
        lockout."""
        for _ in range(min(self._probes, len(self._counts))):
            name, (entry_slot, count) = self._counts.popitem(last=False)
            if entry_slot < slot or not self._locked_out(name, count):
                return True
            self._counts[name] = (entry_slot, count)  # a live lockout: keep it, look further
        return False

    def record_failure(self, name: str, window: int, now: float) -> int:
        """Count one failure of ``name``; returns the new count (int)."""
        slot = int(now // window)
        with self._lock:
            entry = self._counts.get(name)
            if entry is None and len(self._counts) >= self._max and not self._make_room(slot):
                overflow_slot, overflow = self._overflow
                count = (overflow if overflow_slot == slot else 0) + 1
                self._overflow = (slot, count)
                log.warning("rate-limit table full of lockouts; counting new keys together")
                return count
            count = (entry[1] if entry is not None and entry[0] == slot else 0) + 1
            self._counts[name] = (slot, count)
            self._counts.move_to_end(name)
        return count

    def reset(self, name: str, window: int, now: float) -> None:
        """Forget the failures of ``name`` in the current window."""
        with self._lock:
            self._counts.pop(name, None)

    def __len__(self) -> int:
        return len(self._counts)


class FallbackCounter:
    """A shared counter (Redis) that falls back to an in-process one while it is unreachable,
    so limits keep applying (per instance) instead of failing open or refusing every login."""

    def __init__(self, primary: FailureCounter, fallback: LocalRateLimiter | None = None) -> None:
        self.primary = primary
        self.fallback = fallback or LocalRateLimiter()

    def protect(self, prefix: str, limit: int) -> None:
        """See :meth:`LocalRateLimiter.protect` (the fallback table's eviction)."""
        self.fallback.protect(prefix, limit)

    def failures(self, name: str, window: int, now: float) -> int:
        """Failures of ``name`` in the current window (int)."""
        try:
            return self.primary.failures(name, window, now)
        except Exception as exc:  # redis.RedisError, OSError
            log.warning("rate-limit store unavailable (%s); counting in process", exc)
            return self.fallback.failures(name, window, now)

    def record_failure(self, name: str, window: int, now: float) -> int:
        """Count one failure; returns the new count (int)."""
        local = self.fallback.record_failure(name, window, now)
        try:
            return self.primary.record_failure(name, window, now)
        except Exception:
            return local

    def reset(self, name: str, window: int, now: float) -> None:
        """Forget the failures of ``name``."""
        self.fallback.reset(name, window, now)
        try:
            self.primary.reset(name, window, now)
        except Exception as exc:
            log.warning("rate-limit store unavailable (%s)", exc)


class FailureLimiter:
    """Per-subject and per-address failure limits on top of a :class:`FailureCounter`.

    Counter names are ``{kind}:{subject}`` and ``{address_kind}:{address}``, the address
    aggregated by :func:`limit_address`.

    Args:
        counter: where counts live. window: seconds (int). per_subject / per_address: limits
        (int). kind / address_kind: the name prefixes (str).
    """

    def __init__(
        self,
        counter: FailureCounter,
        window: int,
        per_subject: int,
        per_address: int,
        *,
        kind: str,
        address_kind: str,
    ) -> None:
        self.counter = counter
        self.window = window
        self.per_subject = per_subject
        self.per_address = per_address
        self.kind = kind
        self.address_kind = address_kind
        protect = getattr(counter, "protect", None)
        if protect is not None:
            protect(f"{kind}:", per_subject)
            protect(f"{address_kind}:", per_address)

    def next_window(self, now: float) -> int:
        """Seconds until the current window ends (int, at least 1): the ``Retry-After``."""
        return max(1, int(self.window - (now % self.window)))

    def retry_after(self, subject: str, address: str | None, now: float) -> int | None:
        """Seconds until the next window (int) when a limit is reached, else None. Costs one
        or two counter reads, nothing else: call it before any expensive check."""
        blocked = self.counter.failures(f"{self.kind}:{subject}", self.window, now) >= (
            self.per_subject
        )
        key = limit_address(address)
        if key and not blocked:
            blocked = (
                self.counter.failures(f"{self.address_kind}:{key}", self.window, now)
                >= self.per_address
            )
        return self.next_window(now) if blocked else None

    def failed(self, subject: str, address: str | None, now: float) -> bool:
        """Count one failure for ``subject`` and ``address``; returns True when this failure
        went past a limit (it raced others past :meth:`retry_after`: answer it as rate-limited,
        so a concurrent burst learns no more than the limit allows)."""
        count = self.counter.record_failure(f"{self.kind}:{subject}", self.window, now)
        over = count > self.per_subject
        key = limit_address(address)
        if key:
            count = self.counter.record_failure(f"{self.address_kind}:{key}", self.window, now)
            over = over or count > self.per_address
        return over

    def succeeded(self, subject: str, now: float) -> None:
        """Reset the subject's counter after a success (the address counter stays)."""
        self.counter.reset(f"{self.kind}:{subject}", self.window, now)


class LoginRateLimiter(FailureLimiter):
    """Failed password logins per username (``user:``) and per address (``addr:``).

    Args:
        counter: where counts live. window: seconds (int). per_user / per_address: limits (int).
    """

    def __init__(
        self, counter: FailureCounter, window: int, per_user: int, per_address: int
    ) -> None:
        super().__init__(counter, window, per_user, per_address, kind="user", address_kind="addr")

    @property
    def per_user(self) -> int:
        """The per-username limit (int)."""
        return self.per_subject

    # Lookalike spellings of one name ("Alice", "ALICE", fullwidth) share one counter (13.12).
    def retry_after(self, subject: str, address: str | None, now: float) -> int | None:
        """:meth:`FailureLimiter.retry_after` for the canonical form of the username."""
        return super().retry_after(login_key(subject), address, now)

    def failed(self, subject: str, address: str | None, now: float) -> bool:
        """:meth:`FailureLimiter.failed` for the canonical form of the username."""
        return super().failed(login_key(subject), address, now)

    def succeeded(self, subject: str, now: float) -> None:
        """:meth:`FailureLimiter.succeeded` for the canonical form of the username."""
        super().succeeded(login_key(subject), now)


class ClientAuthRateLimiter(FailureLimiter):
    """Failed client authentications (RFC 6749 §2.3.1) per client id (``client:``) and per
    address (``client-addr:``), unknown client ids included.

    Args:
        counter: where counts live. window: seconds (int). per_client / per_address: limits
        (int).
    """

    def __init__(
        self, counter: FailureCounter, window: int, per_client: int, per_address: int
    ) -> None:
        super().__init__(
            counter, window, per_client, per_address, kind="client", address_kind="client-addr"
        )
