"""More provider paths: PAR errors, form-encoded authorization and logout requests, ES256 ID
tokens for a client registered with the access tokens' alg, logout hints that do not match."""

from __future__ import annotations

import httpx

import jwtkit

from .oidc_support import OP, SECRETS, decode_part, forms, pkce, query_of


def test_par_errors_are_json(op: OP) -> None:
    url, _ = op.authorize_url("pushy")
    params = dict(httpx.URL(url).params)
    auth = ("pushy", SECRETS["pushy"])
    cases = [
        ({**params, "request_uri": "urn:x"}, auth, 400, "invalid_request"),
        ({**params, "client_id": "rp"}, auth, 400, "invalid_request"),
        ({**params, "redirect_uri": "https://evil.example/"}, auth, 400, "invalid_request"),
        ({**params, "code_challenge_method": "plain"}, auth, 400, "invalid_request"),
        ({**params, "response_type": "token"}, auth, 400, "unsupported_response_type"),
        (params, ("pushy", "wrong-" + SECRETS["pushy"]), 401, "invalid_client"),
    ]
    for data, creds, status, error in cases:
        r = op.http.post("/par", data=data, auth=creds)
        assert (r.status_code, r.json()["error"]) == (status, error), (data, r.text)
        assert r.headers["cache-control"] == "no-store"


def test_par_request_uri_of_another_client_is_refused(op: OP) -> None:
    url, _ = op.authorize_url("pushy")
    pushed = op.http.post(
        "/par", data=dict(httpx.URL(url).params), auth=("pushy", SECRETS["pushy"])
    ).json()
    r = op.plain.get(f"{op.url}/authorize?client_id=rp&request_uri={pushed['request_uri']}")
    assert r.status_code == 400 and "location" not in r.headers


def test_authorization_request_by_post(op: OP) -> None:
    url, verifier = op.authorize_url("spa")
    browser = op.browser()
    page = browser.post("/authorize", dict(httpx.URL(url).params))
    assert page.status_code == 200 and forms(page.text)[0]["action"] == "/login"


def test_es256_id_tokens_for_a_client_that_asks(op: OP) -> None:
    if op.services.store.get_client("es-rp") is None:
        op.admin.add_client(
            "es-rp",
            secret=None,
            grant_types=["authorization_code"],
            scope=["openid"],
        )
        op.admin.register_client(
            "es-rp",
            redirect_uris=["https://es.example/cb"],
            first_party=True,
            id_token_signed_response_alg="ES256",
        )
    verifier, challenge = pkce()
    query = {
        "response_type": "code",
        "client_id": "es-rp",
        "redirect_uri": "https://es.example/cb",
        "scope": "openid",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    done = op.browser().sign_in(f"{op.url}/authorize?{httpx.QueryParams(query)}")
    code = query_of(done)["code"]
    r = op.http.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": "https://es.example/cb",
            "code_verifier": verifier,
            "client_id": "es-rp",
        },
    )
    body = r.json()
    assert "refresh_token" not in body  # not registered for the refresh_token grant
    assert decode_part(body["id_token"], 0)["alg"] == "ES256"
    keys = jwtkit.KeySet.from_jwks(op.http.get("/.well-known/jwks.json").json())
    claims = jwtkit.Verifier(keys, algorithms=["ES256"], issuer=op.url, audience="es-rp").verify(
        body["id_token"]
    )
    assert claims["azp"] == "es-rp"


def test_logout_hint_of_another_session_asks_first(op: OP) -> None:
    first = op.browser()
    url, verifier = op.authorize_url("rp")
    tokens = op.redeem(query_of(first.sign_in(url))["code"], verifier).json()
    other = op.browser()
    assert other.sign_in(op.authorize_url("spa")[0]).status_code == 303
    page = other.post(
        "/end_session", {"id_token_hint": tokens["id_token"], "client_id": "rp"}
    )  # the hint names the first browser's session, not this one's
    assert page.status_code == 200 and forms(page.text)[0]["action"] == "/end_session/confirm"
    mismatch = other.get(
        f"/end_session?{httpx.QueryParams(id_token_hint=tokens['id_token'], client_id='rp2')}"
    )
    assert mismatch.status_code == 400 and "location" not in mismatch.headers
    forged = other.post("/end_session/confirm", {"csrf": "z" * 43})
    assert forged.status_code == 403
    # Without a browser session there is nothing to end: straight to the registered target.
    r = op.browser().get(
        "/end_session?"
        + str(
            httpx.QueryParams(
                id_token_hint=tokens["id_token"],
                post_logout_redirect_uri="https://rp.example/bye",
            )
        )
    )
    assert r.status_code == 303 and r.headers["location"] == "https://rp.example/bye"
