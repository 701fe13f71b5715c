"""The token service's database: users, clients, sessions, refresh tokens, revocations, keys.

SQLAlchemy 2 Core on SQLite (embedded default) and PostgreSQL (``postgresql+psycopg://``). The
schema is created and upgraded by the Alembic migrations shipped in
``jwtkit/server/migrations`` (:func:`migrate`). Every public method is one transaction, so nothing
is ever half-written.

Concurrency: every write transaction that touches a session locks the session row first (a
conditional ``UPDATE sessions``) and only then its refresh tokens, so a refresh racing a revocation
or another refresh of the same token serializes on that row. Refresh-token rotation consumes the
presented token with one conditional ``UPDATE ... WHERE state = 'active'`` and checks the row count
(RFC 9700 §4.14.2). On SQLite every transaction starts with ``BEGIN IMMEDIATE`` and waits on the
busy timeout instead of failing.

All times are seconds since the epoch (float).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    MetaData,
    String,
    Table,
    Text,
    and_,
    create_engine,
    delete,
    event,
    func,
    insert,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError

__all__ = [
    "ClientRecord",
    "KeyRecord",
    "RevocationEntry",
    "RotateResult",
    "SQLStore",
    "SessionRecord",
    "UserRecord",
    "metadata",
]

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("username", String(255), nullable=False, unique=True),
    Column("password_hash", Text, nullable=False),
    Column("scope", Text, nullable=False, default=""),
    Column("disabled", Boolean, nullable=False, default=False),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
)

clients = Table(
    "clients",
    metadata,
    Column("client_id", String(255), primary_key=True),
    Column("secret_hash", Text, nullable=True),
    Column("public", Boolean, nullable=False),
    Column("grant_types", Text, nullable=False),
    Column("scope", Text, nullable=False, default=""),
    Column("audience", Text, nullable=True),
    Column("created_at", Float, nullable=False),
)

SESSION_RETENTION = 7 * 86400.0
"""Seconds an expired session row is kept before :meth:`SQLStore.prune` deletes it."""

sessions = Table(
    "sessions",
    metadata,
    Column("sid", String(64), primary_key=True),
    Column("user_id", String(64), ForeignKey("users.id"), nullable=False),
    Column("client_id", String(255), nullable=False),
    Column("scope", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_used_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("access_exp", Float, nullable=False),
    Column("revoked_at", Float, nullable=True),
    Column("revoked_reason", String(64), nullable=True),
    Index("ix_sessions_user", "user_id", "revoked_at"),
)

refresh_tokens = Table(
    "refresh_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("sid", String(64), ForeignKey("sessions.sid"), nullable=False, index=True),
    Column("user_id", String(64), nullable=False),
    Column("client_id", String(255), nullable=False),
    Column("scope", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("state", String(16), nullable=False),
    Column("consumed_at", Float, nullable=True),
)

revocations = Table(
    "revocations",
    metadata,
    Column("kind", String(8), primary_key=True),
    Column("value", String(255), primary_key=True),
    Column("until", Float, nullable=False, index=True),
    Column("cutoff", Float, nullable=True),
    Column("created_at", Float, nullable=False),
)

signing_keys = Table(
    "signing_keys",
    metadata,
    Column("kid", String(255), primary_key=True),
    Column("alg", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("private_jwk", Text, nullable=False),
    Column("public_jwk", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("activate_at", Float, nullable=True),
    Column("retired_at", Float, nullable=True),
    Column("publish_until", Float, nullable=True),
)

TokenState = Literal["active", "consumed", "revoked"]


@dataclass(frozen=True)
class UserRecord:
    """A user: ``id`` is the access tokens' ``sub``; ``scope`` is space-separated."""

    id: str
    username: str
    password_hash: str = field(repr=False)
    scope: str
    disabled: bool
    created_at: float


@dataclass(frozen=True)
class ClientRecord:
    """An OAuth client (RFC 6749 §2): ``secret_hash`` is None for public clients."""

    client_id: str
    secret_hash: str | None = field(repr=False)
    public: bool
    grant_types: tuple[str, ...]
    scope: str
    audience: str | None
    created_at: float


