"""``jwtkit clients add|list|show|update|rotate-secret|remove``: OAuth clients (RFC 6749 §2).

Thin commands over :class:`jwtkit.server.admin.AdminService`: they parse, prompt and print; the
rules (grant types, what ends sessions, audit events) live there.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from jwtkit.cli._admin import (
    AsJSON,
    ConfigFile,
    DatabaseURL,
    DataDir,
    admin_command,
    confirm,
    open_admin,
    print_record,
    print_table,
    read_new_secret,
)
from jwtkit.cli._common import UsageError

if TYPE_CHECKING:
    from jwtkit.store.registrations import ClientRegistration
    from jwtkit.store.sql import ClientRecord

__all__ = ["register"]

ClientId = Annotated[str, typer.Argument(help="The client id.", show_default=False)]
SecretStdin = Annotated[
    bool, typer.Option("--secret-stdin", help="Read the client secret from stdin (one line).")
]
Generate = Annotated[
    bool,
    typer.Option(
        "--generate",
        help="Generate a random 256-bit secret and print it once (recommended).",
    ),
]


def _new_secret(generate: bool, secret_stdin: bool, prompt: str) -> str:
    """The new client secret: generated or read (a weak read secret is refused by the admin
    service)."""
    if generate and secret_stdin:
        raise UsageError("--generate and --secret-stdin exclude each other")
    if not generate:
        return read_new_secret(secret_stdin, prompt)
    from jwtkit.server.client_secrets import generate_client_secret

    return generate_client_secret()


def _show_generated(generate: bool, secret: str | None) -> None:
    if generate and secret:
        typer.echo(f"client secret (shown once, store it now): {secret}")


Grants = Annotated[
    list[str] | None,
    typer.Option(
        "--grant",
        help="Allowed grant type: authorization_code, refresh_token, client_credentials, "
        "password (legacy) (repeatable).",
        show_default=False,
    ),
]
Scopes = Annotated[
    list[str] | None,
    typer.Option(
        "--scope",
        help="Scope the client may request (repeatable, or space-separated).",
        show_default=False,
    ),
]
Audience = Annotated[
    str | None,
    typer.Option(help="aud of its access tokens (default the issuer).", show_default=False),
]

RedirectURIs = Annotated[
    list[str] | None,
    typer.Option(
        "--redirect-uri",
        help="Exact redirect URI for the authorization code flow (repeatable): https, "
        "http on 127.0.0.1/[::1] (any port matches), or com.example.app:/path.",
        show_default=False,
    ),
]
LogoutURIs = Annotated[
    list[str] | None,
    typer.Option(
        "--post-logout-redirect-uri",
        help="Where RP-initiated logout may return the browser (repeatable).",
        show_default=False,
    ),
]
BackchannelURI = Annotated[
    str | None,
    typer.Option(
        "--backchannel-logout-uri",
        help="Where logout tokens are POSTed when a user's browser session ends.",
        show_default=False,
    ),
]
FirstParty = Annotated[bool, typer.Option("--first-party", help="Trusted client: no consent page.")]
RequirePAR = Annotated[
    bool,
    typer.Option("--require-par", help="Authorization requests must be pushed (RFC 9126)."),
]
IdTokenAlg = Annotated[
    str | None,
    typer.Option(
        "--id-token-alg", help="alg of its ID tokens (default RS256).", show_default=False
    ),
]
IdTokenEncJWKS = Annotated[
    str | None,
    typer.Option(
        "--id-token-encryption-jwks",
        help="The client's public encryption JWK Set: a file, or its JSON text.",
        show_default=False,
    ),
]
IdTokenEncAlg = Annotated[
    str | None,
    typer.Option(
        "--id-token-encrypted-alg",
        help="Encrypt its ID tokens with this alg (RSA-OAEP-256, ECDH-ES, ...; '' = stop).",
        show_default=False,
    ),
]
IdTokenEncEnc = Annotated[
    str | None,
    typer.Option(
        "--id-token-encrypted-enc",
        help="enc of its encrypted ID tokens (default A128CBC-HS256).",
        show_default=False,
    ),
]


def _jwks_text(value: str | None) -> str | None:
    """The JWK Set JSON text of ``--id-token-encryption-jwks`` (JSON text or a file's path)."""
    if value is None or value.lstrip().startswith("{"):
        return value
    try:
        return Path(value).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the JWK Set file {value!r}: {exc}") from None


clients_app = typer.Typer(help="Manage OAuth clients.", no_args_is_help=True)


def _view(client: ClientRecord, registration: ClientRegistration) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "public": client.public,
        "grant_types": list(client.grant_types),
        "scope": client.scope,
        "audience": client.audience,
        "resource_server": client.resource_server,
        "dpop_bound_access_tokens": client.dpop_bound_access_tokens,
        "created_at": int(client.created_at),
        "redirect_uris": list(registration.redirect_uris),
        "post_logout_redirect_uris": list(registration.post_logout_redirect_uris),
        "backchannel_logout_uri": registration.backchannel_logout_uri,
        "first_party": registration.first_party,
        "require_pushed_authorization_requests": (
            registration.require_pushed_authorization_requests
        ),
        "id_token_signed_response_alg": registration.id_token_signed_response_alg,
        "id_token_encrypted_response_alg": registration.id_token_encrypted_response_alg,
        "id_token_encrypted_response_enc": registration.id_token_encrypted_response_enc,
    }


