"""``jwtkit encrypt`` and ``jwtkit decrypt``: JWE (RFC 7516) from the command line.

* ``encrypt`` reads a file (or stdin) and prints a compact JWE (RFC 7516 §7.1), or JWE JSON with
  ``--json`` (flattened, RFC 7516 §7.2.2), for the recipient's public key, a shared secret or a
  password (PBES2).
* ``decrypt`` takes a compact JWE or JWE JSON and writes the plaintext to stdout or ``--out``. The
  ``--alg`` and ``--enc`` allow-lists are required, ``zip`` is refused unless ``--zip``, and RSA1_5
  needs ``--allow-rsa1-5``, as in :func:`jwtkit.jwe.decrypt`. Errors exit with the code of their
  ``JWTKitError`` (``decryption_failed`` 13, ``limit_exceeded`` 14; see ``jwtkit verify --help``).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from jwtkit.cli._common import (
    UsageError,
    cli_errors,
    load_key_source,
    load_single_key,
    read_input_bytes,
    read_secret_stdin,
    read_token,
    safe_json_text,
    warn,
    write_output,
)

if TYPE_CHECKING:
    from jwtkit.jwk import Key, KeySet

__all__ = ["register"]

_ENCRYPT_EPILOG = """Examples:

  $ jwtkit encrypt secret.txt -k recipient-public.jwk -a ECDH-ES+A256KW -e A256GCM
  $ echo -n hello | jwtkit encrypt -k rsa-public.pem -a RSA-OAEP-256 -e A256GCM
  $ echo -n "$PASSWORD" | jwtkit encrypt data.bin --password-stdin -a PBES2-HS512+A256KW -e A256GCM

Key management (-a): RSA-OAEP, RSA-OAEP-256/384/512, A128KW/A192KW/A256KW,
A128GCMKW/A192GCMKW/A256GCMKW, dir, ECDH-ES, ECDH-ES+A128KW/A192KW/A256KW,
PBES2-HS256+A128KW/HS384+A192KW/HS512+A256KW. Content (-e): A128GCM/A192GCM/A256GCM,
A128CBC-HS256/A192CBC-HS384/A256CBC-HS512. The token is printed on stdout."""

_DECRYPT_EPILOG = """Examples:

  $ jwtkit decrypt "$JWE" -k private.jwk -a ECDH-ES+A256KW -e A256GCM
  $ jwtkit decrypt - -k keys.jwks -a RSA-OAEP-256 -e A256GCM --out secret.txt < token.txt
  $ echo -n "$PASSWORD" | jwtkit decrypt "$JWE" --password-stdin -a PBES2-HS512+A256KW -e A256GCM

The plaintext goes to stdout (raw bytes) or --out; --show-header prints the JOSE header
on stderr. Exit codes: 0 decrypted, 13 decryption_failed, 14 limit_exceeded, 21 alg_not_allowed,
3x key problems (table in 'jwtkit verify --help')."""


def _read_token_text(token: str) -> str | dict[str, Any]:
    text = token
    if token == "-":
        text = read_input_bytes("-", what="token").decode("utf-8").strip()
    if text.lstrip().startswith("{"):  # JWE JSON (RFC 7516 §7.2), parsed strictly by jwe
        return text.strip()
    return read_token(text)


def _secret_or_key(key: str | None, password_stdin: bool, kid: str | None) -> Key | KeySet | bytes:
    if (key is None) == (not password_stdin):
        raise UsageError("give exactly one of --key, --password-stdin")
    if password_stdin:
        return read_secret_stdin()
    assert key is not None
    return load_key_source(key) if kid is None else load_single_key(key, kid=kid)


@cli_errors
def encrypt(
    input_file: Annotated[
        str, typer.Argument(metavar="INPUT", help="The plaintext file; - for stdin.")
    ] = "-",
    key: Annotated[
        str | None,
        typer.Option(
            "--key", "-k", metavar="FILE", help="Recipient key file: PEM, DER, JWK, JWK Set."
        ),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read a PBES2 password or oct secret from stdin."),
    ] = False,
    alg: Annotated[str, typer.Option("--alg", "-a", help="Key management algorithm.")] = "",
    enc: Annotated[str, typer.Option("--enc", "-e", help="Content encryption algorithm.")] = "",
    zip_: Annotated[bool, typer.Option("--zip", help="Compress with DEFLATE first.")] = False,
    kid: Annotated[
        str | None, typer.Option("--kid", help="Pick this key from a JWK Set (and name it).")
    ] = None,
    typ: Annotated[str | None, typer.Option("--typ", help="The 'typ' header.")] = None,
    cty: Annotated[str | None, typer.Option("--cty", help="The 'cty' header, e.g. JWT.")] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print flattened JWE JSON instead of compact.")
    ] = False,
    allow_weak_key: Annotated[
        bool, typer.Option("--allow-weak-key", help="Accept an RSA key under 2048 bits.")
    ] = False,
) -> None:
    """Encrypt INPUT to a JWE for the recipient's key, secret or password; print it."""
    from jwtkit import Key, jwe
    from jwtkit.jwk import KeySet

    if not alg or not enc:
        raise UsageError("name the algorithms: --alg and --enc")
    if input_file == "-" and (password_stdin or key == "-"):
        raise UsageError("only one of the input, the key and the password can come from stdin")
    plaintext = read_input_bytes(input_file, what="input")
    source = _secret_or_key(key, password_stdin, kid)
    recipient: Key | bytes
    if isinstance(source, KeySet):
        if len(source) != 1:
            raise UsageError("the JWK Set holds several keys: pick one with --kid")
        recipient = source.keys[0]
    else:
        recipient = source
    if isinstance(recipient, bytes):
        recipient = Key.from_secret(recipient)
    headers: dict[str, Any] = {}
    if typ is not None:
        headers["typ"] = typ
    if cty is not None:
        headers["cty"] = cty
    if kid is not None:
        headers["kid"] = kid
    if allow_weak_key:
        warn("--allow-weak-key: encrypting to an RSA key under 2048 bits")
    compression = "DEF" if zip_ else None
    if as_json:
        out = jwe.encrypt_json(
            plaintext,
            [(recipient, alg)],
            enc,
            protected=headers or None,
            compression=compression,
            flattened=True,
            allow_weak_keys=allow_weak_key,
        )
        sys.stdout.write(json.dumps(out) + "\n")
    else:
        token = jwe.encrypt(
            plaintext,
            recipient,
            alg,
            enc,
            compression=compression,
            headers=headers or None,
            allow_weak_keys=allow_weak_key,
        )
        sys.stdout.write(token + "\n")
    sys.stdout.flush()


