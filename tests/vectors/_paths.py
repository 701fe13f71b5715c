"""Where the shared JOSE test vectors live.

The project expects ``../shared/vectors`` beside its root (CI clones the repository with ``shared/``
next to it). ``/work/shared/vectors`` is the fallback on the development machine. When neither
exists the vector tests fail at collection: missing vectors must never turn into skipped tests.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
_CANDIDATES = (PROJECT_ROOT / ".." / "shared" / "vectors", Path("/work/shared/vectors"))


def _find() -> Path:
    for candidate in _CANDIDATES:
        if (candidate / "rfc7520").is_dir() and (candidate / "wycheproof").is_dir():
            return candidate.resolve()
    tried = ", ".join(str(c) for c in _CANDIDATES)
    raise RuntimeError(f"JOSE test vectors not found (tried {tried})")


VECTORS: Path = _find()
