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
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Mapping
from typing import Any, Literal

from jwtkit.errors import MalformedError, RevokedError

__all__ = [
    "DEFAULT_PREFIX",
    "Denylist",
    "EventKind",
    "make_event",
    "parse_event",
    "redis_keys",
]

DEFAULT_PREFIX = "jwtkit:revocations"

EventKind = Literal["jti", "sid", "sub"]
_KINDS = ("jti", "sid", "sub")


def redis_keys(prefix: str = DEFAULT_PREFIX) -> dict[str, str]:
    """Return the Redis key names used for revocations under ``prefix``.

    Returns:
        dict with keys ``jti``, ``sid``, ``sub``, ``sub_until`` and ``channel`` (all str).
    """
    return {
        "jti": f"{prefix}:jti",
        "sid": f"{prefix}:sid",
        "sub": f"{prefix}:sub",
        "sub_until": f"{prefix}:sub_until",
        "channel": f"{prefix}:events",
    }


def make_event(kind: EventKind, value: str, until: float, cutoff: float | None = None) -> str:
    """Serialize one revocation event for the pub/sub channel.

    Args:
        kind: ``"jti"`` (one access token), ``"sid"`` (one session) or ``"sub"`` (a subject).
        value: the ``jti``, ``sid`` or ``sub`` (str).
        until: seconds since the epoch after which the entry may be forgotten (the latest ``exp``
            a matching token can carry).
        cutoff: for ``"sub"`` only: tokens with ``iat`` strictly less than this (seconds since the
            epoch) are void.

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
    return json.dumps(event, separators=(",", ":"))


def parse_event(data: str | bytes) -> dict[str, Any]:
    """Parse and validate an event made by :func:`make_event`.

    Returns:
        dict with ``kind`` (str), ``value`` (str), ``until`` (float) and, for ``"sub"``,
        ``cutoff`` (float).

    Raises:
        MalformedError: not JSON, or not an event of the documented shape.
    """
    try:
        event = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedError("revocation event is not JSON") from exc
    if not isinstance(event, dict):
        raise MalformedError("revocation event is not a JSON object")
    kind, value, until = event.get("kind"), event.get("value"), event.get("until")
    if kind not in _KINDS or not isinstance(value, str) or not value:
        raise MalformedError("revocation event has no valid kind/value")
    if isinstance(until, bool) or not isinstance(until, int | float) or not math.isfinite(until):
        raise MalformedError("revocation event has no valid 'until'")
    out: dict[str, Any] = {"kind": kind, "value": value, "until": float(until)}
    if kind == "sub":
        cutoff = event.get("cutoff")
        if (
            isinstance(cutoff, bool)
            or not isinstance(cutoff, int | float)
            or not math.isfinite(cutoff)
        ):
            raise MalformedError("'sub' revocation event has no valid 'cutoff'")
        out["cutoff"] = float(cutoff)
    return out


class Denylist:
    """Thread-safe in-memory denylist of revoked access tokens, sessions and subjects.

    Lookups are O(1) dict reads, with no network call per request. Entries are forgotten after
    their ``until`` time (:meth:`prune`).
    """

    def __init__(self) -> None:
        self._jti: dict[str, float] = {}
        self._sid: dict[str, float] = {}
        self._sub: dict[str, tuple[float, float]] = {}  # sub -> (cutoff, until)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._jti) + len(self._sid) + len(self._sub)

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

    def prune(self, now: float | None = None) -> int:
        """Forget entries whose ``until`` has passed; returns how many were removed (int)."""
        now = time.time() if now is None else now
        with self._lock:
            before = len(self)
            self._jti = {k: v for k, v in self._jti.items() if v > now}
            self._sid = {k: v for k, v in self._sid.items() if v > now}
            self._sub = {k: v for k, v in self._sub.items() if v[1] > now}
            return before - len(self)

    def is_revoked(self, claims: Mapping[str, Any]) -> str | None:
        """Return which grain revokes these verified claims (``"jti"``, ``"sid"``, ``"sub"``) or
        None when the token is not revoked."""
        jti = claims.get("jti")
        if jti is not None and jti in self._jti:
            return "jti"
        sid = claims.get("sid")
        if sid is not None and sid in self._sid:
            return "sid"
        sub = claims.get("sub")
        if sub is not None:
            entry = self._sub.get(sub)
            if entry is not None:
                iat = claims.get("iat")
                if not isinstance(iat, int | float) or iat < entry[0]:
                    return "sub"
        return None

    def check(self, claims: Mapping[str, Any]) -> None:
        """Raise :class:`~jwtkit.errors.RevokedError` if these verified claims are revoked."""
        grain = self.is_revoked(claims)
        if grain is not None:
            raise RevokedError(f"token revoked ({grain})")
