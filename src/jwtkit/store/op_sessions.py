"""OP (browser) sessions and the grants made through them (OIDC Core §3.1.2.1, OIDC
Back-Channel Logout §2.1 ``sid``). Ending an OP session ends, in the same transaction, every
grant (refresh-token family) made through it, through the store's one revocation writer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, delete, insert, or_, select, update

from jwtkit.store.oidc_schema import op_grants, op_sessions
from jwtkit.store.sessions import revoke_session_in

if TYPE_CHECKING:
    from jwtkit.store._db import Database
    from jwtkit.store.records import RevocationEntry

__all__ = ["OPSession", "OPSessionStore"]


@dataclass(frozen=True)
class OPSession:
    """One browser login: ``sid`` (the OIDC ``sid``), ``user_id``, ``auth_time`` (seconds since
    the epoch), ``amr`` (space-separated, e.g. ``pwd``), ``expires_at``, ``ended_at``."""

    sid: str
    user_id: str
    auth_time: float
    amr: str
    created_at: float
    expires_at: float
    ended_at: float | None
    ended_reason: str | None

    @classmethod
    def from_row(cls, row: Any) -> OPSession:
        """Build from an ``op_sessions`` row."""
        return cls(
            row.sid,
            row.user_id,
            row.auth_time,
            row.amr,
            row.created_at,
            row.expires_at,
            row.ended_at,
            row.ended_reason,
        )

    def is_active(self, now: float) -> bool:
        """True when not ended and not expired at ``now``."""
        return self.ended_at is None and self.expires_at > now


class OPSessionStore:
    """OP sessions and their grants (one transaction per method)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def create(self, session: OPSession, cookie_hash: str) -> None:
        """Insert ``session`` reachable by the SHA-256 (hex) of its cookie value."""
        with self._db.write() as conn:
            conn.execute(insert(op_sessions).values(cookie_hash=cookie_hash, **session.__dict__))

    def by_cookie(self, cookie_hash: str) -> OPSession | None:
        """The session whose cookie value hashes to ``cookie_hash`` (active or not), or None."""
        with self._db.read() as conn:
            row = conn.execute(
                select(op_sessions).where(op_sessions.c.cookie_hash == cookie_hash)
            ).first()
        return OPSession.from_row(row) if row else None

    def get(self, sid: str) -> OPSession | None:
        """The session ``sid`` or None."""
        with self._db.read() as conn:
            row = conn.execute(select(op_sessions).where(op_sessions.c.sid == sid)).first()
        return OPSession.from_row(row) if row else None

    def renew(self, sid: str, cookie_hash: str, auth_time: float, expires_at: float) -> bool:
        """Give an active session a new cookie value and ``auth_time`` (a new login of the same
        user: no fixation). Returns False when it has ended."""
        with self._db.write() as conn:
            done = conn.execute(
                update(op_sessions)
                .where(and_(op_sessions.c.sid == sid, op_sessions.c.ended_at.is_(None)))
                .values(cookie_hash=cookie_hash, auth_time=auth_time, expires_at=expires_at)
            ).rowcount
        return bool(done)

    def link_grant(self, op_sid: str, grant_sid: str, client_id: str, now: float) -> bool:
        """Record that grant ``grant_sid`` was made through OP session ``op_sid``, unless the
        OP session has ended meanwhile (then the grant is revoked and False returned)."""
        with self._db.write() as conn:
            row = conn.execute(
                select(op_sessions.c.ended_at).where(op_sessions.c.sid == op_sid)
            ).first()
            if row is None or row.ended_at is not None:
                revoke_session_in(conn, grant_sid, "op_session_ended", now)
                return False
            conn.execute(
                insert(op_grants).values(
                    grant_sid=grant_sid, op_sid=op_sid, client_id=client_id, created_at=now
                )
            )
        return True

    def grant_owner(self, grant_sid: str) -> str | None:
        """The OP session ``sid`` a grant was made through (None: not an OIDC grant)."""
        with self._db.read() as conn:
            return conn.execute(
                select(op_grants.c.op_sid).where(op_grants.c.grant_sid == grant_sid)
            ).scalar()

    def clients(self, op_sid: str) -> list[str]:
        """The client ids signed in through OP session ``op_sid`` (sorted, distinct)."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(op_grants.c.client_id).where(op_grants.c.op_sid == op_sid).distinct()
            ).all()
        return sorted(r.client_id for r in rows)

    def active_of(self, user_id: str, now: float) -> list[OPSession]:
        """The user's OP sessions that have not ended or expired."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(op_sessions).where(
                    and_(
                        op_sessions.c.user_id == user_id,
                        op_sessions.c.ended_at.is_(None),
                        op_sessions.c.expires_at > now,
                    )
                )
            ).all()
        return [OPSession.from_row(r) for r in rows]

    def prune(self, now: float, retention: float) -> int:
        """Delete OP sessions (and their grant links) that ended or expired more than
        ``retention`` seconds before ``now``; returns the rows deleted (int)."""
        cutoff = now - retention
        with self._db.write() as conn:
            dead = select(op_sessions.c.sid).where(
                or_(op_sessions.c.ended_at < cutoff, op_sessions.c.expires_at < cutoff)
            )
            n = conn.execute(delete(op_grants).where(op_grants.c.op_sid.in_(dead))).rowcount
            n += conn.execute(
                delete(op_sessions).where(
                    or_(op_sessions.c.ended_at < cutoff, op_sessions.c.expires_at < cutoff)
                )
            ).rowcount
        return int(n)

    def end(self, sid: str, reason: str, now: float) -> list[RevocationEntry] | None:
        """End OP session ``sid`` and every grant made through it, in one transaction.

        Returns the grants' revocation entries (list; published by the caller), or None when
        the session did not exist or had already ended."""
        with self._db.write() as conn:
            done = conn.execute(
                update(op_sessions)
                .where(and_(op_sessions.c.sid == sid, op_sessions.c.ended_at.is_(None)))
                .values(ended_at=now, ended_reason=reason)
            ).rowcount
            if done != 1:
                return None
            grants = conn.execute(
                select(op_grants.c.grant_sid).where(op_grants.c.op_sid == sid)
            ).all()
            entries = []
            for grant in grants:
                entry = revoke_session_in(conn, grant.grant_sid, reason, now)
                if entry is not None:
                    entries.append(entry)
        return entries
