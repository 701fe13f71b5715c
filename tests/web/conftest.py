"""Fixtures for the relying-party tests: a small OpenID provider made with the jwtkit core
(real HTTP on loopback), app servers, and helpers to sign tokens."""

from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

import jwtkit
from jwtkit.jwk import Key, KeySet
from jwtkit.web import RelyingParty, RelyingPartyConfig
from jwtkit.web.relying_party import BACKCHANNEL_LOGOUT_EVENT
from verifiers.conftest import FakeClock, UvicornThread

CLIENT_ID = "app-test"
APP = "http://127.0.0.1:9"  # never called: the RP only builds URLs from it


class TinyOP:
    """An OpenID provider stub built on the jwtkit core: discovery, JWK Set, a token endpoint
    whose answers the test sets (``token_responses``), and token signing helpers."""

    def __init__(self) -> None:
        self.key = Key.generate("EC", crv="P-256", alg="ES256")
        self.other_key = Key.generate("EC", crv="P-256", alg="ES256")
        self.token_responses: list[tuple[int, dict[str, Any]]] = []
        self.token_requests: list[dict[str, str]] = []
        self.server = UvicornThread(self.app())
        self.issuer = self.server.url
        self.par = False
        self.token_delay = 0.0

    def app(self) -> Starlette:
        async def discovery(request: Request) -> Response:
            doc: dict[str, Any] = {
                "issuer": self.issuer,
                "authorization_endpoint": self.issuer + "/authorize",
                "token_endpoint": self.issuer + "/token",
                "jwks_uri": self.issuer + "/jwks",
                "end_session_endpoint": self.issuer + "/end",
                "authorization_response_iss_parameter_supported": True,
                "id_token_signing_alg_values_supported": ["ES256"],
            }
            if self.par:
                doc["pushed_authorization_request_endpoint"] = self.issuer + "/par"
            return JSONResponse(doc)

        async def jwks(request: Request) -> Response:
            return JSONResponse(KeySet([self.key.public()]).to_jwks())

        async def token(request: Request) -> Response:
            if self.token_delay:
                import asyncio

                await asyncio.sleep(self.token_delay)
            form = await request.form()
            self.token_requests.append({k: str(v) for k, v in form.items()})
            status, body = self.token_responses.pop(0) if self.token_responses else (400, {})
            return JSONResponse(body, status_code=status)

        async def par(request: Request) -> Response:
            form = await request.form()
            self.token_requests.append({k: str(v) for k, v in form.items()})
            return JSONResponse({"request_uri": "urn:par:1", "expires_in": 60}, status_code=201)

        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", discovery),
                Route("/jwks", jwks),
                Route("/token", token, methods=["POST"]),
                Route("/par", par, methods=["POST"]),
            ]
        )

    def sign(
        self, claims: dict[str, Any], *, typ: str | None = "JWT", key: Key | None = None
    ) -> str:
        headers = {"typ": typ} if typ is not None else {}
        return jwtkit.encode(claims, key or self.key, algorithm="ES256", headers=headers)

    def id_token(self, *, nonce: str | None, access_token: str = "at-1", **extra: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": "alice",
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 300,
            "sid": "op-session-1",
            "preferred_username": "alice",
            "at_hash": at_hash(access_token),
        }
        if nonce is not None:
            claims["nonce"] = nonce
        claims.update(extra)
        return self.sign({k: v for k, v in claims.items() if v is not None})

    def logout_token(self, *, typ: str | None = "logout+jwt", **extra: Any) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": CLIENT_ID,
            "iat": now,
            "exp": now + 120,
            "jti": uuid.uuid4().hex,
            "events": {BACKCHANNEL_LOGOUT_EVENT: {}},
            "sid": "op-session-1",
            "sub": "alice",
        }
        claims.update(extra)
        return self.sign({k: v for k, v in claims.items() if v is not None}, typ=typ)

    def tokens(
        self, nonce: str | None, access_token: str = "at-1", **id_extra: Any
    ) -> dict[str, Any]:
        return {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": 300,
            "refresh_token": "rt-" + access_token,
            "id_token": self.id_token(nonce=nonce, access_token=access_token, **id_extra),
        }


class DeferredASGI:
    """An app slot, so that a server can listen (and know its port) before its app exists."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


class DeferredWSGI:
    """The same for a WSGI app."""

    def __init__(self) -> None:
        self.app: Any = None

    def __call__(self, environ: Any, start_response: Any) -> Any:
        return self.app(environ, start_response)


def at_hash(token: str) -> str:
    digest = hashlib.sha256(token.encode()).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


@pytest.fixture(scope="module")
def tiny_op() -> Iterator[TinyOP]:
    op = TinyOP()
    op.server.start()
    try:
        yield op
    finally:
        op.server.stop()


@pytest.fixture
def op(tiny_op: TinyOP) -> TinyOP:
    tiny_op.token_responses.clear()
    tiny_op.token_requests.clear()
    tiny_op.par = False
    tiny_op.token_delay = 0.0
    return tiny_op


@pytest.fixture
def rp_clock() -> FakeClock:
    return FakeClock(time.time())


@pytest.fixture
def rp(op: TinyOP, rp_clock: FakeClock) -> Iterator[RelyingParty]:
    from jwtkit.web import MemorySessionStore

    config = RelyingPartyConfig(
        issuer=op.issuer, client_id=CLIENT_ID, client_secret="s3cret", base_url=APP
    )
    with RelyingParty(config, store=MemorySessionStore(clock=rp_clock), clock=rp_clock) as rp:
        yield rp


def sign_in(rp: RelyingParty, op: TinyOP, **id_extra: Any) -> tuple[str, Any]:
    """Run a sign-in against the TinyOP; returns (session id, WebSession)."""
    from urllib.parse import parse_qs, urlsplit

    start = rp.begin_login("/after")
    query = {k: v[0] for k, v in parse_qs(urlsplit(start.url).query).items()}
    op.token_responses.append((200, op.tokens(query["nonce"], **id_extra)))
    session_id, session, _ = rp.finish_login(
        {"code": "c1", "state": query["state"], "iss": op.issuer}, start.transaction
    )
    return session_id, session
