"""The token service's database behind one facade: users, clients, sessions, refresh tokens,
revocations, keys.

SQLAlchemy 2 Core on SQLite (embedded default) and PostgreSQL (``postgresql+psycopg://``). The
schema (:mod:`jwtkit.store.schema`) is created and upgraded by the Alembic migrations shipped in
``jwtkit/server/migrations`` (:meth:`SQLStore.migrate`). Each aggregate has its own repository
(:mod:`~jwtkit.store.users`, :mod:`~jwtkit.store.clients`, :mod:`~jwtkit.store.sessions`,
:mod:`~jwtkit.store.revocations`, :mod:`~jwtkit.store.keys`) over one
:class:`~jwtkit.store._db.Database`; :class:`SQLStore` holds them (``store.clients.get(...)``) and
keeps the older flat methods as delegates. Every public method is one transaction; the
concurrency contract is in :mod:`jwtkit.store.sessions`.

All times are seconds since the epoch (float).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from jwtkit.store import oidc_schema as _oidc_schema  # noqa: F401 - its tables on metadata
from jwtkit.store._db import Database
from jwtkit.store.clients import ClientStore
from jwtkit.store.keys import KeyStore
from jwtkit.store.outbox import OutboxEvent, OutboxStore
from jwtkit.store.records import (
    ClientRecord,
    KeyRecord,
    RefreshTokenRecord,
    RevocationEntry,
    RotateResult,
    SessionRecord,
    UserRecord,
    new_id,
)
from jwtkit.store.revocations import RevocationStore
from jwtkit.store.schema import metadata
from jwtkit.store.sessions import (
    SESSION_RETENTION,
    CredentialsChangedError,
    SessionCapError,
    SessionStore,
)
from jwtkit.store.users import UserStore

__all__ = [
    "SESSION_RETENTION",
    "ClientRecord",
    "CredentialsChangedError",
    "KeyRecord",
    "OutboxEvent",
    "RefreshTokenRecord",
    "RevocationEntry",
    "RotateResult",
    "SQLStore",
    "SessionCapError",
    "SessionRecord",
    "UserRecord",
    "metadata",
    "new_id",
]


class SQLStore:
    """Database access for the token service: ``store.users``, ``store.clients``,
    ``store.sessions`` (sessions + refresh tokens, locked together), ``store.revocations``,
    ``store.keys``, over one ``store.db``.

    Args:
        url: SQLAlchemy URL (str).
        client_cache_seconds: see :class:`~jwtkit.store.clients.ClientStore`.
        **options: the :class:`~jwtkit.store._db.Database` options (``pool_size``,
            ``busy_timeout``, ``synchronous``, ``timeout``, ``breaker``).
    """

    def __init__(self, url: str, *, client_cache_seconds: float = 1.0, **options: Any) -> None:
        self.db = Database(url, **options)
        self.url = url
        self.is_sqlite = self.db.is_sqlite
        self.engine = self.db.engine
        self.users = UserStore(self.db)
        self.clients = ClientStore(self.db, cache_seconds=client_cache_seconds)
        self.sessions = SessionStore(self.db)
        self.revocations = RevocationStore(self.db)
        self.outbox = OutboxStore(self.db)
        self.keys = KeyStore(self.db)

    def close(self) -> None:
        """Close every pooled connection."""
        self.db.close()

    def ping(self) -> None:
        """Run ``SELECT 1``; raises :class:`sqlalchemy.exc.SQLAlchemyError` when unreachable."""
        self.db.ping()

    def migrate(self) -> None:
        """Create or upgrade the schema to ``head`` (see :meth:`Database.migrate`)."""
        self.db.migrate()

    def prune(
        self, now: float, session_retention: float = SESSION_RETENTION, *, leeway: float = 0.0
    ) -> int:
        """Delete what can no longer matter, in one transaction; returns how many rows went.

        Removed: revocations and outbox events past their ``until`` plus ``leeway`` (the
        largest clock-skew allowance of any verifier: a token is accepted up to
        ``exp + leeway``); used refresh tokens past their expiry; and
        sessions (with their refresh tokens) whose refresh and access tokens all expired more
        than ``session_retention`` seconds ago (kept that long so ``sessions list --all`` shows
        recent history).

        Args:
            now: the current time, seconds since the epoch.
            session_retention: seconds an expired session is kept (default 7 days).
            leeway: seconds a revocation is kept past its ``until`` (float).
        """
        with self.db.write() as conn:
            n = RevocationStore.prune_in(conn, now - leeway)
            n += OutboxStore.prune_in(conn, now - leeway)
            n += SessionStore.prune_in(conn, now, session_retention)
        return n

    # ---- delegates kept for current callers (prefer the repositories) -------------------------

    def create_user(
        self, username: str, password_hash: str, scope: Sequence[str] | str, now: float
    ) -> UserRecord | None:
        """See :meth:`UserStore.add`."""
        return self.users.add(username, password_hash, scope, now)

    def get_user(self, username: str) -> UserRecord | None:
        """See :meth:`UserStore.get`."""
        return self.users.get(username)

    def get_user_by_id(self, user_id: str) -> UserRecord | None:
        """See :meth:`UserStore.get_by_id`."""
        return self.users.get_by_id(user_id)

    def list_users(self) -> list[UserRecord]:
        """See :meth:`UserStore.all`."""
        return self.users.all()

    def update_user(
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
        """See :meth:`UserStore.update`."""
        return self.users.update(
            username,
            now,
            password_hash=password_hash,
            disabled=disabled,
            scope=scope,
            end_sessions=end_sessions,
            sub_until=sub_until,
        )

    def delete_user(
        self, username: str, now: float, sub_until: float
    ) -> tuple[UserRecord, list[RevocationEntry]] | None:
        """See :meth:`UserStore.delete`."""
        return self.users.delete(username, now, sub_until)

    def create_client(
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
        """See :meth:`ClientStore.add`."""
        return self.clients.add(
            client_id,
            secret_hash=secret_hash,
            grant_types=grant_types,
            scope=scope,
            audience=audience,
            now=now,
            resource_server=resource_server,
            dpop_bound_access_tokens=dpop_bound_access_tokens,
        )

    def get_client(self, client_id: str) -> ClientRecord | None:
        """See :meth:`ClientStore.get`."""
        return self.clients.get(client_id)

    def list_clients(self) -> list[ClientRecord]:
        """See :meth:`ClientStore.all`."""
        return self.clients.all()

    def update_client(self, client_id: str, **changes: Any) -> ClientRecord | None:
        """See :meth:`ClientStore.update`."""
        return self.clients.update(client_id, **changes)

    def replace_client_secret_hash(self, client_id: str, old_hash: str, new_hash: str) -> bool:
        """See :meth:`ClientStore.replace_secret_hash`."""
        return self.clients.replace_secret_hash(client_id, old_hash, new_hash)

    def delete_client(self, client_id: str, now: float) -> list[RevocationEntry] | None:
        """See :meth:`ClientStore.delete`."""
        return self.clients.delete(client_id, now)

    def create_session(self, **kwargs: Any) -> tuple[SessionRecord, list[RevocationEntry]]:
        """See :meth:`SessionStore.create`."""
        return self.sessions.create(**kwargs)

    def rotate_refresh_token(self, **kwargs: Any) -> RotateResult:
        """See :meth:`SessionStore.rotate`."""
        return self.sessions.rotate(**kwargs)

    def get_refresh_token(self, token_hash: str) -> tuple[str, str, str, float] | None:
        """Return (state, sid, client_id, expires_at) of a stored refresh token, or None.

        Prefer :meth:`SessionStore.get_refresh_token`, which returns a record."""
        rec = self.sessions.get_refresh_token(token_hash)
        return (rec.state, rec.sid, rec.client_id, rec.expires_at) if rec else None

    def get_session(self, sid: str) -> SessionRecord | None:
        """See :meth:`SessionStore.get`."""
        return self.sessions.get(sid)

    def list_sessions(
        self, user_id: str, now: float, *, include_inactive: bool = False
    ) -> list[SessionRecord]:
        """See :meth:`SessionStore.of_user`."""
        return self.sessions.of_user(user_id, now, include_inactive=include_inactive)

    def revoke_session(self, sid: str, reason: str, now: float) -> RevocationEntry | None:
        """See :meth:`SessionStore.revoke`."""
        return self.sessions.revoke(sid, reason, now)

    def revoke_user(
        self, user_id: str, reason: str, now: float, sub_until: float
    ) -> list[RevocationEntry]:
        """See :meth:`SessionStore.revoke_user`."""
        return self.sessions.revoke_user(user_id, reason, now, sub_until)

    def revoke_jti(self, jti: str, until: float, now: float) -> RevocationEntry:
        """See :meth:`RevocationStore.revoke_jti`."""
        return self.revocations.revoke_jti(jti, until, now)

    def revoked_grain(self, claims: Mapping[str, Any]) -> str | None:
        """See :meth:`RevocationStore.revoked_grain`."""
        return self.revocations.revoked_grain(claims)

    def outbox_latest(self) -> int:
        """See :meth:`OutboxStore.latest`."""
        return self.outbox.latest()

    def outbox_page(self, since: int, limit: int) -> list[OutboxEvent]:
        """See :meth:`OutboxStore.page`."""
        return self.outbox.page(since, limit)

    def outbox_read(self, since: int, limit: int) -> tuple[list[OutboxEvent], int]:
        """See :meth:`OutboxStore.read`."""
        return self.outbox.read(since, limit)

    def revocations_page(
        self, after: tuple[str, str] | None, limit: int, now: float
    ) -> tuple[int, list[RevocationEntry]]:
        """See :meth:`OutboxStore.revocations_page`."""
        return self.outbox.revocations_page(after, limit, now)

    def live_revocations(self, now: float) -> list[RevocationEntry]:
        """See :meth:`RevocationStore.live`."""
        return self.revocations.live(now)

    def list_keys(self, purpose: str | None = None) -> list[KeyRecord]:
        """See :meth:`KeyStore.all`."""
        return self.keys.all(purpose)

    def add_key(self, record: KeyRecord, *, only_if_no_current: bool = False) -> bool:
        """See :meth:`KeyStore.add`."""
        return self.keys.add(record, only_if_no_current=only_if_no_current)

    def promote_keys(self, now: float, retire_until: float, purpose: str = "access") -> bool:
        """See :meth:`KeyStore.promote`."""
        return self.keys.promote(now, retire_until, purpose)
