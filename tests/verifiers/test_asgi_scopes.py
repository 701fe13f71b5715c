"""BearerAuthMiddleware on non-HTTP ASGI scopes: WebSocket refusal and lifespan passthrough,
called directly as ASGI (no server needed for these scope types)."""

from __future__ import annotations

import asyncio
from typing import Any

from jwtkit.jwks_client import JWKSClient
from jwtkit.middleware import BearerGuard, access_token_verifier
from jwtkit.middleware.asgi import BearerAuthMiddleware

from .conftest import MiniIssuer


def _middleware(issuer: MiniIssuer, seen: list[dict[str, Any]]) -> BearerAuthMiddleware:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.append(scope)

    verifier = access_token_verifier(
        JWKSClient(f"{issuer.issuer}/jwks"),
        issuer=issuer.issuer,
        audience=issuer.audience,
        algorithms=["ES256"],
    )
    return BearerAuthMiddleware(app, guard=BearerGuard(verifier), scopes={"read"})


def _call(mw: BearerAuthMiddleware, scope: dict[str, Any]) -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "websocket.connect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(mw(scope, receive, send))
    return sent


def test_websocket_without_token_is_closed_1008(issuer: MiniIssuer) -> None:
    seen: list[dict[str, Any]] = []
    mw = _middleware(issuer, seen)
    sent = _call(mw, {"type": "websocket", "path": "/ws", "headers": []})
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": ""}]
    assert not seen


def test_websocket_with_token_passes_principal(issuer: MiniIssuer) -> None:
    seen: list[dict[str, Any]] = []
    mw = _middleware(issuer, seen)
    token = issuer.token(scope="read")
    headers = [(b"authorization", f"Bearer {token}".encode())]
    assert _call(mw, {"type": "websocket", "path": "/ws", "headers": headers}) == []
    assert seen[0]["jwtkit"].subject == "alice"
    assert seen[0]["state"]["jwtkit"].scopes == frozenset({"read"})


def test_websocket_missing_middleware_scope_is_closed(issuer: MiniIssuer) -> None:
    seen: list[dict[str, Any]] = []
    mw = _middleware(issuer, seen)
    headers = [(b"authorization", f"Bearer {issuer.token(scope='other')}".encode())]
    sent = _call(mw, {"type": "websocket", "path": "/ws", "headers": headers})
    assert sent == [{"type": "websocket.close", "code": 1008, "reason": "insufficient_scope"}]


def test_lifespan_passes_through(issuer: MiniIssuer) -> None:
    seen: list[dict[str, Any]] = []
    mw = _middleware(issuer, seen)
    assert _call(mw, {"type": "lifespan"}) == []
    assert seen == [{"type": "lifespan"}]
