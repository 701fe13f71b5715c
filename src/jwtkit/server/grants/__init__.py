"""Token endpoint grants (RFC 6749 §4, §6): one module per ``grant_type``, one registry.

A new grant is a new module with ``handle(svc, client, request) -> dict`` plus one line in
:data:`GRANTS` (the shape of node-oidc-provider's ``lib/actions/grants/index.js``).
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from jwtkit.server.grants import authorization_code, client_credentials, password, refresh_token
from jwtkit.server.grants._base import Grant, TokenRequest, require_grant

__all__ = ["GRANTS", "NON_BLOCKING", "Grant", "TokenRequest", "require_grant"]

#: ``grant_type`` -> handler, in the order the metadata lists them.
GRANTS: Mapping[str, Grant] = MappingProxyType(
    {
        "authorization_code": authorization_code.handle,
        "password": password.handle,
        "refresh_token": refresh_token.handle,
        "client_credentials": client_credentials.handle,
    }
)

#: Grants whose handler does no blocking I/O once the client is authenticated (it signs from
#: the cached key table): the token endpoint runs them on the event loop, without a thread hop.
NON_BLOCKING: frozenset[str] = frozenset({"client_credentials"})
