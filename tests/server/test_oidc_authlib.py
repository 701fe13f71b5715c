"""The Python side: Authlib's OAuth 2.0 client (PyPI) runs the authorization code flow with PKCE
S256 against the provider (the browser part by the cookie-jar browser), refreshes, and the ID
token is validated with joserfc (Authlib's JOSE successor) against the published JWK Set."""

from __future__ import annotations

import secrets

from authlib.integrations.requests_client import OAuth2Session
from joserfc import jwt
from joserfc.jwk import KeySet

from .oidc_support import OP, REDIRECTS, SECRETS


def test_authlib_client_code_flow_with_pkce(op: OP) -> None:
    meta = op.http.get("/.well-known/openid-configuration").json()
    verifier = secrets.token_urlsafe(48)
    nonce = secrets.token_urlsafe(12)
    with OAuth2Session(
        "rp",
        SECRETS["rp"],
        scope="openid email offline_access",
        redirect_uri=REDIRECTS["rp"],
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",
    ) as client:
        url, state = client.create_authorization_url(
            meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
        )
        callback = op.browser().sign_in(url).headers["location"]
        assert callback.startswith(REDIRECTS["rp"] + "?")
        token = client.fetch_token(
            meta["token_endpoint"],
            authorization_response=callback,
            code_verifier=verifier,
            state=state,
        )
        assert token["token_type"] == "Bearer" and token["refresh_token"]
        keys = KeySet.import_key_set(client.get(meta["jwks_uri"]).json())
        decoded = jwt.decode(token["id_token"], keys, algorithms=["RS256"])
        claims = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": op.url},
            aud={"essential": True, "value": "rp"},
            nonce={"essential": True, "value": nonce},
            sid={"essential": True},
            auth_time={"essential": True},
        )
        claims.validate(decoded.claims)
        assert decoded.header["typ"] == "JWT"
        info = client.get(meta["userinfo_endpoint"]).json()
        assert info["sub"] == decoded.claims["sub"] and info["email"] == "alice@example.com"
        refreshed = client.refresh_token(meta["token_endpoint"])
        assert refreshed["access_token"] != token["access_token"]
        assert refreshed["refresh_token"] != token["refresh_token"]
