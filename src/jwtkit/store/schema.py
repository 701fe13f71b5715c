"""The token service's tables (SQLAlchemy Core) and their :data:`metadata`.

The Alembic migrations in ``jwtkit/server/migrations`` create and upgrade these tables; a new
table goes here, in its aggregate's module (``store/<aggregate>.py``) and in a new migration.
All times are seconds since the epoch (float).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    false,
)

__all__ = [
    "clients",
    "metadata",
    "refresh_tokens",
    "revocation_outbox",
    "revocation_seq",
    "revocations",
    "sessions",
    "signing_keys",
    "users",
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
    # May introspect tokens whose audience it is (RFC 7662 §2.1, §4; migration 0003).
    Column("resource_server", Boolean, nullable=False, default=False, server_default=false()),
    Column(
        "dpop_bound_access_tokens", Boolean, nullable=False, default=False, server_default=false()
    ),
)

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
    Column("dpop_jkt", String(64), nullable=True),  # RFC 9449 §5: the family's DPoP key
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
    Column("purpose", String(16), nullable=False, default="access"),
)

revocation_outbox = Table(
    "revocation_outbox",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("kind", String(8), nullable=False),
    Column("value", String(255), nullable=False),
    Column("until", Float, nullable=False, index=True),
    Column("cutoff", Float, nullable=True),
    Column("created_at", Float, nullable=False),
)
"""Every revocation event, written in the transaction that caused it (:mod:`jwtkit.store.outbox`);
kept until its ``until``."""

revocation_seq = Table(
    "revocation_seq",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("last", BigInteger, nullable=False),
)
"""One row (``id`` 1): the last ``seq`` given to an outbox event; its row lock orders commits."""
