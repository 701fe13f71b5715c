"""A circuit breaker for the service's dependencies (PostgreSQL, Redis): after ``failures``
consecutive failures it *opens* and calls fail at once for ``open_seconds``; then one trial call
is let through (*half-open*): a success closes it, a failure opens it again.

So a dependency that hangs costs each request at most one short timeout until the breaker opens,
and nothing after that (issue 13 item 6); callers fall back as the docs promise (the rate limits
count in process, revocations are re-mirrored later, the token endpoint answers 503).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator

__all__ = ["Breaker", "BreakerOpenError"]

log = logging.getLogger("jwtkit.server")


class BreakerOpenError(Exception):
    """The breaker of a dependency is open: the call was not made."""


class Breaker:
    """Counts consecutive failures of one dependency and stops calling it for a while.

    Args:
        name: the dependency's name, for logs (str).
        failures: consecutive failures that open the breaker (int, >= 1).
        open_seconds: how long it stays open before one trial call (float, seconds).
        clock: monotonic seconds (default :func:`time.monotonic`).
    """

    def __init__(
        self,
        name: str,
        *,
        failures: int = 3,
        open_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.threshold = max(1, int(failures))
        self.open_seconds = float(open_seconds)
        self.clock = clock
        self._failures = 0
        self._open_until = 0.0
        self._trial = False
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        """True while calls are refused without being made."""
        return self._failures >= self.threshold and self.clock() < self._open_until

    def allow(self) -> bool:
        """True when a call may be made now (closed, or the one half-open trial)."""
        if self._failures < self.threshold:
            return True
        with self._lock:
            if self.clock() < self._open_until or self._trial:
                return False
            self._trial = True  # half-open: this caller is the trial
            return True

    def success(self) -> None:
        """Record a successful call (closes the breaker)."""
        if self._failures or self._trial:
            with self._lock:
                if self._failures >= self.threshold:
                    log.warning("%s is answering again; breaker closed", self.name)
                self._failures = 0
                self._trial = False

    def failure(self) -> None:
        """Record a failed call (opens the breaker at the threshold)."""
        with self._lock:
            self._failures += 1
            self._trial = False
            if self._failures >= self.threshold:
                if self.clock() >= self._open_until:
                    log.error(
                        "%s failed %d times; not calling it for %.1f s",
                        self.name,
                        self._failures,
                        self.open_seconds,
                    )
                self._open_until = self.clock() + self.open_seconds

    @contextlib.contextmanager
    def guard(
        self, failure_types: tuple[type[BaseException], ...] = (Exception,)
    ) -> Iterator[None]:
        """Run the ``with`` block as one call: refused with :class:`BreakerOpenError` while
        open; an exception of ``failure_types`` counts as a failure (and propagates)."""
        if not self.allow():
            raise BreakerOpenError(f"{self.name} is unavailable (breaker open)")
        try:
            yield
        except failure_types:
            self.failure()
            raise
        self.success()
