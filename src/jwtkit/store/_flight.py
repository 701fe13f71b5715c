"""Single-flight reads off the event loop (issue 12): when a cached table (a client record, the
signing-key table) ages out under load, the requests of that moment share one read in a worker
thread instead of each leaving the loop for its own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

__all__ = ["SingleFlight"]

T = TypeVar("T")


class SingleFlight:
    """Runs ``fn(*args)`` in a worker thread once per key and event loop at a time: callers on
    the same loop that ask for a key already in flight await that same run."""

    def __init__(self) -> None:
        self._pending: dict[tuple[asyncio.AbstractEventLoop, Hashable], asyncio.Future[Any]] = {}

    async def run(self, key: Hashable, fn: Callable[..., T], *args: Any) -> T:
        """Return ``fn(*args)``'s result, run in a worker thread (:func:`asyncio.to_thread`)
        unless a run for ``key`` is already in flight on this loop, whose result it returns.

        Raises:
            Whatever ``fn`` raises (to every caller of that run); CancelledError when this
            caller is cancelled (the run goes on for the others).
        """
        loop = asyncio.get_running_loop()
        slot = (loop, key)
        pending = self._pending.get(slot)
        if pending is None:
            pending = loop.create_task(asyncio.to_thread(fn, *args))
            self._pending[slot] = pending
            pending.add_done_callback(lambda done: self._done(slot, done))
        result: T = await asyncio.shield(pending)  # a caller that leaves cancels no one else
        return result

    def _done(self, slot: tuple[asyncio.AbstractEventLoop, Hashable], done: Any) -> None:
        self._pending.pop(slot, None)
        if not done.cancelled():
            done.exception()  # retrieved here too: its callers may all have gone away