@cli_errors
def decrypt(
    token: Annotated[
        str, typer.Argument(help="The JWE (compact or JSON); - to read it from stdin.")
    ],
    key: Annotated[
        str | None,
        typer.Option(
            "--key", "-k", metavar="FILE", help="Private key file: PEM, DER, JWK, JWK Set."
        ),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Read a PBES2 password or oct secret from stdin."),
    ] = False,
    alg: Annotated[
        list[str] | None,
        typer.Option("--alg", "-a", help="An allowed key management alg (repeatable; required)."),
    ] = None,
    enc: Annotated[
        list[str] | None,
        typer.Option(
            "--enc", "-e", help="An allowed content encryption enc (repeatable; required)."
        ),
    ] = None,
    zip_: Annotated[
        bool, typer.Option("--zip", help="Allow zip: DEF (inflation is capped).")
    ] = False,
    kid: Annotated[str | None, typer.Option("--kid", help="Use this key of a JWK Set.")] = None,
    allow_rsa1_5: Annotated[
        bool,
        typer.Option("--allow-rsa1-5", help="Allow legacy RSA1_5 (list it in --alg)."),
    ] = False,
    out: Annotated[
        str | None, typer.Option("--out", "-o", metavar="FILE", help="Write the plaintext here.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")] = False,
    show_header: Annotated[
        bool, typer.Option("--show-header", help="Print the JOSE header as JSON on stderr.")
    ] = False,
) -> None:
    """Decrypt a JWE with a private key, secret or password; write the plaintext."""
    from jwtkit import jwe

    if not alg or not enc:
        raise UsageError("name the algorithms you accept: --alg and --enc (none are assumed)")
    if token == "-" and (password_stdin or key == "-"):
        raise UsageError("only one of the token, the key and the password can come from stdin")
    text = _read_token_text(token)
    source = _secret_or_key(key, password_stdin, kid)
    if allow_rsa1_5:
        warn("--allow-rsa1-5: RSA1_5 is a legacy algorithm (RFC 8725 §3.2)")
    result = jwe.decrypt_detailed(
        text,
        source,
        alg,
        enc,
        compression_algorithms=["DEF"] if zip_ else [],
        allow_rsa1_5=allow_rsa1_5,
    )
    if show_header:
        sys.stderr.write(safe_json_text(result.header) + "\n")
        sys.stderr.flush()
    write_output(result.plaintext, out, private=True, force=force)


def register(app: typer.Typer, keys_app: typer.Typer) -> None:
    """Add ``encrypt`` and ``decrypt`` to the ``jwtkit`` app (``keys_app`` is unused)."""
    del keys_app
    app.command("encrypt", epilog=_ENCRYPT_EPILOG)(encrypt)
    app.command("decrypt", epilog=_DECRYPT_EPILOG)(decrypt)
