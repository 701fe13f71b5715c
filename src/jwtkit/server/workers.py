"""``jwtkit serve --workers N``: the ASGI app factory each uvicorn worker process calls.

The parent process validates the settings, runs the migrations and creates the first signing
key once, then hands the settings to the workers in one environment variable
(:data:`SETTINGS_ENV`, JSON, secrets included: the environment of a process is readable only by
its user and root). State that must be shared between workers goes through the database
(revocations, sessions, keys) or Redis (rate limits), so more than one worker needs
``redis_url``.
"""

from __future__ import annotations

import ctypes
import gc
import json
import multiprocessing
import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from jwtkit.server.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["SETTINGS_ENV", "app_factory", "exit_with_supervisor", "settings_to_env"]

SETTINGS_ENV = "JWTKIT__WORKER_SETTINGS"
"""Environment variable carrying the parent's settings (JSON object) to the workers."""


def _plain(value: Any) -> Any:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Path):
        return str(value)
    return value


def settings_to_env(settings: Settings) -> str:
    """The JSON text (str) of ``settings``, secrets revealed, for :data:`SETTINGS_ENV`.

    Raises:
        ValueError: ``workers`` > 1 without ``redis_url`` (the rate limits would be per process,
            so each worker would allow the full number of failed logins).
    """
    if settings.workers > 1 and not settings.redis_url:
        raise ValueError(
            "--workers > 1 needs --redis-url: failed-login and client-auth limits must be "
            "shared between the worker processes"
        )
    return json.dumps({k: _plain(v) for k, v in settings.model_dump().items()})


def app_factory() -> FastAPI:
    """Build one worker's app from :data:`SETTINGS_ENV` (uvicorn ``factory=True``).

    Raises:
        RuntimeError: the variable is missing (not started by ``jwtkit serve --workers``).
    """
    from jwtkit.server.app import create_app

    raw = os.environ.get(SETTINGS_ENV)
    if raw is None:
        raise RuntimeError(f"{SETTINGS_ENV} is not set; start workers with jwtkit serve")
    exit_with_supervisor()
    app = create_app(Settings(**json.loads(raw)))
    gc.collect()
    gc.freeze()  # as jwtkit serve does: full collections scan only what requests made
    return app


def exit_with_supervisor() -> None:
    """Have the kernel send this worker ``SIGTERM`` when the process that started it dies
    (Linux ``prctl(PR_SET_PDEATHSIG)``), so a supervisor killed outright (``SIGKILL``, the OOM
    killer) leaves no orphaned worker serving on its port; a worker whose parent is no longer
    the process that started it stops at once. Elsewhere (or without libc's ``prctl``) it
    does nothing.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return
    parent = multiprocessing.parent_process()
    if parent is not None and os.getppid() != parent.pid:
        # The supervisor died before the prctl took effect (this worker was re-parented; the
        # supervisor itself may well be PID 1, in a container).
        os.kill(os.getpid(), signal.SIGTERM)


_PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
