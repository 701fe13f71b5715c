"""Server-side session stores for the relying party: in memory, SQL (SQLAlchemy), Redis.

The browser holds only an opaque session id (256 random bits) in an ``HttpOnly`` cookie; the
ID token, access token and refresh token stay here. Stores key everything by the SHA-256 of
the session id (:func:`session_key`), so a copy of the store does not yield working cookies.

Each store also keeps the pending logins (state, nonce, PKCE verifier; single use) and
claims with an expiry: the ``jti`` values of logout tokens already accepted (OIDC Back-Channel
Logout 1.0 §2.6 step 10, replay) and the per-session refresh lock, so that two processes never
refresh one session at once (a rotated refresh token used twice makes the issuer end the grant,
RFC 9700 §4.14.2).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import redis
    from sqlalchemy.engine import Engine

__all__ = [
    "MemorySessionStore",
    "RedisSessionStore",
    "SQLSessionStore",
    "SessionStore",
    "WebSession",
    "session_key",
]


def session_key(session_id: str) -> str:
    """Return the store key of a session id (str: hex SHA-256)."""
    return hashlib.sha256(session_id.encode()).hexdigest()


@dataclass
class WebSession:
    """One signed-in browser at the app.

    Attributes:
        key: the store key (:func:`session_key` of the cookie's session id).
        iss: the issuer (str).
        sub: the user's ``sub`` at the issuer (str).
        sid: the OP session id from the ID token (str or None; OIDC Front/Back-Channel Logout).
        claims: the ID token's claims the app may show (dict: sub, name, preferred_username,
            email, auth_time ...).
        id_token: the raw ID token (str), kept for ``id_token_hint`` at logout.
        access_token: the current access token (str).
        access_expires_at: when it expires, seconds since the epoch (float).
        refresh_token: the refresh token (str or None).
        created_at: seconds since the epoch (float).
        expires_at: the session's absolute end, seconds since the epoch (float).
    """

    key: str
    iss: str
    sub: str
    sid: str | None
    claims: dict[str, Any]
    id_token: str = field(repr=False)
    access_token: str = field(repr=False)
    access_expires_at: float
    refresh_token: str | None = field(repr=False)
    created_at: float
    expires_at: float

    def to_json(self) -> str:
        """Return the session as a JSON text (str)."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> WebSession:
        """Parse :meth:`to_json`'s output."""
        return cls(**json.loads(text))

    @property
    def username(self) -> str:
        """A display name: ``preferred_username``, else ``name``, else ``sub`` (str)."""
        for name in ("preferred_username", "name"):
            value = self.claims.get(name)
            if isinstance(value, str) and value:
                return value
        return self.sub


class SessionStore(Protocol):
    """What the relying party needs from a store; every method is thread-safe.

    Times are seconds since the epoch; ``ttl`` values are seconds.
    """

    def save(self, session: WebSession) -> None:
        """Create or replace ``session`` (kept until ``session.expires_at``)."""

    def load(self, key: str) -> WebSession | None:
        """Return the live session stored under ``key``, or None."""

    def delete(self, key: str) -> None:
        """Remove the session stored under ``key`` (no error when absent)."""

    def delete_matching(self, iss: str, *, sid: str | None, sub: str | None) -> int:
        """Remove every session of ``iss`` whose ``sid`` (when given) and ``sub`` (when given)
        match; returns how many were removed (int). At least one of the two is given."""

    def put_pending(self, key: str, data: dict[str, Any], ttl: float) -> None:
        """Keep a pending login (JSON-able dict) for ``ttl`` seconds."""

    def take_pending(self, key: str) -> dict[str, Any] | None:
        """Return and remove a pending login (single use), or None when absent or expired."""

    def claim(self, name: str, until: float) -> bool:
        """Claim ``name`` until ``until`` (atomic); False while someone else holds it. Used for
        logout tokens' ``jti`` (replay) and for the per-session refresh lock."""

    def release(self, name: str) -> None:
        """Give up a claim before it expires."""


