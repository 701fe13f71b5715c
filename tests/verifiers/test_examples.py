"""The examples/ apps work together: gateway -> service A -> service B, one token."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import httpx
import pytest

from .conftest import REDIS_URL, MiniIssuer, UvicornThread, WerkzeugThread

ROOT = Path(__file__).resolve().parents[2]


def _load(name: str) -> ModuleType:
    sys.modules.pop(f"examples.{name}", None)
    return importlib.import_module(f"examples.{name}")


@pytest.fixture
def examples_path(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.syspath_prepend(str(ROOT))
    yield
    for name in ("gateway", "service_a", "service_b"):
        sys.modules.pop(f"examples.{name}", None)


def test_gateway_a_b_chain(
    examples_path: None, issuer: MiniIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JWTKIT_ISSUER", issuer.issuer)
    monkeypatch.setenv("AUDIENCE", issuer.audience)
    monkeypatch.setenv("REDIS_URL", REDIS_URL)
    service_b = _load("service_b")
    b = WerkzeugThread(service_b.app).start()
    monkeypatch.setenv("SERVICE_B", b.url)
    a = UvicornThread(_load("service_a").app, lifespan="on").start()
    monkeypatch.setenv("SERVICE_A", a.url)
    gw = UvicornThread(_load("gateway").app, lifespan="on").start()
    try:
        token = issuer.token(scope="orders:read inventory:read")
        auth = {"Authorization": f"Bearer {token}"}
        r = httpx.get(gw.url + "/a/orders", headers=auth)
        assert r.status_code == 200, r.text
        assert r.json()["from_b"] == {"sub": "alice", "tea": 42}
        r = httpx.get(gw.url + "/a/orders/admin", headers=auth)
        assert r.status_code == 403
        assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
        assert httpx.get(gw.url + "/a/orders").status_code == 401
        assert httpx.get(b.url + "/health").status_code == 200
        # Each keeps its denylist from the token service's feed (this issuer has none: the
        # listener keeps retrying in the background and the apps serve meanwhile).
        assert service_b.listener.state()["source"] == "feed"
        assert service_b.denylist.sources
    finally:
        gw.stop()
        a.stop()
        b.stop()
        service_b.listener.stop()
