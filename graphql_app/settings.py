"""Configuration from the environment (the README's table), validated once at start-up."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import Field, SecretStr, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

Algorithm = Literal["HS256", "RS256", "ES256", "EdDSA"]
MIN_SECRET_BYTES = 32


class ConfigError(ValueError):
    """A setting that makes the service refuse to start; the message names the variable."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    app_env: Literal["development", "production"] = "development"
    mongodb_url: str | None = None
    mongodb_db: str = "graphql_app"
    data_dir: Path = Path(".data")
    # Seconds: the budget of one query or mutation (all its database work), and the limit of
    # any other single database operation (subscriptions, start-up, command line).
    request_timeout: float = Field(default=10.0, gt=0)
    db_timeout: float = Field(default=5.0, gt=0)

    jwt_secret: SecretStr | None = None
    # Older HS256 secrets, comma-separated: they still verify, never sign (key rotation).
    jwt_previous_secrets: SecretStr | None = None
    jwt_algorithm: Algorithm = "HS256"
    jwt_private_key_file: Path | None = None
    # Older PEM keys (private or public), comma-separated paths: verify only.
    jwt_previous_key_files: str = ""
    jwt_issuer: str = "graphql-app"
    jwt_audience: str = "graphql-app"
    access_token_ttl: int = Field(default=900, ge=1)
    refresh_token_ttl: int = Field(default=1_209_600, ge=1)

    bcrypt_rounds: int = Field(default=12, ge=4, le=31)
    login_max_failures: int = Field(default=5, ge=1)
    login_max_failures_per_address: int = Field(default=50, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)
    refresh_reuse_interval: int = Field(default=10, ge=0)
    reauth_max_age: int = Field(default=300, ge=1)
    security_event_ttl: int = Field(default=7_776_000, ge=60)

    graphiql: bool | None = None
    introspection: bool | None = None
    max_query_depth: int = Field(default=10, ge=1)
    max_aliases: int = Field(default=15, ge=0)
    max_query_tokens: int = Field(default=2000, ge=1)
    allow_batching: bool = False
    compiled_execution: bool = True
    max_query_cost: int = Field(default=5000, ge=1)
    heavy_query_cost: int = Field(default=1000, ge=0)
    heavy_query_concurrency: int = Field(default=1, ge=1)
    heavy_query_wait: float = Field(default=10.0, gt=0)
    persisted_documents: Path | None = None
    trusted_documents_only: bool = False
    apq: bool = True
    metrics: bool = False
    metrics_token: SecretStr | None = None

    refresh_cookie: bool = False
    cookie_secure: bool = True
    cors_origins: str = ""
    max_body_bytes: int = Field(default=1_048_576, ge=1)
    max_header_bytes: int = Field(default=65_536, ge=1024)
    # Seconds a client may take to send a request head / a whole body, and may stay idle
    # between requests; sockets open at once per worker (see graphql_app/server.py).
    http_header_timeout: float = Field(default=10, gt=0)
    http_body_timeout: float = Field(default=30, gt=0)
    http_keepalive_timeout: float = Field(default=5, gt=0)
    max_connections: int = Field(default=800, ge=1)
    trusted_proxies: str = ""

    # Mail (accounts): unset SMTP_URL writes messages to the outbox directory instead.
    smtp_url: SecretStr | None = None  # may hold the SMTP password
    mail_from: str = "graphql-app <no-reply@localhost>"
    mail_outbox_dir: Path | None = None  # None: DATA_DIR/outbox
    public_url: str = "http://127.0.0.1:8000"
    email_verification_ttl: int = Field(default=86_400, ge=60)
    password_reset_ttl: int = Field(default=1_800, ge=60)
    password_reset_max_per_address: int = Field(default=10, ge=1)  # per client address, hour
    password_reset_max_per_email: int = Field(default=3, ge=1)  # messages per address, hour
    mail_retry_seconds: float = Field(default=30.0, gt=0)  # first retry; doubles each time
    mail_max_attempts: int = Field(default=10, ge=1)

    # Poll the event sequence even where MongoDB offers change streams.
    events_polling: bool = False
    max_subscriptions_per_connection: int = Field(default=100, ge=1)
    # In each process. Every event is executed and sent once per subscription (about 0.26 ms
    # each, measured), so this bounds what one user's mutation can cost the process.
    max_subscriptions_per_user: int = Field(default=100, ge=1)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        secret_files = _SecretFiles(settings_cls)
        return init_settings, env_settings, secret_files, dotenv_settings, file_secret_settings

    @property
    def is_production(self) -> bool:
        return self.app_env == "production"

    @property
    def graphiql_enabled(self) -> bool:
        return self.graphiql if self.graphiql is not None else not self.is_production

    @property
    def introspection_enabled(self) -> bool:
        if self.introspection is not None:
            return self.introspection
        return not self.is_production

    @property
    def outbox_dir(self) -> Path:
        return self.mail_outbox_dir or self.data_dir / "outbox"

    @property
    def cors_origin_list(self) -> list[str]:
        return _split(self.cors_origins)

    @property
    def trusted_proxy_list(self) -> list[str]:
        return _split(self.trusted_proxies)

    @property
    def previous_key_files(self) -> list[Path]:
        return [Path(p) for p in _split(self.jwt_previous_key_files)]

    @property
    def previous_secrets(self) -> list[str]:
        raw = self.jwt_previous_secrets.get_secret_value() if self.jwt_previous_secrets else ""
        return _split(raw)

    @model_validator(mode="after")
    def _check_production(self) -> Settings:
        """Every missing production setting at once, so one restart fixes them all."""
        if not self.is_production:
            return self
        problems = []
        if not self.mongodb_url:
            problems.append("MONGODB_URL is required")
        if self.jwt_algorithm == "HS256":
            secret = self.jwt_secret.get_secret_value() if self.jwt_secret else ""
            if len(secret.encode()) < MIN_SECRET_BYTES:
                problems.append(f"JWT_SECRET must be set to at least {MIN_SECRET_BYTES} bytes")
        elif self.jwt_private_key_file is None:
            problems.append(f"JWT_PRIVATE_KEY_FILE is required for {self.jwt_algorithm}")
        if problems:
            raise ConfigError(f"APP_ENV=production: {'; '.join(problems)}")
        return self


class _SecretFiles(PydanticBaseSettingsSource):
    """`<NAME>_FILE` for every secret setting (the Docker secrets convention): the value is
    the file's content, its trailing newline stripped. Secret settings are the `SecretStr`
    ones and MONGODB_URL (it may carry a password)."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ reads every field at once

    def __call__(self) -> dict[str, Any]:
        environ = {name.lower(): value for name, value in os.environ.items()}
        values: dict[str, Any] = {}
        for name in _secret_settings(self.settings_cls):
            path = environ.get(f"{name}_file")
            if path is None:
                continue
            variable = name.upper()
            if name in environ:
                raise ConfigError(f"set {variable} or {variable}_FILE, not both")
            try:
                values[name] = Path(path).read_text().rstrip("\r\n")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                raise ConfigError(f"{variable}_FILE: cannot read {path}: {reason}") from None
        return values


def _secret_settings(settings_cls: type[BaseSettings]) -> list[str]:
    return [
        name
        for name, field in settings_cls.model_fields.items()
        if name == "mongodb_url" or SecretStr in (field.annotation, *get_args(field.annotation))
    ]


def _split(raw: str) -> list[str]:
    return [part.strip() for part in raw.split(",") if part.strip()]
