"""Interop: PyPI requests-oauth2client (its own DPoP implementation) gets a DPoP-bound access
token from the real token service by client_credentials, then calls a resource server guarded by
jwtkit's middleware with it (Authorization: DPoP + its proof with ath)."""

from __future__ import annotations

import socket
from typing import Any

import pytest
import requests
from requests_oauth2client import DPoPToken, OAuth2Client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import jwtkit
from jwtkit.middleware import BearerGuard, DPoPPolicy, access_token_verifier
from jwtkit.middleware.asgi import BearerAuthMiddleware

from .support import ServerThread, Svc

pytestmark = pytest.mark.parametrize("backend", ["sqlite"])


def _resource_server(svc: Svc) -> tuple[ServerThread, str]:
    verifier = access_token_verifier(
        jwtkit.KeySet.from_jwks(svc.jwks()),
        issuer=svc.service.issuer,
        audience=svc.settings.effective_audience,
        algorithms=["ES256", "EdDSA", "RS256", "PS256"],
    )
    guard = BearerGuard(verifier, dpop=DPoPPolicy())

    async def me(request: Request) -> JSONResponse:
        principal = request.state.jwtkit
        return JSONResponse({"sub": principal.subject, "jkt": principal.claims["cnf"]["jkt"]})

    app = Starlette(routes=[Route("/me", me)])
    app.add_middleware(BearerAuthMiddleware, guard=guard)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = ServerThread(app, sock)
    thread.start()
    return thread, f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_requests_oauth2client_client_credentials_with_dpop(svc: Svc) -> None:
    client = OAuth2Client(
        token_endpoint=f"{svc.url}/token",
        client_id="rs",
        client_secret="rs-secret",
        dpop_bound_access_tokens=True,
        testing=True,  # allows the loopback http:// endpoint
    )
    token = client.client_credentials(scope="read")
    assert isinstance(token, DPoPToken)
    assert token.token_type.lower() == "dpop"
    introspected = svc.introspect(token.access_token)
    assert introspected["cnf"]["jkt"] == token.dpop_key.private_key.thumbprint()
    thread, rs = _resource_server(svc)
    try:
        ok = requests.get(f"{rs}/me", auth=token, timeout=10)
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"sub": "rs", "jkt": introspected["cnf"]["jkt"]}
        # the same token as a plain bearer token is refused: the binding holds
        bearer = requests.get(
            f"{rs}/me", headers={"Authorization": f"Bearer {token.access_token}"}, timeout=10
        )
        assert bearer.status_code == 401
        print("requests-oauth2client:", token.token_type, introspected["cnf"], ok.json())
    finally:
        thread.stop()


def test_requests_oauth2client_retries_with_the_server_nonce(make_svc: Any) -> None:
    s: Svc = make_svc(dpop_nonce_secret="n" * 40)
    s.add_client("rs", secret="rs-secret", grants=("client_credentials",), scope="read")
    client = OAuth2Client(
        token_endpoint=f"{s.url}/token",
        client_id="rs",
        client_secret="rs-secret",
        dpop_bound_access_tokens=True,
        testing=True,
    )
    token = client.client_credentials(scope="read")
    assert isinstance(token, DPoPToken)
    assert token.dpop_key.as_nonce  # it learnt the nonce from use_dpop_nonce and retried
    print("requests-oauth2client nonce retry:", token.token_type, "nonce", token.dpop_key.as_nonce)
