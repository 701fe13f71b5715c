"""Audit events as structured (JSON) log lines on the ``jwtkit.audit`` logger.

Events: ``login_succeeded``, ``login_failed``, ``login_rate_limited``, ``token_issued``,
``refresh_reuse``, ``revocation``, ``logout``, ``key_rotated``, ``key_promoted``, and the admin
actions (``user_added``, ``user_disabled``, ``user_enabled``, ``user_deleted``,
``user_scope_set``, ``password_set``, ``client_added``, ``client_updated``,
``client_secret_rotated``, ``client_removed``, ``session_revoked``, ``user_sessions_revoked``).
Fields are identifiers only (username, sub, client_id, sid, jti, kid, client address); no token,
secret or password is ever passed in, and :func:`audit` drops any field whose name suggests one.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

__all__ = ["AUDIT_LOGGER", "JSONFormatter", "audit"]

AUDIT_LOGGER = logging.getLogger("jwtkit.audit")
_FORBIDDEN = ("token", "secret", "password", "authorization", "assertion")


def audit(event: str, **fields: Any) -> None:
    """Log one audit event as a JSON object ``{"ts", "event", ...fields}`` at INFO.

    Fields named like a credential (``*token*`` except ``token_type_hint``, ``*secret*``,
    ``*password*``) are dropped, as a guard.
    """
    record: dict[str, Any] = {"ts": round(time.time(), 3), "event": event}
    for name, value in fields.items():
        lowered = name.lower()
        if lowered != "token_type_hint" and any(word in lowered for word in _FORBIDDEN):
            continue
        if value is not None:
            record[name] = value
    AUDIT_LOGGER.info(json.dumps(record, separators=(",", ":"), sort_keys=False))


class JSONFormatter(logging.Formatter):
    """Formats non-audit records as JSON lines too: ``{"ts","level","logger","msg"}``."""

    def format(self, record: logging.LogRecord) -> str:
        """Return the record as one JSON line (str); audit records pass through unchanged."""
        if record.name == AUDIT_LOGGER.name:
            return record.getMessage()
        out: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, separators=(",", ":"))
