"""The revocation outbox: every revocation event, in the transaction that caused it, in order.

:func:`jwtkit.store.revocations.put_revocation` (the one place revocation rows are written)
queues an event on the transaction's connection; :meth:`jwtkit.store._db.Database.write` calls
:func:`flush` just before it commits, which gives the queued events their sequence numbers and
inserts them into ``revocation_outbox``. Whoever revoked (a request, the admin CLI, housekeeping),
the event is committed with the change or not at all; the running service relays it
(:mod:`jwtkit.server.relay`).

Sequence numbers are gapless and follow commit order, on SQLite and on PostgreSQL with several
service instances: :func:`flush` takes them from the single ``revocation_seq`` row with
``UPDATE ... SET last = last + n RETURNING last``, whose row lock is held until commit. A
transaction that gets seq N+1 therefore waits until the one holding N has committed (or rolled
back, giving N back), so a reader that sees N+1 also sees N: a feed reader asking for
``seq > since`` never skips an event that commits late. The counter is taken last in each
transaction (after every session and user row lock), so it adds no lock-order cycle. On SQLite
``BEGIN IMMEDIATE`` serializes writers anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Connection, delete, insert, select, tuple_, update

from jwtkit.store.records import RevocationEntry
from jwtkit.store.schema import revocation_outbox, revocation_seq, revocations

__all__ = ["OutboxEvent", "OutboxStore", "discard", "flush", "queue"]

_PENDING = "jwtkit_outbox_pending"


@dataclass(frozen=True)
class OutboxEvent:
    """One outbox row: ``seq`` (int), the revocation (``kind``, ``value``, ``until``,
    ``cutoff``) and ``created_at`` (seconds since the epoch)."""

    seq: int
    kind: Literal["jti", "sid", "sub"]
    value: str
    until: float
    cutoff: float | None
    created_at: float

    def to_json(self) -> dict[str, Any]:
        """The event as the feed sends it (dict): seq, kind, value, until and, for ``sub``,
        cutoff."""
        out: dict[str, Any] = {
            "seq": self.seq,
            "kind": self.kind,
            "value": self.value,
            "until": self.until,
        }
        if self.kind == "sub":
            out["cutoff"] = self.cutoff
        return out


def begin(conn: Connection) -> None:
    """Start queueing outbox events on ``conn`` (called by :meth:`Database.write`)."""
    conn.info[_PENDING] = []


def discard(conn: Connection) -> None:
    """Forget what was queued on ``conn`` (its transaction ended)."""
    conn.info.pop(_PENDING, None)


def savepoint(conn: Connection) -> int:
    """How many events are queued in ``conn`` now (int), for :func:`rollback_to`."""
    return len(conn.info.get(_PENDING) or [])


def rollback_to(conn: Connection, mark: int) -> None:
    """Drop the events queued after ``mark`` (their ``SAVEPOINT`` was rolled back)."""
    pending = conn.info.get(_PENDING)
    if pending:
        del pending[mark:]


def queue(conn: Connection, entry: RevocationEntry, now: float) -> None:
    """Queue the event of ``entry`` in ``conn``'s transaction (written by :func:`flush`).

    Raises:
        RuntimeError: ``conn`` is not a :meth:`Database.write` transaction.
    """
    pending = conn.info.get(_PENDING)
    if pending is None:
        raise RuntimeError("revocations must be written inside Database.write()")
    pending.append((entry, now))


def flush(conn: Connection) -> None:
    """Give the queued events their sequence numbers and insert them (inside the caller's
    transaction, just before it commits)."""
    pending: list[tuple[RevocationEntry, float]] = conn.info.get(_PENDING) or []
    if not pending:
        return
    conn.info[_PENDING] = []
    n = len(pending)
    last = conn.execute(
        update(revocation_seq)
        .where(revocation_seq.c.id == 1)
        .values(last=revocation_seq.c.last + n)
        .returning(revocation_seq.c.last)
    ).scalar()
    if last is None:  # no counter row (an emptied database): start after the outbox's last
        top = conn.execute(select(revocation_outbox.c.seq).order_by(revocation_outbox.c.seq.desc()))
        last = int(top.scalar() or 0) + n
        conn.execute(insert(revocation_seq).values(id=1, last=last))
    first = int(last) - n + 1
    conn.execute(
        insert(revocation_outbox),
        [
            {
                "seq": first + i,
                "kind": entry.kind,
                "value": entry.value,
                "until": entry.until,
                "cutoff": entry.cutoff,
                "created_at": now,
            }
            for i, (entry, now) in enumerate(pending)
        ],
    )


class OutboxStore:
    """Reads of the outbox for the relay and the revocation feed. ``db``: the shared
    :class:`~jwtkit.store._db.Database`."""

    def __init__(self, db: Any) -> None:
        self._db = db

    @staticmethod
    def _latest(conn: Connection) -> int:
        value = conn.execute(select(revocation_seq.c.last).where(revocation_seq.c.id == 1)).scalar()
        return int(value or 0)

    def latest(self) -> int:
        """The highest committed ``seq`` (int; 0 when none)."""
        with self._db.read() as conn:
            return self._latest(conn)

    def page(self, since: int, limit: int) -> list[OutboxEvent]:
        """At most ``limit`` events with ``seq`` > ``since``, in order."""
        with self._db.read() as conn:
            return self._page(conn, since, limit)

    @staticmethod
    def _page(conn: Connection, since: int, limit: int) -> list[OutboxEvent]:
        rows = conn.execute(
            select(revocation_outbox)
            .where(revocation_outbox.c.seq > since)
            .order_by(revocation_outbox.c.seq)
            .limit(limit)
        ).all()
        return [OutboxEvent(r.seq, r.kind, r.value, r.until, r.cutoff, r.created_at) for r in rows]

    def read(self, since: int, limit: int) -> tuple[list[OutboxEvent], int]:
        """A feed page: (at most ``limit`` events after ``since``, the highest committed
        ``seq``), the latter read after the former, so it is never below the page's last."""
        with self._db.read() as conn:
            events = self._page(conn, since, limit)
            return events, max(self._latest(conn), events[-1].seq if events else 0)

    def revocations_page(
        self, after: tuple[str, str] | None, limit: int, now: float
    ) -> tuple[int, list[RevocationEntry]]:
        """A page of the live set: (the ``seq`` it reflects, at most ``limit`` revocations
        live at ``now`` ordered by (kind, value) after the key ``after``). The ``seq`` is read
        first, so every event up to it is in this page or the following ones."""
        with self._db.read() as conn:
            seq = self._latest(conn)
            query = select(revocations).where(revocations.c.until > now)
            if after is not None:
                query = query.where(tuple_(revocations.c.kind, revocations.c.value) > after)
            rows = conn.execute(
                query.order_by(revocations.c.kind, revocations.c.value).limit(limit)
            ).all()
        return seq, [RevocationEntry.from_row(r) for r in rows]

    @staticmethod
    def prune_in(conn: Connection, now: float) -> int:
        """Delete outbox events past their ``until`` inside ``conn``; returns the row count."""
        return int(
            conn.execute(delete(revocation_outbox).where(revocation_outbox.c.until <= now)).rowcount
        )
