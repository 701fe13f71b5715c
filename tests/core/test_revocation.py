"""jwtkit.revocation: the event format and the in-memory denylist (no I/O)."""

from __future__ import annotations

import pytest

from jwtkit.errors import MalformedError, RevokedError
from jwtkit.revocation import Denylist, make_event, parse_event, redis_keys


def test_events_round_trip() -> None:
    assert parse_event(make_event("jti", "t1", 100)) == {
        "kind": "jti",
        "value": "t1",
        "until": 100.0,
    }
    sub = parse_event(make_event("sub", "alice", 200, cutoff=150))
    assert sub == {"kind": "sub", "value": "alice", "until": 200.0, "cutoff": 150.0}
    assert redis_keys("p")["channel"] == "p:events"


@pytest.mark.parametrize(
    "raw",
    [
        b"\xff",
        "[]",
        '{"kind":"x","value":"a","until":1}',
        '{"kind":"jti","value":"","until":1}',
        '{"kind":"jti","value":"a","until":true}',
        '{"kind":"jti","value":"a","until":NaN}',
        '{"kind":"jti","value":"a","until":Infinity}',
        '{"kind":"sub","value":"a","until":1}',
        '{"kind":"sub","value":"a","until":1,"cutoff":NaN}',
        '{"kind":"sub","value":"a","until":1,"cutoff":-Infinity}',
    ],
)
def test_malformed_events_are_refused(raw: str | bytes) -> None:
    with pytest.raises(MalformedError):
        parse_event(raw)


def test_make_event_refuses_bad_kinds() -> None:
    with pytest.raises(MalformedError):
        make_event("nope", "a", 1)  # type: ignore[arg-type]
    with pytest.raises(MalformedError):
        make_event("sub", "a", 1)


def test_denylist_grains_and_pruning() -> None:
    deny = Denylist()
    deny.apply(parse_event(make_event("jti", "t1", 100)))
    deny.apply(parse_event(make_event("sid", "s1", 100)))
    deny.apply(parse_event(make_event("sub", "alice", 300, cutoff=50)))
    assert deny.is_revoked({"jti": "t1"}) == "jti"
    assert deny.is_revoked({"jti": "t2", "sid": "s1"}) == "sid"
    assert deny.is_revoked({"sub": "alice", "iat": 49}) == "sub"
    assert deny.is_revoked({"sub": "alice", "iat": 50}) is None  # issued at the cut-off: valid
    assert deny.is_revoked({"sub": "alice"}) == "sub"  # no iat: cannot prove it is newer
    with pytest.raises(RevokedError) as exc:
        deny.check({"jti": "t1"})
    assert exc.value.code == "revoked"
    deny.add_sub("alice", 40, 300)  # an earlier cut-off never undoes a later one
    assert deny.is_revoked({"sub": "alice", "iat": 45}) == "sub"
    assert deny.prune(now=150) == 2
    assert len(deny) == 1
    deny.check({"jti": "t1", "sid": "s1"})
    deny.replace({}, {}, {})
    assert len(deny) == 0


# -- the HTTP feed's pages and the denylist's sources ------------------------------------------


def _ev(seq: int) -> dict[str, object]:
    return {"seq": seq, "kind": "jti", "value": f"j{seq}", "until": 9e9}


def _page(events: list[dict[str, object]], next_: int, latest: int, more: bool = False) -> str:
    import json

    return json.dumps({"events": events, "next": next_, "latest": latest, "more": more})


def test_feed_and_snapshot_pages_parse() -> None:
    from jwtkit.revocation import parse_feed_page, parse_snapshot_page

    page = parse_feed_page(_page([_ev(5), _ev(6)], 6, 9, True), 4)
    assert [e["seq"] for e in page.events] == [5, 6] and page.next == 6 and page.more
    assert parse_feed_page('{"events":[],"next":4,"latest":4,"more":false}', 4).events == ()
    snap = parse_snapshot_page(
        '{"seq":3,"entries":[{"kind":"sub","value":"u","until":9e9,"cutoff":1}],"cursor":null}'
    )
    assert snap.seq == 3 and snap.cursor is None and snap.entries[0]["cutoff"] == 1.0
    assert parse_event(make_event("jti", "a", 1, seq=7))["seq"] == 7