@dataclass(frozen=True)
class SessionRecord:
    """A session (token family): one login and every refresh and access token issued from it."""

    sid: str
    user_id: str
    client_id: str
    scope: str
    created_at: float
    last_used_at: float
    expires_at: float
    access_exp: float
    revoked_at: float | None
    revoked_reason: str | None

    def is_active(self, now: float) -> bool:
        """True when not revoked and not expired at ``now``."""
        return self.revoked_at is None and self.expires_at > now


@dataclass(frozen=True)
class RevocationEntry:
    """One revocation as mirrored to Redis (see :mod:`jwtkit.revocation`).

    ``kind`` is ``jti``, ``sid`` or ``sub``; ``until`` is when the entry may be forgotten;
    ``cutoff`` (``sub`` only): tokens with ``iat`` < cutoff are void.
    """

    kind: Literal["jti", "sid", "sub"]
    value: str
    until: float
    cutoff: float | None = None


@dataclass(frozen=True)
class KeyRecord:
    """A signing key row: ``state`` is ``next``, ``current`` or ``retired``.

    ``private_jwk`` is the stored text (JSON, or an encrypted envelope); ``public_jwk`` JSON.
    """

    kid: str
    alg: str
    state: str
    private_jwk: str = field(repr=False)
    public_jwk: str
    created_at: float
    activate_at: float | None
    retired_at: float | None
    publish_until: float | None


@dataclass(frozen=True)
class RotateResult:
    """Outcome of :meth:`SQLStore.rotate_refresh_token`.

    ``outcome``: ``ok`` (rotated; ``session`` is set), ``unknown`` (no such token), ``expired``,
    ``wrong_client``, ``session_revoked`` (its family is already dead), ``reuse`` (a consumed
    token was presented: the family was revoked now, ``revoked`` lists what to mirror) or
    ``grace`` (a consumed token presented within the grace window: a new pair was issued).
    """

    outcome: Literal[
        "ok", "unknown", "expired", "wrong_client", "session_revoked", "reuse", "grace"
    ]
    session: SessionRecord | None = None
    revoked: tuple[RevocationEntry, ...] = ()


def _scope_str(scopes: Sequence[str] | str) -> str:
    if isinstance(scopes, str):
        return " ".join(scopes.split())
    return " ".join(dict.fromkeys(s for s in scopes if s))


def _user(row: Any) -> UserRecord:
    return UserRecord(
        id=row.id,
        username=row.username,
        password_hash=row.password_hash,
        scope=row.scope,
        disabled=bool(row.disabled),
        created_at=row.created_at,
    )


def _client(row: Any) -> ClientRecord:
    return ClientRecord(
        client_id=row.client_id,
        secret_hash=row.secret_hash,
        public=bool(row.public),
        grant_types=tuple(row.grant_types.split()),
        scope=row.scope,
        audience=row.audience,
        created_at=row.created_at,
    )


def _session(row: Any) -> SessionRecord:
    return SessionRecord(
        sid=row.sid,
        user_id=row.user_id,
        client_id=row.client_id,
        scope=row.scope,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        access_exp=row.access_exp,
        revoked_at=row.revoked_at,
        revoked_reason=row.revoked_reason,
    )


def _key(row: Any) -> KeyRecord:
    return KeyRecord(
        kid=row.kid,
        alg=row.alg,
        state=row.state,
        private_jwk=row.private_jwk,
        public_jwk=row.public_jwk,
        created_at=row.created_at,
        activate_at=row.activate_at,
        retired_at=row.retired_at,
        publish_until=row.publish_until,
    )


def new_id() -> str:
    """Return a fresh random identifier (128 bits, base64url text) for ``sub``, ``sid``, ``jti``."""
    return secrets.token_urlsafe(16)


class SessionCapError(Exception):
    """Internal: the user is at the session cap and the policy is ``refuse``."""


