"""Failed-login rate limits per username and per client address (in process, or Redis).

Fixed windows of ``login_failure_window`` seconds. A login is refused with HTTP 429 before the
password is checked when either counter has reached its limit in the current window.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

log = logging.getLogger("jwtkit.server")

__all__ = ["FailureCounter", "FallbackCounter", "LocalRateLimiter", "LoginRateLimiter"]


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
    """In-process fixed-window counters (one instance only); bounded to ``max_entries`` keys."""

    def __init__(self, max_entries: int = 100_000) -> None:
        self._counts: dict[tuple[str, int], int] = {}
        self._lock = threading.Lock()
        self._max = max_entries

    def failures(self, name: str, window: int, now: float) -> int:
        """Failures of ``name`` in the current window (int)."""
        return self._counts.get((name, int(now // window)), 0)

    def record_failure(self, name: str, window: int, now: float) -> int:
        """Count one failure of ``name``; returns the new count (int)."""
        slot = int(now // window)
        with self._lock:
            if len(self._counts) >= self._max:
                self._counts = {k: v for k, v in self._counts.items() if k[1] >= slot}
                if len(self._counts) >= self._max:
                    self._counts.clear()
            count = self._counts.get((name, slot), 0) + 1
            self._counts[(name, slot)] = count
        return count

    def reset(self, name: str, window: int, now: float) -> None:
        """Forget the failures of ``name`` in the current window."""
        with self._lock:
            self._counts.pop((name, int(now // window)), None)


class FallbackCounter:
    """A shared counter (Redis) that falls back to an in-process one while it is unreachable,
    so limits keep applying (per instance) instead of failing open or refusing every login."""

    def __init__(self, primary: FailureCounter, fallback: FailureCounter | None = None) -> None:
        self.primary = primary
        self.fallback = fallback or LocalRateLimiter()

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


class LoginRateLimiter:
    """Applies the per-username and per-address limits on top of a :class:`FailureCounter`.

    Args:
        counter: where counts live. window: seconds (int). per_user / per_address: limits (int).
    """

    def __init__(
        self, counter: FailureCounter, window: int, per_user: int, per_address: int
    ) -> None:
        self.counter = counter
        self.window = window
        self.per_user = per_user
        self.per_address = per_address

    def retry_after(self, username: str, address: str | None, now: float) -> int | None:
        """Seconds until the next window (int) when a limit is reached, else None."""
        blocked = self.counter.failures(f"user:{username}", self.window, now) >= self.per_user
        if address and not blocked:
            blocked = self.counter.failures(f"addr:{address}", self.window, now) >= self.per_address
        if not blocked:
            return None
        return max(1, int(self.window - (now % self.window)))

    def failed(self, username: str, address: str | None, now: float) -> bool:
        """Count one failed login for ``username`` and ``address``; returns True when this
        failure went past a limit (it raced others past :meth:`retry_after`: answer it as
        rate-limited, so a concurrent burst learns no more than the limit allows)."""
        over = self.counter.record_failure(f"user:{username}", self.window, now) > self.per_user
        if address:
            count = self.counter.record_failure(f"addr:{address}", self.window, now)
            over = over or count > self.per_address
        return over

    def succeeded(self, username: str, now: float) -> None:
        """Reset the username's counter after a successful login."""
        self.counter.reset(f"user:{username}", self.window, now)