@clients_app.command("add")
@admin_command
def clients_add(
    client_id: ClientId,
    public: Annotated[bool, typer.Option("--public", help="A public client (no secret).")] = False,
    secret_stdin: SecretStdin = False,
    generate: Generate = False,
    grant: Grants = None,
    scope: Scopes = None,
    audience: Audience = None,
    resource_server: Annotated[
        bool,
        typer.Option(
            "--resource-server",
            help="A resource server: may introspect the access tokens meant for it "
            "(aud = its id or --audience) and its own tokens (RFC 7662).",
        ),
    ] = False,
    dpop_bound: Annotated[
        bool,
        typer.Option("--dpop-bound", help="Token requests need a DPoP proof (RFC 9449 §5.2)."),
    ] = False,
    redirect_uri: RedirectURIs = None,
    post_logout_redirect_uri: LogoutURIs = None,
    backchannel_logout_uri: BackchannelURI = None,
    first_party: FirstParty = False,
    require_par: RequirePAR = False,
    id_token_alg: IdTokenAlg = None,
    id_token_encryption_jwks: IdTokenEncJWKS = None,
    id_token_encrypted_alg: IdTokenEncAlg = None,
    id_token_encrypted_enc: IdTokenEncEnc = None,
    data_dir: DataDir = None,
    database_url: DatabaseURL = None,
    config: ConfigFile = None,
) -> None:
    """Add an OAuth client: public (--public) or confidential.

    A confidential client's secret is generated (--generate, printed once) or comes from stdin
    (--secret-stdin) or a prompt; a chosen one must be random (32+ characters, ~128 bits). It
    is stored only as a keyed hash. Default grants: authorization_code and refresh_token when a
    --redirect-uri is given, plus client_credentials for a confidential client. The password
    grant is legacy (RFC 9700 §2.4) and only given with --grant password.
    """
    if public and (secret_stdin or generate or resource_server):
        raise UsageError("--public excludes --secret-stdin, --generate and --resource-server")
    with open_admin(data_dir, database_url, config) as admin:
        grants = admin.check_new_client(
            client_id, public=public, grant_types=grant, redirect_uris=redirect_uri or ()
        )
        secret = None if public else _new_secret(generate, secret_stdin, "Client secret")
        admin.add_client(
            client_id,
            secret=secret,
            grant_types=grants,
            scope=scope or (),
            audience=audience,
            resource_server=resource_server,
            dpop_bound=dpop_bound,
        )
        oidc = redirect_uri or post_logout_redirect_uri or backchannel_logout_uri
        encryption = (id_token_encrypted_alg, id_token_encrypted_enc, id_token_encryption_jwks)
        if (
            oidc
            or first_party
            or require_par
            or id_token_alg
            or any(v is not None for v in encryption)
            or "authorization_code" in grants
        ):
            try:
                admin.register_client(
                    client_id,
                    redirect_uris=redirect_uri or (),
                    post_logout_redirect_uris=post_logout_redirect_uri or (),
                    backchannel_logout_uri=backchannel_logout_uri,
                    first_party=first_party,
                    require_pushed_authorization_requests=require_par,
                    id_token_signed_response_alg=id_token_alg,
                    id_token_encrypted_response_alg=id_token_encrypted_alg or None,
                    id_token_encrypted_response_enc=id_token_encrypted_enc,
                    id_token_encryption_jwks=_jwks_text(id_token_encryption_jwks),
                )
            except Exception:
                admin.remove_client(client_id)
                raise
    typer.echo(
        f"added {'public' if public else 'confidential'} client {client_id} "
        f"(grants {' '.join(grants)})"
    )
    _show_generated(generate, secret)


