"""An independent relying party: npm openid-client 6 (tests/verifiers/node/oidc_rp.mjs, from the
lock file) signs in through the login and consent pages with a cookie-jar browser, validates
the ID token, calls userinfo, refreshes, signs in to a second client by SSO, runs code + PKCE,
userinfo and refresh under DPoP (getDPoPHandle, with server nonces on so it retries on
use_dpop_nonce), logs out, and verifies the back-channel logout token its loopback listener
receives."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from jwtkit.dpop import DPoPNonces

from .oidc_support import OP, PASSWORD, REDIRECTS, SECRETS, free_socket

NODE_DIR = Path(__file__).resolve().parents[1] / "verifiers" / "node"

pytestmark = pytest.mark.slow


def _npm_ci() -> None:
    if (NODE_DIR / "node_modules" / "openid-client" / "package.json").exists():
        return
    npm = shutil.which("npm")
    assert npm is not None, "npm is required"
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
        cwd=NODE_DIR,
        check=True,
        timeout=300,
    )


def test_openid_client_drives_the_whole_flow(op: OP, tmp_path: Path) -> None:
    node = shutil.which("node")
    assert node is not None, "node is required"
    _npm_ci()
    with free_socket() as sock:
        port = sock.getsockname()[1]
    if op.services.store.get_client("node-rp") is None:
        op.admin.add_client(
            "node-rp",
            secret=SECRETS["node-rp"],
            grant_types=["authorization_code", "refresh_token"],
            scope=["openid", "profile", "email", "offline_access"],
        )
    op.admin.register_client(
        "node-rp",
        redirect_uris=["http://127.0.0.1/node/callback"],
        post_logout_redirect_uris=["https://node.example/bye"],
        backchannel_logout_uri=f"http://127.0.0.1:{port}/backchannel",
    )
    config = {
        "issuer": op.url,
        "username": "alice",
        "password": PASSWORD,
        "backchannel_port": port,
        "rp": {
            "client_id": "node-rp",
            "secret": SECRETS["node-rp"],
            "redirect_uri": "http://127.0.0.1:5173/node/callback",  # any loopback port
            "post_logout_redirect_uri": "https://node.example/bye",
        },
        "spa": {"client_id": "spa", "redirect_uri": REDIRECTS["spa"]},
    }
    path = tmp_path / "rp.json"
    path.write_text(json.dumps(config))
    # RFC 9449 §8: server nonces on for this run, so openid-client's DPoP token requests get
    # use_dpop_nonce first and must retry with the DPoP-Nonce it was given
    endpoint = op.services.service.dpop
    endpoint.nonces = DPoPNonces(b"n" * 40)
    try:
        run = subprocess.run(
            [node, "oidc_rp.mjs", str(path)],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        endpoint.nonces = None
    assert run.returncode == 0, run.stdout + run.stderr
    steps: dict[str, dict[str, Any]] = {}
    for line in run.stdout.splitlines():
        item = json.loads(line)
        steps[item.pop("step", "done")] = item
    (op.tmp / "openid-client.out").write_text(run.stdout)
    assert steps["discovery"] == {"issuer": op.url, "pkce": ["S256"]}
    flow = steps["code_flow"]
    assert (flow["login_forms"], flow["consent_forms"], flow["id_token_alg"]) == (1, 1, "RS256")
    assert flow["amr"] == ["pwd"]
    assert steps["userinfo"]["email"] == "alice@example.com"
    assert steps["userinfo"]["sub"] == flow["sub"]
    assert steps["refresh"] == {"rotated": True, "has_access_token": True}
    assert steps["sso"]["login_forms"] == 0 and steps["sso"]["same_sid"] is True
    assert steps["dpop"] == {  # RFC 9449 with openid-client's getDPoPHandle
        "token_type": "dpop",
        "userinfo_sub": True,
        "refresh_token_type": "dpop",
        "cnf_jkt": True,
        "bearer_refused": 401,
    }
    assert steps["rp_logout"] == {"status": 303, "location": "https://node.example/bye?state=bye"}
    assert steps["backchannel_logout"]["typ"] == "logout+jwt"
    assert steps["backchannel_logout"]["sid_matches"] is True
    assert steps["after_logout"]["refresh_refused"] == "invalid_grant"
    assert "done" in steps
