"""Authorization server metadata (RFC 8414 §2) and OpenID Provider metadata (OIDC Discovery
1.0 §3): one document, served at both well-known paths, true to what the server does."""

from __future__ import annotations

from typing import Any

from jwtkit.server.dpop import ALGORITHMS as DPOP_ALGORITHMS
from jwtkit.server.provider import (
    ID_TOKEN_ALGS,
    ID_TOKEN_ENCRYPTION_ALGS,
    ID_TOKEN_ENCRYPTION_ENCS,
    OIDC_SCOPES,
)
from jwtkit.server.service import GRANT_TYPES
from jwtkit.server.settings import SIGNING_ALGORITHMS, Settings

__all__ = ["metadata"]

_CLIENT_AUTH = ["client_secret_basic", "client_secret_post", "none"]


def metadata(settings: Settings) -> dict[str, Any]:
    """The metadata document (dict) of a service with ``settings``: every endpoint (absolute
    URLs under the issuer) and every ``*_supported`` list true to what the server does."""
    issuer = settings.effective_issuer
    id_algs = list(dict.fromkeys([settings.id_token_alg, settings.signing_alg]))
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "end_session_endpoint": f"{issuer}/end_session",
        "pushed_authorization_request_endpoint": f"{issuer}/par",
        "revocation_endpoint": f"{issuer}/revoke",
        "introspection_endpoint": f"{issuer}/introspect",
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "scopes_supported": sorted(OIDC_SCOPES),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": list(GRANT_TYPES),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [a for a in id_algs if a in ID_TOKEN_ALGS],
        "id_token_encryption_alg_values_supported": list(ID_TOKEN_ENCRYPTION_ALGS),
        "id_token_encryption_enc_values_supported": list(ID_TOKEN_ENCRYPTION_ENCS),
        "userinfo_signing_alg_values_supported": [],
        "code_challenge_methods_supported": ["S256"],
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_supported": [
            "iss",
            "sub",
            "aud",
            "exp",
            "iat",
            "auth_time",
            "nonce",
            "sid",
            "at_hash",
            "amr",
            "azp",
            *(["acr"] if settings.acr else []),
            "preferred_username",
            "name",
            "email",
        ],
        "claims_parameter_supported": False,
        "request_parameter_supported": False,
        "request_uri_parameter_supported": False,
        "require_request_uri_registration": False,
        "require_pushed_authorization_requests": False,
        "authorization_response_iss_parameter_supported": True,
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
        "frontchannel_logout_supported": False,
        "token_endpoint_auth_methods_supported": list(_CLIENT_AUTH),
        "dpop_signing_alg_values_supported": list(DPOP_ALGORITHMS),
        "revocation_endpoint_auth_methods_supported": list(_CLIENT_AUTH),
        "introspection_endpoint_auth_methods_supported": _CLIENT_AUTH[:2],
        "access_token_signing_alg_values_supported": list(SIGNING_ALGORITHMS),
        "service_documentation": f"{issuer}/docs",
        # The revocation feed (jwtkit extension; jwtkit.middleware.listener finds it here).
        "revocation_events_endpoint": f"{issuer}/revocations/events",
        "revocation_snapshot_endpoint": f"{issuer}/revocations/snapshot",
        **({"acr_values_supported": [settings.acr]} if settings.acr else {}),
    }
