"""Authorization code grant (RFC 6749 §4.1.3, RFC 7636 §4.6, OIDC Core §3.1.3): the code from
``/authorize`` plus ``redirect_uri`` and the PKCE ``code_verifier``; see
:meth:`jwtkit.server.provider.Provider.redeem`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from jwtkit.server.grants._base import TokenRequest
from jwtkit.server.oauth import UnsupportedGrantType

if TYPE_CHECKING:
    from jwtkit.server.service import TokenService
    from jwtkit.store.sql import ClientRecord

__all__ = ["handle"]


def handle(svc: TokenService, client: ClientRecord, request: TokenRequest) -> dict[str, Any]:
    """The token endpoint's ``grant_type=authorization_code``: ``code``, ``redirect_uri``,
    ``code_verifier``, with the request's DPoP key (``dpop_jkt``, RFC 9449 §5, §10). Returns
    the token response with ``id_token`` for the ``openid`` scope.

    Raises:
        OAuthError: as :meth:`~jwtkit.server.provider.Provider.redeem`.
    """
    if svc.provider is None:  # pragma: no cover - build_services always sets one
        raise UnsupportedGrantType("this service has no OpenID Connect provider")
    return svc.provider.redeem(client, request.params, request.dpop_jkt)
