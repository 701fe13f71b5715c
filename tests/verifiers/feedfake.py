"""A small revocation feed server (the token service's wire protocol, kept in memory) for the
listener tests: RFC 8414 metadata, ``/revocations/events`` (long poll) and
``/revocations/snapshot``, HTTP Basic client authentication."""

from __future__ import annotations

import asyncio
import base64
import socket
import threading
import time
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

CLIENT_ID, CLIENT_SECRET = "rs-feed", "rs feed secret"


class MiniFeed:
    """In-memory feed on a fixed loopback port; :meth:`start`/:meth:`stop` may be repeated."""

    def __init__(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.events: list[dict[str, Any]] = []
        self.requests: list[dict[str, str]] = []
        self.snapshots = 0
        self.broken = False  # answer pages that are not JSON
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    # -- state -----------------------------------------------------------------------------

    @property
    def latest(self) -> int:
        return self.events[-1]["seq"] if self.events else 0

    def add(self, kind: str, value: str, until: float, cutoff: float | None = None) -> int:
        event: dict[str, Any] = {"seq": self.latest + 1, "kind": kind, "value": value}
        event["until"] = until
        if cutoff is not None:
            event["cutoff"] = cutoff
        self.events.append(event)
        return int(event["seq"])

    # -- the app ---------------------------------------------------------------------------

    def _authorized(self, request: Request) -> bool:
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".replace(" ", "%20").encode())
        return request.headers.get("authorization", "") == f"Basic {expected.decode()}"

    def app(self) -> Starlette:
        async def metadata(request: Request) -> Response:
            return JSONResponse(
                {
                    "issuer": self.url,
                    "revocation_events_endpoint": f"{self.url}/revocations/events",
                    "revocation_snapshot_endpoint": f"{self.url}/revocations/snapshot",
                }
            )

        async def events(request: Request) -> Response:
            if not self._authorized(request):
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            self.requests.append(dict(request.query_params))
            since = int(request.query_params["since"])
            limit = int(request.query_params.get("limit", "100"))
            wait = min(float(request.query_params.get("wait", "0")), 5.0)
            deadline = time.monotonic() + wait
            while self.latest <= since and time.monotonic() < deadline:
                await asyncio.sleep(0.005)
            if self.broken:
                return Response("not json", media_type="application/json")
            page = [e for e in self.events if e["seq"] > since][:limit]
            return JSONResponse(
                {
                    "events": page,
                    "next": page[-1]["seq"] if page else since,
                    "latest": self.latest,
                    "more": bool(page) and page[-1]["seq"] < self.latest,
                }
            )

        async def snapshot(request: Request) -> Response:
            if not self._authorized(request):
                return JSONResponse({"error": "invalid_client"}, status_code=401)
            self.snapshots += 1
            live: dict[tuple[str, str], dict[str, Any]] = {}
            for e in self.events:
                live[(e["kind"], e["value"])] = {k: v for k, v in e.items() if k != "seq"}
            after = int(request.query_params.get("after", "0"))
            limit = int(request.query_params.get("limit", "100"))
            entries = list(live.values())[after : after + limit]
            more = after + limit < len(live)
            return JSONResponse(
                {
                    "seq": self.latest,
                    "entries": entries,
                    "cursor": str(after + limit) if more else None,
                }
            )

        return Starlette(
            routes=[
                Route("/.well-known/oauth-authorization-server", metadata),
                Route("/revocations/events", events),
                Route("/revocations/snapshot", snapshot),
            ]
        )

    def start(self) -> MiniFeed:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.server = uvicorn.Server(
            uvicorn.Config(self.app(), log_level="warning", access_log=False, lifespan="off")
        )
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [sock]}, daemon=True
        )
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("feed server did not start")
            time.sleep(0.01)
        self._sock = sock
        return self

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.server.force_exit = True
            self.thread.join(10)
            self._sock.close()
            self.server = self.thread = None
