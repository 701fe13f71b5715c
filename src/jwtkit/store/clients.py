"""OAuth clients (RFC 6749 §2). Every method is one transaction."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from jwtkit.store._db import Database
from jwtkit.store._flight import SingleFlight
from jwtkit.store.records import ClientRecord, RevocationEntry, scope_str
from jwtkit.store.schema import clients, sessions
from jwtkit.store.sessions import revoke_session_in

__all__ = ["ClientStore"]


class ClientStore:
    """The ``clients`` table, with a small in-process cache of client records.

    :meth:`get` answers from the cache for ``cache_seconds`` (monotonic time) after a read;
    :meth:`add`, :meth:`update` and :meth:`delete` drop the entry at once in this process.
    Another process (the admin CLI, another worker) changing a client is seen after at most
    ``cache_seconds``. Unknown ids are never cached (a flood of made-up ids cannot fill it).

    Args:
        db: the shared :class:`~jwtkit.store._db.Database`.
        cache_seconds: how long a read record is trusted (float; 0 disables the cache).
        max_entries: bound on cached records (int); the least recently read goes first.
    """

    def __init__(
        self, db: Database, *, cache_seconds: float = 1.0, max_entries: int = 1024
    ) -> None:
        self._db = db
        self._generation = 0  # bumped by every invalidation: a read that raced one is not kept
        self.cache_seconds = float(cache_seconds)
        self.max_entries = int(max_entries)
        self._cache: OrderedDict[str, tuple[ClientRecord, float]] = OrderedDict()
        self._lock = threading.Lock()
        self._reloads = SingleFlight()  # reload_async's reads in flight

    def cached(self, client_id: str) -> ClientRecord | None:
        """The cached record of ``client_id`` while it is fresh, else None; never reads the
        database (the token endpoint uses it to answer without leaving the event loop)."""
        entry = self._cache.get(client_id)
        if entry is None or entry[1] <= time.monotonic():
            return None
        return entry[0]

    def is_stale(self, client_id: str) -> bool:
        """True when ``client_id``'s record was read and cached but its ``cache_seconds`` have
        passed (a known client to read again; never true for an id never found)."""
        entry = self._cache.get(client_id)
        return entry is not None and entry[1] <= time.monotonic()

    async def reload_async(self, client_id: str) -> ClientRecord | None:
        """Read ``client_id``'s record again in a worker thread, once for all the callers on
        this event loop that ask meanwhile (when the cache time of a busy client passes, its
        concurrent requests share one read instead of each leaving the loop), and cache it as
        :meth:`get` does. Returns the record or None (deleted meanwhile).

        Raises:
            sqlalchemy.exc.SQLAlchemyError: the read failed (to every caller of that read).
        """
        return await self._reloads.run(client_id, self.get, client_id)

    def invalidate(self, client_id: str | None = None) -> None:
        """Drop ``client_id`` (or every client, with None) from the cache."""
        with self._lock:
            self._generation += 1
            if client_id is None:
                self._cache.clear()
            else:
                self._cache.pop(client_id, None)

    def changed_since(self, record: ClientRecord) -> bool:
        """Re-read ``record``'s client from the database (dropping the cached copy) and say
        whether it differs: a credential check that failed against a cached record calls it, so
        a secret rotated by another process is honoured at once, not after ``cache_seconds``.
        """
        self.invalidate(record.client_id)
        return self.get(record.client_id) != record

    def _forget(self, client_id: str, generation: int) -> None:
        """Drop ``client_id``'s entry after a read found no such client (unless an
        invalidation raced that read)."""
        with self._lock:
            if generation == self._generation:
                self._cache.pop(client_id, None)

    def _remember(self, record: ClientRecord, generation: int) -> None:
        if self.cache_seconds <= 0:
            return
        with self._lock:
            if generation != self._generation:
                return
            self._cache.pop(record.client_id, None)
            while len(self._cache) >= self.max_entries:
                self._cache.popitem(last=False)
            self._cache[record.client_id] = (record, time.monotonic() + self.cache_seconds)

    def add(
        self,
        client_id: str,
        *,
        secret_hash: str | None,
        grant_types: Sequence[str],
        scope: Sequence[str] | str,
        audience: str | None,
        now: float,
        resource_server: bool = False,
        dpop_bound_access_tokens: bool = False,
    ) -> ClientRecord | None:
        """Insert a client (public when ``secret_hash`` is None; ``resource_server`` may
        introspect, confidential clients only; ``dpop_bound_access_tokens`` requires DPoP,
        RFC 9449 §5.2); None when the id is taken."""
        record = ClientRecord(
            client_id=client_id,
            secret_hash=secret_hash,
            public=secret_hash is None,
            grant_types=tuple(dict.fromkeys(grant_types)),
            scope=scope_str(scope),
            audience=audience,
            created_at=now,
            resource_server=resource_server and secret_hash is not None,
            dpop_bound_access_tokens=dpop_bound_access_tokens,
        )
        self.invalidate(client_id)
        try:
            with self._db.write() as conn:
                conn.execute(insert(clients).values(**record.to_row()))
        except IntegrityError:
            return None
        return record

    def get(self, client_id: str) -> ClientRecord | None:
        """Return the client ``client_id`` or None (from the cache while fresh)."""
        found = self.cached(client_id)
        if found is not None:
            return found
        generation = self._generation
        with self._db.read() as conn:
            row = conn.execute(select(clients).where(clients.c.client_id == client_id)).first()
        if row is None:
            self._forget(client_id, generation)  # deleted (by another process): no stale entry
            return None
        record = ClientRecord.from_row(row)
        self._remember(record, generation)
        return record

    def all(self) -> list[ClientRecord]:
        """Return every client, by id."""
        with self._db.read() as conn:
            rows = conn.execute(select(clients).order_by(clients.c.client_id)).all()
        return [ClientRecord.from_row(r) for r in rows]

    def update(
        self,
        client_id: str,
        *,
        secret_hash: str | None = None,
        grant_types: Sequence[str] | None = None,
        scope: Sequence[str] | str | None = None,
        audience: str | None = None,
        resource_server: bool | None = None,
        dpop_bound_access_tokens: bool | None = None,
    ) -> ClientRecord | None:
        """Change a client's secret hash, grant types, scope, audience, resource-server and/or
        DPoP flag (None leaves a field as it is; ``audience=""`` resets it to the default). Returns
        the updated client, or None when there is no client ``client_id``."""
        values: dict[str, Any] = {}
        if secret_hash is not None:
            values["secret_hash"] = secret_hash
        if grant_types is not None:
            values["grant_types"] = " ".join(dict.fromkeys(grant_types))
        if scope is not None:
            values["scope"] = scope_str(scope)
        if audience is not None:
            values["audience"] = audience or None
        if resource_server is not None:
            values["resource_server"] = resource_server
        if dpop_bound_access_tokens is not None:
            values["dpop_bound_access_tokens"] = dpop_bound_access_tokens
        self.invalidate(client_id)
        with self._db.write() as conn:
            if values:
                conn.execute(
                    update(clients).where(clients.c.client_id == client_id).values(**values)
                )
            row = conn.execute(select(clients).where(clients.c.client_id == client_id)).first()
        self.invalidate(client_id)  # after the commit too: a read in between is not kept
        return ClientRecord.from_row(row) if row else None

    def replace_secret_hash(self, client_id: str, old_hash: str, new_hash: str) -> bool:
        """Store ``new_hash`` for ``client_id`` only if its secret hash is still ``old_hash``
        (a compare-and-set: upgrading a just-verified hash never undoes a concurrent secret
        rotation). Returns True when it was replaced."""
        self.invalidate(client_id)
        with self._db.write() as conn:
            result = conn.execute(
                update(clients)
                .where(and_(clients.c.client_id == client_id, clients.c.secret_hash == old_hash))
                .values(secret_hash=new_hash)
            )
        self.invalidate(client_id)  # after the commit too: a read in between is not kept
        return bool(result.rowcount == 1)

    def delete(self, client_id: str, now: float) -> list[RevocationEntry] | None:
        """Delete a client and revoke every live session issued to it, in one transaction.

        Returns the ``sid`` revocation entries to mirror, or None when there is no such client.
        """
        self.invalidate(client_id)
        with self._db.write() as conn:
            if conn.execute(delete(clients).where(clients.c.client_id == client_id)).rowcount != 1:
                return None
            rows = conn.execute(
                select(sessions.c.sid).where(
                    and_(sessions.c.client_id == client_id, sessions.c.revoked_at.is_(None))
                )
            ).all()
            entries = [revoke_session_in(conn, r.sid, "client_removed", now) for r in rows]
        self.invalidate(client_id)  # after the commit too: a read in between is not kept
        return [e for e in entries if e is not None]
