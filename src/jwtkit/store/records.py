"""The store's records: frozen dataclasses, each built from a table row by ``from_row``.

All times are seconds since the epoch (float).
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Literal, Self

__all__ = [
    "ClientRecord",
    "KeyRecord",
    "RefreshTokenRecord",
    "RevocationEntry",
    "RotateResult",
    "SessionRecord",
    "TokenState",
    "UserRecord",
    "new_id",
    "scope_str",
]

TokenState = Literal["active", "consumed", "revoked"]


def new_id() -> str:
    """Return a fresh random identifier (128 bits, base64url text) for ``sub``, ``sid``, ``jti``."""
    return secrets.token_urlsafe(16)


def scope_str(scopes: Sequence[str] | str) -> str:
    """Return ``scopes`` as one space-separated string without duplicates or empty tokens."""
    if isinstance(scopes, str):
        return " ".join(scopes.split())
    return " ".join(dict.fromkeys(s for s in scopes if s))


class _FromRow:
    """Mixin: build a dataclass record from a row whose columns carry the field names."""

    @classmethod
    def from_row(cls, row: Any) -> Self:
        """Build the record from a table row (or anything with the same attributes)."""
        return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})  # type: ignore[arg-type]


@dataclass(frozen=True)
class UserRecord:
    """A user: ``id`` is the access tokens' ``sub``; ``scope`` is space-separated."""

    id: str
    username: str
    password_hash: str = field(repr=False)
    scope: str
    disabled: bool
    created_at: float

    @classmethod
    def from_row(cls, row: Any) -> UserRecord:
        """Build the record from a ``users`` row (or anything with the same attributes)."""
        return cls(
            id=row.id,
            username=row.username,
            password_hash=row.password_hash,
            scope=row.scope,
            disabled=bool(row.disabled),
            created_at=row.created_at,
        )


@dataclass(frozen=True)
class ClientRecord:
    """An OAuth client (RFC 6749 §2): ``secret_hash`` is None for public clients;
    ``resource_server`` (bool) lets a confidential client introspect the tokens meant for it
    (RFC 7662 §2.1); ``dpop_bound_access_tokens`` (bool) makes its token requests need a DPoP
    proof (RFC 9449 §5.2)."""

    client_id: str
    secret_hash: str | None = field(repr=False)
    public: bool
    grant_types: tuple[str, ...]
    scope: str
    audience: str | None
    created_at: float
    resource_server: bool = False
    dpop_bound_access_tokens: bool = False

    @classmethod
    def from_row(cls, row: Any) -> ClientRecord:
        """Build the record from a ``clients`` row (``grant_types`` is space-separated there)."""
        return cls(
            client_id=row.client_id,
            secret_hash=row.secret_hash,
            public=bool(row.public),
            grant_types=tuple(row.grant_types.split()),
            scope=row.scope,
            audience=row.audience,
            created_at=row.created_at,
            resource_server=bool(getattr(row, "resource_server", False)),
            dpop_bound_access_tokens=bool(getattr(row, "dpop_bound_access_tokens", False)),
        )

    def to_row(self) -> dict[str, Any]:
        """Return the ``clients`` column values of this record."""
        return {
            "client_id": self.client_id,
            "secret_hash": self.secret_hash,
            "public": self.public,
            "grant_types": " ".join(self.grant_types),
            "scope": self.scope,
            "audience": self.audience,
            "created_at": self.created_at,
            "resource_server": self.resource_server,
            "dpop_bound_access_tokens": self.dpop_bound_access_tokens,
        }


@dataclass(frozen=True)
class SessionRecord(_FromRow):
    """A session (token family): one login and every refresh and access token issued from it;
    ``dpop_jkt`` is the thumbprint of the DPoP key its refresh tokens are bound to (RFC 9449 §5,
    public clients) or None."""

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
    dpop_jkt: str | None = None

    def is_active(self, now: float) -> bool:
        """True when not revoked and not expired at ``now``."""
        return self.revoked_at is None and self.expires_at > now


@dataclass(frozen=True)
class RefreshTokenRecord(_FromRow):
    """A stored refresh token (only its SHA-256 hex, ``token_hash``, is kept).

    ``state`` is ``active``, ``consumed`` (rotated) or ``revoked``; ``sid`` names its family.
    """

    token_hash: str
    sid: str
    user_id: str
    client_id: str
    scope: str
    created_at: float
    expires_at: float
    state: TokenState
    consumed_at: float | None


@dataclass(frozen=True)
class RevocationEntry(_FromRow):
    """One revocation as mirrored to Redis (see :mod:`jwtkit.revocation`).

    ``kind`` is ``jti``, ``sid`` or ``sub``; ``until`` is when the entry may be forgotten;
    ``cutoff`` (``sub`` only): tokens with ``iat`` < cutoff are void.
    """

    kind: Literal["jti", "sid", "sub"]
    value: str
    until: float
    cutoff: float | None = None


@dataclass(frozen=True)
class KeyRecord(_FromRow):
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
    purpose: str = "access"


@dataclass(frozen=True)
class RotateResult:
    """Outcome of :meth:`jwtkit.store.sessions.SessionStore.rotate`.

    ``outcome``: ``ok`` (rotated; ``session`` is set), ``unknown`` (no such token), ``expired``,
    ``wrong_client``, ``session_revoked`` (its family is already dead), ``reuse`` (a consumed
    token was presented: the family was revoked now, ``revoked`` lists what to mirror) or
    ``grace`` (a consumed token presented within the grace window: a new pair was issued) or
    ``dpop_key`` (the family is bound to a DPoP key the request did not prove: nothing changed)
    or ``user_disabled`` (the family's user is disabled or deleted: the family was revoked now,
    ``revoked`` lists what to mirror).
    """

    outcome: Literal[
        "ok",
        "unknown",
        "expired",
        "wrong_client",
        "session_revoked",
        "reuse",
        "grace",
        "dpop_key",
        "user_disabled",
    ]
    session: SessionRecord | None = None
    revoked: tuple[RevocationEntry, ...] = ()
