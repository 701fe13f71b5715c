"""The jwtkit token service: an OAuth 2.0 server issuing RFC 9068 JWT access tokens.

Build it with :func:`create_app` (FastAPI) and serve it with uvicorn (``jwtkit serve``).
Needs the ``server`` extra: ``pip install 'jwtkit[server]'``. Names are imported lazily, so the
admin CLI does not load the web stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jwtkit.server.app import create_app
    from jwtkit.server.runtime import Services, build_services
    from jwtkit.server.settings import Settings, load_settings

__all__ = ["Services", "Settings", "build_services", "create_app", "load_settings"]

_WHERE = {
    "create_app": "jwtkit.server.app",
    "Services": "jwtkit.server.runtime",
    "build_services": "jwtkit.server.runtime",
    "Settings": "jwtkit.server.settings",
    "load_settings": "jwtkit.server.settings",
}


def __getattr__(name: str) -> Any:
    """Import the public names on first use (PEP 562)."""
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'jwtkit.server' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
