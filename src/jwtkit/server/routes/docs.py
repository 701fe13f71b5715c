"""The service's own API documentation: Swagger UI at ``/docs`` with every asset served by the
service itself from the ``swagger-ui-bundle`` package (no third-party CDN, issue 13 item 15 and
issue 15 item 7), and the OpenAPI document at ``/openapi.json``.

The OpenAPI document declares the two security schemes the endpoints use (HTTP Basic client
authentication, RFC 6749 §2.3.1, and Bearer access tokens, RFC 6750 §2.1), so Swagger UI shows an
Authorize button.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from pydantic import BaseModel
from starlette.staticfiles import StaticFiles

from jwtkit.server import schemas as m

__all__ = ["ASSETS_PATH", "OPERATIONS", "describe_api", "install_docs", "swagger_ui_assets"]

_Security = list[dict[str, list[str]]]
_CLIENT: _Security = [{"clientBasic": []}, {}]  # HTTP Basic, or client_id (+ secret) in the form
_CONFIDENTIAL: _Security = [{"clientBasic": []}]
_BEARER: _Security = [{"bearerAuth": []}]
_E = m.ErrorResponse

#: (method, path) -> (form model or None, {status: model, None (empty) or "text"}, security).
OPERATIONS: dict[tuple[str, str], tuple[type[BaseModel] | None, dict[int, Any], Any]] = {
    ("post", "/token"): (
        m.TokenForm,
        {200: m.TokenResponse, 400: _E, 401: _E, 429: _E, 503: _E},
        _CLIENT,
    ),
    ("post", "/revoke"): (m.RevokeForm, {200: None, 400: _E, 401: _E, 429: _E}, _CLIENT),
    ("post", "/introspect"): (
        m.IntrospectForm,
        {200: m.IntrospectionResponse, 400: _E, 401: _E, 429: _E},
        _CONFIDENTIAL,
    ),
    ("post", "/logout"): (m.LogoutForm, {204: None, 400: _E, 401: _E}, [*_BEARER, {}]),
    ("get", "/sessions"): (None, {200: m.SessionsResponse, 400: _E, 401: _E}, _BEARER),
    ("delete", "/sessions/{sid}"): (None, {204: None, 400: _E, 401: _E, 404: _E}, _BEARER),
    ("get", "/.well-known/jwks.json"): (None, {200: m.JWKSetResponse}, None),
    ("get", "/.well-known/oauth-authorization-server"): (None, {200: m.MetadataResponse}, None),
    ("get", "/.well-known/openid-configuration"): (None, {200: m.MetadataResponse}, None),
    ("get", "/userinfo"): (None, {200: m.UserinfoResponse, 401: _E, 403: _E}, _BEARER),
    ("post", "/userinfo"): (None, {200: m.UserinfoResponse, 401: _E, 403: _E}, _BEARER),
    ("post", "/par"): (None, {201: m.PushedAuthorizationResponse, 400: _E, 401: _E}, _CLIENT),
    ("get", "/healthz"): (None, {200: m.HealthResponse}, None),
    ("get", "/readyz"): (None, {200: m.ReadinessResponse, 503: m.ReadinessResponse}, None),
    ("get", "/metrics"): (None, {200: "text", 401: _E, 404: _E}, [{"metricsToken": []}, {}]),
    ("get", "/revocations/events"): (
        None,
        {200: m.RevocationEventsResponse, 400: _E, 401: _E, 429: _E},
        _CONFIDENTIAL,
    ),
    ("get", "/revocations/snapshot"): (
        None,
        {200: m.RevocationSnapshotResponse, 400: _E, 401: _E, 429: _E},
        _CONFIDENTIAL,
    ),
}

_SECURITY_SCHEMES = {
    "clientBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "Client authentication (client_secret_basic, RFC 6749 §2.3.1): the "
        "client id and secret.",
    },
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token of this service (RFC 6750 §2.1).",
    },
    "metricsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The metrics_token setting, when /metrics is enabled with one.",
    },
}


def _ref(model: type[BaseModel], components: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, sub in schema.pop("$defs", {}).items():
        components.setdefault(name, sub)
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _response(kind: Any, components: dict[str, Any], status: int) -> dict[str, Any]:
    if kind is None:
        return {"description": "No body."}
    if kind == "text":
        return {"description": "Prometheus text format.", "content": {"text/plain": {}}}
    doc = (kind.__doc__ or "").strip().splitlines()[0] if status < 400 else "An OAuth error."
    media = "application/jwk-set+json" if kind is m.JWKSetResponse else "application/json"
    return {"description": doc, "content": {media: {"schema": _ref(kind, components)}}}


def _openapi_30(node: Any) -> Any:
    """Rewrite OpenAPI 3.1 nullables (``anyOf: [X, {type: null}]``) as 3.0's ``nullable``, for
    the bundled Swagger UI (4.x reads 3.0 documents)."""
    if isinstance(node, list):
        return [_openapi_30(item) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _openapi_30(value) for key, value in node.items()}
    options = node.get("anyOf")
    if isinstance(options, list) and {"type": "null"} in options:
        rest = [o for o in options if o != {"type": "null"}]
        node.pop("anyOf")
        if len(rest) == 1:
            node = {**rest[0], **node, "nullable": True}
        else:
            node = {**node, "anyOf": rest, "nullable": True}
    if node.get("type") == "null":
        node = {key: value for key, value in node.items() if key != "type"}
        node["nullable"] = True
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if "examples" in node and isinstance(node["examples"], list):
        node["example"] = node.pop("examples")[0] if node["examples"] else None
    return node


def describe_api(app: FastAPI) -> None:
    """Complete ``app``'s OpenAPI document: the typed form of every form endpoint, a response
    model for each status it answers, every error as :class:`~jwtkit.server.schemas.
    ErrorResponse` (never FastAPI's ``detail`` shape, which the service does not send), and the
    security schemes (HTTP Basic for clients, Bearer for access tokens) that give Swagger UI
    its Authorize button. The document is OpenAPI 3.0.3, which the bundled Swagger UI reads."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        spec = build()
        components = spec.setdefault("components", {})
        schemas = components.setdefault("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        components["securitySchemes"] = _SECURITY_SCHEMES
        error = _response(m.ErrorResponse, schemas, 400)
        for path, operations in spec.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                described = OPERATIONS.get((method, path))
                if described is None:  # an endpoint added later: at least its errors
                    responses.setdefault("default", error)
                    continue
                form, by_status, security = described
                if form is not None:
                    body = {"schema": _ref(form, schemas)}
                    operation["requestBody"] = {
                        "required": form is not m.LogoutForm,
                        "content": {"application/x-www-form-urlencoded": body},
                    }
                for status, kind in by_status.items():
                    responses[str(status)] = _response(kind, schemas, status)
                if not any(str(code).startswith("2") for code in by_status):
                    responses.pop("200", None)
                for code in list(responses):
                    if code.startswith("2") and int(code) not in by_status:
                        del responses[code]
                responses.setdefault("default", error)
                if security is not None:
                    operation["security"] = security
        spec = dict(_openapi_30(spec))
        spec["openapi"] = "3.0.3"
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


log = logging.getLogger("jwtkit.server")

#: Where the Swagger UI files are served from.
ASSETS_PATH = "/static/swagger-ui"


def swagger_ui_assets() -> Path | None:
    """The directory holding ``swagger-ui-bundle.js`` and ``swagger-ui.css`` (Path), or None
    when the ``swagger-ui-bundle`` package is not installed."""
    try:
        from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped, import-not-found, unused-ignore]
    except ImportError:
        return None
    return Path(str(swagger_ui_path))


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (Swagger UI, local assets) on ``app``; ``app`` must have been built with
    ``docs_url=None`` and ``redoc_url=None`` so FastAPI's CDN-based pages are not served. Without
    the assets package, ``/docs`` is not served (logged) rather than pointing at a CDN."""
    describe_api(app)
    assets = swagger_ui_assets()
    if assets is None or not (assets / "swagger-ui-bundle.js").is_file():
        log.warning("swagger-ui-bundle is not installed: /docs is not served")
        return
    app.mount(ASSETS_PATH, StaticFiles(directory=assets), name="swagger-ui")
    router = APIRouter()

    @router.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        """Swagger UI for this service's OpenAPI document (HTML, local assets only)."""
        return get_swagger_ui_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - API",
            swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
            swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
            swagger_ui_parameters={"persistAuthorization": False},
        )

    app.include_router(router)
