"""The token service's DPoP replay cache (RFC 9449 §11.1): with ``redis_url`` set, every
instance on that Redis shares one ``jti`` cache, so a proof one instance accepted is a replay at
another; without Redis, each process keeps its own."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

import jwtkit
from jwtkit import dpop
from jwtkit.server.dpop import InvalidDPoPProof
from jwtkit.server.runtime import Services, build_services

from .support import make_settings

KEY = jwtkit.Key.generate("EC", crv="P-256")


def _two(tmp_path: Path, backend: str) -> tuple[Services, Services]:
    settings = make_settings(backend, tmp_path / "a", 0, None)
    overrides: dict[str, str] = {}
    if settings.redis_url:
        overrides = {"redis_prefix": settings.redis_prefix}
    other = make_settings(backend, tmp_path / "b", 0, None, **overrides)
    return build_services(settings), build_services(other)


def test_instances_on_one_redis_share_the_replay_cache(tmp_path: Path) -> None:
    a, b = _two(tmp_path, "sqlite+redis")
    try:
        assert a.service.issuer == b.service.issuer
        now = time.time()
        htu = f"{a.service.issuer}/token"
        proof = dpop.make_proof(KEY, "POST", htu, iat=now)
        assert a.service.dpop.thumbprint([proof], now) == KEY.thumbprint()
        with pytest.raises(InvalidDPoPProof, match="replay"):
            b.service.dpop.thumbprint([proof], now)
        fresh = dpop.make_proof(KEY, "POST", htu, iat=now)
        assert b.service.dpop.thumbprint([fresh], now) == KEY.thumbprint()
    finally:
        a.close()
        b.close()
