"""Revocations at three grains: one access token (``jti``), one session (``sid``), one user
(``sub`` with an ``iat`` cut-off). Every method is one transaction; :func:`put_revocation` runs
inside a caller's transaction (a session revocation writes its entry with the session change).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from jwtkit.store import outbox
from jwtkit.store._db import Database
from jwtkit.store.records import RevocationEntry
from jwtkit.store.schema import revocations, sessions

__all__ = ["RevocationStore", "put_revocation"]


def put_revocation(conn: Connection, entry: RevocationEntry, now: float) -> None:
    """Upsert one revocation row inside ``conn`` (the later ``until`` and ``cutoff`` win) and
    queue its event for the outbox, committed with it (:mod:`jwtkit.store.outbox`). Every
    revocation, of any grain and by any path, goes through here."""
    outbox.queue(conn, entry, now)
    key = and_(revocations.c.kind == entry.kind, revocations.c.value == entry.value)
    row = conn.execute(select(revocations).where(key)).first()
    if row is None:
        try:
            with conn.begin_nested():
                conn.execute(
                    insert(revocations).values(
                        kind=entry.kind,
                        value=entry.value,
                        until=entry.until,
                        cutoff=entry.cutoff,
                        created_at=now,
                    )
                )
            return
        except IntegrityError:
            row = conn.execute(select(revocations).where(key)).first()
    if row is not None:
        cutoff = entry.cutoff
        if cutoff is not None and row.cutoff is not None:
            cutoff = max(cutoff, row.cutoff)
        conn.execute(
            update(revocations).where(key).values(until=max(entry.until, row.until), cutoff=cutoff)
        )


class RevocationStore:
    """The ``revocations`` table. ``db``: the shared :class:`~jwtkit.store._db.Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def revoke_jti(self, jti: str, until: float, now: float) -> RevocationEntry:
        """Revoke one access token by ``jti`` until its ``exp``; returns the entry to mirror."""
        entry = RevocationEntry("jti", jti, until)
        with self._db.write() as conn:
            put_revocation(conn, entry, now)
        return entry

    def revoked_grain(self, claims: Mapping[str, Any]) -> str | None:
        """Which grain revokes these verified access-token claims (``jti``, ``sid``, ``sub``), or
        None. Also reports ``sid`` when the token's session is revoked in the sessions table."""
        jti, sid, sub, iat = (claims.get(k) for k in ("jti", "sid", "sub", "iat"))
        with self._db.read() as conn:
            wanted = [v for v in (jti, sid, sub) if isinstance(v, str)]
            rows = {
                (r.kind, r.value): r
                for r in conn.execute(
                    select(revocations).where(revocations.c.value.in_(wanted or [""]))
                ).all()
            }
            if isinstance(jti, str) and ("jti", jti) in rows:
                return "jti"
            if isinstance(sid, str):
                if ("sid", sid) in rows:
                    return "sid"
                revoked_at = conn.execute(
                    select(sessions.c.revoked_at).where(sessions.c.sid == sid)
                ).first()
                if revoked_at is not None and revoked_at.revoked_at is not None:
                    return "sid"
            if isinstance(sub, str) and ("sub", sub) in rows:
                cutoff = rows[("sub", sub)].cutoff
                if not isinstance(iat, int | float) or isinstance(iat, bool) or iat < (cutoff or 0):
                    return "sub"
        return None

    def live(self, now: float) -> list[RevocationEntry]:
        """Every revocation whose ``until`` is after ``now`` (for re-mirroring into Redis)."""
        with self._db.read() as conn:
            rows = conn.execute(select(revocations).where(revocations.c.until > now)).all()
        return [RevocationEntry.from_row(r) for r in rows]

    @staticmethod
    def prune_in(conn: Connection, now: float) -> int:
        """Delete revocations past their ``until`` inside ``conn``; returns the row count."""
        return int(conn.execute(delete(revocations).where(revocations.c.until <= now)).rowcount)