class MemorySessionStore:
    """The embedded default: dicts under a lock, for one process.

    Args:
        clock: wall clock in seconds since the epoch (default :func:`time.time`).
        max_entries: cap on sessions + pending logins + jti entries (default 100000); the
            expired ones are purged first, then the oldest.
    """

    def __init__(
        self, *, clock: Callable[[], float] = time.time, max_entries: int = 100_000
    ) -> None:
        self.clock = clock
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._sessions: dict[str, WebSession] = {}
        self._pending: dict[str, tuple[dict[str, Any], float]] = {}
        self._jti: dict[str, float] = {}  # claims: name -> until

    def _size(self) -> int:
        return len(self._sessions) + len(self._pending) + len(self._jti)

    def _purge(self, now: float) -> None:
        """Make room for one entry: drop the expired ones, then the oldest (lock held)."""
        if self._size() < self.max_entries:
            return
        self._sessions = {k: s for k, s in self._sessions.items() if s.expires_at > now}
        self._pending = {k: v for k, v in self._pending.items() if v[1] > now}
        self._jti = {k: t for k, t in self._jti.items() if t > now}
        while self._pending and self._size() >= self.max_entries:
            self._pending.pop(next(iter(self._pending)))
        while self._sessions and self._size() >= self.max_entries:
            self._sessions.pop(next(iter(self._sessions)))
        while self._jti and self._size() >= self.max_entries:
            self._jti.pop(next(iter(self._jti)))

    def save(self, session: WebSession) -> None:
        """See :class:`SessionStore`."""
        with self._lock:
            self._purge(self.clock())
            self._sessions[session.key] = session

    def load(self, key: str) -> WebSession | None:
        """See :class:`SessionStore`."""
        session = self._sessions.get(key)
        if session is None or session.expires_at <= self.clock():
            return None
        return WebSession(**asdict(session))  # a copy: callers may edit theirs

    def delete(self, key: str) -> None:
        """See :class:`SessionStore`."""
        with self._lock:
            self._sessions.pop(key, None)

    def delete_matching(self, iss: str, *, sid: str | None, sub: str | None) -> int:
        """See :class:`SessionStore`."""
        with self._lock:
            doomed = [k for k, s in self._sessions.items() if _matches(s, iss, sid, sub)]
            for k in doomed:
                del self._sessions[k]
        return len(doomed)

    def put_pending(self, key: str, data: dict[str, Any], ttl: float) -> None:
        """See :class:`SessionStore`."""
        with self._lock:
            now = self.clock()
            self._purge(now)
            self._pending[key] = (dict(data), now + ttl)

    def take_pending(self, key: str) -> dict[str, Any] | None:
        """See :class:`SessionStore`."""
        with self._lock:
            entry = self._pending.pop(key, None)
        if entry is None or entry[1] <= self.clock():
            return None
        return entry[0]

    def claim(self, name: str, until: float) -> bool:
        """See :class:`SessionStore`."""
        with self._lock:
            now = self.clock()
            held = self._jti.get(name)
            if held is not None and held > now:
                return False
            self._purge(now)
            self._jti[name] = until
            return True

    def release(self, name: str) -> None:
        """See :class:`SessionStore`."""
        with self._lock:
            self._jti.pop(name, None)


def _matches(s: WebSession, iss: str, sid: str | None, sub: str | None) -> bool:
    if s.iss != iss or (sid is None and sub is None):
        return False
    return (sid is None or s.sid == sid) and (sub is None or s.sub == sub)


