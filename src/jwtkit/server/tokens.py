"""Token values: refresh tokens (opaque, stored only as their SHA-256) and telling them apart
from JWT access tokens (RFC 7519 §3: a JWS compact serialization has dots; ours never do)."""

from __future__ import annotations

import hashlib
import secrets
from typing import Literal

__all__ = ["hash_refresh_token", "new_refresh_token", "token_kind"]


def hash_refresh_token(token: str) -> str:
    """SHA-256 of a refresh token, hex (str): the only form in which it is stored."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_refresh_token() -> str:
    """A new opaque refresh token (str): 256 random bits, base64url (RFC 6749 §10.10)."""
    return secrets.token_urlsafe(32)


def token_kind(token: str) -> Literal["jwt", "opaque"]:
    """``"jwt"`` for a compact JWS (an access token), ``"opaque"`` for a refresh token."""
    return "jwt" if "." in token else "opaque"
