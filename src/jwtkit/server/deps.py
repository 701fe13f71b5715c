"""FastAPI dependencies shared by the route modules: the service objects, the strict form body
(:func:`jwtkit.server.oauth.parse_form`), client credentials and the bearer access token.

The ones that do no I/O are ``async def``, so FastAPI runs them on the event loop instead of
handing each to the thread pool (one thread hop per dependency otherwise; issue 12).

Routes declare what they need (``svc: TokenService = Depends(token_service)``); the objects come
from ``app.state.services`` (a :class:`~jwtkit.server.runtime.Services`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from jwtkit.errors import InvalidDPoPProofError, JWTKitError
from jwtkit.middleware._core import _B64TOKEN, Principal, parse_bearer
from jwtkit.server.dpop import ALGORITHMS as DPOP_ALGORITHMS
from jwtkit.server.errors import NO_STORE
from jwtkit.server.oauth import (
    BearerRequired,
    ClientCredentials,
    InvalidRequest,
    InvalidToken,
    TemporarilyUnavailable,
    client_credentials_from,
    parse_form,
)
from jwtkit.server.passwords import HashQueueFull
from jwtkit.server.provider import Provider
from jwtkit.server.runtime import Services
from jwtkit.server.service import TokenService

T = TypeVar("T")

__all__ = [
    "FORM_BODY",
    "NO_STORE",
    "bearer_principal",
    "bearer_token",
    "client_address",
    "client_credentials",
    "form",
    "invalid_token",
    "optional_form",
    "password_work",
    "provider",
    "services",
    "services_of",
    "token_service",
]

#: OpenAPI ``requestBody`` of the form-encoded endpoints (RFC 6749 §3.2).
FORM_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/x-www-form-urlencoded": {
                "schema": {"type": "object", "additionalProperties": {"type": "string"}}
            }
        },
    }
}


def services_of(request: Request) -> Services:
    """The app's :class:`Services` (for endpoints that take the request alone)."""
    found: Services = request.app.state.services
    return found


_services = services_of


async def services(request: Request) -> Services:
    """The app's :class:`Services`. (The cheap dependencies are ``async def``, so resolving them
    takes no worker thread: endpoints that do not hash never queue behind ones that do.)"""
    return _services(request)


async def provider(request: Request) -> Provider:
    """The app's OpenID Connect :class:`~jwtkit.server.provider.Provider`."""
    return _services(request).provider


async def token_service(request: Request) -> TokenService:
    """The app's :class:`TokenService`."""
    return _services(request).service


async def form(request: Request) -> dict[str, str]:
    """The request's form body, parsed strictly (dict of str -> str; empty values dropped). No
    body at all is an empty form, whatever the Content-Type, so the answer names the missing
    parameter ("token is required") rather than the media type.

    Raises:
        InvalidRequest: see :func:`jwtkit.server.oauth.parse_form`.
    """
    body = await request.body()
    if not body:
        return {}
    return parse_form(request.headers.get("content-type"), body)


async def optional_form(request: Request) -> dict[str, str]:
    """As :func:`form` for a form-encoded body; any other body (none, JSON, text...) is an
    empty form (dict), for endpoints that also take the token from ``Authorization: Bearer``."""
    media = (request.headers.get("content-type") or "").partition(";")[0].strip().lower()
    if media != "application/x-www-form-urlencoded":
        return {}
    return await form(request)


async def client_credentials(
    request: Request, params: dict[str, str] = Depends(form)
) -> ClientCredentials:
    """The client credentials of a form request (Basic header or body, RFC 6749 §2.3).

    Raises:
        InvalidRequest, InvalidClient: see :func:`jwtkit.server.oauth.client_credentials_from`.
    """
    return client_credentials_from(request.headers.get("authorization"), params, _peer(request))


def _peer(request: Request) -> str | None:
    return request.client.host if request.client else None


async def client_address(request: Request) -> str | None:
    """The peer's IP address (str) or None (for login rate limits and audit); behind a trusted
    proxy (``forwarded_allow_ips``) the address it forwarded."""
    return _peer(request)


async def password_work(svc: TokenService, work: Callable[[], T]) -> T:
    """Run ``work`` (which may check a password with argon2id) in a worker thread once
    ``svc.password_admission`` admits it, so at most its slots of threads hash at once and the
    rest wait without holding a thread (issue 13 item 3).

    Raises:
        TemporarilyUnavailable: 503 with ``Retry-After: 1`` when too many requests wait.
    """
    try:
        async with svc.password_admission.admit():
            return await run_in_threadpool(work)
    except HashQueueFull:
        raise TemporarilyUnavailable(
            "too many logins in progress; retry shortly", headers={"Retry-After": "1"}
        ) from None


