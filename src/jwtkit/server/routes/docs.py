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

from fastapi import APIRouter, FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from starlette.staticfiles import StaticFiles

__all__ = ["ASSETS_PATH", "install_docs", "swagger_ui_assets"]

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
