"""Signing keys: *next* (published, not yet signing), *current*, *retired* (published until its
last token expires), then removed. Every method is one transaction."""

from __future__ import annotations

from sqlalchemy import and_, delete, insert, select, update

from jwtkit.store._db import Database
from jwtkit.store.records import KeyRecord
from jwtkit.store.schema import signing_keys

__all__ = ["KeyStore"]


class KeyStore:
    """The ``signing_keys`` table. ``db``: the shared :class:`~jwtkit.store._db.Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def all(self, purpose: str | None = None) -> list[KeyRecord]:
        """Return every stored signing key (of ``purpose``, ``access`` or ``id_token``, when
        given), newest first."""
        query = select(signing_keys).order_by(signing_keys.c.created_at.desc())
        if purpose is not None:
            query = query.where(signing_keys.c.purpose == purpose)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [KeyRecord.from_row(r) for r in rows]

    def add(self, record: KeyRecord, *, only_if_no_current: bool = False) -> bool:
        """Insert a signing key; with ``only_if_no_current`` do nothing (False) when a current
        key exists (first start of several instances at once)."""
        with self._db.write() as conn:
            self._db.lock_table(conn, signing_keys)
            if only_if_no_current:
                exists = conn.execute(
                    select(signing_keys.c.kid).where(
                        and_(
                            signing_keys.c.state == "current",
                            signing_keys.c.purpose == record.purpose,
                        )
                    )
                ).first()
                if exists is not None:
                    return False
            conn.execute(insert(signing_keys).values(**record.__dict__))
        return True

    def promote(self, now: float, retire_until: float, purpose: str = "access") -> bool:
        """Promote the newest *next* key of ``purpose`` (each purpose is its own rotation
        family: ``access`` tokens, ``id_token``) whose ``activate_at`` has come to *current*; the
        old current (and older due *next* keys) of that purpose become *retired*, published
        until ``retire_until``. Also deletes its retired keys whose ``publish_until`` has passed.
        Returns True on a change.
        """
        changed = False
        mine = signing_keys.c.purpose == purpose
        with self._db.write() as conn:
            self._db.lock_table(conn, signing_keys)
            due = conn.execute(
                select(signing_keys.c.kid)
                .where(
                    and_(mine, signing_keys.c.state == "next", signing_keys.c.activate_at <= now)
                )
                .order_by(signing_keys.c.activate_at.desc(), signing_keys.c.created_at.desc())
            ).all()
            if due:
                newest = due[0].kid
                conn.execute(
                    update(signing_keys)
                    .where(
                        and_(
                            mine,
                            signing_keys.c.kid != newest,
                            signing_keys.c.state.in_(["current", "next"]),
                            (signing_keys.c.state == "current")
                            | (signing_keys.c.activate_at <= now),
                        )
                    )
                    .values(state="retired", retired_at=now, publish_until=retire_until)
                )
                conn.execute(
                    update(signing_keys)
                    .where(signing_keys.c.kid == newest)
                    .values(state="current", activate_at=now)
                )
                changed = True
            removed = conn.execute(
                delete(signing_keys).where(
                    and_(
                        mine,
                        signing_keys.c.state == "retired",
                        signing_keys.c.publish_until <= now,
                    )
                )
            ).rowcount
        return changed or removed > 0
