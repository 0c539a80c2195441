"""Signing and verification keys: HS256 secrets or PEM files, each with a `kid`.

The newest key signs; older ones (JWT_PREVIOUS_SECRETS / JWT_PREVIOUS_KEY_FILES) only verify,
so keys rotate without logging anyone out. A token naming an unknown `kid` is refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes

from ..settings import MIN_SECRET_BYTES, ConfigError, Settings

log = logging.getLogger(__name__)

MIN_RSA_BITS = 2048
_SECRET_FILE = "jwt_secret"  # noqa: S105  # a file name


@dataclass(frozen=True)
class KeyRing:
    algorithm: str
    signing_kid: str
    signing_key: Any
    verification_keys: dict[str, Any]
    public_keys: dict[str, PublicKeyTypes] = field(default_factory=dict)  # for the JWKS


def load_keyring(settings: Settings) -> KeyRing:
    if settings.jwt_algorithm == "HS256":
        return _hmac_keyring(settings)
    return _asymmetric_keyring(settings)


def _hmac_keyring(settings: Settings) -> KeyRing:
    current = _current_secret(settings)
    secrets_ = [current, *settings.previous_secrets]
    keys = {_hmac_kid(s): s.encode() for s in secrets_}
    return KeyRing("HS256", _hmac_kid(current), current.encode(), keys)


def _hmac_kid(secret: str) -> str:
    # A PRF of the secret: names the key without revealing anything about it.
    digest = hmac.new(secret.encode(), b"graphql-app/kid", hashlib.sha256).digest()
    return "hs-" + base64.urlsafe_b64encode(digest[:9]).decode()


def _current_secret(settings: Settings) -> str:
    if settings.jwt_secret is not None:
        secret = settings.jwt_secret.get_secret_value()
        if len(secret.encode()) < MIN_SECRET_BYTES:
            if settings.is_production:
                raise ConfigError(f"JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes")
            log.warning("JWT_SECRET is shorter than %d bytes: tests only", MIN_SECRET_BYTES)
        return secret
    if settings.is_production:
        raise ConfigError("JWT_SECRET is required when APP_ENV=production")
    return _development_secret(settings.data_dir)


def _development_secret(data_dir: Path) -> str:
    """Generate a secret once and keep it under DATA_DIR, so tokens survive a restart."""
    path = data_dir / _SECRET_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(secret)
    log.warning("JWT_SECRET is not set: generated a development secret in %s", path)
    return secret


def _asymmetric_keyring(settings: Settings) -> KeyRing:
    if settings.jwt_private_key_file is None:
        raise ConfigError(f"JWT_PRIVATE_KEY_FILE is required for {settings.jwt_algorithm}")
    private = _read_pem(settings.jwt_private_key_file, "JWT_PRIVATE_KEY_FILE", private=True)
    _check_key_type(private.public_key(), settings.jwt_algorithm, "JWT_PRIVATE_KEY_FILE")
    current_kid = public_kid(private.public_key())
    public_keys: dict[str, PublicKeyTypes] = {current_kid: private.public_key()}
    for path in settings.previous_key_files:
        key = _read_pem(path, "JWT_PREVIOUS_KEY_FILES", private=False)
        _check_key_type(key, settings.jwt_algorithm, "JWT_PREVIOUS_KEY_FILES")
        public_keys[public_kid(key)] = key
    return KeyRing(settings.jwt_algorithm, current_kid, private, dict(public_keys), public_keys)


def _read_pem(path: Path, variable: str, *, private: bool) -> Any:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{variable}: cannot read {path}: {exc.strerror}") from None
    try:
        if private or b"PRIVATE KEY" in data:
            key = serialization.load_pem_private_key(data, password=None)
            return key if private else key.public_key()
        return serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise ConfigError(f"{variable}: {path} is not an unencrypted PEM key") from None


def _check_key_type(key: Any, algorithm: str, variable: str) -> None:
    ok = {
        "RS256": isinstance(key, rsa.RSAPublicKey) and key.key_size >= MIN_RSA_BITS,
        "ES256": isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1),
        "EdDSA": isinstance(key, ed25519.Ed25519PublicKey),
    }[algorithm]
    if not ok:
        raise ConfigError(f"{variable}: the key does not fit JWT_ALGORITHM={algorithm}")


def public_kid(key: PublicKeyTypes) -> str:
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:12]).decode()
