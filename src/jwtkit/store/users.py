"""Users (resource owners, RFC 6749 §1.1). Every method is one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from jwtkit.store._db import Database
from jwtkit.store.records import RevocationEntry, UserRecord, new_id, scope_str
from jwtkit.store.schema import refresh_tokens, sessions, users
from jwtkit.store.sessions import revoke_user_in

__all__ = ["UserStore"]


class UserStore:
    """The ``users`` table. ``db``: the shared :class:`~jwtkit.store._db.Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(
        self, username: str, password_hash: str, scope: Sequence[str] | str, now: float
    ) -> UserRecord | None:
        """Insert a user; returns it, or None when ``username`` is taken."""
        record = UserRecord(
            id=new_id(),
            username=username,
            password_hash=password_hash,
            scope=scope_str(scope),
            disabled=False,
            created_at=now,
        )
        try:
            with self._db.write() as conn:
                conn.execute(
                    insert(users).values(**record.__dict__, updated_at=now),
                )
        except IntegrityError:
            return None
        return record

    def get(self, username: str) -> UserRecord | None:
        """Return the user called ``username`` or None."""
        with self._db.read() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).first()
        return UserRecord.from_row(row) if row else None

    def get_by_id(self, user_id: str) -> UserRecord | None:
        """Return the user whose id (``sub``) is ``user_id`` or None."""
        with self._db.read() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).first()
        return UserRecord.from_row(row) if row else None

    def all(self) -> list[UserRecord]:
        """Return every user, by username."""
        with self._db.read() as conn:
            rows = conn.execute(select(users).order_by(users.c.username)).all()
        return [UserRecord.from_row(r) for r in rows]

    def update(
        self,
        username: str,
        now: float,
        *,
        password_hash: str | None = None,
        disabled: bool | None = None,
        scope: Sequence[str] | str | None = None,
        end_sessions: str | None = None,
        sub_until: float = 0.0,
    ) -> tuple[UserRecord, list[RevocationEntry]] | None:
        """Change a user's password hash, disabled flag and/or scope in one transaction; with
        ``end_sessions`` (the reason, str) every session of the user ends in the same
        transaction, as :meth:`SessionStore.revoke_user` does.

        The user row is locked first, so a login in flight (:meth:`SessionStore.create`) either
        commits before the change (and its session is ended with the others) or sees it.

        Returns:
            (the updated user, the revocation entries to mirror), or None when there is no user
            called ``username``.
        """
        values: dict[str, Any] = {"updated_at": now}
        if password_hash is not None:
            values["password_hash"] = password_hash
        if disabled is not None:
            values["disabled"] = disabled
        if scope is not None:
            values["scope"] = scope_str(scope)
        with self._db.write() as conn:
            result = conn.execute(
                update(users).where(users.c.username == username).values(**values)
            )
            if result.rowcount != 1:
                return None
            row = conn.execute(select(users).where(users.c.username == username)).one()
            entries: list[RevocationEntry] = []
            if end_sessions is not None:
                entries = revoke_user_in(conn, row.id, end_sessions, now, sub_until)
        return UserRecord.from_row(row), entries

    def delete(
        self, username: str, now: float, sub_until: float
    ) -> tuple[UserRecord, list[RevocationEntry]] | None:
        """Delete a user with its sessions and refresh tokens, in one transaction; its live
        sessions are revoked first (the revocation rows stay until its tokens expire).

        Returns:
            (the deleted user, the revocation entries to mirror), or None when there is no user
            called ``username``.
        """
        with self._db.write() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).first()
            if row is None:
                return None
            conn.execute(update(users).where(users.c.id == row.id).values(updated_at=now))
            entries = revoke_user_in(conn, row.id, "user_deleted", now, sub_until)
            conn.execute(delete(refresh_tokens).where(refresh_tokens.c.user_id == row.id))
            conn.execute(delete(sessions).where(sessions.c.user_id == row.id))
            conn.execute(delete(users).where(users.c.id == row.id))
        return UserRecord.from_row(row), entries
