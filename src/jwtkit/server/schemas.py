"""Shapes of the service's request forms and responses, for its OpenAPI document (issue 15
item 7). Requests are still parsed by :func:`jwtkit.server.oauth.parse_form` (strict, RFC 6749
§3.2); these models document, they do not parse.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

__all__ = [
    "ErrorResponse",
    "HealthResponse",
    "IntrospectForm",
    "IntrospectionResponse",
    "JWKSetResponse",
    "LogoutForm",
    "MetadataResponse",
    "ReadinessResponse",
    "RevocationEventsResponse",
    "RevocationSnapshotResponse",
    "RevokeForm",
    "SessionView",
    "SessionsResponse",
    "TokenForm",
    "TokenResponse",
]

_CLIENT_ID = "client_secret_post / public clients: the client id (RFC 6749 §2.3.1, §3.2.1)."
_CLIENT_SECRET = "client_secret_post: the client secret (prefer HTTP Basic, RFC 6749 §2.3.1)."


class TokenForm(BaseModel):
    """``POST /token`` (RFC 6749 §3.2), ``application/x-www-form-urlencoded``."""

    grant_type: Literal["authorization_code", "password", "refresh_token", "client_credentials"]
    code: str | None = Field(None, description="grant_type=authorization_code (RFC 6749 §4.1.3).")
    redirect_uri: str | None = Field(None, description="grant_type=authorization_code.")
    code_verifier: str | None = Field(None, description="PKCE verifier (RFC 7636 §4.5).")
    username: str | None = Field(None, description="grant_type=password (RFC 6749 §4.3.2).")
    password: str | None = Field(None, description="grant_type=password.")
    refresh_token: str | None = Field(None, description="grant_type=refresh_token (§6).")
    scope: str | None = Field(
        None, description="Space-separated scope-tokens (RFC 6749 §3.3); default all allowed."
    )
    client_id: str | None = Field(None, description=_CLIENT_ID)
    client_secret: str | None = Field(None, description=_CLIENT_SECRET)


class RevokeForm(BaseModel):
    """``POST /revoke`` (RFC 7009 §2.1)."""

    token: str = Field(description="The refresh or access token to revoke.")
    token_type_hint: Literal["access_token", "refresh_token"] | None = None
    client_id: str | None = Field(None, description=_CLIENT_ID)
    client_secret: str | None = Field(None, description=_CLIENT_SECRET)


class IntrospectForm(BaseModel):
    """``POST /introspect`` (RFC 7662 §2.1); a resource-server client authenticates."""

    token: str = Field(description="The token to introspect.")
    token_type_hint: Literal["access_token", "refresh_token"] | None = None
    client_id: str | None = Field(None, description=_CLIENT_ID)
    client_secret: str | None = Field(None, description=_CLIENT_SECRET)


class LogoutForm(BaseModel):
    """``POST /logout``: the token whose session ends (or send ``Authorization: Bearer``)."""

    token: str | None = Field(None, description="A refresh or access token of the session.")


class ErrorResponse(BaseModel):
    """An error (RFC 6749 §5.2). A bearer endpoint called without any token answers 401 with
    only ``error_description`` (RFC 6750 §3.1)."""

    error: str | None = Field(None, description="The OAuth error code, e.g. invalid_grant.")
    error_description: str


class TokenResponse(BaseModel):
    """A successful token response (RFC 6749 §5.1), with ``Cache-Control: no-store``."""

    access_token: str = Field(description="An RFC 9068 JWT (typ at+jwt).")
    token_type: Literal["Bearer"]
    expires_in: int = Field(description="Lifetime of the access token in seconds.")
    scope: str
    refresh_token: str | None = Field(None, description="Opaque; absent for client_credentials.")


class IntrospectionResponse(BaseModel):
    """RFC 7662 §2.2: ``{"active": false}`` or the token's details."""

    active: bool
    token_type: Literal["access_token", "refresh_token"] | None = None
    scope: str | None = None
    client_id: str | None = None
    username: str | None = None
    sub: str | None = None
    aud: str | list[str] | None = None
    iss: str | None = None
    exp: int | None = Field(None, description="Seconds since the epoch.")
    iat: int | None = Field(None, description="Seconds since the epoch.")
    jti: str | None = None
    sid: str | None = None


class SessionView(BaseModel):
    """One session (token family); times in seconds since the epoch."""

    sid: str
    client_id: str
    scope: str
    created_at: int
    last_used_at: int
    expires_at: int
    revoked_at: int | None
    revoked_reason: str | None
    current: bool


class SessionsResponse(BaseModel):
    """``GET /sessions``: the bearer's own active sessions."""

    sessions: list[SessionView]


class JWKSetResponse(BaseModel):
    """A JWK Set (RFC 7517 §5): public keys only."""

    keys: list[dict[str, object]]


class MetadataResponse(BaseModel):
    """Authorization server metadata (RFC 8414 §2); further members may appear."""

    issuer: str
    token_endpoint: str
    jwks_uri: str
    grant_types_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]


class UserinfoResponse(BaseModel):
    """The userinfo response (OIDC Core §5.3.2): ``sub`` plus the claims of the token's scopes."""

    model_config = {"extra": "allow"}

    sub: str
    preferred_username: str | None = None
    name: str | None = None
    email: str | None = None


class PushedAuthorizationResponse(BaseModel):
    """The PAR response (RFC 9126 §2.2): a single-use ``request_uri`` and its lifetime (s)."""

    request_uri: str
    expires_in: int


class HealthResponse(BaseModel):
    """``GET /healthz``."""

    status: Literal["ok"]


class ReadinessResponse(BaseModel):
    """``GET /readyz``: ``ready`` or ``not ready`` (503), with each dependency's state."""

    status: Literal["ready", "not ready"]
    database: str
    redis: str


class RevocationEventsResponse(BaseModel):
    """``GET /revocations/events``: events after ``since`` in commit order."""

    events: list[dict[str, object]]
    next: int = Field(description="Pass as ``since`` for the next page.")
    latest: int
    more: bool


class RevocationSnapshotResponse(BaseModel):
    """``GET /revocations/snapshot``: one page of the live revocations."""

    seq: int
    entries: list[dict[str, object]]
    cursor: str | None = Field(None, description="``after`` of the next page; None at the end.")