def bearer_token(request: Request) -> str:
    """The ``Authorization: Bearer`` credential (str, RFC 6750 §2.1).

    Raises:
        BearerRequired: 401 with a bare ``Bearer realm`` challenge and no error code when the
            request carries no bearer token (RFC 6750 §3.1).
        InvalidRequest: 400 with ``error="invalid_request"`` in the challenge when the
            credential is not a b64token (RFC 6750 §2.1, §3.1).
    """
    scheme, _, rest = (request.headers.get("authorization") or "").strip().partition(" ")
    dpop = scheme.lower() == "dpop"  # RFC 9449 §7: checked with its proof by bearer_principal
    request.state.jwtkit_dpop = dpop
    token = rest.strip() if dpop else parse_bearer(request.headers.get("authorization"))
    if token is None:
        raise BearerRequired("a bearer access token is required (RFC 6750 §2.1)")
    if _B64TOKEN.fullmatch(token) is None:
        raise InvalidRequest(
            "the Authorization header is not a valid bearer credential (RFC 6750 §2.1)",
            headers={"WWW-Authenticate": 'Bearer realm="jwtkit", error="invalid_request"'},
        )
    return token


def invalid_token(exc: JWTKitError, *, dpop: bool = False) -> InvalidToken:
    """The RFC 6750 §3.1 ``invalid_token`` error (401 with a challenge) for a verification
    failure ``exc``; only its code is echoed. With ``dpop`` (the request used the ``DPoP``
    scheme, or the token is DPoP-bound) the challenge is RFC 9449 §7.1's ``DPoP algs="..."``,
    with ``error="invalid_dpop_proof"`` for a proof failure and ``invalid_token`` otherwise."""
    if dpop:
        error = "invalid_dpop_proof" if isinstance(exc, InvalidDPoPProofError) else "invalid_token"
        algs = " ".join(DPOP_ALGORITHMS)
        challenge = f'DPoP realm="jwtkit", error="{error}", algs="{algs}"'
    else:
        challenge = 'Bearer realm="jwtkit", error="invalid_token"'
    return InvalidToken(
        f"the access token is not valid ({exc.code})",
        headers={"WWW-Authenticate": f'{challenge}, error_description="{exc.code}"'},
    )


def resource_claims(
    request: Request, token: str, svc: TokenService, *, check_revoked: bool = True
) -> dict[str, Any]:
    """The claims (dict) of ``token``, an access token of this service presented to one of its
    own protected endpoints (sessions, logout, userinfo), with RFC 9449 §7's rules: a
    DPoP-bound token only under the ``DPoP`` scheme (see :func:`bearer_token`) with one valid
    proof of its key (``ath``, ``htm`` = the request method, ``htu`` = the issuer plus the
    path, replay cache); an unbound token only under ``Bearer``. ``check_revoked=False``
    accepts a revoked token (logout is idempotent).

    Raises:
        InvalidToken: 401; the token does not verify or is revoked (Bearer challenge), or the
            DPoP rules above fail (``DPoP`` challenge with ``algs``).
    """
    dpop = bool(getattr(request.state, "jwtkit_dpop", False))
    try:
        claims = svc.verify_access_token(token, check_revoked=check_revoked)
    except JWTKitError as exc:
        raise invalid_token(exc, dpop=dpop) from None
    try:
        svc.dpop.check_resource_request(
            request.headers.getlist("dpop"),
            dpop=dpop,
            method=request.method,
            url=svc.issuer + request.url.path,
            token=token,
            claims=claims,
            now=svc.clock(),
        )
    except JWTKitError as exc:
        raise invalid_token(exc, dpop=True) from None
    return claims


def bearer_principal(
    request: Request,
    token: str = Depends(bearer_token),
    svc: TokenService = Depends(token_service),
) -> Principal:
    """The verified bearer of a user session: one of this service's access tokens, not
    revoked, with a ``sid`` (a :class:`~jwtkit.middleware.Principal`), checked by
    :func:`resource_claims`.

    Raises:
        InvalidRequest: 401, no bearer token. InvalidToken: 401, the token does not verify, is
            revoked or has no ``sid`` (a client_credentials token); a DPoP-bound token under
            ``Bearer``, or under ``DPoP`` without one valid proof of its key (RFC 9449 §7).
    """
    claims = resource_claims(request, token, svc)
    if not isinstance(claims.get("sid"), str):
        raise InvalidToken("this token has no user session")
    return Principal.from_claims(claims, token)
