"""The token service's administration rules, shared by the admin CLI and any future admin API.

:class:`AdminService` adds, changes and removes users, clients, sessions and signing keys on the
service's store. It decides what a change implies (disabling a user ends its sessions in the same
transaction, a new password may end them too, removing a client ends the sessions issued to it),
enforces the password policy (NIST SP 800-63B §3.1.1.2: at least ``password_min_length``
characters, 8 by default), hashes secrets with the service's argon2id hasher, takes "now" from
the service's injected clock, and writes one audit event per change (:mod:`jwtkit.server.audit`).

Every refusal is an :class:`AdminError` with a stable ``code``: ``not_found``,
``already_exists`` or ``invalid_value``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jwtkit.errors import JWTKitError
from jwtkit.server.audit import audit
from jwtkit.server.client_secrets import WeakClientSecretError, check_client_secret
from jwtkit.server.settings import SIGNING_ALGORITHMS
from jwtkit.server.usernames import UsernameError, find_user, normalize_username

if TYPE_CHECKING:
    from jwtkit.server.keys import KeyManager
    from jwtkit.server.runtime import Services
    from jwtkit.server.service import TokenService
    from jwtkit.server.settings import Settings
    from jwtkit.store.registrations import ClientRegistration, RegistrationStore, UserClaims
    from jwtkit.store.sql import (
        ClientRecord,
        KeyRecord,
        RevocationEntry,
        SessionRecord,
        SQLStore,
        UserRecord,
    )

__all__ = [
    "AdminError",
    "AdminService",
    "AlreadyExistsError",
    "InvalidValueError",
    "NotFoundError",
    "check_name",
    "unsafe_settings",
]

_MAX_NAME = 255


class AdminError(JWTKitError):
    """An administrative change was refused (base class; see the subclasses' ``code``)."""

    code = "admin_error"


class NotFoundError(AdminError):
    """The user, client or session named does not exist."""

    code = "not_found"


class AlreadyExistsError(AdminError):
    """A user or client with that name already exists."""

    code = "already_exists"


class InvalidValueError(AdminError):
    """A value breaks a rule: a name, a grant type, a scope, a password shorter than the policy."""

    code = "invalid_value"


def _canonical_or_none(name: str) -> str | None:
    try:
        return normalize_username(name)
    except UsernameError:
        return None


def check_name(kind: str, value: str) -> None:
    """Refuse a user name or client id no token request could carry (RFC 6749 §3.2 form
    values: non-empty, at most 255 characters, no control characters).

    Raises:
        InvalidValueError: ``value`` breaks the rule.
    """
    if not value or len(value) > _MAX_NAME or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise InvalidValueError(
            f"a {kind} must be 1 to {_MAX_NAME} characters without control characters"
        )


def _scope_tokens(scope: Sequence[str]) -> list[str]:
    """Each value split on spaces (RFC 6749 §3.3); every scope-token must be
    ``%x21 / %x23-5B / %x5D-7E``.

    Raises:
        InvalidValueError: a token holds another character.
    """
    out: list[str] = []
    for value in scope:
        for token in value.split(" "):
            if not token:
                continue
            if any(not (0x21 <= ord(c) <= 0x7E) or c in '"\\' for c in token):
                raise InvalidValueError(f"invalid scope token {token!r} (RFC 6749 §3.3)")
            out.append(token)
    return list(dict.fromkeys(out))


def unsafe_settings(settings: Settings, *, rotation_delay: int | None = None) -> list[str]:
    """The settings (and a ``keys rotate --delay``) that work but are less safe than they look,
    one message (str) each, for ``jwtkit serve`` and ``keys rotate`` to warn with.

    Args:
        settings: the service :class:`Settings`.
        rotation_delay: a rotation delay in seconds given on the command line, else None for
            the ``key_rotation_delay`` setting.
    """
    out: list[str] = []
    delay = settings.key_rotation_delay if rotation_delay is None else rotation_delay
    max_age = settings.jwks_max_age
    if delay < max_age:
        what = f"--delay {delay}" if rotation_delay is not None else f"key_rotation_delay={delay}"
        out.append(
            f"{what} is under the JWK Set's max-age ({max_age} s): verifiers that cached it "
            f"refuse tokens of the new key for up to {max_age - delay} s; use a delay of at "
            f"least {max_age} s"
        )
    return out


class AdminService:
    """Administration of one token service (users, clients, sessions, signing keys).

    Args:
        settings: the service :class:`Settings` (password policy, rotation delay, TTLs).
        store: the :class:`SQLStore`.
        tokens: the :class:`TokenService` (hasher, revocation publishing).
        keys: the :class:`KeyManager`.
        clock: returns now, seconds since the epoch (float); the service's own clock.
        actor: who acts, recorded in every audit event (str, e.g. ``"cli"``).
    """

    def __init__(
        self,
        settings: Settings,
        store: SQLStore,
        tokens: TokenService,
        keys: KeyManager,
        *,
        clock: Callable[[], float],
        actor: str = "admin",
    ) -> None:
        self.settings = settings
        self.store = store
        self.tokens = tokens
        self.keys = keys
        self.clock = clock
        self.actor = actor

    @classmethod
    def from_services(cls, services: Services, *, actor: str = "admin") -> AdminService:
        """Build from :class:`jwtkit.server.runtime.Services` (shares its clock and store)."""
        return cls(
            services.settings,
            services.store,
            services.service,
            services.keys,
            clock=services.clock,
            actor=actor,
        )

    # ---- users -------------------------------------------------------------------------------

    def check_password(self, password: str) -> None:
        """Apply the password policy: at least ``settings.password_min_length`` characters
        (Unicode code points; NIST SP 800-63B §3.1.1.2), at most 1024.

        Raises:
            InvalidValueError: the password is too short or too long.
        """
        minimum = self.settings.password_min_length
        if len(password) < minimum:
            raise InvalidValueError(f"a password needs at least {minimum} characters")
        if len(password) > 1024:
            raise InvalidValueError("a password may have at most 1024 characters")

    def user(self, username: str) -> UserRecord:
        """Return the user ``username`` (found by its canonical form, RFC 8265; a name stored
        before normalization also by its exact form).

        Raises:
            NotFoundError: there is no such user.
        """
        user = find_user(self.store, username)
        if user is None:
            raise NotFoundError(f"no user {username!r}")
        return user

    def _stored_name(self, username: str) -> str:
        """The name as stored for ``username`` (the given one when there is no such user)."""
        user = find_user(self.store, username)
        return username if user is None else user.username

    def ensure_new_user(self, username: str) -> str:
        """Check that ``username`` is a valid name and that neither it nor a lookalike is taken
        (before asking for a password). Returns the canonical name (str) to store.

        Raises:
            InvalidValueError: the name is refused by
                :func:`jwtkit.server.usernames.normalize_username` (control, format or bidi
                characters, leading/trailing spaces, empty, too long).
            AlreadyExistsError: the name, or one with the same canonical form, is taken.
        """
        try:
            canonical = normalize_username(username)
        except UsernameError as exc:
            raise InvalidValueError(str(exc)) from None
        taken = self.store.get_user(canonical) is not None or any(
            _canonical_or_none(u.username) == canonical for u in self.store.list_users()
        )
        if taken:
            raise AlreadyExistsError(f"user {canonical!r} already exists")
        return canonical

    def list_users(self) -> list[UserRecord]:
        """Every user, by username (records never shown with their password hash)."""
        return self.store.list_users()

    def add_user(self, username: str, password: str, scope: Sequence[str] = ()) -> UserRecord:
        """Add a user whose password is stored only as an argon2id hash; audited
        ``user_added``.

        Args:
            username: the name (str).
            password: the password (str), checked by :meth:`check_password`.
            scope: scopes the user may get (each value may hold several, space-separated).

        Returns:
            The new :class:`UserRecord` (its ``id`` is the tokens' ``sub``).

        Raises:
            InvalidValueError, AlreadyExistsError.
        """
        username = self.ensure_new_user(username)
        self.check_password(password)
        scopes = _scope_tokens(scope)
        user = self.store.create_user(
            username, self.tokens.hasher.hash(password), scopes, self.clock()
        )
        if user is None:
            raise AlreadyExistsError(f"user {username!r} already exists")
        audit("user_added", username=username, sub=user.id, actor=self.actor)
        return user

    def _ended(self, entries: list[RevocationEntry]) -> int:
        """Publish ``entries`` (metrics, audit, Redis) and count the sessions they end."""
        self.tokens.revoked(entries, actor=self.actor)
        return sum(1 for e in entries if e.kind == "sid")

    def _end_op_sessions(self, user_id: str, reason: str) -> int:
        """End the user's browser (OP) sessions: their grants die and every signed-in client
        with a back-channel logout URI is told (OIDC Back-Channel Logout §2.5)."""
        provider = self.tokens.provider
        if provider is None:
            return 0
        return provider.end_user_op_sessions(user_id, reason=reason, actor=self.actor)

    def disable_user(self, username: str) -> int:
        """Disable a user and end all its sessions in one transaction (its access tokens are void
        from now); audited ``user_disabled``. Returns the sessions ended (int).

        Raises:
            NotFoundError: there is no such user.
        """
        username = self._stored_name(username)
        changed = self.store.update_user(
            username,
            self.clock(),
            disabled=True,
            end_sessions="user_disabled",
            sub_until=self.clock() + self.settings.access_token_ttl,
        )
        if changed is None:
            raise NotFoundError(f"no user {username!r}")
        user, entries = changed
        ended = self._ended(entries)
        self._end_op_sessions(user.id, "user_disabled")
        audit("user_disabled", username=username, sub=user.id, sessions=ended, actor=self.actor)
        return ended

    def enable_user(self, username: str) -> UserRecord:
        """Enable a disabled user again (its old sessions stay ended); audited
        ``user_enabled``.

        Raises:
            NotFoundError: there is no such user.
        """
        username = self._stored_name(username)
        changed = self.store.update_user(username, self.clock(), disabled=False)
        if changed is None:
            raise NotFoundError(f"no user {username!r}")
        audit("user_enabled", username=username, sub=changed[0].id, actor=self.actor)
        return changed[0]

    def set_password(self, username: str, password: str, *, end_sessions: bool = False) -> int:
        """Set a user's password (argon2id hash); with ``end_sessions`` every session ends in the
        same transaction. Audited ``password_set``. Returns the sessions ended (int, 0 without
        ``end_sessions``).

        Raises:
            InvalidValueError: the password breaks the policy.
            NotFoundError: there is no such user.
        """
        username = self._stored_name(username)
        self.check_password(password)
        now = self.clock()
        changed = self.store.update_user(
            username,
            now,
            password_hash=self.tokens.hasher.hash(password),
            end_sessions="password_set" if end_sessions else None,
            sub_until=now + self.settings.access_token_ttl,
        )
        if changed is None:
            raise NotFoundError(f"no user {username!r}")
        user, entries = changed
        ended = self._ended(entries)
        if end_sessions:
            self._end_op_sessions(user.id, "password_set")
        audit("password_set", username=username, sub=user.id, sessions=ended, actor=self.actor)
        return ended

    def set_user_scope(self, username: str, scope: Sequence[str]) -> UserRecord:
        """Replace the scopes a user may get; existing sessions keep the scope they were granted.
        Audited ``user_scope_set``.

        Raises:
            InvalidValueError: a scope token is malformed.
            NotFoundError: there is no such user.
        """
        username = self._stored_name(username)
        scopes = _scope_tokens(scope)
        changed = self.store.update_user(username, self.clock(), scope=scopes)
        if changed is None:
            raise NotFoundError(f"no user {username!r}")
        user = changed[0]
        audit("user_scope_set", username=username, sub=user.id, scope=user.scope, actor=self.actor)
        return user

    def delete_user(self, username: str) -> int:
        """Delete a user: every session ends (revocations stay until its tokens expire), then the
        user, its sessions and refresh tokens are deleted in one transaction. Audited
        ``user_deleted``. Returns the sessions ended (int).

        Raises:
            NotFoundError: there is no such user.
        """
        username = self._stored_name(username)
        now = self.clock()
        deleted = self.store.delete_user(username, now, now + self.settings.access_token_ttl)
        if deleted is None:
            raise NotFoundError(f"no user {username!r}")
        user, entries = deleted
        ended = self._ended(entries)
        self._end_op_sessions(user.id, "user_deleted")
        audit("user_deleted", username=username, sub=user.id, sessions=ended, actor=self.actor)
        return ended

    # ---- clients -----------------------------------------------------------------------------

    def client(self, client_id: str) -> ClientRecord:
        """Return the client ``client_id``.

        Raises:
            NotFoundError: there is no such client.
        """
        client = self.store.get_client(client_id)
        if client is None:
            raise NotFoundError(f"no client {client_id!r}")
        return client

    def list_clients(self) -> list[ClientRecord]:
        """Every client, by id (never with its secret hash)."""
        return self.store.list_clients()

    @staticmethod
    def _grants(grants: Sequence[str], *, public: bool) -> list[str]:
        from jwtkit.server.service import GRANT_TYPES

        grants = list(dict.fromkeys(grants))
        unknown = [g for g in grants if g not in GRANT_TYPES]
        if unknown:
            raise InvalidValueError(f"unknown grant type(s): {', '.join(unknown)}")
        if not grants:
            raise InvalidValueError("a client needs at least one grant type")
        if public and "client_credentials" in grants:
            raise InvalidValueError("public clients cannot use client_credentials")
        return grants

    def check_new_client(
        self,
        client_id: str,
        *,
        public: bool,
        grant_types: Sequence[str] | None,
        redirect_uris: Sequence[str] = (),
    ) -> list[str]:
        """Validate a new client's id and grants before its secret is asked for.

        Returns the grant types to store (list of str). The defaults when ``grant_types`` is
        None: authorization_code and refresh_token when ``redirect_uris`` are given, plus
        client_credentials for a confidential client. The password grant is legacy (RFC 9700
        §2.4: MUST NOT be used) and never a default.

        Raises:
            InvalidValueError, AlreadyExistsError.
        """
        check_name("client id", client_id)
        if self.store.get_client(client_id) is not None:
            raise AlreadyExistsError(f"client {client_id!r} already exists")
        if grant_types is None:
            grant_types = ["authorization_code", "refresh_token"] if redirect_uris else []
            if not public:
                grant_types.append("client_credentials")
            if not grant_types:
                raise InvalidValueError("give --redirect-uri (authorization code flow) or --grant")
        return self._grants(grant_types, public=public)

    def _client_secret_hash(self, secret: str) -> str:
        """The stored form of a new client secret (one keyed hash, issue 12 item 4).

        Raises:
            InvalidValueError: the secret is not a high-entropy random value (at least 32
                characters, ~128 bits; ``generate_client_secret`` makes one).
        """
        try:
            check_client_secret(secret)
        except WeakClientSecretError as exc:
            raise InvalidValueError(str(exc)) from None
        return self.tokens.client_secrets.hash(secret)

    def add_client(
        self,
        client_id: str,
        *,
        secret: str | None,
        grant_types: Sequence[str] | None = None,
        scope: Sequence[str] = (),
        audience: str | None = None,
        resource_server: bool = False,
        dpop_bound: bool = False,
    ) -> ClientRecord:
        """Add an OAuth client (RFC 6749 §2.1): public when ``secret`` is None, else confidential
        with the secret stored only as a keyed hash; a weak admin-chosen secret is refused.
        ``dpop_bound``: its token requests need a DPoP proof (RFC 9449 §5.2). Audited
        ``client_added``.

        Raises:
            InvalidValueError (also: a weak secret), AlreadyExistsError.
        """
        public = secret is None
        grants = self.check_new_client(client_id, public=public, grant_types=grant_types)
        client = self.store.create_client(
            client_id,
            secret_hash=None if secret is None else self._client_secret_hash(secret),
            grant_types=grants,
            scope=_scope_tokens(scope),
            audience=audience,
            now=self.clock(),
            resource_server=resource_server,
            dpop_bound_access_tokens=dpop_bound,
        )
        if client is None:
            raise AlreadyExistsError(f"client {client_id!r} already exists")
        audit(
            "client_added",
            client_id=client_id,
            public=public,
            resource_server=client.resource_server,
            actor=self.actor,
        )
        return client

    def update_client(
        self,
        client_id: str,
        *,
        grant_types: Sequence[str] | None = None,
        scope: Sequence[str] | None = None,
        audience: str | None = None,
        resource_server: bool | None = None,
        dpop_bound: bool | None = None,
    ) -> ClientRecord:
        """Change a client's grant types, scopes, audience, resource-server and/or DPoP flag
        (``dpop_bound``, RFC 9449 §5.2; None
        leaves one as it is; an empty ``audience`` resets it to the issuer). Existing sessions
        keep what they were granted. Audited ``client_updated`` with the fields changed.

        Raises:
            InvalidValueError, NotFoundError.
        """
        current = self.client(client_id)
        grants = None if grant_types is None else self._grants(grant_types, public=current.public)
        scopes = None if scope is None else _scope_tokens(scope)
        if resource_server and current.public:
            raise InvalidValueError("a public client cannot be a resource server")
        updated = self.store.update_client(
            client_id,
            grant_types=grants,
            scope=scopes,
            audience=audience,
            resource_server=resource_server,
            dpop_bound_access_tokens=dpop_bound,
        )
        if updated is None:
            raise NotFoundError(f"no client {client_id!r}")
        changed = [
            name
            for name, value in (
                ("grant_types", grants),
                ("scope", scopes),
                ("audience", audience),
                ("resource_server", resource_server),
                ("dpop_bound_access_tokens", dpop_bound),
            )
            if value is not None
        ]
        audit("client_updated", client_id=client_id, fields=changed, actor=self.actor)
        return updated

    def rotate_client_secret(self, client_id: str, secret: str) -> ClientRecord:
        """Give a confidential client a new secret (the old one stops working at once; its
        sessions stay). Audited ``client_secret_rotated``.

        Raises:
            InvalidValueError: the client is public, or the secret is weak.
            NotFoundError: there is no such client.
        """
        if self.client(client_id).public:
            raise InvalidValueError(f"client {client_id!r} is public and has no secret")
        updated = self.store.update_client(client_id, secret_hash=self._client_secret_hash(secret))
        if updated is None:
            raise NotFoundError(f"no client {client_id!r}")
        audit("client_secret_rotated", client_id=client_id, actor=self.actor)
        return updated

    def remove_client(self, client_id: str) -> int:
        """Remove a client and end every session issued to it, in one transaction. Audited
        ``client_removed``. Returns the sessions ended (int).

        Raises:
            NotFoundError: there is no such client.
        """
        entries = self.store.delete_client(client_id, self.clock())
        if entries is None:
            raise NotFoundError(f"no client {client_id!r}")
        ended = self._ended(entries)
        self._registrations().remove_client(client_id)
        audit("client_removed", client_id=client_id, sessions=ended, actor=self.actor)
        return ended

    # ---- OpenID Connect registration ---------------------------------------------------------

    def register_client(
        self,
        client_id: str,
        *,
        redirect_uris: Sequence[str] = (),
        post_logout_redirect_uris: Sequence[str] = (),
        backchannel_logout_uri: str | None = None,
        first_party: bool = False,
        require_pushed_authorization_requests: bool = False,
        id_token_signed_response_alg: str | None = None,
        id_token_encrypted_response_alg: str | None = None,
        id_token_encrypted_response_enc: str | None = None,
        id_token_encryption_jwks: str | Mapping[str, Any] | None = None,
    ) -> ClientRegistration:
        """Set a client's OIDC registration (OIDC Dynamic Client Registration §2 names):
        exact redirect URIs (https, loopback http on any port per RFC 8252 §7.3, or a
        private-use scheme), post-logout redirect URIs, a back-channel logout URI, first party
        (no consent page), PAR required, and the ID token alg. With
        ``id_token_encrypted_response_alg`` (and optionally ``_enc``, default A128CBC-HS256) ID
        tokens are encrypted (OIDC Core §10.2) to a key of ``id_token_encryption_jwks`` (the
        client's public JWK Set: JSON text or dict). Audited ``client_registered``.

        Raises:
            InvalidValueError: a URI that cannot be registered, an unknown alg or enc, an
                encryption JWK Set that is missing, not a JWK Set, holds a private key or a
                secret, or has no key for the alg; an enc or JWK Set without an alg; or a client
                with the authorization_code grant and no redirect URI.
            NotFoundError: there is no such client.
        """
        from jwtkit.server.provider import (
            DEFAULT_ID_TOKEN_ENCRYPTION_ENC,
            ID_TOKEN_ALGS,
            ID_TOKEN_ENCRYPTION_ENCS,
            id_token_encryption_key,
        )
        from jwtkit.server.redirects import check_registrable
        from jwtkit.store.registrations import ClientRegistration

        client = self.client(client_id)
        uris = [*redirect_uris, *post_logout_redirect_uris]
        if backchannel_logout_uri is not None:
            uris.append(backchannel_logout_uri)
        for uri in uris:
            problem = check_registrable(uri)
            if problem is not None:
                raise InvalidValueError(f"cannot register {uri!r}: {problem}")
        if backchannel_logout_uri is not None and not backchannel_logout_uri.startswith(
            ("https://", "http://")
        ):
            raise InvalidValueError("the back-channel logout URI must be https (or loopback)")
        alg = id_token_signed_response_alg
        if alg is not None and alg not in ID_TOKEN_ALGS:
            raise InvalidValueError(f"id_token alg must be one of {', '.join(ID_TOKEN_ALGS)}")
        if alg is not None and alg not in (self.settings.id_token_alg, self.settings.signing_alg):
            raise InvalidValueError(
                f"this service signs ID tokens with {self.settings.id_token_alg} or "
                f"{self.settings.signing_alg}"
            )
        if "authorization_code" in client.grant_types and not redirect_uris:
            raise InvalidValueError("the authorization_code grant needs a --redirect-uri")
        enc_alg, enc = id_token_encrypted_response_alg, id_token_encrypted_response_enc
        jwks_text: str | None = None
        if enc_alg is None:
            if enc is not None or id_token_encryption_jwks is not None:
                raise InvalidValueError(
                    "an ID token encryption enc or JWK Set needs an id_token encryption alg"
                )
        else:
            if id_token_encryption_jwks is None:
                raise InvalidValueError("ID token encryption needs the client's JWK Set")
            enc = enc or DEFAULT_ID_TOKEN_ENCRYPTION_ENC
            if enc not in ID_TOKEN_ENCRYPTION_ENCS:
                raise InvalidValueError(
                    f"id_token encryption enc must be one of {', '.join(ID_TOKEN_ENCRYPTION_ENCS)}"
                )
            try:
                id_token_encryption_key(id_token_encryption_jwks, enc_alg)
            except ValueError as exc:
                raise InvalidValueError(str(exc)) from None
            jwks_text = (
                id_token_encryption_jwks
                if isinstance(id_token_encryption_jwks, str)
                else json.dumps(dict(id_token_encryption_jwks))
            )
        record = ClientRegistration(
            client_id,
            tuple(dict.fromkeys(redirect_uris)),
            tuple(dict.fromkeys(post_logout_redirect_uris)),
            backchannel_logout_uri,
            first_party,
            require_pushed_authorization_requests,
            alg,
            enc_alg,
            enc,
            jwks_text,
        )
        self._registrations().put_client(record)
        audit("client_registered", client_id=client_id, actor=self.actor)
        return record

    def registration(self, client_id: str) -> ClientRegistration:
        """A client's OIDC registration (empty when it has none).

        Raises:
            NotFoundError: there is no such client.
        """
        self.client(client_id)
        return self._registrations().client(client_id)

    def set_user_claims(
        self, username: str, *, email: str | None = None, name: str | None = None
    ) -> UserClaims:
        """Set a user's profile claims (OIDC Core §5.1 ``email``, ``name``; None keeps one).
        Audited ``user_claims_set``.

        Raises:
            InvalidValueError: an email without ``@`` or with spaces, a name with control
                characters, or either too long.
            NotFoundError: there is no such user.
        """
        from jwtkit.store.registrations import UserClaims

        user = self.user(username)
        if email is not None and (
            len(email) > 320
            or "@" not in email.strip("@")
            or not email.isprintable()
            or " " in email
        ):
            raise InvalidValueError("not an email address")
        if name is not None and (len(name) > 255 or not name.isprintable() or not name.strip()):
            raise InvalidValueError("a name must be 1-255 printable characters")
        store = self._registrations()
        old = store.claims(user.id)
        record = UserClaims(
            user.id,
            email if email is not None else old.email,
            name if name is not None else old.name,
        )
        store.put_claims(record)
        audit("user_claims_set", username=username, sub=user.id, actor=self.actor)
        return record

    def user_claims(self, username: str) -> UserClaims:
        """A user's profile claims.

        Raises:
            NotFoundError: there is no such user.
        """
        return self._registrations().claims(self.user(username).id)

    def _registrations(self) -> RegistrationStore:
        from jwtkit.store.registrations import RegistrationStore

        return RegistrationStore(self.store.db)

    # ---- sessions ----------------------------------------------------------------------------

    def list_sessions(self, username: str, *, include_ended: bool = False) -> list[SessionRecord]:
        """A user's sessions, active ones unless ``include_ended``.

        Raises:
            NotFoundError: there is no such user.
        """
        user = self.user(username)
        return self.store.list_sessions(user.id, self.clock(), include_inactive=include_ended)

    def end_session(self, sid: str) -> None:
        """End one session (its refresh tokens die, its ``sid`` is revoked). Audited
        ``session_revoked``.

        Raises:
            NotFoundError: no active session ``sid``.
        """
        provider = self.tokens.provider
        if provider is not None and provider.end_op_session(sid, reason="admin", actor=self.actor):
            audit("session_revoked", sid=sid, actor=self.actor)
            return
        if not self.tokens.revoke_session(sid, reason="admin", actor=self.actor):
            raise NotFoundError(f"no active session {sid!r}")
        audit("session_revoked", sid=sid, actor=self.actor)

    def end_user_sessions(self, username: str) -> int:
        """End every session of a user (plus a ``sub`` cut-off). Audited
        ``user_sessions_revoked``. Returns the sessions ended (int).

        Raises:
            NotFoundError: there is no such user.
        """
        user = self.user(username)
        ended = self.tokens.revoke_user(user, reason="admin", actor=self.actor)
        self._end_op_sessions(user.id, "admin")  # its grants ended above: back-channel logout
        audit("user_sessions_revoked", username=username, sub=user.id, actor=self.actor)
        return ended

    # ---- signing keys ------------------------------------------------------------------------

    def rotate_key(self, *, delay: int | None = None, alg: str | None = None) -> KeyRecord:
        """Publish a new signing key as *next*, current after ``delay`` seconds (default the
        ``key_rotation_delay`` setting); without ``alg`` the ID token family (RS256) rotates
        too. Audited ``key_rotated``.

        Raises:
            InvalidValueError: ``alg`` is not a signing algorithm or ``delay`` is negative.
        """
        if alg is not None and alg not in SIGNING_ALGORITHMS:
            raise InvalidValueError(f"alg must be one of {', '.join(SIGNING_ALGORITHMS)}")
        if delay is not None and delay < 0:
            raise InvalidValueError("the delay must be >= 0")
        wait = self.settings.key_rotation_delay if delay is None else delay
        record = self.keys.rotate(delay=wait, alg=alg)
        provider = self.tokens.provider
        id_kid = None
        if alg is None and provider is not None:  # the ID token family rotates with it
            id_kid = provider.id_keys.rotate(delay=wait).kid
        audit(
            "key_rotated",
            kid=record.kid,
            alg=record.alg,
            id_key=id_kid,
            delay=wait,
            actor=self.actor,
        )
        return record

    def rotation_warnings(self, delay: int | None = None) -> list[str]:
        """Why a rotation with ``delay`` seconds (None: the ``key_rotation_delay`` setting) is
        unsafe, as one-line messages (empty list when it is safe): a new key that signs before
        ``jwks_max_age`` has passed is unknown to every verifier still holding the cached JWK
        Set, which then refuses the new tokens (docs/service.md: keep the delay >= max-age)."""
        return unsafe_settings(self.settings, rotation_delay=delay)

    def list_keys(self) -> list[KeyRecord]:
        """The service's signing keys with their states (records hold no private parts shown)."""
        self.keys.reload()
        return self.store.list_keys()
