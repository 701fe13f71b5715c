"""Consents (OIDC Core §3.1.2.4): the scopes a user allowed a client, remembered so the consent
page is shown again only for scopes beyond them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import and_, delete, insert, select, update

from jwtkit.store.oidc_schema import consents

if TYPE_CHECKING:
    from jwtkit.store._db import Database

__all__ = ["ConsentStore"]


class ConsentStore:
    """Consents over the shared :class:`~jwtkit.store._db.Database` (one transaction per method)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def scopes(self, user_id: str, client_id: str) -> frozenset[str]:
        """The scopes ``user_id`` allowed ``client_id`` (empty: never asked or denied)."""
        with self._db.read() as conn:
            scope = conn.execute(
                select(consents.c.scope).where(
                    and_(consents.c.user_id == user_id, consents.c.client_id == client_id)
                )
            ).scalar()
        return frozenset((scope or "").split())

    def allow(self, user_id: str, client_id: str, scope: str, now: float) -> None:
        """Remember that ``user_id`` allowed ``client_id`` the scopes in ``scope`` (added to
        what it allowed before)."""
        key = and_(consents.c.user_id == user_id, consents.c.client_id == client_id)
        with self._db.write() as conn:
            old = conn.execute(select(consents.c.scope).where(key)).scalar()
            merged = " ".join(sorted(set((old or "").split()) | set(scope.split())))
            if old is None:
                conn.execute(
                    insert(consents).values(
                        user_id=user_id, client_id=client_id, scope=merged, created_at=now
                    )
                )
            else:
                conn.execute(update(consents).where(key).values(scope=merged))

    def forget(self, user_id: str, client_id: str) -> None:
        """Drop a consent (the next authorization asks again)."""
        with self._db.write() as conn:
            conn.execute(
                delete(consents).where(
                    and_(consents.c.user_id == user_id, consents.c.client_id == client_id)
                )
            )
