"""The revocation feed, for resource servers that keep a denylist without Redis.

* ``GET /revocations/events?since=SEQ&limit=N&wait=S``: the outbox's events with ``seq`` > SEQ,
  in order, at most N (default and cap ``revocation_feed_page_size``). With ``wait`` > 0 and
  nothing new, the request is held (long poll) until an event is committed or ``wait`` seconds
  (capped by ``revocation_feed_max_wait``) have passed. Body: ``{"events": [{"seq", "kind",
  "value", "until", "cutoff"?}], "next": SEQ', "latest": HIGH, "more": bool}``
  (:func:`jwtkit.revocation.parse_feed_page`).
* ``GET /revocations/snapshot?after=CURSOR&limit=N``: the live set in pages, ``{"seq",
  "entries": [{"kind", "value", "until", "cutoff"?}], "cursor"}``; every event up to ``seq`` is
  reflected in it (:func:`jwtkit.revocation.parse_snapshot_page`).

Both are advertised in the server metadata (``revocation_events_endpoint``,
``revocation_snapshot_endpoint``) and need the credentials of a confidential client registered
as a resource server in ``Authorization: Basic`` (RFC 6749 §2.3.1), since ``sub``, ``sid`` and
``jti`` values are not public. Errors are RFC 6749 §5.2 JSON: 401 ``invalid_client``, 403
``unauthorized_client`` (not a resource server), 400 ``invalid_request`` for a malformed
parameter. Pages are bounded, so a slow reader holds at most one page of memory.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from jwtkit.server.deps import NO_STORE, services
from jwtkit.server.oauth import InvalidRequest, UnauthorizedClient, client_credentials_from
from jwtkit.server.runtime import Services

__all__ = ["router"]

router = APIRouter(tags=["revocation feed"])

_DIGITS = re.compile(r"[0-9]{1,18}")
_NUMBER = re.compile(r"[0-9]{1,6}(\.[0-9]{1,6})?")
_CURSOR = re.compile(r"(jti|sid|sub):[\x21-\x7e]{1,255}")


def _query(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    """The query parameters, each at most once and only the ``allowed`` names.

    Raises:
        InvalidRequest: an unknown or repeated parameter.
    """
    out: dict[str, str] = {}
    for name, value in request.query_params.multi_items():
        if name not in allowed:
            raise InvalidRequest(f"unknown parameter {name!r}")
        if name in out:
            raise InvalidRequest(f"parameter {name!r} given more than once")
        out[name] = value
    return out


def _int(params: dict[str, str], name: str, default: int | None, low: int, high: int) -> int:
    raw = params.get(name)
    if raw is None:
        if default is None:
            raise InvalidRequest(f"{name} is required")
        return default
    if _DIGITS.fullmatch(raw) is None or not low <= int(raw) <= high:
        raise InvalidRequest(f"{name} must be an integer from {low} to {high}")
    return int(raw)


def _authenticate(request: Request, s: Services) -> None:
    """Require a confidential client registered as a resource server (``clients add
    --resource-server``) in ``Authorization: Basic`` (credentials in the query string would end
    up in logs, RFC 6750 §5.3).

    Raises:
        InvalidClient: 401 with a Basic challenge. UnauthorizedClient: 403, the client is not a
            resource server.
    """
    creds = client_credentials_from(request.headers.get("authorization"), {})
    address = request.client.host if request.client else None  # for the client-auth limits
    client = s.service.authenticate_client(
        dataclasses.replace(creds, address=address), allow_public=False
    )
    if not client.resource_server:
        raise UnauthorizedClient(
            "only resource-server clients may read the revocation feed", status=403
        )


def _json(body: dict[str, Any]) -> Response:
    return JSONResponse(body, headers=NO_STORE)


@router.get("/revocations/events")
async def revocation_events(request: Request, s: Services = Depends(services)) -> Response:
    """The revocation feed's events after ``since`` (int >= 0, required), at most ``limit``
    (int, 1 to the page cap); ``wait`` (seconds, decimal, default 0) holds the request until
    something is committed (long poll). Returns ``{"events", "next", "latest", "more"}``;
    401 ``invalid_client``; 400 ``invalid_request`` for a malformed parameter."""
    cfg = s.settings
    params = _query(request, ("since", "limit", "wait"))
    since = _int(params, "since", None, 0, 10**18)
    limit = _int(params, "limit", cfg.revocation_feed_page_size, 1, cfg.revocation_feed_page_size)
    raw_wait = params.get("wait", "0")
    if _NUMBER.fullmatch(raw_wait) is None:
        raise InvalidRequest("wait must be a number of seconds")
    wait = min(float(raw_wait), float(cfg.revocation_feed_max_wait))
    await run_in_threadpool(_authenticate, request, s)
    # Hold the request only when the database has nothing after ``since`` either: a reader
    # ahead of the database (a restored one) must hear of it at once, to reload.
    if (
        wait > 0
        and s.relay.latest <= since
        and await run_in_threadpool(s.store.outbox_latest) == since
    ):
        await s.relay.wait_beyond(since, wait)
    events, latest = await run_in_threadpool(s.store.outbox_read, since, limit)
    return _json(
        {
            "events": [e.to_json() for e in events],
            "next": events[-1].seq if events else since,
            "latest": latest,
            "more": bool(events) and events[-1].seq < latest,
        }
    )


@router.get("/revocations/snapshot")
def revocation_snapshot(request: Request, s: Services = Depends(services)) -> Response:
    """The live revocations in pages: ``after`` (the previous page's ``cursor``), ``limit``
    (int, 1 to the page cap). Returns ``{"seq", "entries", "cursor"}`` (``cursor`` None on the
    last page); 401 ``invalid_client``; 400 ``invalid_request`` for a malformed parameter."""
    cfg = s.settings
    params = _query(request, ("after", "limit"))
    limit = _int(params, "limit", cfg.revocation_feed_page_size, 1, cfg.revocation_feed_page_size)
    after = params.get("after")
    if after is not None and _CURSOR.fullmatch(after) is None:
        raise InvalidRequest("after must be a cursor from a previous page")
    _authenticate(request, s)
    key = None
    if after is not None:
        kind, _, value = after.partition(":")
        key = (kind, value)
    seq, entries = s.store.revocations_page(key, limit, s.clock())
    cursor = f"{entries[-1].kind}:{entries[-1].value}" if len(entries) == limit else None
    return _json(
        {
            "seq": seq,
            "entries": [
                {"kind": e.kind, "value": e.value, "until": e.until}
                | ({"cutoff": e.cutoff} if e.kind == "sub" else {})
                for e in entries
            ],
            "cursor": cursor,
        }
    )