@clients_app.command("list")
@admin_command
def clients_list(
    as_json: AsJSON = False,
    data_dir: DataDir = None,
    database_url: DatabaseURL = None,
    config: ConfigFile = None,
) -> None:
    """List clients (never their secret hashes)."""
    with open_admin(data_dir, database_url, config) as admin:
        data = [_view(c, admin.registration(c.client_id)) for c in admin.list_clients()]
    if as_json:
        typer.echo(json.dumps(data))
        return
    print_table(
        "clients",
        ["client_id", "type", "grants", "scope", "audience", "redirect URIs"],
        [
            [
                d["client_id"],
                ("public" if d["public"] else "confidential")
                + (", first party" if d["first_party"] else ""),
                " ".join(d["grant_types"]),
                d["scope"],
                d["audience"] or "-",
                " ".join(d["redirect_uris"]) or "-",
            ]
            for d in data
        ],
    )


@clients_app.command("show")
@admin_command
def clients_show(
    client_id: ClientId,
    as_json: AsJSON = False,
    data_dir: DataDir = None,
    database_url: DatabaseURL = None,
    config: ConfigFile = None,
) -> None:
    """Show one client (never its secret hash)."""
    with open_admin(data_dir, database_url, config) as admin:
        data = _view(admin.client(client_id), admin.registration(client_id))
    print_record(data, as_json=as_json, times=("created_at",))


