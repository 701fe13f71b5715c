"""Tables of the OpenID Connect provider (migration ``0004``), on the store's one
:data:`jwtkit.store.schema.metadata`.

* ``oidc_clients``: a client's OIDC registration (redirect URIs, logout URIs, first party, PAR,
  ID token alg); ``user_claims``: a user's ``email`` and ``name``.
* ``op_sessions``: browser (OP) sessions; the cookie holds a random value, only its SHA-256 is
  stored; ``sid`` is the OIDC ``sid``. ``op_grants``: which grant (refresh-token family, a
  ``sessions`` row) was made through which OP session.
* ``authorization_codes``, ``authorization_requests`` (PAR ``request_uri`` and login/consent
  interactions): single use, stored as SHA-256 of the handle.
* ``consents``: scopes a user allowed a client; ``backchannel_logouts``: delivery records.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Integer, String, Table, Text

from jwtkit.store.schema import metadata

__all__ = [
    "authorization_codes",
    "authorization_requests",
    "backchannel_logouts",
    "consents",
    "oidc_clients",
    "op_grants",
    "op_sessions",
    "user_claims",
]

oidc_clients = Table(
    "oidc_clients",
    metadata,
    Column("client_id", String(255), primary_key=True),
    Column("redirect_uris", Text, nullable=False),
    Column("post_logout_redirect_uris", Text, nullable=False),
    Column("backchannel_logout_uri", Text, nullable=True),
    Column("first_party", Boolean, nullable=False),
    Column("require_pushed_authorization_requests", Boolean, nullable=False),
    Column("id_token_signed_response_alg", String(16), nullable=True),
    Column("id_token_encrypted_response_alg", String(32), nullable=True),
    Column("id_token_encrypted_response_enc", String(32), nullable=True),
    Column("id_token_encryption_jwks", Text, nullable=True),
)

user_claims = Table(
    "user_claims",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("email", String(320), nullable=True),
    Column("name", String(255), nullable=True),
)

op_sessions = Table(
    "op_sessions",
    metadata,
    Column("sid", String(64), primary_key=True),
    Column("cookie_hash", String(64), nullable=False, unique=True),
    Column("user_id", String(64), nullable=False, index=True),
    Column("auth_time", Float, nullable=False),
    Column("amr", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False),
    Column("ended_at", Float, nullable=True),
    Column("ended_reason", String(64), nullable=True),
)

op_grants = Table(
    "op_grants",
    metadata,
    Column("grant_sid", String(64), primary_key=True),
    Column("op_sid", String(64), nullable=False, index=True),
    Column("client_id", String(255), nullable=False),
    Column("created_at", Float, nullable=False),
)

authorization_codes = Table(
    "authorization_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("client_id", String(255), nullable=False),
    Column("redirect_uri", Text, nullable=False),
    Column("user_id", String(64), nullable=False),
    Column("op_sid", String(64), nullable=False),
    Column("scope", Text, nullable=False),
    Column("nonce", Text, nullable=True),
    Column("code_challenge", String(128), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
    Column("used_at", Float, nullable=True),
    Column("grant_sid", String(64), nullable=True),
    Column("dpop_jkt", String(64), nullable=True),  # RFC 9449 §10
)

authorization_requests = Table(
    "authorization_requests",
    metadata,
    Column("handle_hash", String(64), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("client_id", String(255), nullable=False),
    Column("params", Text, nullable=False),
    Column("binding", String(64), nullable=True),
    Column("created_at", Float, nullable=False),
    Column("expires_at", Float, nullable=False, index=True),
    Column("used_at", Float, nullable=True),
)

consents = Table(
    "consents",
    metadata,
    Column("user_id", String(64), primary_key=True),
    Column("client_id", String(255), primary_key=True),
    Column("scope", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

backchannel_logouts = Table(
    "backchannel_logouts",
    metadata,
    Column("jti", String(64), primary_key=True),
    Column("op_sid", String(64), nullable=False, index=True),
    Column("client_id", String(255), nullable=False),
    Column("uri", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("delivered_at", Float, nullable=True),
)
