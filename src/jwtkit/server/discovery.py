"""Authorization server metadata (RFC 8414 §2), also served as OpenID Connect discovery."""

from __future__ import annotations

from typing import Any

from jwtkit.server.dpop import ALGORITHMS as DPOP_ALGORITHMS
from jwtkit.server.service import GRANT_TYPES
from jwtkit.server.settings import SIGNING_ALGORITHMS, Settings

__all__ = ["metadata"]

_CLIENT_AUTH = ["client_secret_basic", "client_secret_post", "none"]


def metadata(settings: Settings) -> dict[str, Any]:
    """The metadata document (dict) of a service with ``settings``: every endpoint (absolute
    URLs under the issuer) and every ``*_supported`` list true to what the server does."""
    issuer = settings.effective_issuer
    return {
        "issuer": issuer,
        "token_endpoint": f"{issuer}/token",
        "revocation_endpoint": f"{issuer}/revoke",
        "introspection_endpoint": f"{issuer}/introspect",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "grant_types_supported": list(GRANT_TYPES),
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": list(_CLIENT_AUTH),
        "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": list(_CLIENT_AUTH),
        "introspection_endpoint_auth_methods_supported": _CLIENT_AUTH[:2],
        "access_token_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "service_documentation": f"{issuer}/docs",
        # The revocation feed (jwtkit extension; jwtkit.middleware.listener finds it here).
        "revocation_events_endpoint": f"{issuer}/revocations/events",
        "revocation_snapshot_endpoint": f"{issuer}/revocations/snapshot",
    }
