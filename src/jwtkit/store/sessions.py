"""Sessions (token families) and their refresh tokens, which lock together.

Concurrency: every write transaction that touches a session locks the session row first (a
conditional ``UPDATE sessions``) and only then its refresh tokens, so a refresh racing a revocation
or another refresh of the same token serializes on that row. Refresh-token rotation consumes the
presented token with one conditional ``UPDATE ... WHERE state = 'active'`` and checks the row count
(RFC 9700 §4.14.2). On SQLite every write transaction starts with ``BEGIN IMMEDIATE`` and waits on
the busy timeout instead of failing; reads (:meth:`SessionStore.get`, ...) take no write lock.

All times are seconds since the epoch (float).
"""

from __future__ import annotations

import functools
import hmac
from typing import Any, Literal

from sqlalchemy import Connection, and_, bindparam, delete, insert, select, update

from jwtkit.store._db import Database
from jwtkit.store.records import (
    RefreshTokenRecord,
    RevocationEntry,
    RotateResult,
    SessionRecord,
    UserRecord,
    new_id,
)
from jwtkit.store.revocations import put_revocation
from jwtkit.store.schema import refresh_tokens, sessions, users

__all__ = ["SESSION_RETENTION", "CredentialsChangedError", "SessionCapError", "SessionStore"]

SESSION_RETENTION = 7 * 86400.0
"""Seconds an expired session row is kept before :meth:`SessionStore.prune_in` deletes it."""


class SessionCapError(Exception):
    """Internal: the user is at the session cap and the policy is ``refuse``."""


class _Rollback(Exception):
    """Internal: end the transaction without its changes and answer ``result``."""

    def __init__(self, result: RotateResult) -> None:
        super().__init__(result.outcome)
        self.result = result


class CredentialsChangedError(Exception):
    """Internal: between the credential check and the session insert the user was disabled or
    deleted, or its password changed (RFC 9700 §4.14.2): the login must not get a session."""


def revoke_session_in(
    conn: Connection, sid: str, reason: str, now: float
) -> RevocationEntry | None:
    """Revoke one session inside ``conn``; returns its ``sid`` entry (None if already dead)."""
    result = conn.execute(
        update(sessions)
        .where(and_(sessions.c.sid == sid, sessions.c.revoked_at.is_(None)))
        .values(revoked_at=now, revoked_reason=reason)
    )
    conn.execute(
        update(refresh_tokens)
        .where(and_(refresh_tokens.c.sid == sid, refresh_tokens.c.state == "active"))
        .values(state="revoked")
    )
    if result.rowcount != 1:
        return None
    access_exp = conn.execute(select(sessions.c.access_exp).where(sessions.c.sid == sid)).scalar()
    until = max(float(access_exp or 0.0), now + 1.0)
    entry = RevocationEntry("sid", sid, until)
    put_revocation(conn, entry, now)
    return entry


def revoke_user_in(
    conn: Connection, user_id: str, reason: str, now: float, sub_until: float
) -> list[RevocationEntry]:
    """:meth:`SessionStore.revoke_user` inside ``conn`` (whose transaction holds the locks)."""
    out: list[RevocationEntry] = []
    rows = conn.execute(
        select(sessions.c.sid, sessions.c.access_exp)
        .where(and_(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None)))
        .order_by(sessions.c.created_at)
    ).all()
    for row in rows:
        entry = revoke_session_in(conn, row.sid, reason, now)
        if entry:
            out.append(entry)
    until = max([sub_until, *(e.until for e in out)])
    sub = RevocationEntry("sub", user_id, until, float(int(now)))
    put_revocation(conn, sub, now)
    out.append(sub)
    return out


def _insert_token(
    conn: Connection, token_hash: str, session: SessionRecord, now: float, expires_at: float
) -> None:
    """Store a new active refresh token of ``session`` (its user, client and scope)."""
    conn.execute(
        insert(refresh_tokens).values(
            token_hash=token_hash,
            sid=session.sid,
            user_id=session.user_id,
            client_id=session.client_id,
            scope=session.scope,
            created_at=now,
            expires_at=expires_at,
            state="active",
            consumed_at=None,
        )
    )


