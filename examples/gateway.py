"""API gateway (Starlette): verifies every request's access token, then forwards it.

Run (after `jwtkit serve` and service A are up, see README.md):

    JWTKIT_ISSUER=http://127.0.0.1:8000 SERVICE_A=http://127.0.0.1:8001 \
        uvicorn examples.gateway:app --port 8080

``GET /a/{path}`` is forwarded to service A with the caller's ``Authorization`` header: the
gateway refuses bad tokens early, and A (and B behind it) still check the same token
themselves, so no service trusts the network.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from jwtkit.jwks_client import JWKSClient
from jwtkit.middleware import BearerGuard, access_token_verifier
from jwtkit.middleware.asgi import BearerAuthMiddleware
from jwtkit.middleware.listener import AsyncFeedRevocationListener
from jwtkit.revocation import Denylist

ISSUER = os.environ.get("JWTKIT_ISSUER", "http://127.0.0.1:8000")
AUDIENCE = os.environ.get("AUDIENCE", "https://api.demo")
SERVICE_A = os.environ.get("SERVICE_A", "http://127.0.0.1:8001")
# This resource server's confidential client at the token service, for its revocation feed.
FEED_CLIENT_ID = os.environ.get("FEED_CLIENT_ID", "demo-rs")
FEED_CLIENT_SECRET = os.environ.get("FEED_CLIENT_SECRET", "")

denylist = Denylist()
guard = BearerGuard(
    access_token_verifier(
        JWKSClient.from_issuer(ISSUER),
        issuer=ISSUER,
        audience=AUDIENCE,
        algorithms=["ES256"],
        leeway=5,
    ),
    denylist=denylist,
)
# The revocation feed of the token service (or Redis: RevocationListener(denylist, url=...)).
listener = AsyncFeedRevocationListener(
    denylist, issuer=ISSUER, client_id=FEED_CLIENT_ID, client_secret=FEED_CLIENT_SECRET
)


async def forward(request: Request) -> Response:
    async with httpx.AsyncClient(timeout=5) as client:
        upstream = await client.get(
            f"{SERVICE_A}/{request.path_params['path']}",
            headers={"Authorization": request.headers["authorization"]},
        )
    keep = {
        k: v
        for k, v in upstream.headers.items()
        if k.lower() in ("content-type", "www-authenticate")
    }
    return Response(upstream.content, status_code=upstream.status_code, headers=keep)


@asynccontextmanager
async def lifespan(_: Any) -> AsyncIterator[None]:
    async with listener:
        yield


app = Starlette(routes=[Route("/a/{path:path}", forward)], lifespan=lifespan)
app.add_middleware(BearerAuthMiddleware, guard=guard, public_paths={"/health"})
