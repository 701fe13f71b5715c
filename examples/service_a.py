"""Service A (FastAPI): a resource server that checks jwtkit access tokens and calls service B.

Run (after `jwtkit serve` is up, see README.md):

    JWTKIT_ISSUER=http://127.0.0.1:8000 SERVICE_B=http://127.0.0.1:8002 \
        uvicorn examples.service_a:app --port 8001

Every route verifies ``Authorization: Bearer`` with the issuer's keys (found through its RFC 8414
metadata), checks the revocation denylist that an asyncio listener keeps in sync with the token
service's revocation feed, and asks for a scope. ``/orders`` forwards the same token to service B.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import Depends, FastAPI, HTTPException

from jwtkit.jwks_client import JWKSClient
from jwtkit.middleware import BearerGuard, Principal, access_token_verifier
from jwtkit.middleware.asgi import BearerAuth
from jwtkit.middleware.listener import AsyncFeedRevocationListener
from jwtkit.revocation import Denylist

ISSUER = os.environ.get("JWTKIT_ISSUER", "http://127.0.0.1:8000")
AUDIENCE = os.environ.get("AUDIENCE", "https://api.demo")
SERVICE_B = os.environ.get("SERVICE_B", "http://127.0.0.1:8002")
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
auth = BearerAuth(guard)
# The revocation feed of the token service (or Redis: RevocationListener(denylist, url=...)).
listener = AsyncFeedRevocationListener(
    denylist, issuer=ISSUER, client_id=FEED_CLIENT_ID, client_secret=FEED_CLIENT_SECRET
)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    async with listener:  # loads the live set, then long-polls the feed
        yield


app = FastAPI(title="service A", lifespan=lifespan)


@app.get("/orders")
async def orders(
    principal: Principal = Depends(auth.requires_scopes("orders:read")),
) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=5) as client:
        r = await client.get(
            f"{SERVICE_B}/inventory", headers={"Authorization": f"Bearer {principal.token}"}
        )
    if r.status_code != 200:
        raise HTTPException(r.status_code, "service B refused the token")
    return {"sub": principal.subject, "orders": [{"id": 1, "sku": "tea"}], "from_b": r.json()}


@app.get("/orders/admin")
async def admin(principal: Principal = Depends(auth.requires_scopes("orders:admin"))) -> dict:
    return {"admin": True, "sub": principal.subject}
