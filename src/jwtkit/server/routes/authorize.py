"""Authorization and sign-in: ``GET|POST /authorize`` (RFC 6749 §4.1.1, OIDC Core §3.1.2),
``POST /login`` and ``POST /consent`` (the HTML pages' forms), ``POST /par`` (RFC 9126) and the
pages' stylesheet. Errors before the client and its redirect URI are known show an error page
and never redirect (RFC 6749 §4.1.2.1); later ones go back with ``error``, ``state`` and ``iss``.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import FileResponse, JSONResponse

from jwtkit.server.deps import (
    FORM_BODY,
    NO_STORE,
    client_address,
    client_credentials,
    form,
    password_work,
    provider,
    token_service,
)
from jwtkit.server.oauth import (
    ClientCredentials,
    InvalidGrant,
    LoginRateLimited,
    OAuthError,
    parse_query,
)
from jwtkit.server.pages import (
    SESSION_COOKIE,
    STATIC,
    csrf_ok,
    csrf_token,
    error_page,
    page,
    redirect,
    remember_session,
    set_csrf,
)
from jwtkit.server.provider import (
    AuthorizationRequest,
    BadAuthorizationRequest,
    ErrorRedirect,
    Provider,
)
from jwtkit.server.service import TokenService
from jwtkit.store.op_sessions import OPSession

__all__ = ["router"]

router = APIRouter(tags=["oidc"])
OP = Depends(provider)

_SCOPE_TEXT = {
    "openid": "sign you in (your user id)",
    "profile": "your name and username",
    "email": "your email address",
    "offline_access": "stay signed in when you are away (refresh tokens)",
}


def _bad_page(exc: OAuthError) -> Response:
    return error_page(400, exc.error, exc.description)


def _login_page(
    request: Request,
    req: AuthorizationRequest,
    handle: str,
    csrf: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    response = page(
        "login.html",
        status,
        title="Sign in",
        client_id=req.client.client_id,
        interaction=handle,
        csrf=csrf,
        login_hint=req.login_hint,
        error=error,
    )
    return set_csrf(response, csrf)


def _consent_page(
    op: Provider, req: AuthorizationRequest, session: OPSession, handle: str, csrf: str
) -> Response:
    user = op.store.get_user_by_id(session.user_id)
    scopes = [(s, _SCOPE_TEXT.get(s, "")) for s in req.scope.split()]
    response = page(
        "consent.html",
        title="Allow access",
        client_id=req.client.client_id,
        username=user.username if user else None,
        scopes=scopes,
        interaction=handle,
        csrf=csrf,
    )
    return set_csrf(response, csrf)


def _authorize(request: Request, op: Provider, params: dict[str, str]) -> Response:
    try:
        req = op.resolve(params)
    except BadAuthorizationRequest as exc:
        return _bad_page(exc)
    except ErrorRedirect as exc:
        return redirect(exc.url)
    session = op.session_from_cookie(request.cookies.get(SESSION_COOKIE))
    try:
        op.check_no_interaction(req, session)
    except OAuthError as exc:
        return redirect(op.error_redirect(req.redirect_uri, req.state, exc))
    if session is not None and not op.needs_login(req, session):
        if not op.needs_consent(req, session):
            return redirect(op.approve(req, session, consent=False))
        csrf = csrf_token(request)
        return _consent_page(op, req, session, op.begin_interaction(req, csrf), csrf)
    csrf = csrf_token(request)
    return _login_page(request, req, op.begin_interaction(req, csrf), csrf)


@router.get("/authorize", include_in_schema=False)
def authorize(request: Request, op: Provider = OP) -> Response:
    """Authorization endpoint (RFC 6749 §4.1.1, OIDC Core §3.1.2.1): ``response_type=code``,
    ``client_id``, ``redirect_uri``, ``scope``, ``state``, ``code_challenge`` +
    ``code_challenge_method=S256`` (required), ``nonce``, ``prompt`` (none, login, consent),
    ``max_age``, ``login_hint``, or ``request_uri`` from ``POST /par``.

    Answers the login page, the consent page, or a 303 to the redirect URI with ``code``,
    ``state`` and ``iss`` (RFC 9207) or ``error``. An unknown client or unregistered redirect
    URI gets a 400 error page (no redirect)."""
    try:
        params = parse_query(request.url.query)
    except OAuthError as exc:
        return _bad_page(exc)
    return _authorize(request, op, params)


@router.post("/authorize", include_in_schema=False)
def authorize_post(
    request: Request, params: dict[str, str] = Depends(form), op: Provider = OP
) -> Response:
    """The authorization endpoint with form-encoded parameters (OIDC Core §3.1.2.1)."""
    return _authorize(request, op, params)


@router.post("/login", include_in_schema=False)
async def login(
    request: Request,
    params: dict[str, str] = Depends(form),
    address: str | None = Depends(client_address),
    op: Provider = OP,
    svc: TokenService = Depends(token_service),
) -> Response:
    """The login form: ``interaction``, ``csrf``, ``username``, ``password``. Checks the CSRF
    token against its cookie (403 page otherwise), the password with argon2id under the
    failed-login limits (401 page; 429 when limited) through the service's bounded password
    admission (503 when too many logins wait), starts the OP session (a new cookie value every
    login), then shows the consent page or redirects with a code."""
    return await password_work(svc, lambda: _login(request, params, address, op))


def _login(request: Request, params: dict[str, str], address: str | None, op: Provider) -> Response:
    csrf = params.get("csrf")
    if not csrf_ok(request, csrf):
        return error_page(403, "invalid_request", "the form expired or came from another site")
    assert csrf is not None
    try:
        req = op.interaction(params.get("interaction", ""), csrf, consume=False)
    except BadAuthorizationRequest as exc:
        return _bad_page(exc)
    except ErrorRedirect as exc:
        return redirect(exc.url)
    handle = params.get("interaction", "")
    current = op.session_from_cookie(request.cookies.get(SESSION_COOKIE))
    try:
        session, cookie = op.login(
            params.get("username", ""),
            params.get("password", ""),
            address,
            client_id=req.client.client_id,
            current=current,
        )
    except LoginRateLimited as exc:
        response = _login_page(request, req, handle, csrf, error=exc.description, status=429)
        response.headers.update(exc.headers)
        return response
    except InvalidGrant:
        return _login_page(
            request, req, handle, csrf, error="Invalid username or password.", status=401
        )
    if op.needs_consent(req, session):
        response = _consent_page(op, req, session, handle, csrf)
    else:
        op.interaction(handle, csrf, consume=True)
        response = redirect(op.approve(req, session, consent=False))
    return remember_session(response, cookie, op.settings.op_session_ttl)


@router.post("/consent", include_in_schema=False)
def consent(
    request: Request, params: dict[str, str] = Depends(form), op: Provider = OP
) -> Response:
    """The consent form: ``interaction``, ``csrf``, ``decision`` (``allow`` or ``deny``). Allow
    remembers the consent for the user, client and scopes and redirects with a code; deny
    redirects with ``access_denied`` (OIDC Core §3.1.2.6)."""
    csrf = params.get("csrf")
    if not csrf_ok(request, csrf):
        return error_page(403, "invalid_request", "the form expired or came from another site")
    assert csrf is not None
    session = op.session_from_cookie(request.cookies.get(SESSION_COOKIE))
    if session is None:
        return error_page(400, "login_required", "you are not signed in; start again")
    decision = params.get("decision")
    if decision not in ("allow", "deny"):
        return error_page(400, "invalid_request", "decision must be allow or deny")
    try:
        req = op.interaction(params.get("interaction", ""), csrf, consume=True)
    except BadAuthorizationRequest as exc:
        return _bad_page(exc)
    except ErrorRedirect as exc:
        return redirect(exc.url)
    if decision == "deny":
        return redirect(op.deny(req))
    return redirect(op.approve(req, session, consent=True))


@router.post("/par", status_code=201, openapi_extra=FORM_BODY)
def pushed_authorization_request(
    params: dict[str, str] = Depends(form),
    creds: ClientCredentials = Depends(client_credentials),
    svc: TokenService = Depends(token_service),
    op: Provider = OP,
) -> Response:
    """Pushed authorization request endpoint (RFC 9126 §2): the authorization request's
    parameters, client-authenticated as at the token endpoint. Returns 201 ``{request_uri,
    expires_in}`` (single use, ``pushed_request_ttl`` seconds); errors are RFC 6749 §5.2 JSON.
    """
    client = svc.authenticate_client(creds)
    req = op.validate_pushed(client, params)
    request_uri, expires_in = op.push(req)
    return JSONResponse(
        {"request_uri": request_uri, "expires_in": expires_in}, status_code=201, headers=NO_STORE
    )


@router.get("/static/jwtkit.css", include_in_schema=False)
def stylesheet() -> Response:
    """The pages' stylesheet (shipped in the package; no CDN)."""
    return FileResponse(
        STATIC / "jwtkit.css",
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