class _RotationSQL:
    """The rotation's statements, built once per database (issue 12: building a SQLAlchemy
    statement and its cache key costs more than running it, so the hot path runs prebuilt
    statements with bound parameters only)."""

    def __init__(self, db: Database) -> None:
        rt, s = refresh_tokens, sessions
        self.find = select(rt).where(rt.c.token_hash == bindparam("token_hash"))
        # The session row lock, its extension for the successor, and the user's state, in one
        # statement: ``user_disabled`` is NULL when the user no longer exists.
        user_disabled = (
            select(users.c.disabled)
            .where(users.c.id == s.c.user_id)
            .scalar_subquery()
            .label("user_disabled")
        )
        self.lock_session = (
            update(s)
            .where(and_(s.c.sid == bindparam("lock_sid"), s.c.revoked_at.is_(None)))
            .values(
                last_used_at=bindparam("now"),
                expires_at=db.greatest(s.c.expires_at, bindparam("refresh_exp")),
                access_exp=db.greatest(s.c.access_exp, bindparam("access_exp")),
            )
            .returning(*s.c, user_disabled)
        )
        self.consume = (
            update(rt)
            .where(
                and_(
                    rt.c.token_hash == bindparam("consume_hash"),
                    rt.c.state == "active",
                    rt.c.expires_at > bindparam("now"),
                )
            )
            .values(state="consumed", consumed_at=bindparam("now"))
        )
        self.insert = insert(rt)
        # compiled once for the database: the rotation runs on the driver's cursor
        self.run_find = db.prepare(self.find)
        self.run_lock_session = db.prepare(self.lock_session)
        self.run_consume = db.prepare(self.consume)
        self.run_insert = db.prepare(self.insert)