@pytest.mark.parametrize(
    "raw",
    [
        "nope",
        "[]",
        '{"events":{},"next":0,"latest":0,"more":false}',
        '{"events":[],"next":-1,"latest":0,"more":false}',
        '{"events":[],"next":0,"latest":"1","more":false}',
        '{"events":[],"next":0,"latest":0,"more":1}',
        '{"events":[],"next":true,"latest":0,"more":false}',
        _page([_ev(4)], 5, 5),  # not after since
        _page([_ev(6), _ev(5)], 6, 6),  # not increasing
        _page([_ev(6)], 9, 9),  # next is not the last event
        '{"events":[{"kind":"jti","value":"a","until":1}],"next":5,"latest":5,"more":false}',
        '{"events":[{"seq":0,"kind":"jti","value":"a","until":1}],"next":5,"latest":5,'
        '"more":false}',
        '{"events":[' + "[" * 5000 + "]" * 5000 + '],"next":5,"latest":5,"more":false}',
    ],
)
def test_malformed_feed_pages_are_refused(raw: str) -> None:
    from jwtkit.revocation import parse_feed_page

    with pytest.raises(MalformedError):
        parse_feed_page(raw, 4)


@pytest.mark.parametrize(
    "raw",
    [
        "{",
        '{"entries":[],"seq":-1,"cursor":null}',
        '{"entries":[],"seq":1,"cursor":5}',
        '{"entries":{},"seq":1,"cursor":null}',
        '{"entries":[{"kind":"sub","value":"u","until":1}],"seq":1,"cursor":null}',
    ],
)
def test_malformed_snapshot_pages_are_refused(raw: str) -> None:
    from jwtkit.revocation import parse_snapshot_page

    with pytest.raises(MalformedError):
        parse_snapshot_page(raw)


def test_denylist_sources_and_fail_closed_deadlines() -> None:
    import math
    import time

    from jwtkit.errors import RevocationUnavailableError

    deny = Denylist()
    assert deny.sources == () and deny.available
    deny.attach_source("feed:a")
    deny.attach_source("feed:a")
    deny.attach_source("redis:b")
    assert deny.sources == ("feed:a", "redis:b")
    claims = {"jti": "x", "sid": "y", "sub": "z", "iat": 1}
    deny.set_deadline("feed:a", time.monotonic() - 1)  # past: the only fail-closed source
    with pytest.raises(RevocationUnavailableError):
        deny.check(claims)
    deny.set_deadline("redis:b", math.inf)  # another fail-closed source is healthy: vouch
    deny.check(claims)
    deny.set_deadline("redis:b", time.monotonic() - 1)
    assert not deny.available
    deny.set_deadline("feed:a", None)
    deny.set_deadline("redis:b", None)  # no fail-closed source left
    assert deny.available
    deny.check(claims)


@pytest.mark.parametrize("jti", [None, "t1", "t2"])
@pytest.mark.parametrize("sid", [None, "s1", "s2"])
@pytest.mark.parametrize("sub", [None, "alice", "bob"])
@pytest.mark.parametrize("iat", [None, 99, 100, 100.5, "x"])
def test_admits_agrees_with_check(
    jti: str | None, sid: str | None, sub: str | None, iat: object
) -> None:
    denylist = Denylist()
    denylist.add_jti("t1", 1e12)
    denylist.add_sid("s1", 1e12)
    denylist.add_sub("alice", 100, 1e12)
    claims = {
        name: value
        for name, value in (("jti", jti), ("sid", sid), ("sub", sub), ("iat", iat))
        if value is not None
    }
    try:
        denylist.check(claims)
    except RevokedError:
        passes = False
    else:
        passes = True
    assert denylist.admits(jti, sid, sub, iat) is passes


def test_admits_refuses_when_the_denylist_cannot_vouch() -> None:
    import time

    denylist = Denylist()
    denylist.set_deadline("listener", time.monotonic() - 1)
    assert denylist.admits(None, None, None, None) is False
    denylist.set_deadline("listener", None)
    assert denylist.admits(None, None, None, None) is True
