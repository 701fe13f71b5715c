"""The DPoP jti replay cache shared through a real Redis (RFC 9449 §11.1): a proof accepted by
one verifier instance is a replay at every other instance on the same Redis; Redis down fails
closed."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import pytest
import redis

import jwtkit
from jwtkit import dpop
from jwtkit.errors import InvalidDPoPProofError
from jwtkit.store.redis import RedisReplayCache, connect

from .conftest import REDIS_URL

HTU = "https://rs.example/api"
KEY = jwtkit.Key.generate("EC", crv="P-256")


@pytest.fixture
def prefix() -> Iterator[str]:
    value = f"jwtkit-test:{uuid.uuid4().hex}"
    yield value
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{value}:*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


def _two_instances(prefix: str) -> tuple[RedisReplayCache, RedisReplayCache]:
    # two clients (two connection pools), as two verifier processes would have
    return (
        RedisReplayCache(connect(REDIS_URL, 0.5), prefix),
        RedisReplayCache(connect(REDIS_URL, 0.5), prefix),
    )


def test_replay_across_two_instances_is_refused(prefix: str) -> None:
    first, second = _two_instances(prefix)
    proof = dpop.make_proof(KEY, "GET", HTU)
    assert dpop.verify_proof(proof, htm="GET", htu=HTU, replay=first).jkt == KEY.thumbprint()
    with pytest.raises(InvalidDPoPProofError, match="replay"):
        dpop.verify_proof(proof, htm="GET", htu=HTU, replay=second)
    with pytest.raises(InvalidDPoPProofError, match="replay"):
        dpop.verify_proof(proof, htm="GET", htu=HTU, replay=first)
    # a fresh proof (new jti) from the same key is fine at the other instance
    fresh = dpop.make_proof(KEY, "GET", HTU)
    assert dpop.verify_proof(fresh, htm="GET", htu=HTU, replay=second).jkt == KEY.thumbprint()


def test_entries_expire_with_the_proof(prefix: str) -> None:
    cache, _ = _two_instances(prefix)
    assert cache.add("k1", time.time() + 0.3)
    assert not cache.add("k1", time.time() + 0.3)
    ttl = cache.client.pttl(f"{prefix}:dpop:jti:k1")
    assert 0 < ttl <= 300
    # an already-past expiry still takes a slot for at least a millisecond (never an error)
    assert cache.add("k2", time.time() - 10)


def test_redis_unavailable_fails_closed(prefix: str) -> None:
    dead = RedisReplayCache(connect("redis://127.0.0.1:1/0", 0.2), prefix)
    proof = dpop.make_proof(KEY, "GET", HTU)
    start = time.monotonic()
    with pytest.raises(InvalidDPoPProofError, match="unavailable"):
        dpop.verify_proof(proof, htm="GET", htu=HTU, replay=dead)
    assert time.monotonic() - start < 5
