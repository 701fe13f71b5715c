"""Operations: liveness (``/healthz``), readiness (``/readyz``) and Prometheus ``/metrics``."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from jwtkit.middleware._core import parse_bearer
from jwtkit.server.deps import services
from jwtkit.server.oauth import InvalidToken, NotFound
from jwtkit.server.runtime import Services

__all__ = ["router"]

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: 200 ``{"status": "ok"}`` while the process serves requests."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(s: Services = Depends(services)) -> Response:
    """Readiness: 200 when the database (and Redis, when configured) answer, else 503;
    body ``{"status", "database", "redis", "revocation_channels": {"http_feed", "redis", "seq",
    "redis_lag"}}`` (which revocation channels are live, the outbox's last ``seq``, and how many
    events Redis has not had yet)."""
    result = s.readiness()
    ready = result["database"] == "ok" and result["redis"] in ("ok", "not configured")
    return JSONResponse(
        {"status": "ready" if ready else "not ready", **result},
        status_code=200 if ready else 503,
    )


@router.get("/metrics")
async def metrics(request: Request, s: Services = Depends(services)) -> Response:
    """Prometheus text exposition of the service's metrics, when ``metrics_enabled`` (else 404
    like any unknown path); with ``metrics_token`` set, only for ``Authorization: Bearer
    <metrics_token>`` (compared in constant time; 401 with a Bearer challenge otherwise)."""
    cfg = s.settings
    if not cfg.metrics_enabled:
        raise NotFound("not found")
    if cfg.metrics_token is not None:
        expected = cfg.metrics_token.get_secret_value().encode()
        given = (parse_bearer(request.headers.get("authorization")) or "").encode()
        if not hmac.compare_digest(given, expected):
            raise InvalidToken(
                "a bearer token is required for /metrics",
                headers={"WWW-Authenticate": 'Bearer realm="jwtkit-metrics"'},
            )
    return Response(s.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")
