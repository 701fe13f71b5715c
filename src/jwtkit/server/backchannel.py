"""Back-channel logout delivery (OIDC Back-Channel Logout 1.0 §2.5): each logout token is
POSTed as ``logout_token=<jwt>`` (form-encoded) to the client's ``backchannel_logout_uri`` on a
background thread, with bounded retries and exponential backoff, and every attempt is recorded
(:mod:`jwtkit.store.logouts`). The request that ended the session never waits for it.

A 200 or 204 answer is a delivery (§2.8); 400 is final (the RP refused the token); anything
else (5xx, timeouts, refused connections) is retried up to ``backchannel_logout_attempts``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import httpx

from jwtkit.server.audit import audit
from jwtkit.store.logouts import LogoutDelivery, LogoutStore

__all__ = ["BackchannelSender"]

log = logging.getLogger("jwtkit.server")


class BackchannelSender:
    """Sends logout tokens in the background.

    Args:
        logouts: the :class:`LogoutStore` recording deliveries.
        attempts: most POSTs per token (int >= 1). timeout: seconds per POST (float).
        backoff: seconds before the first retry (float), doubled after each failure.
        clock: seconds since the epoch (recorded times).
    """

    def __init__(
        self,
        logouts: LogoutStore,
        *,
        attempts: int = 4,
        timeout: float = 5.0,
        backoff: float = 1.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.logouts = logouts
        self.attempts = attempts
        self.timeout = timeout
        self.backoff = backoff
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="jwtkit-logout")
        self._pending: set[Future[None]] = set()
        self._lock = threading.Lock()
        self._closed = threading.Event()

    def send(self, token: tuple[str, str], op_sid: str, client_id: str, uri: str) -> None:
        """Record and queue one logout token ``(jwt, jti)`` for ``uri``; returns at once."""
        jwt, jti = token
        self.logouts.add(
            LogoutDelivery(jti, op_sid, client_id, uri, "pending", 0, None, self.clock(), None)
        )
        audit("backchannel_logout_queued", client_id=client_id, sid=op_sid, jti=jti)
        future = self._pool.submit(self._deliver, jwt, jti, client_id, uri)
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        with self._lock:
            self._pending.discard(future)

    def _deliver(self, jwt: str, jti: str, client_id: str, uri: str) -> None:
        delay = self.backoff
        error: str | None = None
        with httpx.Client(timeout=self.timeout, follow_redirects=False) as http:
            for attempt in range(1, self.attempts + 1):
                try:
                    response = http.post(
                        uri,
                        data={"logout_token": jwt},
                        headers={"Cache-Control": "no-store"},
                    )
                    if response.status_code in (200, 204):
                        self.logouts.update(
                            jti, state="delivered", attempts=attempt, error=None, at=self.clock()
                        )
                        audit("backchannel_logout_delivered", client_id=client_id, jti=jti)
                        return
                    error = f"HTTP {response.status_code}"
                    if response.status_code == 400:  # final: the RP refused the token
                        self.logouts.update(
                            jti, state="failed", attempts=attempt, error=error, at=None
                        )
                        break
                except httpx.HTTPError as exc:
                    error = exc.__class__.__name__
                state = "failed" if attempt == self.attempts else "pending"
                self.logouts.update(jti, state=state, attempts=attempt, error=error, at=None)
                if attempt < self.attempts and self._closed.wait(delay):
                    return  # shutting down
                delay *= 2
        log.warning("back-channel logout to %s failed: %s", client_id, error)
        audit("backchannel_logout_failed", client_id=client_id, jti=jti, error=error)

    def wait_idle(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds until no delivery is in flight; True when idle."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if not self._pending:
                    return True
            time.sleep(0.02)
        return False

    def close(self) -> None:
        """Stop retrying and release the threads (in-flight POSTs finish their attempt)."""
        self._closed.set()
        self._pool.shutdown(wait=False, cancel_futures=True)
