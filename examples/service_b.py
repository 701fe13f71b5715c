"""Service B (Flask): a resource server that checks jwtkit access tokens.

Run (after `jwtkit serve` is up, see README.md):

    JWTKIT_ISSUER=http://127.0.0.1:8000 flask --app examples.service_b run --port 8002

The extension protects every view (``@jwt.public`` opts one out); ``@jwt.requires_scopes``
asks for scopes; ``g.jwtkit_claims`` holds the verified claims. A thread keeps the revocation
denylist in sync with the token service's revocation feed.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, g

from jwtkit.jwks_client import JWKSClient
from jwtkit.middleware import BearerGuard, access_token_verifier
from jwtkit.middleware.listener import FeedRevocationListener
from jwtkit.middleware.wsgi import FlaskBearerAuth
from jwtkit.revocation import Denylist

ISSUER = os.environ.get("JWTKIT_ISSUER", "http://127.0.0.1:8000")
AUDIENCE = os.environ.get("AUDIENCE", "https://api.demo")
# This resource server's confidential client at the token service, for its revocation feed.
FEED_CLIENT_ID = os.environ.get("FEED_CLIENT_ID", "demo-rs")
FEED_CLIENT_SECRET = os.environ.get("FEED_CLIENT_SECRET", "")

denylist = Denylist()
guard = BearerGuard(
    access_token_verifier(
        JWKSClient.from_issuer(ISSUER),
        issuer=ISSUER,
        audience=AUDIENCE,
        algorithms=["ES256"],
        leeway=5,
    ),
    denylist=denylist,
)
# The revocation feed of the token service (or Redis: RevocationListener(denylist, url=...)).
listener = FeedRevocationListener(
    denylist, issuer=ISSUER, client_id=FEED_CLIENT_ID, client_secret=FEED_CLIENT_SECRET
).start()  # a daemon thread

app = Flask(__name__)
jwt = FlaskBearerAuth(app, guard=guard)


@app.get("/inventory")
@jwt.requires_scopes("inventory:read")
def inventory() -> dict[str, Any]:
    return {"sub": g.jwtkit_claims["sub"], "tea": 42}


@app.get("/health")
@jwt.public
def health() -> dict[str, str]:
    return {"status": "ok"}
