"""The HTTP revocation-feed listeners (thread and asyncio) against a real feed server on
loopback: discovery, load, long poll, resume after a restart, reload when far behind or when the
sequence goes back, the outage policy (serve / fail closed), bad credentials and bad pages; and
the Redis listener's sequence bookkeeping."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest

from jwtkit.errors import RevocationUnavailableError
from jwtkit.middleware import BearerGuard, access_token_verifier
from jwtkit.middleware.listener import (
    AsyncFeedRevocationListener,
    FeedRevocationListener,
    RevocationListener,
    prometheus_text,
)
from jwtkit.revocation import Denylist, make_event

from .conftest import REDIS_URL, MiniIssuer, RedisRevocations, wait_until
from .feedfake import CLIENT_ID, CLIENT_SECRET, MiniFeed
from .test_revocation_listener import NOW, _claims


@pytest.fixture
def feed() -> Iterator[MiniFeed]:
    f = MiniFeed().start()
    yield f
    f.stop()


def _listener(feed: MiniFeed, **kw: Any) -> FeedRevocationListener:
    options: dict[str, Any] = {
        "poll_wait": 1.0,
        "reconnect_delay": 0.05,
        "max_reconnect_delay": 0.2,
    }
    options.update(kw)
    return FeedRevocationListener(
        issuer=feed.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, **options
    )


def test_thread_listener_discovers_loads_and_follows(feed: MiniFeed) -> None:
    feed.add("jti", "j-old", NOW + 600)
    feed.add("jti", "j-gone", NOW - 5)  # expired: pruned after the load
    feed.add("sid", "s-old", NOW + 600)
    with _listener(feed, page_size=2) as listener:  # two snapshot pages
        assert listener.ready.is_set()
        deny = listener.denylist
        assert deny.is_revoked(_claims(jti="j-old")) == "jti"
        assert deny.is_revoked(_claims(jti="j-gone")) is None
        assert deny.is_revoked(_claims(sid="s-old")) == "sid"
        assert listener.last_seq == 3 and listener.loads == 1
        for n in range(5):  # more than a page: catch-up continues without waiting
            feed.add("jti", f"j-{n}", NOW + 600)
        feed.add("sub", "u-1", NOW + 600, cutoff=NOW - 1)
        wait_until(lambda: listener.last_seq == 9, timeout=3)
        assert deny.is_revoked(_claims(jti="j-4")) == "jti"
        assert deny.is_revoked(_claims(sub="u-1", iat=NOW - 2)) == "sub"
        state = listener.state()
        assert state["connected"] and state["source"] == "feed"
        assert state["last_seq"] == 9 and state["lag"] == 0 and state["events_applied"] == 6
        assert state["duplicates"] == 0 and not state["refusing"]
    assert all(r["since"].isdigit() for r in feed.requests)


def test_async_listener_follows(feed: MiniFeed) -> None:
    feed.add("sid", "s-old", NOW + 600)

    async def main() -> None:
        async with AsyncFeedRevocationListener(
            issuer=feed.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET, poll_wait=1.0
        ) as listener:
            assert listener.ready.is_set()
            assert listener.denylist.is_revoked(_claims(sid="s-old")) == "sid"
            started = time.monotonic()
            feed.add("jti", "j-new", NOW + 600)
            for _ in range(300):
                if listener.denylist.is_revoked(_claims(jti="j-new")):
                    break
                await asyncio.sleep(0.005)
            assert listener.denylist.is_revoked(_claims(jti="j-new")) == "jti"
            assert time.monotonic() - started < 1.0  # pushed by the long poll, not a period
            assert listener.state()["last_seq"] == 2

    asyncio.run(main())


def test_resumes_from_its_sequence_after_a_restart(feed: MiniFeed) -> None:
    feed.add("jti", "j-1", NOW + 600)
    with _listener(feed) as listener:
        feed.stop()
        wait_until(lambda: not listener.connected, timeout=3)
        feed.add("jti", "j-2", NOW + 600)  # revoked while the verifier could not hear
        feed.requests.clear()
        feed.start()
        wait_until(lambda: listener.last_seq == 2, timeout=5)
        assert listener.denylist.is_revoked(_claims(jti="j-2")) == "jti"
        assert feed.requests[0]["since"] == "1"  # resumed, no reload
        assert listener.loads == 1 and feed.snapshots == 1
        state = listener.state()
        assert state["outages"] == 1 and state["events_applied"] == 1 and state["connected"]


def test_reloads_when_too_far_behind_or_when_the_sequence_goes_back(feed: MiniFeed) -> None:
    with _listener(feed, reload_after=3) as listener:
        assert listener.loads == 1
        feed.stop()
        wait_until(lambda: not listener.connected, timeout=3)
        for n in range(10):
            feed.add("jti", f"j-{n}", NOW + 600)
        feed.start()
        wait_until(lambda: listener.loads == 2, timeout=5)
        wait_until(lambda: listener.last_seq == 10, timeout=3)
        assert listener.denylist.is_revoked(_claims(jti="j-9")) == "jti"
        feed.events = feed.events[:2]  # the service's sequence went back (restored database)
        feed.add("sid", "s-after-reset", NOW + 600)
        wait_until(lambda: listener.loads == 3, timeout=5)
        wait_until(lambda: listener.denylist.is_revoked(_claims(sid="s-after-reset")), 3)
        assert listener.last_seq == 3


def test_fail_closed_policy_refuses_while_the_feed_is_down(feed: MiniFeed) -> None:
    with MiniIssuer() as issuer:
        with _listener(feed, max_outage=0.3, on_outage="refuse") as listener:
            verifier = access_token_verifier(
                issuer.keys[0].public(),
                issuer=issuer.issuer,
                audience=issuer.audience,
                algorithms=["ES256"],
            )
            guard = BearerGuard(verifier, denylist=listener.denylist)
            token = issuer.token()
            guard.authenticate(f"Bearer {token}")
            feed.stop()
            wait_until(lambda: not listener.connected, timeout=3)
            wait_until(lambda: not listener.denylist.available, timeout=3)
            with pytest.raises(RevocationUnavailableError):
                listener.denylist.check(_claims())
            err = pytest.raises(Exception, guard.authenticate, f"Bearer {token}").value
            assert getattr(err, "status", None) == 503
            assert listener.state()["refusing"]
            feed.start()
            wait_until(lambda: listener.denylist.available, timeout=5)
            guard.authenticate(f"Bearer {token}")
        assert not listener.denylist.available  # stopped: it no longer vouches


def test_serve_policy_warns_once_and_keeps_serving(
    feed: MiniFeed, caplog: pytest.LogCaptureFixture
) -> None:
    feed.add("jti", "j-1", NOW + 600)
    with (
        caplog.at_level(logging.WARNING, logger="jwtkit.revocation"),
        _listener(feed, max_outage=0.2) as listener,
    ):
        assert f'jwtkit_revocation_source_up{{source="{listener.name}"}} 1' in (
            prometheus_text(listener)
        )
        feed.stop()
        wait_until(lambda: listener.state()["down_seconds"] > 0.5, timeout=3)
        assert listener.denylist.available
        assert listener.denylist.is_revoked(_claims(jti="j-1")) == "jti"  # kept
        text = prometheus_text(listener)  # the metric of the outage
        assert f'jwtkit_revocation_source_up{{source="{listener.name}"}} 0' in text
        assert f'jwtkit_revocation_outages_total{{source="{listener.name}"}} 1' in text
        assert "# TYPE jwtkit_revocation_down_seconds gauge" in text
        feed.start()
        wait_until(lambda: listener.connected, timeout=5)
    down = [r for r in caplog.records if "down for more than" in r.getMessage()]
    assert len(down) == 1 and "still serving" in down[0].getMessage()
    assert any("is back after" in r.getMessage() for r in caplog.records)


def test_bad_credentials_and_bad_pages_do_not_stop_the_listener(feed: MiniFeed) -> None:
    bad = FeedRevocationListener(
        issuer=feed.url, client_id=CLIENT_ID, client_secret="wrong", reconnect_delay=0.05
    )
    with bad:
        assert not bad.ready.is_set() and not bad.connected
    feed.broken = True
    with _listener(feed) as listener:
        feed.add("jti", "j-1", NOW + 600)
        wait_until(lambda: listener.state()["outages"] >= 1, timeout=3)
        feed.broken = False
        wait_until(lambda: listener.denylist.is_revoked(_claims(jti="j-1")) == "jti", 5)


def test_no_feed_in_metadata_and_arguments() -> None:
    with MiniIssuer() as issuer:  # its metadata has no revocation feed
        listener = FeedRevocationListener(
            issuer=issuer.issuer, client_id="x", client_secret="y", reconnect_delay=0.05
        )
        with listener:
            assert not listener.ready.is_set()
    with pytest.raises(ValueError):
        FeedRevocationListener(client_id="x", client_secret="y")
    with pytest.raises(ValueError):
        FeedRevocationListener(issuer="http://x", client_id="x", client_secret="y", on_outage="x")  # type: ignore[arg-type]


def test_guard_warns_once_without_a_revocation_source(
    issuer: MiniIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    verifier = access_token_verifier(
        issuer.keys[0].public(),
        issuer=issuer.issuer,
        audience=issuer.audience,
        algorithms=["ES256"],
    )
    token = issuer.token()
    with caplog.at_level(logging.WARNING, logger="jwtkit.middleware"):
        for denylist in (None, Denylist()):
            guard = BearerGuard(verifier, denylist=denylist)
            for _ in range(3):
                guard.authenticate(f"Bearer {token}")
        filled = Denylist()
        filled.attach_source("feed:test")
        BearerGuard(verifier, denylist=filled).authenticate(f"Bearer {token}")
    warnings = [r for r in caplog.records if "no revocation source" in r.getMessage()]
    assert len(warnings) == 2


def test_redis_listener_skips_duplicates_and_reloads_on_a_gap(
    redis_revocations: RedisRevocations,
) -> None:
    rr = redis_revocations
    rr.client.zadd(rr.keys["jti"], {"j-1": NOW + 600})
    rr.client.set(rr.keys["seq"], 1)
    with RevocationListener(url=REDIS_URL, prefix=rr.prefix) as listener:
        assert listener.last_seq == 1
        channel = rr.keys["channel"]
        rr.client.publish(channel, make_event("jti", "j-1", NOW + 600, seq=1))  # duplicate
        rr.client.publish(channel, make_event("jti", "j-2", NOW + 600, seq=2))
        wait_until(lambda: listener.last_seq == 2, timeout=2)
        assert listener.duplicates == 1 and listener.events_applied == 1
        # seq 3 was missed (only in the sets); seq 4 reveals the gap and the sets are reloaded.
        rr.client.zadd(rr.keys["jti"], {"j-3": NOW + 600, "j-4": NOW + 600})
        rr.client.set(rr.keys["seq"], 4)
        rr.client.publish(channel, make_event("jti", "j-4", NOW + 600, seq=4))
        wait_until(lambda: listener.denylist.is_revoked(_claims(jti="j-3")) == "jti", 2)
        assert listener.loads == 2 and listener.state()["last_seq"] == 4