@clients_app.command("update")
@admin_command
def clients_update(
    client_id: ClientId,
    grant: Grants = None,
    scope: Scopes = None,
    no_scope: Annotated[bool, typer.Option("--no-scope", help="Remove every scope.")] = False,
    audience: Annotated[
        str | None,
        typer.Option(help="New aud of its access tokens ('' = the issuer).", show_default=False),
    ] = None,
    resource_server: Annotated[
        bool | None,
        typer.Option(
            "--resource-server/--no-resource-server",
            help="Allow (or stop) introspection by this client.",
            show_default=False,
        ),
    ] = None,
    dpop_bound: Annotated[
        bool | None,
        typer.Option(
            "--dpop-bound/--no-dpop-bound",
            help="Require (or stop requiring) a DPoP proof on its token requests.",
            show_default=False,
        ),
    ] = None,
    redirect_uri: RedirectURIs = None,
    post_logout_redirect_uri: LogoutURIs = None,
    backchannel_logout_uri: Annotated[
        str | None,
        typer.Option(
            "--backchannel-logout-uri",
            help="Where logout tokens are POSTed ('' removes it).",
            show_default=False,
        ),
    ] = None,
    id_token_encryption_jwks: IdTokenEncJWKS = None,
    id_token_encrypted_alg: IdTokenEncAlg = None,
    id_token_encrypted_enc: IdTokenEncEnc = None,
    data_dir: DataDir = None,
    database_url: DatabaseURL = None,
    config: ConfigFile = None,
) -> None:
    """Change a client's grant types (--grant replaces them), scopes (--scope replaces them),
    audience or redirect URIs (--redirect-uri and --post-logout-redirect-uri replace their
    lists); what is not given stays. Existing sessions keep what they were granted."""
    if scope and no_scope:
        raise UsageError("--scope and --no-scope exclude each other")
    client_change = not (
        grant is None
        and scope is None
        and not no_scope
        and audience is None
        and resource_server is None
        and dpop_bound is None
    )
    encryption = (id_token_encrypted_alg, id_token_encrypted_enc, id_token_encryption_jwks)
    registration_change = not (
        redirect_uri is None
        and post_logout_redirect_uri is None
        and backchannel_logout_uri is None
        and all(v is None for v in encryption)
    )
    if not client_change and not registration_change:
        raise UsageError(
            "nothing to change: give --grant, --scope, --no-scope, --audience, "
            "--resource-server/--no-resource-server, --dpop-bound/--no-dpop-bound, "
            "--redirect-uri, --post-logout-redirect-uri, --backchannel-logout-uri or "
            "--id-token-encrypted-alg/--id-token-encrypted-enc/--id-token-encryption-jwks"
        )
    with open_admin(data_dir, database_url, config) as admin:
        if client_change:
            client = admin.update_client(
                client_id,
                grant_types=grant,
                scope=[] if no_scope else scope,
                audience=audience,
                resource_server=resource_server,
                dpop_bound=dpop_bound,
            )
        else:
            client = admin.client(client_id)
        if registration_change:
            reg = admin.registration(client_id)
            backchannel = reg.backchannel_logout_uri
            if backchannel_logout_uri is not None:
                backchannel = backchannel_logout_uri or None
            enc_alg = reg.id_token_encrypted_response_alg
            enc, jwks = reg.id_token_encrypted_response_enc, reg.id_token_encryption_jwks
            if id_token_encrypted_alg is not None and id_token_encrypted_alg != enc_alg:
                enc_alg, enc = id_token_encrypted_alg or None, None
            if not enc_alg:  # '' stops encrypting: forget enc and the JWK Set
                enc, jwks = None, None
            enc = id_token_encrypted_enc or enc
            jwks = _jwks_text(id_token_encryption_jwks) or jwks
            admin.register_client(
                client_id,
                redirect_uris=reg.redirect_uris if redirect_uri is None else redirect_uri,
                post_logout_redirect_uris=(
                    reg.post_logout_redirect_uris
                    if post_logout_redirect_uri is None
                    else post_logout_redirect_uri
                ),
                backchannel_logout_uri=backchannel,
                first_party=reg.first_party,
                require_pushed_authorization_requests=reg.require_pushed_authorization_requests,
                id_token_signed_response_alg=reg.id_token_signed_response_alg,
                id_token_encrypted_response_alg=enc_alg,
                id_token_encrypted_response_enc=enc,
                id_token_encryption_jwks=jwks,
            )
    typer.echo(
        f"updated client {client_id}: grants {' '.join(client.grant_types)}; "
        f"scope {client.scope or '(none)'}; audience {client.audience or '(the issuer)'}"
        + ("; resource server" if client.resource_server else "")
        + ("; DPoP required" if client.dpop_bound_access_tokens else "")
    )


@clients_app.command("rotate-secret")
@admin_command
def clients_rotate_secret(
    client_id: ClientId,
    secret_stdin: SecretStdin = False,
    generate: Generate = False,
    data_dir: DataDir = None,
    database_url: DatabaseURL = None,
    config: ConfigFile = None,
) -> None:
    """Give a confidential client a new secret (--generate, or --secret-stdin / a prompt); the
    old one stops working at once."""
    with open_admin(data_dir, database_url, config) as admin:
        admin.client(client_id)
        secret = _new_secret(generate, secret_stdin, "New client secret")
        admin.rotate_client_secret(client_id, secret)
    typer.echo(f"new secret set for client {client_id}")
    _show_generated(generate, secret)


@clients_app.command("remove")
@admin_command
def clients_remove(
    client_id: ClientId,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    data_dir: DataDir = None,
    database_url: DatabaseURL = None,
    config: ConfigFile = None,
) -> None:
    """Remove a client and end every session issued to it."""
    confirm(f"remove client {client_id} and end its sessions?", yes=yes)
    with open_admin(data_dir, database_url, config) as admin:
        ended = admin.remove_client(client_id)
    typer.echo(f"removed client {client_id}; ended {ended} session(s)")


def register(app: typer.Typer, keys_app: typer.Typer) -> None:
    """Add the ``clients`` group to ``app`` (``keys_app`` unused)."""
    del keys_app
    app.add_typer(clients_app, name="clients")
