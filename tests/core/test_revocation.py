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
