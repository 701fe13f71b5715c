"""uvicorn's HTTP/1.1 protocols with one socket write per response (issue 12).

uvicorn writes a response's status line and headers when the app sends
``http.response.start`` and the body when it sends ``http.response.body``: two ``send`` system
calls and, with ``TCP_NODELAY``, two packets for every small JSON answer, each waking the
client. Node's ``http`` and most servers send headers and a small body together. Here the
protocols' transport holds each write until the end of the current event-loop step: the body
written in the same step (Starlette's :class:`~starlette.responses.Response` sends both messages
without yielding) leaves in the same ``send``; a write that nothing follows (streamed headers,
an event of a feed) leaves at the very next loop iteration. What is held never exceeds 64 KiB:
past that the writes leave at once, so the transport's high-water mark and uvicorn's
``pause_writing`` back-pressure work as with the plain transport. A transport that is closing
(the client half-closed its side) gets every write at once, and the peer's EOF flushes first;
a close flushes, an abort drops what is held. The bytes and their order are uvicorn's.

Used by ``jwtkit serve`` (``http=`` of :func:`uvicorn.run`): :func:`protocol_class` returns
the httptools protocol when httptools imports, else h11's.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from typing import Any, cast

__all__ = ["protocol_class"]

logger = logging.getLogger("jwtkit.server")


class _HeldWrites:
    """A transport wrapper whose ``write`` joins the writes of one event-loop step into one.

    Everything but ``write``, ``writelines``, ``close``, ``abort`` and ``write_eof`` goes to the
    wrapped transport unchanged (``get_extra_info``, ``pause_reading``, ``is_closing``, ...).
    """

    __slots__ = ("_flush_handle", "_held", "_held_bytes", "_loop", "_transport")

    #: held bytes beyond which a write leaves at once (so that the transport's high-water
    #: mark, and uvicorn's pause_writing/drain, see it as with the plain transport)
    LIMIT = 65536

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._flush_handle: asyncio.Handle | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Hold ``data`` (bytes-like) until the end of this loop step (then one ``send``)."""
        if not data:
            return
        if self._transport.is_closing():  # closing (peer's EOF): as the plain transport does
            self.flush()
            self._transport.write(data)
            return
        self._held.append(bytes(data))
        self._held_bytes += len(data)
        if self._held_bytes >= self.LIMIT:
            self.flush()
        elif self._flush_handle is None:
            self._flush_handle = self._loop.call_soon(self._flush)

    def writelines(self, chunks: Any) -> None:
        """Hold each of ``chunks`` (an iterable of bytes-like), as :meth:`write`."""
        for chunk in chunks:
            self.write(chunk)

    def _flush(self) -> None:
        self._flush_handle = None
        held = self._held
        if not held:
            return
        self._held = []
        self._held_bytes = 0
        # no is_closing() test: a transport closed by the peer's EOF still sends (and one whose
        # connection is lost drops the bytes itself), as for the plain writes
        self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def flush(self) -> None:
        """Send what is held now (one ``send``), in order before anything written later."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._flush()

    def write_eof(self) -> None:
        """Flush, then half-close the write side."""
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        """Flush, then close: what was written before leaves first, as with the plain
        transport (which sends its buffer before closing)."""
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        """Drop what is held and abort the connection at once (as the plain transport drops
        its buffer)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush_handle = None
        self._held = []
        self._held_bytes = 0
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def _one_write(base: type[asyncio.Protocol]) -> type[asyncio.Protocol]:
    """``base`` (a uvicorn HTTP protocol class) whose transport is a :class:`_HeldWrites`."""

    class OneWrite(base):  # type: ignore[valid-type,misc]
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            # uvloop's TCPTransport is not an asyncio.Transport subclass: no isinstance here
            super().connection_made(_HeldWrites(cast(asyncio.Transport, transport), self.loop))

        def eof_received(self) -> bool | None:
            self.transport.flush()  # before the base's None makes the transport close
            return super().eof_received()  # type: ignore[no-any-return]

    OneWrite.__name__ = OneWrite.__qualname__ = f"OneWrite{base.__name__}"
    OneWrite.__module__ = __name__
    return OneWrite


def _build(module: str, name: str) -> type[asyncio.Protocol] | None:
    try:
        base = getattr(importlib.import_module(module), name)
    except ImportError:
        return None
    return _one_write(base)


# Module-level classes so that ``jwtkit serve --workers N`` can pass them to its processes.
OneWriteHttpToolsProtocol = _build("uvicorn.protocols.http.httptools_impl", "HttpToolsProtocol")
OneWriteH11Protocol = _build("uvicorn.protocols.http.h11_impl", "H11Protocol")


def protocol_class() -> type[asyncio.Protocol]:
    """The HTTP/1.1 protocol class for :func:`uvicorn.run`'s ``http=``: uvicorn's httptools
    protocol (C parser) when httptools imports, else its h11 protocol (pure Python; logged),
    either with one socket write per response.

    Returns a subclass of :class:`asyncio.Protocol`.

    Raises:
        ImportError: neither protocol imports (uvicorn, or both httptools and h11, missing).
    """
    if OneWriteHttpToolsProtocol is not None:
        return OneWriteHttpToolsProtocol
    if OneWriteH11Protocol is None:
        raise ImportError("uvicorn's HTTP protocols do not import (httptools nor h11)")
    logger.info("httptools unavailable; using h11")
    return OneWriteH11Protocol
