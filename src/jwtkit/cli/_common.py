"""Shared helpers for the ``jwtkit`` token and key commands.

* the exit-code table (:data:`EXIT_CODES`): one stable process exit code per
  :attr:`jwtkit.errors.JWTKitError.code`, documented in ``docs/cli.md`` and in
  ``jwtkit verify --help``;
* :func:`cli_errors`: a decorator that turns every :class:`~jwtkit.errors.JWTKitError`, ``OSError``
  and :class:`CLIError` into ONE line on stderr and the matching exit code (never a traceback);
* reading tokens, secrets and files (``-`` means stdin), loading keys from PEM, DER, JWK or JWK Set
  files, writing private key files with mode 0600, and JSON output.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

import typer

if TYPE_CHECKING:
    from jwtkit.jwk import Key, KeySet

__all__ = [
    "EXIT_CODES",
    "EXIT_ERROR",
    "EXIT_IO",
    "EXIT_OK",
    "EXIT_USAGE",
    "CLIError",
    "UsageError",
    "cli_errors",
    "exit_code_for",
    "exit_codes_help",
    "fail",
    "load_key_source",
    "load_single_key",
    "parse_key_bytes",
    "pick_key",
    "print_json",
    "read_input_bytes",
    "read_secret_stdin",
    "read_token",
    "run_app",
    "warn",
    "safe_json_text",
    "write_output",
]

P = ParamSpec("P")
R = TypeVar("R")

EXIT_OK = 0
"""The command succeeded (for ``verify``: the signature and every claim check passed)."""
EXIT_USAGE = 2
"""Bad command line: unknown option, missing argument, conflicting options (click's own code)."""
EXIT_IO = 3
"""A file or stdin could not be read, or an output file could not be written."""
EXIT_ERROR = 4
"""Any other jwtkit error (a code not in :data:`EXIT_CODES`)."""
MAX_INPUT_BYTES = 1 << 20
"""Cap on one file or stdin read (1 MiB): ``/dev/zero`` or an endless pipe cannot exhaust memory."""

#: Error code (``JWTKitError.code``) -> process exit code. Stable: scripts depend on them.
#: The tens digit is the family: 1x token format, 2x algorithm/type policy, 3x keys, 4x claims,
#: 5x revocation,
#: 6x proof of possession (DPoP); 1 is kept for the commonest failure, a bad signature.
EXIT_CODES: Mapping[str, int] = {
    "invalid_signature": 1,
    "malformed": 10,
    "token_too_large": 11,
    "unsupported_crit": 12,
    "decryption_failed": 13,
    "limit_exceeded": 14,
    "unsupported_algorithm": 20,
    "alg_not_allowed": 21,
    "invalid_typ": 22,
    "invalid_key": 30,
    "weak_key": 31,
    "key_mismatch": 32,
    "key_not_found": 33,
    "jwks_fetch_failed": 34,
    "expired": 40,
    "not_yet_valid": 41,
    "iat_in_future": 42,
    "invalid_audience": 43,
    "invalid_issuer": 44,
    "missing_claim": 45,
    "invalid_claim": 46,
    "revoked": 50,
    "revocation_unavailable": 51,
    "invalid_dpop_proof": 60,
    "use_dpop_nonce": 61,
}

_OTHER_ROWS: tuple[tuple[int, str, str], ...] = (
    (EXIT_OK, "ok", "success (verify: signature and claims valid)"),
    (EXIT_USAGE, "usage", "bad command line (unknown option, missing or conflicting arguments)"),
    (EXIT_IO, "io_error", "a file or stdin could not be read, or an output file written"),
    (EXIT_ERROR, "error", "any other jwtkit error"),
)


def exit_code_for(code: str) -> int:
    """Return the process exit code (int) for a jwtkit error ``code`` (str); unknown -> 4."""
    return EXIT_CODES.get(code, EXIT_ERROR)


def exit_codes_help() -> str:
    """Return the exit-code table as plain text lines (str), for ``--help`` epilogs."""
    rows = sorted(
        [(n, c) for n, c, _ in _OTHER_ROWS] + [(n, c) for c, n in EXIT_CODES.items()],
    )
    return "Exit codes:\n" + "\n".join(f"  {n:>3}  {c}" for n, c in rows)


class CLIError(Exception):
    """An error the command line reports itself (not from the jwtkit core).

    Attributes:
        code: short snake_case label printed before the message (str).
        exit_code: the process exit code (int).
    """

    def __init__(self, message: str, *, code: str = "error", exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.exit_code = exit_code


class UsageError(CLIError):
    """Conflicting or missing options that click cannot detect by itself (exit code 2)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, code="usage", exit_code=EXIT_USAGE)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def fail(code: str, message: str, exit_code: int) -> typer.Exit:
    """Print ``jwtkit: CODE: MESSAGE`` as one line on stderr and return the ``typer.Exit`` to raise.

    Args:
        code: the error code (str), e.g. ``"expired"``.
        message: human-readable message (str); newlines are folded into spaces.
        exit_code: the process exit code (int).

    Returns:
        ``typer.Exit(exit_code)`` (raise it).
    """
    sys.stderr.write(f"jwtkit: {code}: {_one_line(message)}\n")
    sys.stderr.flush()
    return typer.Exit(exit_code)


def warn(message: str) -> None:
    """Print ``jwtkit: warning: MESSAGE`` as one line on stderr: the command goes on, but an
    option makes the result less safe than it looks (issue 15.9)."""
    sys.stderr.write(f"jwtkit: warning: {_one_line(message)}\n")
    sys.stderr.flush()


def _os_error_message(exc: OSError) -> str:
    reason = exc.strerror or exc.__class__.__name__
    if exc.filename is not None:
        return f"{exc.filename}: {reason}"
    return reason


def cli_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a typer command so that errors become one stderr line and an exit code.

    Catches :class:`jwtkit.errors.JWTKitError` (exit code from :data:`EXIT_CODES`),
    :class:`CLIError`, ``OSError`` (exit 3), ``UnicodeDecodeError`` (input is not UTF-8, exit 3)
    and ``KeyboardInterrupt`` (exit 130). The message never contains the input itself, so a secret
    read from stdin is never echoed.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        from jwtkit.errors import JWTKitError

        try:
            return func(*args, **kwargs)
        except JWTKitError as exc:
            raise fail(exc.code, exc.message, exit_code_for(exc.code)) from None
        except CLIError as exc:
            raise fail(exc.code, exc.message, exc.exit_code) from None
        except UnicodeDecodeError:
            raise fail("io_error", "input is not valid UTF-8 text", EXIT_IO) from None
        except OSError as exc:
            raise fail("io_error", _os_error_message(exc), EXIT_IO) from None
        except KeyboardInterrupt:
            raise fail("interrupted", "interrupted", 130) from None

    return wrapper


# ---------------------------------------------------------------------------------------- input


def read_input_bytes(path: str, *, what: str = "input") -> bytes:
    """Read a whole file, or stdin when ``path`` is ``-``.

    Args:
        path: a file path (str) or ``"-"``.
        what: what is being read, for error messages (str).

    Returns:
        The content (bytes).

    Raises:
        OSError: the file cannot be read.
        CLIError: the input is empty, or larger than :data:`MAX_INPUT_BYTES` (exit 3).
    """
    if path == "-":
        data = _stdin_bytes()
        name = "stdin"
    else:
        with open(path, "rb") as fh:
            data = fh.read(MAX_INPUT_BYTES + 1)
        name = path
    if len(data) > MAX_INPUT_BYTES:
        raise CLIError(
            f"{name}: {what} is larger than {MAX_INPUT_BYTES} bytes",
            code="io_error",
            exit_code=EXIT_IO,
        )
    if not data.strip():
        raise CLIError(f"{name}: {what} is empty", code="io_error", exit_code=EXIT_IO)
    return data


def _stdin_bytes() -> bytes:
    # At most MAX_INPUT_BYTES + 1 bytes: callers report anything longer as too large.
    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is not None:
        return bytes(buffer.read(MAX_INPUT_BYTES + 1))
    return sys.stdin.read(MAX_INPUT_BYTES + 1).encode("utf-8")


_BEARER = re.compile(r"^\s*bearer\s+", re.IGNORECASE)


def read_token(token: str) -> str:
    """Return the compact token given on the command line, or read from stdin when it is ``-``.

    Surrounding whitespace and a leading ``Bearer`` (as copied from an ``Authorization`` header,
    RFC 6750 §2.1) are removed.

    Raises:
        CLIError: no token was given (exit 3 for empty stdin, 2 for an empty argument).
        jwtkit.errors.TokenTooLargeError: stdin holds more than :data:`MAX_INPUT_BYTES`.
        jwtkit.errors.MalformedError: the text has no ``.`` at all, so it is no JWS or JWE
            compact serialization (RFC 7515 §7.1, RFC 7516 §7.1): an opaque token such as a
            refresh token, said in those words.
    """
    if token == "-":
        data = _stdin_bytes()
        if len(data) > MAX_INPUT_BYTES:
            from jwtkit.errors import TokenTooLargeError

            raise TokenTooLargeError(f"the token on stdin is larger than {MAX_INPUT_BYTES} bytes")
        if not data.strip():
            raise CLIError("stdin: token is empty", code="io_error", exit_code=EXIT_IO)
        text = data.decode("utf-8")
    else:
        text = token
    text = _BEARER.sub("", text).strip()
    if not text:
        raise UsageError("the token is empty")
    if "." not in text:
        from jwtkit.errors import MalformedError

        raise MalformedError(
            "this is not a JWT (an opaque token?): a JWT has 3 (JWS) or 5 (JWE) parts "
            "separated by '.'"
        )
    return text


def read_secret_stdin() -> bytes:
    """Read an HMAC secret from stdin without echoing it.

    When stdin is a terminal the user is prompted with hidden input; otherwise the whole of stdin is
    read and ONE trailing newline (``\\n`` or ``\\r\\n``, as added by ``echo``) is removed.

    Returns:
        The secret (bytes), never printed anywhere.

    Raises:
        CLIError: the secret is empty (exit 3).
    """
    if sys.stdin.isatty():  # pragma: no cover - needs a terminal
        import getpass

        secret = getpass.getpass("secret: ").encode("utf-8")
    else:
        secret = _stdin_bytes()
        if len(secret) > MAX_INPUT_BYTES:
            raise CLIError(
                f"the secret read from stdin is larger than {MAX_INPUT_BYTES} bytes",
                code="io_error",
                exit_code=EXIT_IO,
            )
        if secret.endswith(b"\r\n"):
            secret = secret[:-2]
        elif secret.endswith(b"\n"):
            secret = secret[:-1]
    if not secret:
        raise CLIError("the secret read from stdin is empty", code="io_error", exit_code=EXIT_IO)
    return secret


# ----------------------------------------------------------------------------------------- keys


def parse_key_bytes(data: bytes, *, source: str = "key") -> Key | KeySet:
    """Import key material in any format the CLI accepts.

    Args:
        data: the file content (bytes): PEM (SPKI, PKCS#1, PKCS#8, SEC1, X.509 certificate), a JWK
            (JSON object, RFC 7517 §4), a JWK Set (``{"keys": [...]}``, RFC 7517 §5) or DER.
        source: where it came from, for error messages (str).

    Returns:
        A :class:`jwtkit.Key`, or a :class:`jwtkit.KeySet` for a JWK Set.

    Raises:
        jwtkit.errors.InvalidKeyError: the content is not a key in a supported format.
    """
    from jwtkit.errors import InvalidKeyError
    from jwtkit.jwk import Key, KeySet

    stripped = data.strip()
    if stripped.startswith(b"-----BEGIN"):
        if b"ENCRYPTED" in stripped.split(b"\n", 1)[0]:
            raise InvalidKeyError(
                f"{source}: encrypted PEM keys are not supported; decrypt it first"
            )
        return Key.from_pem(stripped)
    if stripped.startswith(b"{"):
        try:
            obj = json.loads(stripped.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            raise InvalidKeyError(f"{source}: not valid JSON") from None
        if not isinstance(obj, dict):
            raise InvalidKeyError(f"{source}: a JWK must be a JSON object")
        if "keys" in obj:
            return KeySet.from_jwks(stripped)
        return Key.from_jwk(stripped)
    if stripped[:1] == b"\x30":  # ASN.1 SEQUENCE: DER
        return Key.from_der(data)
    raise InvalidKeyError(f"{source}: not a PEM, DER, JWK or JWK Set key file")


def load_key_source(path: str) -> Key | KeySet:
    """Read and import a key file (``-`` for stdin); see :func:`parse_key_bytes` for formats.

    Raises:
        OSError: the file cannot be read.
        jwtkit.errors.InvalidKeyError: the content is not a supported key.
    """
    data = read_input_bytes(path, what="key file")
    return parse_key_bytes(data, source="stdin" if path == "-" else path)


def load_single_key(path: str, *, kid: str | None = None) -> Key:
    """Load one key from a file; from a JWK Set pick the key ``kid``, or the only key in it.

    Raises:
        OSError: the file cannot be read.
        jwtkit.errors.InvalidKeyError: not a key.
        jwtkit.errors.KeyNotFoundError: the JWK Set has no key ``kid`` or more than one key.
    """
    return pick_key(load_key_source(path), path, kid=kid)


def pick_key(source: Key | KeySet, path: str, *, kid: str | None = None) -> Key:
    """Return ``source`` if it is a key; from a JWK Set the key ``kid``, or its only key.

    Args:
        source: a parsed key or JWK Set.
        path: where it came from, for error messages (str).
        kid: the key ID to pick from a JWK Set (str) or None.

    Raises:
        jwtkit.errors.KeyNotFoundError: the JWK Set has no key ``kid`` or not exactly one key.
    """
    from jwtkit.errors import KeyNotFoundError
    from jwtkit.jwk import KeySet

    if not isinstance(source, KeySet):
        return source
    if kid is not None:
        found = source.get(kid)
        if found is None:
            raise KeyNotFoundError(f"{path}: the JWK Set has no key with kid {kid!r}")
        return found
    if len(source) != 1:
        raise KeyNotFoundError(f"{path}: the JWK Set holds {len(source)} keys; pick one by its kid")
    return source.keys[0]


# --------------------------------------------------------------------------------------- output


# C1 controls (U+009B is an 8-bit CSI), DEL, bidi overrides and line separators: a token's
# strings may carry them to rewrite or hide what the terminal shows. json.dumps escapes C0 only.
_UNSAFE_CHARS = re.compile("[\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")


def safe_json_text(obj: Any) -> str:
    """Return ``obj`` as indented JSON text (str) with terminal-unsafe characters escaped.

    Non-ASCII text stays readable; control, bidi-override and line-separator characters (which can
    only occur inside JSON strings) become ``\\uXXXX`` escapes, so the JSON means the same.
    """
    text = json.dumps(obj, indent=2, ensure_ascii=False)
    return _UNSAFE_CHARS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def print_json(obj: Any) -> None:
    """Write ``obj`` to stdout as indented UTF-8 JSON followed by a newline (see
    :func:`safe_json_text`)."""
    sys.stdout.write(safe_json_text(obj) + "\n")
    sys.stdout.flush()


def write_output(data: bytes, out: str | None, *, private: bool, force: bool = False) -> None:
    """Write ``data`` to the file ``out``, or to stdout when ``out`` is ``None`` or ``-``.

    Files holding private key material are created with mode 0600 (and an existing file's mode is
    reset to 0600 before writing); other files with the usual umask-based mode.

    Args:
        data: what to write (bytes).
        out: the output path (str) or ``None``/``"-"`` for stdout.
        private: whether ``data`` holds secret material (bool).
        force: overwrite an existing file (bool); without it an existing file is an error.

    Raises:
        OSError: the file exists (and ``force`` is false) or cannot be written.
    """
    if out is None or out == "-":
        buffer = getattr(sys.stdout, "buffer", None)
        sys.stdout.flush()
        if buffer is not None:
            buffer.write(data)
            buffer.flush()
        else:  # pragma: no cover - text-only stdout
            sys.stdout.write(data.decode("utf-8"))
            sys.stdout.flush()
        return
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    mode = 0o600 if private else 0o644
    try:
        fd = os.open(out, flags, mode)
    except FileExistsError:
        raise CLIError(
            f"{out}: file exists (use --force to overwrite)", code="io_error", exit_code=EXIT_IO
        ) from None
    try:
        if private:
            os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fd = -1
            fh.write(data)
    finally:
        if fd != -1:
            os.close(fd)


# ------------------------------------------------------------------------------------------ run


def run_app(app: typer.Typer, argv: list[str] | None = None) -> int:
    """Run the ``jwtkit`` app and return its exit code, reporting command-line errors on one line.

    typer/click would print a usage error as a framed block; here it becomes
    ``jwtkit: usage: MESSAGE (see 'jwtkit CMD --help')`` on stderr with exit code 2, like every
    other jwtkit error. ``--help`` and normal runs behave as usual.

    Args:
        app: the typer application (from :func:`jwtkit.cli.app.build_app`).
        argv: arguments without the program name (list of str); ``None`` means ``sys.argv[1:]``.

    Returns:
        The process exit code (int).
    """
    try:
        rv = app(args=argv, prog_name="jwtkit", standalone_mode=False)
    except typer.Abort:
        sys.stderr.write("jwtkit: interrupted: interrupted\n")
        return 130
    except typer.Exit as exc:  # pragma: no cover - typer returns these in non-standalone mode
        return int(exc.exit_code)
    except typer.TyperException as exc:  # click's own errors (typer vendors click)
        exit_code = int(getattr(exc, "exit_code", EXIT_ERROR))
        if type(exc).__name__ == "NoArgsIsHelpError":  # typer has already printed the help
            return exit_code
        fmt = getattr(exc, "format_message", None)
        message = fmt() if callable(fmt) else str(exc)
        ctx = getattr(exc, "ctx", None)
        hint = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
        label = "usage" if exit_code == EXIT_USAGE else "error"
        sys.stderr.write(f"jwtkit: {label}: {_one_line(message)}{hint}\n")
        return exit_code
    return rv if isinstance(rv, int) else EXIT_OK
