"""What every grant handler takes: the authenticated client and the token request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from jwtkit.server.oauth import UnauthorizedClient

if TYPE_CHECKING:
    from jwtkit.server.service import TokenService
    from jwtkit.store.sql import ClientRecord

__all__ = ["Grant", "TokenRequest", "require_grant"]


@dataclass(frozen=True)
class TokenRequest:
    """One token request (RFC 6749 §3.2): the form ``params`` (name -> str, empty values
    dropped), the caller's ``address`` (str or None, for login rate limits) and ``dpop_jkt``,
    the thumbprint of the key of its verified DPoP proof (RFC 9449 §5; None without one)."""

    params: Mapping[str, str] = field(repr=False)
    address: str | None = None
    dpop_jkt: str | None = None


class Grant(Protocol):
    """A grant handler: ``(service, client, request) -> token response`` (dict, RFC 6749 §5.1).
    Raises :class:`jwtkit.server.oauth.OAuthError` subclasses (RFC 6749 §5.2)."""

    def __call__(
        self, svc: TokenService, client: ClientRecord, request: TokenRequest, /
    ) -> dict[str, Any]: ...


def require_grant(client: ClientRecord, grant: str) -> None:
    """Refuse a grant type the client is not registered for.

    Raises:
        UnauthorizedClient: ``unauthorized_client`` (RFC 6749 §5.2).
    """
    if grant not in client.grant_types:
        raise UnauthorizedClient(f"client may not use grant_type={grant}")
