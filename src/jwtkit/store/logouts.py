"""Back-channel logout deliveries (OIDC Back-Channel Logout 1.0 §2.5): one row per logout token
sent to a client, with its state (``pending``, ``delivered``, ``failed``), attempts and last
error, so an operator can see what each relying party was told."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update

from jwtkit.store.oidc_schema import backchannel_logouts

if TYPE_CHECKING:
    from jwtkit.store._db import Database

__all__ = ["LogoutDelivery", "LogoutStore"]


@dataclass(frozen=True)
class LogoutDelivery:
    """One logout token's delivery record (times in seconds since the epoch)."""

    jti: str
    op_sid: str
    client_id: str
    uri: str
    state: str
    attempts: int
    last_error: str | None
    created_at: float
    delivered_at: float | None

    @classmethod
    def from_row(cls, row: Any) -> LogoutDelivery:
        """Build from a ``backchannel_logouts`` row."""
        return cls(**{k: getattr(row, k) for k in cls.__dataclass_fields__})


class LogoutStore:
    """Delivery records over the shared :class:`~jwtkit.store._db.Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, record: LogoutDelivery) -> None:
        """Record a logout token about to be sent."""
        with self._db.write() as conn:
            conn.execute(insert(backchannel_logouts).values(**record.__dict__))

    def update(
        self, jti: str, *, state: str, attempts: int, error: str | None, at: float | None
    ) -> None:
        """Record the outcome of an attempt."""
        with self._db.write() as conn:
            conn.execute(
                update(backchannel_logouts)
                .where(backchannel_logouts.c.jti == jti)
                .values(state=state, attempts=attempts, last_error=error, delivered_at=at)
            )

    def prune(self, before: float) -> int:
        """Delete delivery records created before ``before``; returns how many (int)."""
        with self._db.write() as conn:
            done = conn.execute(
                delete(backchannel_logouts).where(backchannel_logouts.c.created_at < before)
            ).rowcount
        return int(done)

    def of_session(self, op_sid: str) -> list[LogoutDelivery]:
        """Every delivery record of OP session ``op_sid``, oldest first."""
        with self._db.read() as conn:
            rows = conn.execute(
                select(backchannel_logouts)
                .where(backchannel_logouts.c.op_sid == op_sid)
                .order_by(backchannel_logouts.c.created_at)
            ).all()
        return [LogoutDelivery.from_row(r) for r in rows]
