"""Token service settings: ``JWTKIT_*`` environment variables plus an optional TOML file.

Precedence, highest first: values passed in code (or CLI flags), environment variables
(``JWTKIT_`` prefix, case-insensitive), the TOML file named by ``JWTKIT_CONFIG`` or ``--config``,
then the defaults below. Every duration is in seconds.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from jwtkit.revocation import DEFAULT_PREFIX

__all__ = ["SIGNING_ALGORITHMS", "Settings", "load_settings"]

#: Signing algorithms the service can issue access tokens with (RFC 7518 §3, RFC 8037 §3.1).
SIGNING_ALGORITHMS = ("ES256", "RS256", "PS256", "EdDSA")


class Settings(BaseSettings):
    """Every knob of the token service (pydantic-settings model; immutable once built).

    Times are seconds (int). Secrets are :class:`pydantic.SecretStr`, so they never show in
    reprs or logs.
    """

    model_config = SettingsConfigDict(
        env_prefix="JWTKIT_", extra="forbid", frozen=True, case_sensitive=False
    )

    host: str = Field(default="127.0.0.1", description="Address uvicorn binds to.")
    port: int = Field(default=8000, ge=0, le=65535, description="TCP port uvicorn binds to.")
    data_dir: Path = Field(
        default=Path("./data"), description="Directory for the SQLite database (created 0700)."
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db; "
        "default sqlite:///DATA_DIR/jwtkit.db.",
    )
    database_pool_size: int = Field(
        default=10, ge=1, description="Connection pool size (PostgreSQL)."
    )
    redis_url: str | None = Field(
        default=None,
        description="redis:// URL; when set, revocations are mirrored and rate limits shared.",
    )
    revocation_prefix: str = Field(
        default=DEFAULT_PREFIX,
        description="Redis key prefix of the revocation sets (jwtkit.revocation).",
    )
    redis_prefix: str = Field(
        default="jwtkit", description="Redis key prefix for rate-limit counters."
    )
    redis_resync_seconds: int = Field(
        default=60, ge=1, description="How often every live revocation is re-mirrored into Redis."
    )
    revocation_relay_interval: float = Field(
        default=0.2,
        gt=0,
        le=5,
        description="Seconds between polls of the revocation outbox (revocations made by another "
        "process, e.g. the admin CLI, reach verifiers within about this much more).",
    )
    revocation_feed_page_size: int = Field(
        default=1000, ge=10, le=10000, description="Most events or entries per feed page."
    )
    revocation_feed_max_wait: int = Field(
        default=30, ge=0, le=300, description="Longest long poll of the revocation feed (s)."
    )
    issuer: str | None = Field(
        default=None, description="The iss of every token; default http://HOST:PORT."
    )
    audience: str | None = Field(
        default=None, description="Default aud for clients without their own; default the issuer."
    )
    access_token_ttl: int = Field(default=900, ge=1, description="Access-token lifetime (s).")
    refresh_token_ttl: int = Field(
        default=30 * 86400, ge=1, description="Refresh-token lifetime (s)."
    )
    refresh_grace_seconds: int = Field(
        default=0,
        ge=0,
        description="Reuse of a just-rotated refresh token within this window is not "
        "treated as theft (0 = off).",
    )
    signing_alg: Literal["ES256", "RS256", "PS256", "EdDSA"] = Field(
        default="ES256", description="Algorithm of newly generated signing keys."
    )
    key_rotation_delay: int = Field(
        default=300,
        ge=0,
        description="Default delay between `keys rotate` and promotion of the new key.",
    )
    key_retire_margin: int = Field(
        default=60,
        ge=0,
        description="Extra time retired keys stay published after their last token.",
    )
    key_cache_seconds: float = Field(
        default=2.0, ge=0, description="How long an instance caches the key table (seconds)."
    )
    key_encryption_key: SecretStr | None = Field(
        default=None,
        description="When set, private keys are stored AES-GCM encrypted under a key "
        "derived from this secret (env JWTKIT_KEY_ENCRYPTION_KEY).",
    )
    jwks_max_age: int = Field(
        default=300, ge=0, description="Cache-Control max-age of the JWK Set."
    )
    session_cap: int = Field(
        default=100, ge=0, description="Most concurrent sessions per user (0 = unlimited)."
    )
    session_cap_policy: Literal["evict-oldest", "refuse"] = Field(
        default="evict-oldest", description="What a login beyond the cap does."
    )
    login_max_failures_per_user: int = Field(
        default=5, ge=1, description="Failed logins per username within the window before 429."
    )
    login_max_failures_per_address: int = Field(
        default=20,
        ge=1,
        description="Failed logins per client address within the window before 429.",
    )
    login_failure_window: int = Field(default=300, ge=1, description="Rate-limit window (s).")
    client_auth_max_failures_per_client: int = Field(
        default=20,
        ge=1,
        description="Failed client authentications per client id within the window before 429 "
        "(RFC 6749 §2.3.1).",
    )
    client_auth_max_failures_per_address: int = Field(
        default=20,
        ge=1,
        description="Failed client authentications per client address within the window "
        "before 429.",
    )
    client_auth_failure_window: int = Field(
        default=300, ge=1, description="Client-authentication rate-limit window (s)."
    )
    forwarded_allow_ips: str | None = Field(
        default=None,
        description="Comma-separated addresses or networks of trusted reverse proxies (uvicorn's "
        "forwarded_allow_ips): their X-Forwarded-For / X-Forwarded-Proto name the client. "
        "Unset: forwarding headers are ignored and the peer address is the client.",
    )
    cors_origins: dict[str, list[str]] = Field(
        default_factory=dict,
        description="CORS for public browser clients (SPAs): client_id -> allowed origins, "
        'e.g. JWTKIT_CORS_ORIGINS=\'{"spa": ["https://spa.example"]}\' (jwtkit.server.cors). '
        "Empty: no CORS at all.",
    )
    max_body_bytes: int = Field(
        default=16384,
        ge=1024,
        description="Largest accepted request body (bytes); larger gets 413.",
    )
    password_time_cost: int = Field(default=3, ge=1, description="argon2id iterations.")
    password_memory_kib: int = Field(default=65536, ge=8, description="argon2id memory (KiB).")
    password_parallelism: int = Field(default=4, ge=1, description="argon2id lanes.")
    password_hash_queue: int = Field(
        default=64,
        ge=0,
        description="Password logins allowed to wait for an argon2id slot (one per CPU) before "
        "the service answers 503 temporarily_unavailable.",
    )
    password_min_length: int = Field(
        default=8,
        ge=1,
        le=1024,
        description="Shortest password the admin commands accept, in characters "
        "(NIST SP 800-63B §3.1.1.2: at least 8).",
    )
    client_secret_pepper: SecretStr | None = Field(
        default=None,
        description="Server-side key of the client-secret HMAC (env JWTKIT_CLIENT_SECRET_PEPPER); "
        "unset: client secrets are stored as SHA-256 (they are 256-bit random values).",
    )
    dpop_nonce_secret: SecretStr | None = Field(
        default=None,
        min_length=32,
        description="Key of the stateless DPoP server nonces (RFC 9449 §8; env "
        "JWTKIT_DPOP_NONCE_SECRET, 32+ characters, the same on every instance); set: every DPoP "
        "proof at the token endpoint must carry a current nonce (use_dpop_nonce otherwise).",
    )
    client_secret_cache_seconds: float = Field(
        default=300.0,
        ge=0,
        description="How long a successful client-secret verification is remembered "
        "(HMAC in memory; 0 = verify with argon2id every time).",
    )
    metrics_enabled: bool = Field(
        default=False,
        description="Serve Prometheus metrics at /metrics (off by default: they describe the "
        "service's traffic to whoever asks).",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="When set, /metrics needs `Authorization: Bearer <this token>` "
        "(env JWTKIT_METRICS_TOKEN).",
    )
    # ---- performance and fault knobs (docs/performance.md) -----------------------------------
    sqlite_synchronous: Literal["NORMAL", "FULL", "EXTRA"] = Field(
        default="FULL",
        description="SQLite PRAGMA synchronous in WAL mode: FULL keeps every committed rotation "
        "and revocation across a power loss (one WAL fsync per commit); NORMAL only across a "
        "crash of the process.",
    )
    client_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        le=60,
        description="How long a client record read from the database is trusted in memory; "
        "changes through this process apply at once, changes by another process (admin CLI, "
        "another worker) within this time (0 = no cache).",
    )
    opentelemetry: bool = Field(
        default=False,
        description="FastAPI's native OpenTelemetry instrumentation (spans, metrics and logs "
        "through the globally configured OpenTelemetry providers). Off by default: the service "
        "exports Prometheus metrics at /metrics, and looking for providers on every request "
        "costs about 3 us.",
    )
    dependency_timeout: float = Field(
        default=2.0,
        gt=0,
        le=60,
        description="Seconds a Redis call, or a PostgreSQL connect or statement, may take "
        "before it fails (issue 13 item 6).",
    )
    breaker_failures: int = Field(
        default=3, ge=1, description="Consecutive failures that open a dependency's breaker."
    )
    breaker_open_seconds: float = Field(
        default=5.0,
        gt=0,
        description="How long an open breaker refuses calls before one trial call.",
    )
    revocation_leeway: int = Field(
        default=300,
        ge=0,
        description="Seconds a revocation is kept past the token's exp: at least the largest "
        "leeway (clock-skew allowance) any verifier of these tokens uses (issue 13 item 8).",
    )
    workers: int = Field(
        default=1,
        ge=1,
        le=64,
        description="uvicorn worker processes of `jwtkit serve`; more than 1 needs redis_url "
        "(rate limits are shared through Redis; revocations through the database).",
    )
    authorization_code_ttl: int = Field(
        default=60, ge=1, le=600, description="Authorization code lifetime (s; RFC 6749 §4.1.2)."
    )
    pushed_request_ttl: int = Field(
        default=60, ge=1, le=600, description="PAR request_uri lifetime (s; RFC 9126 §2.2)."
    )
    interaction_ttl: int = Field(
        default=900, ge=60, description="How long a login/consent page stays valid (s)."
    )
    op_session_ttl: int = Field(
        default=8 * 3600, ge=60, description="Lifetime of a browser (OP) session (s)."
    )
    id_token_ttl: int = Field(default=3600, ge=60, description="ID token lifetime (s).")
    id_token_alg: Literal["RS256", "ES256", "PS256"] = Field(
        default="RS256",
        description="Default ID token alg for clients without id_token_signed_response_alg "
        "(OIDC Core §15.1: RS256 must be available).",
    )
    acr: str | None = Field(
        default=None, description="The acr claim of ID tokens (OIDC Core §2); none when unset."
    )
    backchannel_logout_attempts: int = Field(
        default=4, ge=1, le=10, description="Delivery attempts of one back-channel logout token."
    )
    backchannel_logout_timeout: float = Field(
        default=5.0, gt=0, le=60, description="Timeout of one back-channel logout POST (s)."
    )
    backchannel_logout_backoff: float = Field(
        default=1.0, ge=0, le=60, description="First retry delay (s); doubled per attempt."
    )
    shutdown_timeout: int = Field(
        default=10, ge=0, description="Graceful shutdown: seconds to let in-flight requests finish."
    )
    log_level: str = Field(default="info", description="Log level of the service and audit logs.")

    @field_validator("cors_origins")
    @classmethod
    def _bare_origins(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        from jwtkit.server.cors import check_origins

        check_origins(value)  # ValueError for anything that is not a bare origin
        return value

    @field_validator("issuer", "audience")
    @classmethod
    def _strip_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @model_validator(mode="after")
    def _key_cache_within_margin(self) -> Settings:
        # An instance may sign with, or publish, a key table up to key_cache_seconds old; retired
        # keys must stay published at least that long after their last token could be issued.
        if self.key_cache_seconds > self.key_retire_margin:
            raise ValueError(
                "key_cache_seconds must not exceed key_retire_margin, or tokens signed just "
                "before a rotation could fail to verify"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Order the sources: init kwargs > environment > TOML file (if any)."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if settings_cls.model_config.get("toml_file"):
            sources.append(TomlConfigSettingsSource(settings_cls))
        return tuple(sources)

    @property
    def effective_issuer(self) -> str:
        """The ``iss`` of every token (str): the configured issuer or ``http://HOST:PORT``."""
        if self.issuer:
            return self.issuer
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def effective_audience(self) -> str:
        """Default ``aud`` (str): the configured audience or the issuer."""
        return self.audience or self.effective_issuer

    @property
    def effective_database_url(self) -> str:
        """The SQLAlchemy URL (str): the configured one or the SQLite file in the data dir."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'jwtkit.db').resolve()}"

    @property
    def is_sqlite(self) -> bool:
        """True when the database is SQLite."""
        return self.effective_database_url.startswith("sqlite")


def load_settings(config_file: str | os.PathLike[str] | None = None, **overrides: Any) -> Settings:
    """Build :class:`Settings` from overrides, ``JWTKIT_*`` variables and a TOML file.

    Args:
        config_file: path of a TOML file whose top-level keys are setting names; default the
            ``JWTKIT_CONFIG`` environment variable, else no file.
        overrides: settings given explicitly (CLI flags); ``None`` values are ignored.

    Returns:
        The settings (:class:`Settings`).

    Raises:
        pydantic.ValidationError: a value is invalid or a key is unknown.
        FileNotFoundError: the TOML file does not exist.
    """
    path = config_file or os.environ.get("JWTKIT_CONFIG")
    kwargs = {k: v for k, v in overrides.items() if v is not None}
    if not path:
        return Settings(**kwargs)
    toml_path = Path(path)
    if not toml_path.is_file():
        raise FileNotFoundError(f"configuration file not found: {toml_path}")
    config = SettingsConfigDict(**{**Settings.model_config, "toml_file": toml_path})
    with_file = type("Settings", (Settings,), {"model_config": config, "__doc__": Settings.__doc__})
    return with_file(**kwargs)  # type: ignore[no-any-return]