class SQLSessionStore:
    """Sessions in a SQL database through SQLAlchemy 2 (SQLite, PostgreSQL, ...).

    Three tables (``jwtkit_web_sessions``, ``jwtkit_web_pending``, ``jwtkit_web_claims``), created
    when missing; they belong to the app's database, not to the token service's.

    Args:
        engine: a SQLAlchemy :class:`~sqlalchemy.engine.Engine`, or a database URL (str).
        clock: wall clock in seconds since the epoch (default :func:`time.time`).
        prefix: table name prefix (default ``jwtkit_web_``).
    """

    def __init__(
        self,
        engine: Engine | str,
        *,
        clock: Callable[[], float] = time.time,
        prefix: str = "jwtkit_web_",
    ) -> None:
        import sqlalchemy as sa

        self.engine = sa.create_engine(engine) if isinstance(engine, str) else engine
        self.clock = clock
        md = sa.MetaData()
        self.sessions = sa.Table(
            prefix + "sessions",
            md,
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("iss", sa.Text, nullable=False),
            sa.Column("sub", sa.Text, nullable=False, index=True),
            sa.Column("sid", sa.Text, nullable=True, index=True),
            sa.Column("data", sa.Text, nullable=False),
            sa.Column("expires_at", sa.Float, nullable=False),
        )
        self.pending = sa.Table(
            prefix + "pending",
            md,
            sa.Column("key", sa.String(64), primary_key=True),
            sa.Column("data", sa.Text, nullable=False),
            sa.Column("expires_at", sa.Float, nullable=False),
        )
        self.claims = sa.Table(
            prefix + "claims",
            md,
            sa.Column("id", sa.String(64), primary_key=True),
            sa.Column("expires_at", sa.Float, nullable=False),
        )
        md.create_all(self.engine)

    def save(self, session: WebSession) -> None:
        """See :class:`SessionStore`."""
        row = {
            "key": session.key,
            "iss": session.iss,
            "sub": session.sub,
            "sid": session.sid,
            "data": session.to_json(),
            "expires_at": session.expires_at,
        }
        t = self.sessions
        with self.engine.begin() as conn:
            conn.execute(t.delete().where(t.c.key == session.key))
            conn.execute(t.insert().values(**row))
            conn.execute(t.delete().where(t.c.expires_at <= self.clock()))

    def load(self, key: str) -> WebSession | None:
        """See :class:`SessionStore`."""
        import sqlalchemy as sa

        t = self.sessions
        with self.engine.connect() as conn:
            data = conn.execute(
                sa.select(t.c.data).where(t.c.key == key, t.c.expires_at > self.clock())
            ).scalar_one_or_none()
        return None if data is None else WebSession.from_json(data)

    def delete(self, key: str) -> None:
        """See :class:`SessionStore`."""
        t = self.sessions
        with self.engine.begin() as conn:
            conn.execute(t.delete().where(t.c.key == key))

    def delete_matching(self, iss: str, *, sid: str | None, sub: str | None) -> int:
        """See :class:`SessionStore`."""
        if sid is None and sub is None:
            return 0
        t = self.sessions
        stmt = t.delete().where(t.c.iss == iss)
        if sid is not None:
            stmt = stmt.where(t.c.sid == sid)
        if sub is not None:
            stmt = stmt.where(t.c.sub == sub)
        with self.engine.begin() as conn:
            return int(conn.execute(stmt).rowcount)

    def put_pending(self, key: str, data: dict[str, Any], ttl: float) -> None:
        """See :class:`SessionStore`."""
        t = self.pending
        now = self.clock()
        with self.engine.begin() as conn:
            conn.execute(t.delete().where((t.c.key == key) | (t.c.expires_at <= now)))
            conn.execute(t.insert().values(key=key, data=json.dumps(data), expires_at=now + ttl))

    def take_pending(self, key: str) -> dict[str, Any] | None:
        """See :class:`SessionStore`."""
        import sqlalchemy as sa

        t = self.pending
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(t.c.data, t.c.expires_at).where(t.c.key == key)
            ).one_or_none()
            if row is None:
                return None
            # The DELETE decides who wins when two requests race for one login.
            if conn.execute(t.delete().where(t.c.key == key)).rowcount != 1:
                return None
        if row.expires_at <= self.clock():
            return None
        data: dict[str, Any] = json.loads(row.data)
        return data

    def claim(self, name: str, until: float) -> bool:
        """See :class:`SessionStore`."""
        import sqlalchemy as sa

        t = self.claims
        ident = hashlib.sha256(name.encode()).hexdigest()
        now = self.clock()
        try:
            with self.engine.begin() as conn:
                conn.execute(t.delete().where(t.c.expires_at <= now))
                conn.execute(t.insert().values(id=ident, expires_at=until))
        except sa.exc.IntegrityError:
            return False
        return True

    def release(self, name: str) -> None:
        """See :class:`SessionStore`."""
        t = self.claims
        with self.engine.begin() as conn:
            conn.execute(t.delete().where(t.c.id == hashlib.sha256(name.encode()).hexdigest()))


