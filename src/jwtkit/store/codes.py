"""Single-use authorization artefacts: authorization codes (RFC 6749 §4.1.2, bound to client,
redirect_uri, PKCE challenge, nonce and OP session) and authorization requests (PAR
``request_uri``, RFC 9126 §2.2, and the server-side state of a login/consent page). Only the
SHA-256 of a code or handle is stored; consumption is one ``UPDATE ... WHERE used_at IS NULL``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import and_, delete, insert, or_, select, update

from jwtkit.store.oidc_schema import authorization_codes, authorization_requests

if TYPE_CHECKING:
    from jwtkit.store._db import Database

__all__ = ["AuthorizationCode", "CodeStore", "Consumed", "PendingRequest"]


@dataclass(frozen=True)
class AuthorizationCode:
    """What a code was issued for (every time in seconds since the epoch)."""

    client_id: str
    redirect_uri: str
    user_id: str
    op_sid: str
    scope: str
    nonce: str | None
    code_challenge: str
    created_at: float
    expires_at: float
    #: The DPoP key thumbprint the code is bound to (``dpop_jkt``, RFC 9449 §10), or None.
    dpop_jkt: str | None = None


@dataclass(frozen=True)
class Consumed:
    """Outcome of :meth:`CodeStore.consume`: ``ok`` (``code`` set), ``unknown``, or ``replay``
    (already used; ``grant_sid`` names the grant it produced, to revoke)."""

    outcome: Literal["ok", "unknown", "replay"]
    code: AuthorizationCode | None = None
    grant_sid: str | None = None


@dataclass(frozen=True)
class PendingRequest:
    """A stored authorization request: ``params`` (validated request parameters, str -> str),
    ``binding`` (SHA-256 of the browser's CSRF cookie for interactions, else None)."""

    kind: str
    client_id: str
    params: Mapping[str, str]
    binding: str | None
    expires_at: float


class CodeStore:
    """Codes and pending authorization requests (one transaction per method)."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add_code(self, code_hash: str, code: AuthorizationCode) -> None:
        """Store a new code under the SHA-256 (hex) of its value."""
        with self._db.write() as conn:
            conn.execute(insert(authorization_codes).values(code_hash=code_hash, **code.__dict__))

    def consume(self, code_hash: str, now: float) -> Consumed:
        """Use a code once: the first call marks it used and returns it (even when expired:
        the caller checks ``expires_at``); later calls report ``replay``."""
        with self._db.write() as conn:
            used = conn.execute(
                update(authorization_codes)
                .where(
                    and_(
                        authorization_codes.c.code_hash == code_hash,
                        authorization_codes.c.used_at.is_(None),
                    )
                )
                .values(used_at=now)
            ).rowcount
            row = conn.execute(
                select(authorization_codes).where(authorization_codes.c.code_hash == code_hash)
            ).first()
        if row is None:
            return Consumed("unknown")
        if used != 1:
            return Consumed("replay", grant_sid=row.grant_sid)
        fields = {k: getattr(row, k) for k in AuthorizationCode.__dataclass_fields__}
        return Consumed("ok", AuthorizationCode(**fields))

    def set_grant(self, code_hash: str, grant_sid: str) -> None:
        """Remember the grant a code produced (revoked if the code is replayed)."""
        with self._db.write() as conn:
            conn.execute(
                update(authorization_codes)
                .where(authorization_codes.c.code_hash == code_hash)
                .values(grant_sid=grant_sid)
            )

    def add_request(
        self,
        handle_hash: str,
        *,
        kind: str,
        client_id: str,
        params: Mapping[str, str],
        binding: str | None,
        now: float,
        expires_at: float,
    ) -> None:
        """Store an authorization request (``kind``: ``par`` or ``interaction``)."""
        with self._db.write() as conn:
            conn.execute(
                insert(authorization_requests).values(
                    handle_hash=handle_hash,
                    kind=kind,
                    client_id=client_id,
                    params=json.dumps(dict(params)),
                    binding=binding,
                    created_at=now,
                    expires_at=expires_at,
                )
            )

    def take_request(
        self, handle_hash: str, kind: str, now: float, *, consume: bool
    ) -> PendingRequest | None:
        """The unexpired, unused request ``handle_hash`` of ``kind``; with ``consume`` it is
        marked used in the same transaction (a second take gets None)."""
        live = and_(
            authorization_requests.c.handle_hash == handle_hash,
            authorization_requests.c.kind == kind,
            authorization_requests.c.used_at.is_(None),
            authorization_requests.c.expires_at > now,
        )
        with self._db.write() as conn:
            row = conn.execute(select(authorization_requests).where(live)).first()
            if row is None:
                return None
            if consume:
                done = conn.execute(
                    update(authorization_requests).where(live).values(used_at=now)
                ).rowcount
                if done != 1:
                    return None
        params: Any = json.loads(row.params)
        return PendingRequest(row.kind, row.client_id, params, row.binding, row.expires_at)

    def prune(self, now: float) -> int:
        """Delete expired codes and requests; returns the rows deleted (int)."""
        with self._db.write() as conn:
            n = conn.execute(
                delete(authorization_codes).where(authorization_codes.c.expires_at < now - 3600)
            ).rowcount
            n += conn.execute(
                delete(authorization_requests).where(
                    or_(
                        authorization_requests.c.expires_at < now,
                        authorization_requests.c.used_at < now - 3600,
                    )
                )
            ).rowcount
        return int(n)
