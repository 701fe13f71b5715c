"""Token endpoint grants (RFC 6749 §4, §6): one module per ``grant_type``, one registry.

A new grant is a new module with ``handle(svc, client, request) -> dict`` plus one line in
:data:`GRANTS` (the shape of node-oidc-provider's ``lib/actions/grants/index.js``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from jwtkit.server.grants import authorization_code, client_credentials, password, refresh_token
from jwtkit.server.grants._base import Grant, TokenRequest, require_grant

__all__ = ["ASYNC_GRANTS", "GRANTS", "NON_BLOCKING", "Grant", "TokenRequest", "require_grant"]

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

if TYPE_CHECKING:
    from jwtkit.server.service import TokenService
    from jwtkit.store.records import ClientRecord

#: Grants with an event-loop variant whose only blocking part, one write transaction, runs on
#: the store's writer (:meth:`jwtkit.store._db.Database.write_grouped_async`); the token
#: endpoint uses it for a client that authenticates from memory. A handler here is called only
#: for requests without ``scope`` (whose check reads the database first).
ASYNC_GRANTS: Mapping[
    str, Callable[[TokenService, ClientRecord, TokenRequest], Awaitable[dict[str, Any]]]
] = MappingProxyType({"refresh_token": refresh_token.refresh_grant_async})
