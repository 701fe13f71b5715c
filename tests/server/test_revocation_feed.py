"""The revocation outbox and the HTTP revocation feed on the real service (SQLite, PostgreSQL,
PostgreSQL + Redis): every revocation path writes one event in its transaction, with gapless
sequence numbers; the feed is client-authenticated, validates its parameters (400 OAuth JSON),
long-polls, pages the live set; the relay publishes the same events, in order and once, to Redis;
sequence numbers never let a reader skip an event that commits late (two stores on one
PostgreSQL)."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import httpx
import pytest
import redis

from jwtkit.revocation import parse_feed_page, parse_snapshot_page, redis_keys
from jwtkit.store.revocations import put_revocation
from jwtkit.store.sql import RevocationEntry, SQLStore

from .support import REDIS_URL, Svc

RS = ("feed-rs", "feed-rs-secret")


@pytest.fixture
def svc(svc: Svc) -> Svc:
    """The shared service plus a resource-server client for the feed."""
    svc.add_client(RS[0], secret=RS[1], grants=("client_credentials",), resource_server=True)
    return svc


def _events(s: Svc, since: int = 0, **params: Any) -> dict[str, Any]:
    r = s.http.get("/revocations/events", params={"since": since, **params}, auth=RS)
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body: dict[str, Any] = r.json()
    parse_feed_page(r.content, since)  # the shape the listeners accept
    return body


def test_every_revocation_path_writes_one_ordered_event(svc: Svc) -> None:
    a = svc.login()
    b = svc.login()
    c = svc.login()
    assert svc.http.post("/logout", data={"token": a["refresh_token"]}).status_code == 204
    r = svc.http.post("/revoke", data={"token": b["access_token"], "client_id": "web"})
    assert r.status_code == 200
    user = svc.store.get_user("alice")
    svc.service.revoke_user(user, reason="admin", actor="test")  # c's session + the cut-off
    body = _events(svc)
    kinds = [(e["seq"], e["kind"]) for e in body["events"]]
    assert kinds == [(1, "sid"), (2, "jti"), (3, "sid"), (4, "sid"), (5, "sub")]
    assert body["latest"] == 5 and body["next"] == 5 and body["more"] is False
    sids = {e["value"] for e in body["events"] if e["kind"] == "sid"}
    assert svc.service.verify_access_token(c["access_token"], check_revoked=False)["sid"] in sids
    assert body["events"][4]["cutoff"] <= svc.clock()
    # A revocation already in force writes nothing; a rolled-back transaction writes nothing.
    assert svc.http.post("/logout", data={"token": a["refresh_token"]}).status_code == 204
    with pytest.raises(RuntimeError), svc.store.db.write() as conn:
        put_revocation(conn, RevocationEntry("jti", "j-rolled-back", svc.clock() + 60), 0.0)
        raise RuntimeError("abort")
    assert _events(svc, 5)["events"] == [] and svc.store.outbox_latest() == 5
    # Pages are bounded and chain with next/more.
    page = _events(svc, 0, limit=2)
    assert [e["seq"] for e in page["events"]] == [1, 2] and page["more"] is True
    assert [e["seq"] for e in _events(svc, 2, limit=2)["events"]] == [3, 4]
    # Expired events are pruned with the revocations.
    svc.clock.advance(3600)
    svc.services.resync()
    assert _events(svc)["events"] == [] and _events(svc)["latest"] == 5


def test_feed_is_client_authenticated_and_validates_its_parameters(svc: Svc) -> None:
    url = "/revocations/events"
    for auth in (None, ("rs", "wrong"), ("nobody", "x")):
        r = svc.http.get(url, params={"since": 0}, auth=auth)
        assert r.status_code == 401 and r.json()["error"] == "invalid_client", auth
    r = svc.http.get(url, params={"since": 0}, headers={"Authorization": "Basic d2ViOg=="})
    assert r.status_code == 401  # the public client "web" (no secret) may not read
    svc.add_client("m2m", secret="m2m-secret", grants=("client_credentials",))
    for path in (url, "/revocations/snapshot"):
        params = {"since": "0"} if path == url else {}
        r = svc.http.get(path, params=params, auth=("m2m", "m2m-secret"))
        assert r.status_code == 403 and r.json()["error"] == "unauthorized_client"  # not an RS
    r = svc.http.get("/revocations/snapshot", auth=None)
    assert r.status_code == 401 and "www-authenticate" in r.headers
    r = svc.http.get(url, params={"since": 0, "client_id": RS[0], "client_secret": RS[1]})
    assert r.status_code == 400  # credentials in the query string are refused
    bad: list[Any] = [
        {},
        {"since": "abc"},
        {"since": "-1"},
        {"since": "1.5"},
        {"since": ""},
        {"since": "1e3"},
        {"since": "9" * 40},
        {"since": "0x10"},
        {"since": " 1"},
        {"since": "١"},  # a non-ASCII digit
        [("since", "1"), ("since", "2")],
        {"since": "0", "limit": "0"},
        {"since": "0", "limit": "100000"},
        {"since": "0", "wait": "-1"},
        {"since": "0", "wait": "nan"},
        {"since": "0", "wait": "inf"},
        {"since": "0", "bogus": "1"},
    ]
    for params in bad:
        r = svc.http.get(url, params=params, auth=RS)
        assert r.status_code == 400, (params, r.text)
        assert r.json()["error"] == "invalid_request" and r.headers["cache-control"] == "no-store"
    for after in ("x", "jti", "nope:1", "jti:" + "a" * 300, "jti:a b"):
        r = svc.http.get("/revocations/snapshot", params={"after": after}, auth=RS)
        assert r.status_code == 400 and r.json()["error"] == "invalid_request", after
    meta = svc.http.get("/.well-known/oauth-authorization-server").json()
    assert meta["revocation_events_endpoint"] == f"{svc.url}/revocations/events"
    assert meta["revocation_snapshot_endpoint"] == f"{svc.url}/revocations/snapshot"


def test_long_poll_returns_when_a_revocation_commits(svc: Svc) -> None:
    tokens = svc.login()
    latest = _events(svc)["latest"]
    result: dict[str, Any] = {}

    def poll() -> None:
        t0 = time.monotonic()
        result["body"] = _events(svc, latest, wait=10)
        result["took"] = time.monotonic() - t0

    worker = threading.Thread(target=poll)
    worker.start()
    time.sleep(0.3)
    svc.http.post("/logout", data={"token": tokens["refresh_token"]})
    worker.join(15)
    assert [e["kind"] for e in result["body"]["events"]] == ["sid"]
    assert 0.25 < result["took"] < 2.0  # held, then answered at the commit, not after 10 s
    t0 = time.monotonic()
    assert _events(svc, result["body"]["latest"], wait=0.5)["events"] == []  # times out
    assert time.monotonic() - t0 >= 0.45
    t0 = time.monotonic()  # a reader ahead of the database (a restored one) is answered at once
    ahead = _events(svc, result["body"]["latest"] + 100, wait=10)
    assert ahead["latest"] < result["body"]["latest"] + 100 and time.monotonic() - t0 < 5
    ready = svc.http.get("/readyz").json()["revocation_channels"]
    assert ready["http_feed"] == "live" and ready["seq"] == result["body"]["latest"]
    assert ready["redis"] == ("live" if svc.settings.redis_url else "not configured")
    text = svc.services.metrics.render().decode()
    assert f"jwtkit_revocation_outbox_seq {float(ready['seq'])}" in text
    assert "jwtkit_revocation_redis_lag 0.0" in text
    assert f"jwtkit_revocation_redis_up {1.0 if svc.settings.redis_url else 0.0}" in text


def test_snapshot_pages_the_live_set(svc: Svc) -> None:
    now = svc.clock()
    with svc.store.db.write() as conn:
        for n in range(23):
            put_revocation(conn, RevocationEntry("jti", f"j-{n:02d}", now + 600), now)
        put_revocation(conn, RevocationEntry("sub", "u-1", now + 600, now - 5), now)
        put_revocation(conn, RevocationEntry("jti", "j-expired", now - 1), now)
    seen: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 10}
    seqs = set()
    for _ in range(10):
        r = svc.http.get("/revocations/snapshot", params=params, auth=RS)
        assert r.status_code == 200, r.text
        page = parse_snapshot_page(r.content)
        seqs.add(page.seq)
        seen += page.entries
        if page.cursor is None:
            break
        params = {"limit": 10, "after": page.cursor}
    assert seqs == {25}
    values = [e["value"] for e in seen]
    assert len(values) == len(set(values)) == 24 and "j-expired" not in values
    assert {"kind": "sub", "value": "u-1", "until": now + 600, "cutoff": now - 5} in seen


@pytest.mark.parametrize("backend", ["postgresql+redis"])
def test_two_instances_relay_each_event_once_in_order(make_svc: Any) -> None:
    first = make_svc()
    first.add_user()
    first.add_client()
    first.add_client(RS[0], secret=RS[1], grants=("client_credentials",), resource_server=True)
    second = make_svc(
        redis_prefix=first.settings.redis_prefix,
        revocation_prefix=first.settings.revocation_prefix,
    )
    keys = redis_keys(first.settings.revocation_prefix)
    sub = redis.Redis.from_url(REDIS_URL).pubsub(ignore_subscribe_messages=True)
    sub.subscribe(keys["channel"])
    try:
        for n in range(12):
            svc = (first, second)[n % 2]
            tokens = svc.login()
            assert svc.http.post("/logout", data={"token": tokens["refresh_token"]}).status_code
        events: list[dict[str, Any]] = []
        deadline = time.monotonic() + 10
        while len(events) < 12 and time.monotonic() < deadline:
            msg = sub.get_message(timeout=0.2)
            if msg:
                events.append(json.loads(msg["data"]))
        time.sleep(0.5)  # any duplicate would arrive meanwhile
        while (msg := sub.get_message(timeout=0.1)) is not None:
            events.append(json.loads(msg["data"]))
        assert [e["seq"] for e in events] == list(range(1, 13))
        client = redis.Redis.from_url(REDIS_URL)
        assert int(client.get(keys["seq"]) or 0) == 12
        assert client.zcard(keys["sid"]) == 12
        client.close()
        for s in (first, second):  # both feeds carry the same events
            body = _events(s, 0)
            assert [e["seq"] for e in body["events"]] == list(range(1, 13))
    finally:
        sub.close()


def test_a_late_commit_is_never_skipped(pg_url: str) -> None:
    """Two stores on one PostgreSQL (two service instances): a transaction that took seq N and
    commits late holds back N+1, so a reader polling ``seq > since`` sees N before N+1."""
    a, b = SQLStore(pg_url), SQLStore(pg_url)
    try:
        base = a.outbox_latest()
        now = time.time()
        committed: dict[str, float] = {}

        def slow() -> None:
            from jwtkit.store import outbox

            with a.db.write() as conn:
                put_revocation(conn, RevocationEntry("jti", "j-slow", now + 60), now)
                outbox.flush(conn)  # seq taken ...
                time.sleep(0.6)  # ... and committed late
            committed["slow"] = time.monotonic()

        def fast() -> None:
            b.revoke_jti("j-fast", now + 60, now)
            committed["fast"] = time.monotonic()

        seen: list[int] = []
        stop = threading.Event()

        def reader() -> None:
            since = base
            while not stop.is_set():
                for event in a.outbox_page(since, 100):
                    seen.append(event.seq)
                    since = event.seq
                time.sleep(0.005)

        threads = [threading.Thread(target=f) for f in (reader, slow)]
        for t in threads:
            t.start()
        time.sleep(0.2)
        fast_thread = threading.Thread(target=fast)
        fast_thread.start()
        fast_thread.join(10)
        threads[1].join(10)
        time.sleep(0.1)
        stop.set()
        threads[0].join(10)
        assert seen == [base + 1, base + 2]
        assert committed["fast"] >= committed["slow"]  # N+1 waited for N
        events = a.outbox_page(base, 10)
        assert [(e.seq, e.value) for e in events] == [(base + 1, "j-slow"), (base + 2, "j-fast")]
    finally:
        a.close()
        b.close()


def test_a_feed_page_is_bounded(svc: Svc) -> None:
    now = svc.clock()
    with svc.store.db.write() as conn:
        for n in range(1500):
            put_revocation(conn, RevocationEntry("jti", f"j-{n}", now + 600), now)
    body = _events(svc, 0, limit=100000 // 100)
    assert len(body["events"]) == 1000 and body["more"] is True and body["latest"] == 1500
    r = httpx.get(f"{svc.url}/revocations/events", params={"since": 0}, auth=RS)
    assert len(r.json()["events"]) == svc.settings.revocation_feed_page_size
