"""Revocation events and the in-memory denylist that verifiers keep (no I/O).

The token service revokes at three grains (RFC 7009 extends to these in jwtkit):

* one access token, by its ``jti``, kept until the token's ``exp``;
* one session (token family), by its ``sid``, kept until the session's last token can expire;
* one subject (user), by a cut-off: every token of that ``sub`` with ``iat`` < the cut-off is void.

The service stores revocations in its database (the source of truth) and, when Redis is
configured, mirrors them to Redis for verifiers:

* sorted set ``{prefix}:jti`` (member ``jti``, score = keep-until, seconds since the epoch),
* sorted set ``{prefix}:sid`` (member ``sid``, score = keep-until),
* hash ``{prefix}:sub`` (field ``sub``, value = cut-off, seconds since the epoch; also mirrored
  with an expiry in sorted set ``{prefix}:sub_until``, member ``sub``, score = keep-until),
* pub/sub channel ``{prefix}:events``: one JSON event per revocation, as made by
  :func:`make_event`.

``prefix`` defaults to :data:`DEFAULT_PREFIX`. Verifiers load the sets on start, apply events as
they arrive, and reload periodically; see :class:`Denylist`.

Every revocation is written to the service's outbox in the transaction that caused it and gets a
sequence number ``seq`` (int, gapless, in commit order). The same events, in the same order, reach
verifiers through the service's HTTP revocation feed (:func:`parse_feed_page`,
:func:`parse_snapshot_page`) and, when configured, through Redis (the event carries ``seq``; the
last relayed one is kept in ``{prefix}:seq``).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeGuard

from jwtkit.errors import MalformedError, RevocationUnavailableError, RevokedError

__all__ = [
    "DEFAULT_PREFIX",
    "Denylist",
    "EventKind",
    "FeedPage",
    "SnapshotPage",
    "make_event",
    "parse_event",
    "parse_feed_page",
    "parse_snapshot_page",
    "redis_keys",
]

DEFAULT_PREFIX = "jwtkit:revocations"

EventKind = Literal["jti", "sid", "sub"]
_KINDS = ("jti", "sid", "sub")


def redis_keys(prefix: str = DEFAULT_PREFIX) -> dict[str, str]:
    """Return the Redis key names used for revocations under ``prefix``.

    Returns:
        dict with keys ``jti``, ``sid``, ``sub``, ``sub_until``, ``channel`` and ``seq`` (the
        sequence number of the last event relayed to Redis) (all str).
    """
    return {
        "jti": f"{prefix}:jti",
        "sid": f"{prefix}:sid",
        "sub": f"{prefix}:sub",
        "sub_until": f"{prefix}:sub_until",
        "channel": f"{prefix}:events",
        "seq": f"{prefix}:seq",
    }


def make_event(
    kind: EventKind,
    value: str,
    until: float,
    cutoff: float | None = None,
    seq: int | None = None,
) -> str:
    """Serialize one revocation event for the pub/sub channel.

    Args:
        kind: ``"jti"`` (one access token), ``"sid"`` (one session) or ``"sub"`` (a subject).
        value: the ``jti``, ``sid`` or ``sub`` (str).
        until: seconds since the epoch after which the entry may be forgotten (the latest ``exp``
            a matching token can carry).
        cutoff: for ``"sub"`` only: tokens with ``iat`` strictly less than this (seconds since the
            epoch) are void.
        seq: the event's sequence number in the service's outbox (int >= 1), or None.

    Returns:
        The event as a compact JSON text (str).

    Raises:
        MalformedError: unknown kind, or a ``"sub"`` event without ``cutoff``.
    """
    if kind not in _KINDS:
        raise MalformedError(f"unknown revocation kind {kind!r}")
    event: dict[str, Any] = {"kind": kind, "value": value, "until": float(until)}
    if kind == "sub":
        if cutoff is None:
            raise MalformedError("a 'sub' revocation needs a cutoff")
        event["cutoff"] = float(cutoff)
    if seq is not None:
        event["seq"] = int(seq)
    return json.dumps(event, separators=(",", ":"))


def _finite(value: Any) -> TypeGuard[float]:
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _seq(value: Any) -> TypeGuard[int]:
    return not isinstance(value, bool) and isinstance(value, int) and value >= 0


def _event_from(event: Any, *, need_seq: bool = False) -> dict[str, Any]:
    if not isinstance(event, dict):
        raise MalformedError("revocation event is not a JSON object")
    kind, value, until = event.get("kind"), event.get("value"), event.get("until")
    if kind not in _KINDS or not isinstance(value, str) or not value:
        raise MalformedError("revocation event has no valid kind/value")
    if not _finite(until):
        raise MalformedError("revocation event has no valid 'until'")
    out: dict[str, Any] = {"kind": kind, "value": value, "until": float(until)}
    if kind == "sub":
        cutoff = event.get("cutoff")
        if not _finite(cutoff):
            raise MalformedError("'sub' revocation event has no valid 'cutoff'")
        out["cutoff"] = float(cutoff)
    seq = event.get("seq")
    if seq is not None or need_seq:
        if not _seq(seq) or seq < 1:
            raise MalformedError("revocation event has no valid 'seq'")
        out["seq"] = seq
    return out


def _json(data: str | bytes, what: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise MalformedError(f"{what} is not JSON") from exc


def parse_event(data: str | bytes) -> dict[str, Any]:
    """Parse and validate an event made by :func:`make_event`.

    Returns:
        dict with ``kind`` (str), ``value`` (str), ``until`` (float), for ``"sub"`` ``cutoff``
        (float), and ``seq`` (int) when the event carries one.

    Raises:
        MalformedError: not JSON, or not an event of the documented shape.
    """
    return _event_from(_json(data, "revocation event"))


@dataclass(frozen=True)
class FeedPage:
    """One page of the service's revocation feed (``GET /revocations/events?since=SEQ``).

    Attributes:
        events: the events with ``seq`` > ``since``, in order (dicts as :func:`parse_event`).
        next: the ``since`` to ask for next (int): the last event's ``seq``, or ``since``.
        latest: the highest committed ``seq`` when the page was read (int).
        more: True when more events follow right away (ask again without waiting).
    """

    events: tuple[dict[str, Any], ...]
    next: int
    latest: int
    more: bool


@dataclass(frozen=True)
class SnapshotPage:
    """One page of the live set (``GET /revocations/snapshot``).

    Attributes:
        seq: every event with a ``seq`` up to this is reflected in the snapshot (int).
        entries: live revocations (dicts as :func:`parse_event`, without ``seq``).
        cursor: pass it as ``after`` for the next page; None on the last page.
    """

    seq: int
    entries: tuple[dict[str, Any], ...]
    cursor: str | None


def parse_feed_page(data: str | bytes, since: int) -> FeedPage:
    """Parse and validate a feed page asked for with ``since`` (JSON, see :class:`FeedPage`).

    Returns:
        :class:`FeedPage`.

    Raises:
        MalformedError: not JSON, not the documented shape, or events not strictly increasing
            after ``since``.
    """
    body = _json(data, "revocation feed page")
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise MalformedError("revocation feed page has no 'events' list")
    latest, nxt, more = body.get("latest"), body.get("next"), body.get("more")
    if not _seq(latest) or not _seq(nxt) or not isinstance(more, bool):
        raise MalformedError("revocation feed page has no valid latest/next/more")
    events = tuple(_event_from(e, need_seq=True) for e in body["events"])
    last = since
    for event in events:
        if event["seq"] <= last:
            raise MalformedError("revocation feed events are not in increasing order")
        last = event["seq"]
    if events and nxt != last:
        raise MalformedError("revocation feed page 'next' is not its last event")
    return FeedPage(events, nxt, latest, more)


def parse_snapshot_page(data: str | bytes) -> SnapshotPage:
    """Parse and validate a snapshot page (JSON, see :class:`SnapshotPage`).

    Raises:
        MalformedError: not JSON, or not the documented shape.
    """
    body = _json(data, "revocation snapshot page")
    if not isinstance(body, dict) or not isinstance(body.get("entries"), list):
        raise MalformedError("revocation snapshot page has no 'entries' list")
    seq, cursor = body.get("seq"), body.get("cursor")
    if not _seq(seq) or not (cursor is None or isinstance(cursor, str)):
        raise MalformedError("revocation snapshot page has no valid seq/cursor")
    return SnapshotPage(seq, tuple(_event_from(e) for e in body["entries"]), cursor)


class Denylist:
    """Thread-safe in-memory denylist of revoked access tokens, sessions and subjects.

    Lookups are O(1) dict reads, with no network call per request. Entries are forgotten after
    their ``until`` time plus ``leeway`` seconds (:meth:`prune`, :meth:`keep_for_leeway`).

    Revocation listeners register themselves as sources (:meth:`attach_source`), so a verifier
    can tell that nothing fills its denylist. A listener whose policy is to fail closed sets a
    deadline (:meth:`set_deadline`); once every such source is past its deadline, :meth:`check`
    raises :class:`~jwtkit.errors.RevocationUnavailableError` until one of them recovers.
    """

    def __init__(self, *, leeway: float = 0.0) -> None:
        self.leeway = max(0.0, float(leeway))
        self._jti: dict[str, float] = {}
        self._sid: dict[str, float] = {}
        self._sub: dict[str, tuple[float, float]] = {}  # sub -> (cutoff, until)
        self._lock = threading.Lock()
        self._sources: list[str] = []
        self._deadlines: dict[str, float] = {}
        self._refuse_at = math.inf  # time.monotonic() after which check() fails closed

    def __len__(self) -> int:
        return len(self._jti) + len(self._sid) + len(self._sub)

    @property
    def sources(self) -> tuple[str, ...]:
        """Names of the listeners that fill this denylist (tuple of str; empty: none)."""
        return tuple(self._sources)

    def attach_source(self, name: str) -> None:
        """Record that a listener called ``name`` (str) fills this denylist."""
        with self._lock:
            if name not in self._sources:
                self._sources.append(name)

    def set_deadline(self, source: str, deadline: float | None) -> None:
        """Set when ``source`` stops vouching for this denylist (a :func:`time.monotonic` value;
        ``math.inf`` while it is healthy; None: the source does not fail closed).

        :meth:`check` refuses every token once all sources with a deadline are past it.
        """
        with self._lock:
            if deadline is None:
                self._deadlines.pop(source, None)
            else:
                self._deadlines[source] = deadline
            self._refuse_at = max(self._deadlines.values(), default=math.inf)

    @property
    def available(self) -> bool:
        """False when every fail-closed source is past its deadline (then :meth:`check` raises)."""
        return time.monotonic() < self._refuse_at

    def add_jti(self, jti: str, until: float) -> None:
        """Revoke one access token by ``jti`` until ``until`` (seconds since the epoch)."""
        with self._lock:
            self._jti[jti] = max(until, self._jti.get(jti, 0.0))

    def add_sid(self, sid: str, until: float) -> None:
        """Revoke every token of session ``sid`` until ``until`` (seconds since the epoch)."""
        with self._lock:
            self._sid[sid] = max(until, self._sid.get(sid, 0.0))

    def add_sub(self, sub: str, cutoff: float, until: float) -> None:
        """Void every token of subject ``sub`` with ``iat`` < ``cutoff`` (seconds since the epoch).

        The later of two cut-offs wins.
        """
        with self._lock:
            old = self._sub.get(sub)
            if old is not None:
                cutoff, until = max(cutoff, old[0]), max(until, old[1])
            self._sub[sub] = (cutoff, until)

    def apply(self, event: Mapping[str, Any]) -> None:
        """Apply one event as returned by :func:`parse_event`."""
        kind = event["kind"]
        if kind == "jti":
            self.add_jti(event["value"], event["until"])
        elif kind == "sid":
            self.add_sid(event["value"], event["until"])
        else:
            self.add_sub(event["value"], event["cutoff"], event["until"])

    def replace(
        self,
        jti: Mapping[str, float],
        sid: Mapping[str, float],
        sub: Mapping[str, tuple[float, float]],
    ) -> None:
        """Replace the whole content at once (used by a full resync)."""
        with self._lock:
            self._jti = dict(jti)
            self._sid = dict(sid)
            self._sub = dict(sub)

    def keep_for_leeway(self, leeway: float) -> None:
        """Keep every entry ``leeway`` seconds past its ``until`` (the largest wins): a verifier
        that accepts tokens up to ``leeway`` seconds after their ``exp`` must still find their
        revocations then (issue 13 item 8). :class:`~jwtkit.middleware.BearerGuard` calls it
        with its verifier's leeway."""
        with self._lock:
            self.leeway = max(self.leeway, float(leeway))

    def prune(self, now: float | None = None) -> int:
        """Forget entries whose ``until`` plus :attr:`leeway` has passed; returns how many were
        removed (int)."""
        now = time.time() if now is None else now
        now -= self.leeway
        with self._lock:
            before = len(self)
            self._jti = {k: v for k, v in self._jti.items() if v > now}
            self._sid = {k: v for k, v in self._sid.items() if v > now}
            self._sub = {k: v for k, v in self._sub.items() if v[1] > now}
            return before - len(self)

    def is_revoked(self, claims: Mapping[str, Any]) -> str | None:
        """Return which grain revokes these verified claims (``"jti"``, ``"sid"``, ``"sub"``) or
        None when the token is not revoked."""
        return self._grain(
            claims.get("jti"), claims.get("sid"), claims.get("sub"), claims.get("iat")
        )

    def admits(self, jti: Any, sid: Any, sub: Any, iat: Any) -> bool:
        """True when :meth:`check` passes for verified claims with these ``jti``, ``sid``,
        ``sub`` and ``iat`` values (None: absent): the denylist can vouch for them and none of
        them is revoked. For callers that keep those values of a token (a verified-token cache),
        asking on every request without raising.

        Returns:
            bool; never raises.
        """
        if self._refuse_at != math.inf and not self.available:
            return False
        return self._grain(jti, sid, sub, iat) is None

    def _grain(self, jti: Any, sid: Any, sub: Any, iat: Any) -> str | None:
        if jti is not None and jti in self._jti:
            return "jti"
        if sid is not None and sid in self._sid:
            return "sid"
        if sub is not None:
            entry = self._sub.get(sub)
            if entry is not None and (not isinstance(iat, int | float) or iat < entry[0]):
                return "sub"
        return None

    def check(self, claims: Mapping[str, Any]) -> None:
        """Raise :class:`~jwtkit.errors.RevokedError` if these verified claims are revoked, or
        :class:`~jwtkit.errors.RevocationUnavailableError` when the denylist cannot vouch for
        them (its fail-closed sources are down longer than they allow)."""
        if self._refuse_at != math.inf and not self.available:
            raise RevocationUnavailableError("the revocation source is unavailable")
        grain = self.is_revoked(claims)
        if grain is not None:
            raise RevokedError(f"token revoked ({grain})")