class SQLStore:
    """Database access for the token service (one transaction per method).

    Args:
        url: SQLAlchemy URL (str); SQLite files get their directory created (0700) and the file
            chmod 0600.
        pool_size: connection pool size for server databases (int).
        busy_timeout: seconds SQLite waits on a locked database (float).
    """

    def __init__(self, url: str, *, pool_size: int = 10, busy_timeout: float = 30.0) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self._lock = threading.Lock()
        if self.is_sqlite:
            database = parsed.database
            if database and database != ":memory:":
                path = Path(database)
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                if not path.exists():
                    fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
                    os.close(fd)
                os.chmod(path, 0o600)
            self.engine: Engine = create_engine(
                url, connect_args={"timeout": busy_timeout, "check_same_thread": False}
            )
            self._install_sqlite_hooks()
        else:
            self.engine = create_engine(
                url, pool_size=pool_size, max_overflow=pool_size * 2, pool_pre_ping=True
            )

    def _install_sqlite_hooks(self) -> None:
        @event.listens_for(self.engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Take transaction control from the sqlite3 module so BEGIN IMMEDIATE can be emitted.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(self.engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    def close(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()

    @contextlib.contextmanager
    def begin(self) -> Iterator[Connection]:
        """Open one transaction (commits on success, rolls back on error)."""
        with self.engine.begin() as conn:
            yield conn

    def ping(self) -> None:
        """Run ``SELECT 1``; raises :class:`sqlalchemy.exc.SQLAlchemyError` when unreachable."""
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def migrate(self) -> None:
        """Create or upgrade the schema with the packaged Alembic migrations (to ``head``).

        On PostgreSQL an advisory lock keeps instances that start together from racing.
        """
        from jwtkit.server.migrations import upgrade

        with self.engine.begin() as conn:
            if not self.is_sqlite:
                conn.execute(text("SELECT pg_advisory_xact_lock(7263510394)"))
            upgrade(conn)

    def _lock_table(self, conn: Connection, table: Table) -> None:
        if not self.is_sqlite:  # SQLite: BEGIN IMMEDIATE already serializes writers
            conn.execute(text(f"LOCK TABLE {table.name} IN SHARE ROW EXCLUSIVE MODE"))

    # ---- users -------------------------------------------------------------------------------

    def create_user(
        self, username: str, password_hash: str, scope: Sequence[str] | str, now: float
    ) -> UserRecord | None:
        """Insert a user; returns it, or None when ``username`` is taken."""
        values = {
            "id": new_id(),
            "username": username,
            "password_hash": password_hash,
            "scope": _scope_str(scope),
            "disabled": False,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with self.begin() as conn:
                conn.execute(insert(users).values(**values))
        except IntegrityError:
            return None
        return _user(SimpleNamespace(**values))

    def get_user(self, username: str) -> UserRecord | None:
        """Return the user called ``username`` or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).first()
        return _user(row) if row else None

    def get_user_by_id(self, user_id: str) -> UserRecord | None:
        """Return the user whose id (``sub``) is ``user_id`` or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).first()
        return _user(row) if row else None

    def list_users(self) -> list[UserRecord]:
        """Return every user, by username."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(users).order_by(users.c.username)).all()
        return [_user(r) for r in rows]

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
        """Change a user's password hash, disabled flag and/or scope in one transaction; with
        ``end_sessions`` (the reason, str) every session of the user ends in the same
        transaction, as :meth:`revoke_user` does.

        The user row is locked first, so a login in flight (:meth:`create_session`) either
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
            values["scope"] = _scope_str(scope)
        with self.begin() as conn:
            result = conn.execute(
                update(users).where(users.c.username == username).values(**values)
            )
            if result.rowcount != 1:
                return None
            row = conn.execute(select(users).where(users.c.username == username)).one()
            entries: list[RevocationEntry] = []
            if end_sessions is not None:
                entries = self._revoke_user_locked(conn, row.id, end_sessions, now, sub_until)
        return _user(row), entries

    def delete_user(
        self, username: str, now: float, sub_until: float
    ) -> tuple[UserRecord, list[RevocationEntry]] | None:
        """Delete a user with its sessions and refresh tokens, in one transaction; its live
        sessions are revoked first (the revocation rows stay until its tokens expire).

        Returns:
            (the deleted user, the revocation entries to mirror), or None when there is no user
            called ``username``.
        """
        with self.begin() as conn:
            row = conn.execute(select(users).where(users.c.username == username)).first()
            if row is None:
                return None
            conn.execute(update(users).where(users.c.id == row.id).values(updated_at=now))
            entries = self._revoke_user_locked(conn, row.id, "user_deleted", now, sub_until)
            conn.execute(delete(refresh_tokens).where(refresh_tokens.c.user_id == row.id))
            conn.execute(delete(sessions).where(sessions.c.user_id == row.id))
            conn.execute(delete(users).where(users.c.id == row.id))
        return _user(row), entries

    # ---- clients -----------------------------------------------------------------------------

    def create_client(
        self,
        client_id: str,
        *,
        secret_hash: str | None,
        grant_types: Sequence[str],
        scope: Sequence[str] | str,
        audience: str | None,
        now: float,
    ) -> ClientRecord | None:
        """Insert a client (public when ``secret_hash`` is None); None when the id is taken."""
        values = {
            "client_id": client_id,
            "secret_hash": secret_hash,
            "public": secret_hash is None,
            "grant_types": " ".join(dict.fromkeys(grant_types)),
            "scope": _scope_str(scope),
            "audience": audience,
            "created_at": now,
        }
        try:
            with self.begin() as conn:
                conn.execute(insert(clients).values(**values))
        except IntegrityError:
            return None
        return _client(SimpleNamespace(**values))

    def get_client(self, client_id: str) -> ClientRecord | None:
        """Return the client ``client_id`` or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(clients).where(clients.c.client_id == client_id)).first()
        return _client(row) if row else None

    def list_clients(self) -> list[ClientRecord]:
        """Return every client, by id."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(clients).order_by(clients.c.client_id)).all()
        return [_client(r) for r in rows]

    def update_client(
        self,
        client_id: str,
        *,
        secret_hash: str | None = None,
        grant_types: Sequence[str] | None = None,
        scope: Sequence[str] | str | None = None,
        audience: str | None = None,
    ) -> ClientRecord | None:
        """Change a client's secret hash, grant types, scope and/or audience (None leaves a
        field as it is; ``audience=""`` resets it to the default). Returns the updated client, or
        None when there is no client ``client_id``."""
        values: dict[str, Any] = {}
        if secret_hash is not None:
            values["secret_hash"] = secret_hash
        if grant_types is not None:
            values["grant_types"] = " ".join(dict.fromkeys(grant_types))
        if scope is not None:
            values["scope"] = _scope_str(scope)
        if audience is not None:
            values["audience"] = audience or None
        with self.begin() as conn:
            if values:
                conn.execute(
                    update(clients).where(clients.c.client_id == client_id).values(**values)
                )
            row = conn.execute(select(clients).where(clients.c.client_id == client_id)).first()
        return _client(row) if row else None

    def delete_client(self, client_id: str, now: float) -> list[RevocationEntry] | None:
        """Delete a client and revoke every live session issued to it, in one transaction.

        Returns the ``sid`` revocation entries to mirror, or None when there is no such client.
        """
        with self.begin() as conn:
            if conn.execute(delete(clients).where(clients.c.client_id == client_id)).rowcount != 1:
                return None
            rows = conn.execute(
                select(sessions.c.sid).where(
                    and_(sessions.c.client_id == client_id, sessions.c.revoked_at.is_(None))
                )
            ).all()
            entries = [
                self._revoke_session_locked(conn, r.sid, "client_removed", now) for r in rows
            ]
        return [e for e in entries if e is not None]

    # ---- sessions and refresh tokens ---------------------------------------------------------

    def _revoke_session_locked(
        self, conn: Connection, sid: str, reason: str, now: float
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
        access_exp = conn.execute(
            select(sessions.c.access_exp).where(sessions.c.sid == sid)
        ).scalar()
        until = max(float(access_exp or 0.0), now + 1.0)
        entry = RevocationEntry("sid", sid, until)
        self._put_revocation(conn, entry, now)
        return entry

    def _put_revocation(self, conn: Connection, entry: RevocationEntry, now: float) -> None:
        """Upsert one revocation row (the later ``until`` and ``cutoff`` win)."""
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
                update(revocations)
                .where(key)
                .values(until=max(entry.until, row.until), cutoff=cutoff)
            )

    def create_session(
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
    ) -> tuple[SessionRecord, list[RevocationEntry]]:
        """Start a session (token family) with its first refresh token, honouring the cap.

        Args:
            token_hash: SHA-256 hex of the refresh token (the token itself is never stored).
            cap: most active sessions of this user (0 = unlimited); at the cap the oldest are
                revoked (``evict-oldest``) or :class:`SessionCapError` is raised (``refuse``).

        Returns:
            (the new session, the ``sid`` revocations of evicted sessions to mirror).
        """
        sid = new_id()
        evicted: list[RevocationEntry] = []
        with self.begin() as conn:
            # Lock the user row: concurrent logins of one user count sessions one at a time.
            conn.execute(update(users).where(users.c.id == user.id).values(updated_at=now))
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
                        entry = self._revoke_session_locked(conn, row.sid, "evicted", now)
                        if entry:
                            evicted.append(entry)
            values = {
                "sid": sid,
                "user_id": user.id,
                "client_id": client_id,
                "scope": scope,
                "created_at": now,
                "last_used_at": now,
                "expires_at": refresh_exp,
                "access_exp": access_exp,
                "revoked_at": None,
                "revoked_reason": None,
            }
            conn.execute(insert(sessions).values(**values))
            conn.execute(
                insert(refresh_tokens).values(
                    token_hash=token_hash,
                    sid=sid,
                    user_id=user.id,
                    client_id=client_id,
                    scope=scope,
                    created_at=now,
                    expires_at=refresh_exp,
                    state="active",
                    consumed_at=None,
                )
            )
        return _session(SimpleNamespace(**values)), evicted

    def rotate_refresh_token(
        self,
        *,
        token_hash: str,
        client_id: str,
        new_hash: str,
        now: float,
        refresh_exp: float,
        access_exp: float,
        grace_seconds: float = 0.0,
    ) -> RotateResult:
        """Consume a refresh token and store its successor, atomically (RFC 6749 §6, RFC 9700
        §4.14.2).

        The session row is locked first; then one ``UPDATE refresh_tokens SET state='consumed'
        WHERE token_hash=? AND state='active'`` consumes the token, and its row count decides.
        Presenting a consumed token revokes the whole family in the same transaction (outcome
        ``reuse``), unless it was consumed less than ``grace_seconds`` ago (outcome ``grace``,
        which issues another pair in the same session).

        Args:
            token_hash: SHA-256 hex of the presented refresh token.
            client_id: the authenticated client; must be the token's client.
            new_hash: SHA-256 hex of the successor refresh token.
            refresh_exp / access_exp: expiries of the new pair (seconds since the epoch).

        Returns:
            :class:`RotateResult`.
        """
        with self.begin() as conn:
            row = conn.execute(
                select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
            ).first()
            if row is None:
                return RotateResult("unknown")
            if row.client_id != client_id:
                return RotateResult("wrong_client")
            sid = row.sid
            # Lock the session row (and check it is alive) before touching its tokens.
            alive = conn.execute(
                update(sessions)
                .where(and_(sessions.c.sid == sid, sessions.c.revoked_at.is_(None)))
                .values(last_used_at=now)
            ).rowcount
            if alive != 1:
                return RotateResult("session_revoked")
            consumed = conn.execute(
                update(refresh_tokens)
                .where(
                    and_(
                        refresh_tokens.c.token_hash == token_hash,
                        refresh_tokens.c.state == "active",
                        refresh_tokens.c.expires_at > now,
                    )
                )
                .values(state="consumed", consumed_at=now)
            ).rowcount
            outcome: Literal["ok", "grace"] = "ok"
            if consumed != 1:
                state = conn.execute(
                    select(refresh_tokens.c.state, refresh_tokens.c.consumed_at).where(
                        refresh_tokens.c.token_hash == token_hash
                    )
                ).first()
                if state is not None and state.state == "active":
                    return RotateResult("expired")
                if (
                    state is not None
                    and state.state == "consumed"
                    and grace_seconds > 0
                    and state.consumed_at is not None
                    and now - state.consumed_at < grace_seconds
                ):
                    outcome = "grace"
                elif state is not None and state.state == "consumed":
                    entry = self._revoke_session_locked(conn, sid, "refresh_reuse", now)
                    return RotateResult("reuse", revoked=(entry,) if entry else ())
                else:
                    return RotateResult("session_revoked")
            conn.execute(
                insert(refresh_tokens).values(
                    token_hash=new_hash,
                    sid=sid,
                    user_id=row.user_id,
                    client_id=row.client_id,
                    scope=row.scope,
                    created_at=now,
                    expires_at=refresh_exp,
                    state="active",
                    consumed_at=None,
                )
            )
            conn.execute(
                update(sessions)
                .where(sessions.c.sid == sid)
                .values(
                    expires_at=func.max(sessions.c.expires_at, refresh_exp)
                    if self.is_sqlite
                    else func.greatest(sessions.c.expires_at, refresh_exp),
                    access_exp=func.max(sessions.c.access_exp, access_exp)
                    if self.is_sqlite
                    else func.greatest(sessions.c.access_exp, access_exp),
                )
            )
            session_row = conn.execute(select(sessions).where(sessions.c.sid == sid)).first()
        return RotateResult(outcome, session=_session(session_row))

    def get_refresh_token(self, token_hash: str) -> tuple[str, str, str, float] | None:
        """Return (state, sid, client_id, expires_at) of a stored refresh token, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    refresh_tokens.c.state,
                    refresh_tokens.c.sid,
                    refresh_tokens.c.client_id,
                    refresh_tokens.c.expires_at,
                ).where(refresh_tokens.c.token_hash == token_hash)
            ).first()
        return (row.state, row.sid, row.client_id, row.expires_at) if row else None

    def get_session(self, sid: str) -> SessionRecord | None:
        """Return the session ``sid`` or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(sessions).where(sessions.c.sid == sid)).first()
        return _session(row) if row else None

    def list_sessions(
        self, user_id: str, now: float, *, include_inactive: bool = False
    ) -> list[SessionRecord]:
        """Return a user's sessions, oldest first (only active ones unless ``include_inactive``)."""
        query = select(sessions).where(sessions.c.user_id == user_id)
        if not include_inactive:
            query = query.where(and_(sessions.c.revoked_at.is_(None), sessions.c.expires_at > now))
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(sessions.c.created_at, sessions.c.sid)).all()
        return [_session(r) for r in rows]

    def revoke_session(self, sid: str, reason: str, now: float) -> RevocationEntry | None:
        """Revoke a session and every refresh token of it; returns the ``sid`` entry to mirror
        (None when the session does not exist or is already revoked)."""
        with self.begin() as conn:
            return self._revoke_session_locked(conn, sid, reason, now)

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
        with self.begin() as conn:
            return self._revoke_user_locked(conn, user_id, reason, now, sub_until)

    def _revoke_user_locked(
        self, conn: Connection, user_id: str, reason: str, now: float, sub_until: float
    ) -> list[RevocationEntry]:
        """:meth:`revoke_user` inside ``conn``."""
        out: list[RevocationEntry] = []
        rows = conn.execute(
            select(sessions.c.sid, sessions.c.access_exp)
            .where(and_(sessions.c.user_id == user_id, sessions.c.revoked_at.is_(None)))
            .order_by(sessions.c.created_at)
        ).all()
        for row in rows:
            entry = self._revoke_session_locked(conn, row.sid, reason, now)
            if entry:
                out.append(entry)
        until = max([sub_until, *(e.until for e in out)])
        sub = RevocationEntry("sub", user_id, until, float(int(now)))
        self._put_revocation(conn, sub, now)
        out.append(sub)
        return out

    def revoke_jti(self, jti: str, until: float, now: float) -> RevocationEntry:
        """Revoke one access token by ``jti`` until its ``exp``; returns the entry to mirror."""
        entry = RevocationEntry("jti", jti, until)
        with self.begin() as conn:
            self._put_revocation(conn, entry, now)
        return entry

    def revoked_grain(self, claims: Mapping[str, Any]) -> str | None:
        """Which grain revokes these verified access-token claims (``jti``, ``sid``, ``sub``), or
        None. Also reports ``sid`` when the token's session is revoked in the sessions table."""
        jti, sid, sub, iat = (claims.get(k) for k in ("jti", "sid", "sub", "iat"))
        with self.engine.connect() as conn:
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

    def live_revocations(self, now: float) -> list[RevocationEntry]:
        """Every revocation whose ``until`` is after ``now`` (for re-mirroring into Redis)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(revocations).where(revocations.c.until > now)).all()
        return [RevocationEntry(r.kind, r.value, r.until, r.cutoff) for r in rows]

    def prune(self, now: float, session_retention: float = SESSION_RETENTION) -> int:
        """Delete what can no longer matter; returns how many rows were removed (int).

        Removed: revocations past their ``until``; used refresh tokens past their expiry; and
        sessions (with their refresh tokens) whose refresh and access tokens all expired more
        than ``session_retention`` seconds ago (kept that long so ``sessions list --all`` shows
        recent history).

        Args:
            now: the current time, seconds since the epoch.
            session_retention: seconds an expired session is kept (default 7 days).
        """
        cutoff = now - session_retention
        with self.begin() as conn:
            n = conn.execute(delete(revocations).where(revocations.c.until <= now)).rowcount
            n += conn.execute(
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

    # ---- signing keys ------------------------------------------------------------------------

    def list_keys(self) -> list[KeyRecord]:
        """Return every stored signing key, newest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(signing_keys).order_by(signing_keys.c.created_at.desc())
            ).all()
        return [_key(r) for r in rows]

    def add_key(self, record: KeyRecord, *, only_if_no_current: bool = False) -> bool:
        """Insert a signing key; with ``only_if_no_current`` do nothing (False) when a current
        key exists (first start of several instances at once)."""
        with self.begin() as conn:
            self._lock_table(conn, signing_keys)
            if only_if_no_current:
                exists = conn.execute(
                    select(signing_keys.c.kid).where(signing_keys.c.state == "current")
                ).first()
                if exists is not None:
                    return False
            conn.execute(insert(signing_keys).values(**record.__dict__))
        return True

    def promote_keys(self, now: float, retire_until: float) -> bool:
        """Promote the newest *next* key whose ``activate_at`` has come to *current*; the old
        current (and older due *next* keys) become *retired*, published until ``retire_until``.
        Also deletes retired keys whose ``publish_until`` has passed. Returns True on a change.
        """
        changed = False
        with self.begin() as conn:
            self._lock_table(conn, signing_keys)
            due = conn.execute(
                select(signing_keys.c.kid)
                .where(and_(signing_keys.c.state == "next", signing_keys.c.activate_at <= now))
                .order_by(signing_keys.c.activate_at.desc(), signing_keys.c.created_at.desc())
            ).all()
            if due:
                newest = due[0].kid
                conn.execute(
                    update(signing_keys)
                    .where(
                        and_(
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
                    and_(signing_keys.c.state == "retired", signing_keys.c.publish_until <= now)
                )
            ).rowcount
        return changed or removed > 0

    # ---- test support ------------------------------------------------------------------------

    def truncate_all(self) -> None:
        """Delete every row of every table (tests reuse one PostgreSQL database)."""
        with self.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(delete(table))
