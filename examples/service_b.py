"""Service B (Flask): a resource server that checks jwtkit access tokens.

Run (after `jwtkit serve` is up, see README.md):

    JWTKIT_ISSUER=http://127.0.0.1:8000 flask --app examples.service_b run --port 8002

The extension protects every view (``@jwt.public`` opts one out); ``@jwt.requires_scopes``
asks for scopes; ``g.jwtkit_claims`` holds the verified claims. A thread keeps the revocation
denylist in sync with Redis.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, g

from jwtkit.jwks_client import JWKSClient
from jwtkit.middleware import BearerGuard, access_token_verifier
from jwtkit.middleware.listener import RevocationListener
from jwtkit.middleware.wsgi import FlaskBearerAuth
from jwtkit.revocation import Denylist

ISSUER = os.environ.get("JWTKIT_ISSUER", "http://127.0.0.1:8000")
AUDIENCE = os.environ.get("AUDIENCE", "https://api.demo")
REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

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
listener = RevocationListener(denylist, url=REDIS_URL).start()  # a daemon thread

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
