"""OIDC registration data: a client's redirect and logout URIs and options (OIDC Dynamic
Client Registration §2 names, registered by the admin CLI) and a user's profile claims
(OIDC Core §5.1). Every method is one transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, insert, select, update

from jwtkit.store.oidc_schema import oidc_clients, user_claims

if TYPE_CHECKING:
    from jwtkit.store._db import Database

__all__ = ["ClientRegistration", "RegistrationStore", "UserClaims"]


@dataclass(frozen=True)
class ClientRegistration:
    """A client's OIDC registration: exact ``redirect_uris`` and ``post_logout_redirect_uris``
    (tuples of str), ``backchannel_logout_uri`` (str or None), ``first_party`` (no consent
    page), ``require_pushed_authorization_requests`` (RFC 9126 §6) and
    ``id_token_signed_response_alg`` (str or None: the service default); with
    ``id_token_encrypted_response_alg`` (str or None: plain JWS), ID tokens are nested JWTs
    encrypted with ``id_token_encrypted_response_enc`` to a key of ``id_token_encryption_jwks``
    (the client's public JWK Set as JSON text) (OIDC Core §10.2, OIDC Registration §2)."""

    client_id: str
    redirect_uris: tuple[str, ...] = ()
    post_logout_redirect_uris: tuple[str, ...] = ()
    backchannel_logout_uri: str | None = None
    first_party: bool = False
    require_pushed_authorization_requests: bool = False
    id_token_signed_response_alg: str | None = None
    id_token_encrypted_response_alg: str | None = None
    id_token_encrypted_response_enc: str | None = None
    id_token_encryption_jwks: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> ClientRegistration:
        """Build from a ``oidc_clients`` row."""
        return cls(
            client_id=row.client_id,
            redirect_uris=tuple(json.loads(row.redirect_uris)),
            post_logout_redirect_uris=tuple(json.loads(row.post_logout_redirect_uris)),
            backchannel_logout_uri=row.backchannel_logout_uri,
            first_party=bool(row.first_party),
            require_pushed_authorization_requests=bool(row.require_pushed_authorization_requests),
            id_token_signed_response_alg=row.id_token_signed_response_alg,
            id_token_encrypted_response_alg=row.id_token_encrypted_response_alg,
            id_token_encrypted_response_enc=row.id_token_encrypted_response_enc,
            id_token_encryption_jwks=row.id_token_encryption_jwks,
        )

    def to_row(self) -> dict[str, Any]:
        """The ``oidc_clients`` row (dict)."""
        return {
            "client_id": self.client_id,
            "redirect_uris": json.dumps(list(self.redirect_uris)),
            "post_logout_redirect_uris": json.dumps(list(self.post_logout_redirect_uris)),
            "backchannel_logout_uri": self.backchannel_logout_uri,
            "first_party": self.first_party,
            "require_pushed_authorization_requests": self.require_pushed_authorization_requests,
            "id_token_signed_response_alg": self.id_token_signed_response_alg,
            "id_token_encrypted_response_alg": self.id_token_encrypted_response_alg,
            "id_token_encrypted_response_enc": self.id_token_encrypted_response_enc,
            "id_token_encryption_jwks": self.id_token_encryption_jwks,
        }


@dataclass(frozen=True)
class UserClaims:
    """A user's profile claims: ``email`` and ``name`` (str or None)."""

    user_id: str
    email: str | None = None
    name: str | None = None


class RegistrationStore:
    """Client registrations and user claims over the shared :class:`~jwtkit.store._db.Database`."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def client(self, client_id: str) -> ClientRegistration:
        """The registration of ``client_id`` (an empty one when none was stored)."""
        with self._db.read() as conn:
            row = conn.execute(
                select(oidc_clients).where(oidc_clients.c.client_id == client_id)
            ).first()
        return ClientRegistration.from_row(row) if row else ClientRegistration(client_id)

    def put_client(self, record: ClientRegistration) -> None:
        """Insert or replace the registration of ``record.client_id``."""
        with self._db.write() as conn:
            conn.execute(delete(oidc_clients).where(oidc_clients.c.client_id == record.client_id))
            conn.execute(insert(oidc_clients).values(**record.to_row()))

    def remove_client(self, client_id: str) -> None:
        """Forget the registration of ``client_id`` (no error when there is none)."""
        with self._db.write() as conn:
            conn.execute(delete(oidc_clients).where(oidc_clients.c.client_id == client_id))

    def claims(self, user_id: str) -> UserClaims:
        """The profile claims of user ``user_id`` (empty when none were stored)."""
        with self._db.read() as conn:
            row = conn.execute(select(user_claims).where(user_claims.c.user_id == user_id)).first()
        if row is None:
            return UserClaims(user_id)
        return UserClaims(user_id, row.email, row.name)

    def put_claims(self, record: UserClaims) -> None:
        """Insert or update the profile claims of ``record.user_id``."""
        values = {"email": record.email, "name": record.name}
        with self._db.write() as conn:
            done = conn.execute(
                update(user_claims).where(user_claims.c.user_id == record.user_id).values(**values)
            ).rowcount
            if not done:
                conn.execute(insert(user_claims).values(user_id=record.user_id, **values))

    def claims_of(self, user_ids: Sequence[str]) -> dict[str, UserClaims]:
        """Profile claims of several users (dict user_id -> :class:`UserClaims`)."""
        if not user_ids:
            return {}
        with self._db.read() as conn:
            rows = conn.execute(
                select(user_claims).where(user_claims.c.user_id.in_(list(user_ids)))
            ).all()
        return {r.user_id: UserClaims(r.user_id, r.email, r.name) for r in rows}
