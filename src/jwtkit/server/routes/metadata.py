"""Keys and metadata: the JWK Set (RFC 7517 §5) and the authorization server metadata
(RFC 8414) at both well-known paths."""

from __future__ import annotations

import orjson
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from jwtkit.server.deps import services_of
from jwtkit.server.direct import direct
from jwtkit.server.discovery import metadata
from jwtkit.server.runtime import Services

__all__ = ["router"]

router = APIRouter(tags=["metadata"])


@router.get("/.well-known/jwks.json")
@direct
async def jwks(request: Request) -> Response:
    """The public JWK Set (RFC 7517 §5): next, current and still-published retired keys,
    with ``Cache-Control: public, max-age=<jwks_max_age>``: both key families (access tokens and
    ID tokens). The body is prebuilt per key table; only a stale table is re-read (in the thread
    pool). Called directly (:mod:`jwtkit.server.direct`)."""
    s = services_of(request)
    if s.jwks_fresh():
        body = s.jwks_body()
    else:
        body = await run_in_threadpool(s.jwks_body)
    return Response(
        body,
        headers={"Cache-Control": f"public, max-age={s.settings.jwks_max_age}"},
        media_type="application/jwk-set+json",
    )


def _metadata(s: Services) -> Response:
    body: bytes | None = getattr(s, "_metadata_body", None)
    if body is None:  # the settings never change for a running service: build it once
        body = orjson.dumps(metadata(s.settings))
        setattr(s, "_metadata_body", body)  # noqa: B010 - a cache on the instance
    return Response(
        body, headers={"Cache-Control": "public, max-age=300"}, media_type="application/json"
    )


@router.get("/.well-known/oauth-authorization-server")
@direct
async def oauth_metadata(request: Request) -> Response:
    """Authorization server metadata (RFC 8414 §2, §3)."""
    return _metadata(services_of(request))


@router.get("/.well-known/openid-configuration")
@direct
async def openid_configuration(request: Request) -> Response:
    """The same metadata at the OpenID Connect discovery path (RFC 8414 §5)."""
    return _metadata(services_of(request))