class RedisSessionStore:
    """Sessions in Redis (redis-py), shared by every process of the app.

    Keys, under ``prefix``: ``s:<key>`` (the session JSON, expiring with it), ``sid:<hash>`` and
    ``sub:<hash>`` (sets of session keys, for back-channel logout), ``p:<key>`` (pending logins,
    taken with ``GETDEL``), ``c:<hash>`` (claims: ``SET NX`` with an expiry).

    Args:
        client: a :class:`redis.Redis` client, or a Redis URL (str).
        prefix: key prefix (default ``jwtkit:web:``).
        clock: wall clock in seconds since the epoch (default :func:`time.time`).
    """

    def __init__(
        self,
        client: redis.Redis[bytes] | str,
        *,
        prefix: str = "jwtkit:web:",
        clock: Callable[[], float] = time.time,
    ) -> None:
        import redis as redis_lib

        self.client = redis_lib.Redis.from_url(client) if isinstance(client, str) else client
        self.prefix = prefix
        self.clock = clock

    def _index(self, kind: str, iss: str, value: str) -> str:
        digest = hashlib.sha256(json.dumps([iss, value]).encode()).hexdigest()
        return f"{self.prefix}{kind}:{digest}"

    def _ttl(self, until: float) -> int:
        return max(1, int(until - self.clock()) + 1)

    def save(self, session: WebSession) -> None:
        """See :class:`SessionStore`."""
        ttl = self._ttl(session.expires_at)
        pipe = self.client.pipeline()
        pipe.set(self.prefix + "s:" + session.key, session.to_json(), ex=ttl)
        indexes = [self._index("sub", session.iss, session.sub)]
        if session.sid is not None:
            indexes.append(self._index("sid", session.iss, session.sid))
        for index in indexes:
            pipe.sadd(index, session.key)
            pipe.expire(index, ttl, gt=True)
            pipe.expire(index, ttl, nx=True)
        pipe.execute()

    def load(self, key: str) -> WebSession | None:
        """See :class:`SessionStore`."""
        raw = self.client.get(self.prefix + "s:" + key)
        if raw is None:
            return None
        session = WebSession.from_json(raw)
        return session if session.expires_at > self.clock() else None

    def delete(self, key: str) -> None:
        """See :class:`SessionStore`."""
        self.client.delete(self.prefix + "s:" + key)

    def delete_matching(self, iss: str, *, sid: str | None, sub: str | None) -> int:
        """See :class:`SessionStore`."""
        if sid is not None:
            index = self._index("sid", iss, sid)
        elif sub is not None:
            index = self._index("sub", iss, sub)
        else:
            return 0
        count = 0
        for raw_key in self.client.smembers(index):
            key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
            session = self.load(key)
            if session is not None and _matches(session, iss, sid, sub):
                count += int(self.client.delete(self.prefix + "s:" + key))
        return count

    def put_pending(self, key: str, data: dict[str, Any], ttl: float) -> None:
        """See :class:`SessionStore`."""
        until = self.clock() + ttl
        entry = json.dumps({"data": data, "until": until})
        self.client.set(self.prefix + "p:" + key, entry, ex=self._ttl(until))

    def take_pending(self, key: str) -> dict[str, Any] | None:
        """See :class:`SessionStore`."""
        raw = self.client.getdel(self.prefix + "p:" + key)
        if raw is None:
            return None
        entry = json.loads(raw)
        if entry["until"] <= self.clock():
            return None
        data: dict[str, Any] = entry["data"]
        return data

    def _claim_key(self, name: str) -> str:
        return f"{self.prefix}c:{hashlib.sha256(name.encode()).hexdigest()}"

    def claim(self, name: str, until: float) -> bool:
        """See :class:`SessionStore`."""
        return bool(self.client.set(self._claim_key(name), b"1", nx=True, ex=self._ttl(until)))

    def release(self, name: str) -> None:
        """See :class:`SessionStore`."""
        self.client.delete(self._claim_key(name))
