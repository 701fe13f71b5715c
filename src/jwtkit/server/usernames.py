"""User names: one canonical form per name, so lookalikes cannot become separate accounts.

:func:`normalize_username` is the PRECIS UsernameCaseMapped idea (RFC 8265 §3.3: width mapping,
case mapping, normalization, then the IdentifierClass's refusals) done as NFKC + Unicode case
folding + NFKC (``NFKC_Casefold``-like), with these refusals:

* control characters (Unicode Cc: C0, DEL, C1), format characters (Cf: zero-width space and
  joiners, bidi overrides and isolates, soft hyphen, BOM), surrogates, private-use and unassigned
  code points, and line/paragraph separators;
* leading or trailing whitespace, and an empty result; at most 255 characters.

It is applied when a user is added and on every lookup (login, admin commands). A name stored
before normalization existed keeps working: :func:`find_user` falls back to the exact stored
form when the canonical one is not found.
"""

from __future__ import annotations

import unicodedata
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jwtkit.store.records import UserRecord
    from jwtkit.store.sql import SQLStore

__all__ = ["MAX_USERNAME", "UsernameError", "find_user", "login_key", "normalize_username"]

MAX_USERNAME = 255
"""Most characters in a user name (after normalization)."""

_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


class UsernameError(ValueError):
    """A user name with a character or shape no account may have (see the module docstring)."""


def normalize_username(value: str) -> str:
    """Return the canonical form (str) of the user name ``value``.

    ``"Alice"``, ``"ALICE"``, ``"\\uff41lice"`` (fullwidth) and ``"alice"`` all give ``"alice"``;
    ``"e\\u0301"`` (NFD) and ``"\\u00e9"`` (NFC) give the same string.

    Raises:
        UsernameError: empty, longer than :data:`MAX_USERNAME`, leading/trailing whitespace, or
            a refused character (control, format, bidi, separator, unassigned...).
    """
    if not value:
        raise UsernameError("a user name cannot be empty")
    for c in value:
        if unicodedata.category(c) in _REFUSED_CATEGORIES:
            raise UsernameError(
                f"a user name cannot contain U+{ord(c):04X} ({unicodedata.category(c)}: "
                "control, format, bidi or unassigned characters)"
            )
    canonical = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", value).casefold())
    if canonical != canonical.strip() or value != value.strip():
        raise UsernameError("a user name cannot start or end with whitespace")
    if not canonical:
        raise UsernameError("a user name cannot be empty")
    if any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in canonical):
        raise UsernameError("a user name cannot contain control or format characters")
    if len(canonical) > MAX_USERNAME:
        raise UsernameError(f"a user name may have at most {MAX_USERNAME} characters")
    return canonical


def login_key(username: str) -> str:
    """The name failed-login counters use (str): the canonical form, or ``username`` as given
    when it is refused (it can match no new account, only a name stored before normalization)."""
    try:
        return normalize_username(username)
    except UsernameError:
        return username


def find_user(store: SQLStore, username: str) -> UserRecord | None:
    """The user a login or an admin command names: by the canonical form of ``username``, else
    (a name stored before normalization) by ``username`` exactly; None when neither exists or
    the name is refused by :func:`normalize_username` and not stored as given."""
    try:
        canonical: str | None = normalize_username(username)
    except UsernameError:
        canonical = None
    if canonical is not None:
        user = store.get_user(canonical)
        if user is not None:
            return user
    if canonical == username or len(username) > MAX_USERNAME:
        return None
    # Names were never stored with control characters or surrogates (and PostgreSQL text
    # cannot hold NUL): such a name cannot be a legacy one.
    if any(unicodedata.category(c) in ("Cc", "Cs") for c in username):
        return None
    return store.get_user(username)