class SessionStore:
    """The ``sessions`` and ``refresh_tokens`` tables. ``db``: the shared
    :class:`~jwtkit.store._db.Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._sql = _RotationSQL(db)

    def create(
        self,
        *,
        user: UserRecord,
        client_id: str,
        scope: str,
        token_hash: str,
        now: float,
        refresh_exp: float,
        access_exp: float,
        cap: int = 0,
        policy: Literal["evict-oldest", "refuse"] = "evict-oldest",
        dpop_jkt: str | None = None,
    ) -> tuple[SessionRecord, list[RevocationEntry]]:
        """Start a session (token family) with its first refresh token, honouring the cap.

        Args:
            token_hash: SHA-256 hex of the refresh token (the token itself is never stored).
            cap: most active sessions of this user (0 = unlimited); at the cap the oldest are
                revoked (``evict-oldest``) or :class:`SessionCapError` is raised (``refuse``).
            dpop_jkt: the DPoP key thumbprint the family's refresh tokens are bound to (str) or
                None (RFC 9449 §5).

        ``user`` is the record whose credentials the caller checked: the session is created only
        if, under the user row's lock, that user still exists, is enabled and has the same
        password hash; otherwise :class:`CredentialsChangedError` (RFC 9700 §4.14.2: a login in
        flight during ``users disable`` or ``users set-password`` gets no session that survives
        it). Every session-creating path goes through here.

        Returns:
            (the new session, the ``sid`` revocations of evicted sessions to mirror).
        """
        session = SessionRecord(
            sid=new_id(),
            user_id=user.id,
            client_id=client_id,
            scope=scope,
            created_at=now,
            last_used_at=now,
            expires_at=refresh_exp,
            access_exp=access_exp,
            revoked_at=None,
            revoked_reason=None,
            dpop_jkt=dpop_jkt,
        )
        evicted: list[RevocationEntry] = []
        with self._db.write() as conn:
            # Lock the user row: concurrent logins of one user count sessions one at a time, and
            # a disable / password change / delete (which lock the same row first) either
            # committed before this point, and is seen below, or waits and then ends this
            # session with the others.
            locked = conn.execute(
                update(users).where(users.c.id == user.id).values(updated_at=now)
            ).rowcount
            current = conn.execute(
                select(users.c.password_hash, users.c.disabled).where(users.c.id == user.id)
            ).first()
            if (
                locked != 1
                or current is None
                or current.disabled
                or not hmac.compare_digest(current.password_hash, user.password_hash)
            ):
                raise CredentialsChangedError
            if cap > 0:
                active = conn.execute(
                    select(sessions.c.sid)
                    .where(
                        and_(
                            sessions.c.user_id == user.id,
                            sessions.c.revoked_at.is_(None),
                            sessions.c.expires_at > now,
                        )
                    )
                    .order_by(sessions.c.created_at, sessions.c.sid)
                ).all()
                excess = len(active) - cap + 1
                if excess > 0:
                    if policy == "refuse":
                        raise SessionCapError
                    for row in active[:excess]:
                        entry = revoke_session_in(conn, row.sid, "evicted", now)
                        if entry:
                            evicted.append(entry)
            conn.execute(insert(sessions).values(**session.__dict__))
            _insert_token(conn, token_hash, session, now, refresh_exp)
        return session, evicted

    def rotate(
        self,
        *,
        token_hash: str,
        client_id: str,
        new_hash: str,
        now: float,
        refresh_exp: float,
        access_exp: float,
        grace_seconds: float = 0.0,
        dpop_jkt: str | None = None,
    ) -> RotateResult:
        """Consume a refresh token and store its successor, atomically (RFC 6749 §6, RFC 9700
        §4.14.2).

        The session row is locked first (and extended for the successor in the same
        statement); then one ``UPDATE refresh_tokens SET state='consumed' WHERE token_hash=? AND
        state='active'`` consumes the token, and its row count decides. Four statements on the
        success path. Presenting a consumed token revokes the whole family in the same
        transaction (outcome ``reuse``), unless it was consumed less than ``grace_seconds`` ago
        and its successor is still unused (outcome ``grace``): then that successor is consumed
        too and one new successor replaces it, so a family never has two live refresh tokens
        (issue 13 item 5). Outcomes that change nothing roll back.

        Args:
            token_hash: SHA-256 hex of the presented refresh token.
            client_id: the authenticated client; must be the token's client.
            new_hash: SHA-256 hex of the successor refresh token.
            refresh_exp / access_exp: expiries of the new pair (seconds since the epoch).
            grace_seconds: how long after its rotation a token may be presented again (float).
            dpop_jkt: the thumbprint of the request's DPoP proof key (str) or None: a family
                bound to a key (RFC 9449 §5) rotates only with a proof of that key (outcome
                ``dpop_key`` otherwise, checked under the session lock before the token is
                consumed, so the token stays usable).

        Returns:
            :class:`~jwtkit.store.records.RotateResult`.
        """
        work = functools.partial(
            self._rotate,
            token_hash=token_hash,
            client_id=client_id,
            new_hash=new_hash,
            now=now,
            refresh_exp=refresh_exp,
            access_exp=access_exp,
            grace_seconds=grace_seconds,
            dpop_jkt=dpop_jkt,
        )
        try:  # one transaction, shared with concurrent rotations on SQLite (group commit)
            return self._db.write_grouped(work)
        except _Rollback as stop:
            return stop.result

    async def rotate_async(self, **arguments: Any) -> RotateResult:
        """:meth:`rotate` for a caller on an event loop: the same transaction, run by the
        store's writer (:meth:`~jwtkit.store._db.Database.write_grouped_async`); this resumes
        once it has committed. Takes :meth:`rotate`'s keyword arguments; same result."""
        try:
            return await self._db.write_grouped_async(functools.partial(self._rotate, **arguments))
        except _Rollback as stop:
            return stop.result

    def _rotate(
        self,
        conn: Connection,
        *,
        token_hash: str,
        client_id: str,
        new_hash: str,
        now: float,
        refresh_exp: float,
        access_exp: float,
        grace_seconds: float = 0.0,
        dpop_jkt: str | None = None,
    ) -> RotateResult:
        sql = self._sql
        found = sql.run_find.run(conn, {"token_hash": token_hash}).fetchone()
        if found is None:
            return RotateResult("unknown")
        row = dict(zip(sql.run_find.columns, found, strict=True))
        if row["client_id"] != client_id:
            return RotateResult("wrong_client")
        sid = row["sid"]
        # Lock the session row (and check it is alive) before touching its tokens.
        locked = sql.run_lock_session.run(
            conn,
            {"lock_sid": sid, "now": now, "refresh_exp": refresh_exp, "access_exp": access_exp},
        ).fetchone()
        if locked is None:
            raise _Rollback(RotateResult("session_revoked"))
        session_row = dict(zip(sql.run_lock_session.columns, locked, strict=True))
        user_disabled = session_row.pop("user_disabled")
        if user_disabled is None or user_disabled:
            # The user was disabled or deleted: the family ends here, in this transaction.
            entry = revoke_session_in(conn, sid, "user_disabled", now)
            return RotateResult("user_disabled", revoked=(entry,) if entry else ())
        bound = session_row["dpop_jkt"]
        if bound is not None and not (
            dpop_jkt is not None and hmac.compare_digest(bound, dpop_jkt)
        ):
            raise _Rollback(RotateResult("dpop_key"))
        consumed = 0
        if row["state"] == "active":
            consumed = sql.run_consume.run(conn, {"consume_hash": token_hash, "now": now}).rowcount
        outcome: Literal["ok", "grace"] = "ok"
        if consumed != 1:
            decided = self._not_consumed(conn, token_hash, sid, now, grace_seconds)
            if isinstance(decided, RotateResult):
                return decided  # reuse: the family's revocation commits
            outcome = decided
        session = SessionRecord(**session_row)
        sql.run_insert.run(
            conn,
            {
                "token_hash": new_hash,
                "sid": sid,
                "user_id": session.user_id,
                "client_id": session.client_id,
                "scope": session.scope,
                "created_at": now,
                "expires_at": refresh_exp,
                "state": "active",
                "consumed_at": None,
            },
        )
        return RotateResult(outcome, session=session)

    @staticmethod
    def _not_consumed(
        conn: Connection, token_hash: str, sid: str, now: float, grace_seconds: float
    ) -> Literal["grace"] | RotateResult:
        """Decide for a token the conditional UPDATE did not consume (its session row locked).

        Returns ``grace`` (its unused successor consumed, the token's own ``consumed_at`` moved
        to ``now``: the caller stores the one new successor). Otherwise raises
        :class:`_Rollback` with ``expired`` or ``session_revoked``; or, for reuse, revokes the
        family and returns the ``reuse`` result (to commit).
        """
        state = conn.execute(
            select(refresh_tokens.c.state, refresh_tokens.c.consumed_at).where(
                refresh_tokens.c.token_hash == token_hash
            )
        ).first()
        if state is None or state.state == "revoked":
            raise _Rollback(RotateResult("session_revoked"))
        if state.state == "active":
            raise _Rollback(RotateResult("expired"))
        consumed_at = state.consumed_at
        if grace_seconds > 0 and consumed_at is not None and now - consumed_at < grace_seconds:
            # Only the latest rotation may be retried: its successor (created when this token
            # was consumed) must still be the family's unused live token.
            superseded = conn.execute(
                update(refresh_tokens)
                .where(
                    and_(
                        refresh_tokens.c.sid == sid,
                        refresh_tokens.c.state == "active",
                        refresh_tokens.c.created_at == consumed_at,
                    )
                )
                .values(state="consumed", consumed_at=now)
            ).rowcount
            if superseded == 1:
                conn.execute(
                    update(refresh_tokens)
                    .where(refresh_tokens.c.token_hash == token_hash)
                    .values(consumed_at=now)
                )
                return "grace"
        entry = revoke_session_in(conn, sid, "refresh_reuse", now)
        return RotateResult("reuse", revoked=(entry,) if entry else ())

    def get_refresh_token(self, token_hash: str) -> RefreshTokenRecord | None:
        """Return the stored refresh token whose SHA-256 hex is ``token_hash``, or None."""
        with self._db.read() as conn:
            row = conn.execute(
                select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
            ).first()
        return RefreshTokenRecord.from_row(row) if row else None

    def get(self, sid: str) -> SessionRecord | None:
        """Return the session ``sid`` or None."""
        with self._db.read() as conn:
            row = conn.execute(select(sessions).where(sessions.c.sid == sid)).first()
        return SessionRecord.from_row(row) if row else None

    def of_user(
        self, user_id: str, now: float, *, include_inactive: bool = False
    ) -> list[SessionRecord]:
        """Return a user's sessions, oldest first (only active ones unless ``include_inactive``)."""
        query = select(sessions).where(sessions.c.user_id == user_id)
        if not include_inactive:
            query = query.where(and_(sessions.c.revoked_at.is_(None), sessions.c.expires_at > now))
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(sessions.c.created_at, sessions.c.sid)).all()
        return [SessionRecord.from_row(r) for r in rows]

    def revoke(self, sid: str, reason: str, now: float) -> RevocationEntry | None:
        """Revoke a session and every refresh token of it; returns the ``sid`` entry to mirror
        (None when the session does not exist or is already revoked)."""
        with self._db.write() as conn:
            return revoke_session_in(conn, sid, reason, now)

    def revoke_user(
        self, user_id: str, reason: str, now: float, sub_until: float
    ) -> list[RevocationEntry]:
        """Revoke every session of a user by ``sid`` and set a ``sub`` cut-off of ``int(now)``.

        Tokens issued later in the same second (a new login) keep ``iat >= cutoff`` and stay
        valid; older tokens of the same second are caught by their ``sid``.

        Args:
            sub_until: when the cut-off may be forgotten (the latest exp of an earlier token).

        Returns:
            Every entry to mirror: one ``sid`` per live session, then the ``sub`` entry.
        """
        with self._db.write() as conn:
            return revoke_user_in(conn, user_id, reason, now, sub_until)

    @staticmethod
    def prune_in(conn: Connection, now: float, session_retention: float) -> int:
        """Inside ``conn``, delete used refresh tokens past their expiry, and sessions (with
        their refresh tokens) whose refresh and access tokens all expired more than
        ``session_retention`` seconds ago. Returns how many rows were removed."""
        cutoff = now - session_retention
        n = conn.execute(
            delete(refresh_tokens).where(
                and_(refresh_tokens.c.expires_at <= now, refresh_tokens.c.state != "active")
            )
        ).rowcount
        dead = select(sessions.c.sid).where(
            and_(sessions.c.expires_at <= cutoff, sessions.c.access_exp <= cutoff)
        )
        n += conn.execute(delete(refresh_tokens).where(refresh_tokens.c.sid.in_(dead))).rowcount
        n += conn.execute(delete(sessions).where(sessions.c.sid.in_(dead))).rowcount
        return int(n)
