"""OpenID Connect endpoints beside the authorization endpoint: ``GET|POST /userinfo`` (OIDC
Core §5.3, bearer access token, RFC 6750 errors) and ``GET|POST /end_session`` (OIDC
RP-Initiated Logout 1.0) with its confirmation form ``POST /end_session/confirm``."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from jwtkit.server.deps import (
    NO_STORE,
    bearer_token,
    form,
    provider,
    resource_claims,
    token_service,
)
from jwtkit.server.oauth import OAuthError, parse_query
from jwtkit.server.pages import (
    SESSION_COOKIE,
    csrf_ok,
    csrf_token,
    error_page,
    forget_session,
    page,
    redirect,
    set_csrf,
)
from jwtkit.server.provider import Provider
from jwtkit.server.service import TokenService

__all__ = ["router"]

router = APIRouter(tags=["oidc"])
OP = Depends(provider)


def _userinfo(request: Request, token: str, svc: TokenService, op: Provider) -> Response:
    claims = resource_claims(request, token, svc)  # RFC 9449 §7 for DPoP-bound tokens
    return JSONResponse(op.userinfo(claims), headers=NO_STORE)


@router.get("/userinfo")
def userinfo(
    request: Request,
    token: str = Depends(bearer_token),
    svc: TokenService = Depends(token_service),
    op: Provider = OP,
) -> Response:
    """Userinfo (OIDC Core §5.3): ``Authorization: Bearer <access token>`` with the ``openid``
    scope, or ``Authorization: DPoP`` with a ``DPoP`` proof for a DPoP-bound token (RFC 9449
    §7). Returns ``{sub, preferred_username?, name?, email?}`` by the token's scopes; 401
    ``invalid_token``/``invalid_dpop_proof`` (a ``DPoP`` challenge for DPoP) or 403
    ``insufficient_scope`` with an RFC 6750 §3 challenge."""
    return _userinfo(request, token, svc, op)


@router.post("/userinfo")
def userinfo_post(
    request: Request,
    token: str = Depends(bearer_token),
    svc: TokenService = Depends(token_service),
    op: Provider = OP,
) -> Response:
    """Userinfo by POST (OIDC Core §5.3.1): as ``GET /userinfo``."""
    return _userinfo(request, token, svc, op)


def _end_session(request: Request, op: Provider, params: dict[str, str]) -> Response:
    hint = params.get("id_token_hint")
    claims = op.verify_id_token_hint(hint) if hint else None
    if hint and claims is None:
        return error_page(400, "invalid_request", "id_token_hint is not an ID token of ours")
    client_id = op.logout_client(claims, params.get("client_id"))
    if (hint or params.get("client_id")) and client_id is None:
        return error_page(400, "invalid_request", "client_id does not match id_token_hint")
    if client_id is not None and op.store.get_client(client_id) is None:
        return error_page(400, "invalid_request", "unknown client_id")
    target = params.get("post_logout_redirect_uri")
    state = params.get("state")
    session = op.session_from_cookie(request.cookies.get(SESSION_COOKIE))
    if session is not None and (claims is None or claims.get("sid") != session.sid):
        csrf = csrf_token(request)  # no proof the RP speaks for this session: ask the user
        response = page(
            "logout.html",
            title="Sign out",
            csrf=csrf,
            client_id=client_id,
            post_logout_redirect_uri=target,
            state=state,
        )
        return set_csrf(response, csrf)
    if session is not None:
        op.end_op_session(session.sid, reason="rp_logout", actor=f"client:{client_id}")
    return _signed_out(op, client_id, target, state)


def _signed_out(
    op: Provider, client_id: str | None, target: str | None, state: str | None
) -> Response:
    url = op.post_logout_redirect(client_id, target, state)
    response = redirect(url) if url else page("logged_out.html", title="Signed out")
    return forget_session(response)


@router.get("/end_session", include_in_schema=False)
def end_session(request: Request, op: Provider = OP) -> Response:
    """RP-initiated logout (OIDC RP-Initiated Logout 1.0 §2): ``id_token_hint``, ``client_id``,
    ``post_logout_redirect_uri`` (registered ones only; others never redirect), ``state``. With
    a hint naming the browser's OP session it ends at once; otherwise a confirmation page."""
    try:
        params = parse_query(request.url.query)
    except OAuthError as exc:
        return error_page(400, exc.error, exc.description)
    return _end_session(request, op, params)


@router.post("/end_session", include_in_schema=False)
def end_session_post(
    request: Request, params: dict[str, str] = Depends(form), op: Provider = OP
) -> Response:
    """RP-initiated logout with form-encoded parameters (§2): as ``GET /end_session``."""
    return _end_session(request, op, params)


@router.post("/end_session/confirm", include_in_schema=False)
def end_session_confirm(
    request: Request, params: dict[str, str] = Depends(form), op: Provider = OP
) -> Response:
    """The sign-out confirmation form: ``csrf`` (403 page when it does not match its cookie),
    ``client_id``, ``post_logout_redirect_uri``, ``state``. Ends the browser's OP session."""
    if not csrf_ok(request, params.get("csrf")):
        return error_page(403, "invalid_request", "the form expired or came from another site")
    client_id = params.get("client_id")
    if client_id is not None and op.store.get_client(client_id) is None:
        client_id = None
    session = op.session_from_cookie(request.cookies.get(SESSION_COOKIE))
    if session is not None:
        op.end_op_session(session.sid, reason="rp_logout", actor="user")
    return _signed_out(op, client_id, params.get("post_logout_redirect_uri"), params.get("state"))
