"""Scope policy (RFC 6749 §3.3): what a request may be granted."""

from __future__ import annotations

from jwtkit.server.oauth import InvalidScope

__all__ = ["grant_scope"]


def grant_scope(requested: str | None, *allowed: str) -> str:
    """The scope to grant (space-separated str): the request's, which must lie within every
    ``allowed`` set (each a space-separated str), else their intersection (RFC 6749 §3.3).

    Raises:
        InvalidScope: a malformed scope token or one beyond ``allowed``.
    """
    sets = [set(a.split()) for a in allowed]
    ceiling = set.intersection(*sets) if sets else set()
    if requested is None:
        return " ".join(sorted(ceiling))
    wanted = requested.split()
    if not all(s.isprintable() and '"' not in s and "\\" not in s for s in wanted):
        raise InvalidScope("malformed scope")
    extra = [s for s in wanted if s not in ceiling]
    if extra:
        raise InvalidScope(f"scope not allowed: {' '.join(sorted(extra))}")
    return " ".join(dict.fromkeys(wanted))
