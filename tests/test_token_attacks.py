"""One test per token attack (RFC 8725, OWASP JWT cheat sheet): each is refused with
UNAUTHENTICATED, the contract's reason and no data. Plus the asymmetric algorithms with a
JWKS that plain PyJWT can verify against, key rotation, and the production start-up checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from pydantic import ValidationError

from graphql_app.auth.keys import load_keyring
from graphql_app.models import User
from graphql_app.settings import ConfigError, Settings

from .conftest import TEST_SECRET, AppRunner
from .factories import GraphQLClient

OTHER_SECRET = "another-secret-that-is-also-long-enough-0123456789"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header_b64, payload_b64, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(header_b64))),
        json.loads(base64.urlsafe_b64decode(pad(payload_b64))),
    )


def _hs256(header: dict[str, Any], payload: dict[str, Any], key: bytes) -> str:
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _resign(token: str, secret: str = TEST_SECRET, **changes: Any) -> str:
    """The same token with changed (None: removed) claims, validly signed with `secret`."""
    header, payload = _parts(token)
    for claim, value in changes.items():
        if value is None:
            payload.pop(claim, None)
        else:
            payload[claim] = value
    return _hs256(header, payload, secret.encode())


async def _session(client: GraphQLClient) -> dict[str, Any]:
    return await client.register("mallory")


async def _assert_refused(client: GraphQLClient, token: str, reason: str) -> None:
    for query in ("{ me { id username roles } }", "{ todos { totalCount } }"):
        result = await client.execute(query, token=token)
        assert result.status == 200
        assert result.data is None
        assert result.codes == ["UNAUTHENTICATED"]
        assert result.reasons == [reason]


async def test_a_valid_token_is_accepted_by_the_same_checks(client: GraphQLClient) -> None:
    token = (await _session(client))["accessToken"]
    result = await client.me(token)
    assert result.data["me"]["username"] == "mallory"
    # Re-signing an untouched token with the right key gives an equivalent, accepted token,
    # so the refusals below are caused by the change each one makes.
    assert (await client.me(_resign(token))).data["me"]["username"] == "mallory"


async def test_alg_none_is_refused(client: GraphQLClient) -> None:
    header, payload = _parts((await _session(client))["accessToken"])
    header["alg"] = "none"
    token = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}."
    await _assert_refused(client, token, "TOKEN_INVALID")


async def test_tampered_payload_with_the_original_signature_is_refused(
    client: GraphQLClient,
) -> None:
    token = (await _session(client))["accessToken"]
    header_b64, _, signature = token.split(".")
    _, payload = _parts(token)
    payload["roles"] = ["USER", "ADMIN"]
    forged = f"{header_b64}.{_b64(json.dumps(payload).encode())}.{signature}"
    await _assert_refused(client, forged, "TOKEN_INVALID")
    result = await client.execute("{ users { totalCount } }", token=forged)
    assert result.data is None
    assert result.codes == ["UNAUTHENTICATED"]


async def test_a_token_signed_with_another_secret_is_refused(client: GraphQLClient) -> None:
    token = (await _session(client))["accessToken"]
    await _assert_refused(client, _resign(token, OTHER_SECRET), "TOKEN_INVALID")


async def test_expired_token_is_refused_with_token_expired(client: GraphQLClient) -> None:
    token = (await _session(client))["accessToken"]
    now = int(time.time())
    expired = _resign(token, iat=now - 120, nbf=now - 120, exp=now - 60)
    await _assert_refused(client, expired, "TOKEN_EXPIRED")


@pytest.mark.parametrize(
    "changes",
    [
        {"nbf": int(time.time()) + 3600},
        {"iss": "someone-else"},
        {"aud": "another-service"},
        {"type": "refresh"},
        {"sub": "not-an-object-id"},
        {"roles": "ADMIN"},
        {"tv": "0"},
    ],
    ids=["nbf-in-future", "wrong-iss", "wrong-aud", "wrong-type", "bad-sub", "bad-roles", "bad-tv"],
)
async def test_a_validly_signed_token_with_wrong_claims_is_refused(
    client: GraphQLClient, changes: dict[str, Any]
) -> None:
    token = (await _session(client))["accessToken"]
    await _assert_refused(client, _resign(token, **changes), "TOKEN_INVALID")


@pytest.mark.parametrize(
    "claim", ["iss", "aud", "sub", "iat", "nbf", "exp", "jti", "type", "roles", "sid"]
)
async def test_each_required_claim_is_required(client: GraphQLClient, claim: str) -> None:
    token = (await _session(client))["accessToken"]
    await _assert_refused(client, _resign(token, **{claim: None}), "TOKEN_INVALID")


async def test_unknown_kid_and_missing_kid_are_refused(client: GraphQLClient) -> None:
    token = (await _session(client))["accessToken"]
    header, payload = _parts(token)
    await _assert_refused(
        client,
        _hs256({**header, "kid": "hs-unknown"}, payload, TEST_SECRET.encode()),
        "TOKEN_INVALID",
    )
    header.pop("kid")
    await _assert_refused(client, _hs256(header, payload, TEST_SECRET.encode()), "TOKEN_INVALID")


async def test_a_deleted_users_token_is_refused(client: GraphQLClient) -> None:
    token = (await _session(client))["accessToken"]
    await User.find(User.username == "mallory").delete()
    await _assert_refused(client, token, "TOKEN_INVALID")


async def test_refresh_token_is_not_an_access_token_and_the_reverse(
    client: GraphQLClient,
) -> None:
    session = await _session(client)
    await _assert_refused(client, session["refreshToken"], "TOKEN_INVALID")
    result = await client.refresh(session["accessToken"])
    assert result.data is None
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.reasons == ["TOKEN_INVALID"]
    # Neither misuse harmed the session.
    assert (await client.refresh(session["refreshToken"])).errors == []


@pytest.mark.parametrize(
    "header",
    ["Bearer garbage", "Bearer a.b.c", "Bearer ", "Bearer", "Basic bWFsbG9yeTpwdw==", "Token x"],
)
async def test_malformed_authorization_headers_are_refused(
    client: GraphQLClient, header: str
) -> None:
    result = await client.execute("{ me { id } }", headers={"Authorization": header})
    assert result.data is None
    assert result.codes == ["UNAUTHENTICATED"]
    assert result.reasons == ["TOKEN_INVALID"]


async def test_no_header_is_missing_token(client: GraphQLClient) -> None:
    result = await client.me(None)
    assert result.data is None
    assert result.reasons == ["MISSING_TOKEN"]


async def test_public_operations_ignore_a_bad_header(client: GraphQLClient) -> None:
    await client.register("mallory")
    for header in ("Bearer garbage", "Basic abc", "Bearer "):
        result = await client.execute(
            'mutation { login(username: "mallory", password: "correct horse battery")'
            " { user { username } } }",
            headers={"Authorization": header},
        )
        assert result.errors == []
        assert result.data["login"]["user"]["username"] == "mallory"


# --- asymmetric keys, JWKS, rotation -------------------------------------------------------

PrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey


def _generate(algorithm: str) -> PrivateKey:
    if algorithm == "RS256":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if algorithm == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    return ed25519.Ed25519PrivateKey.generate()


def _write_key(path: Path, key: PrivateKey) -> Path:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return path


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "EdDSA"])
async def test_asymmetric_tokens_verify_with_the_published_jwks(
    run_app: AppRunner, tmp_path: Path, algorithm: str
) -> None:
    key_file = _write_key(tmp_path / "key.pem", _generate(algorithm))
    async with run_app(jwt_algorithm=algorithm, jwt_private_key_file=key_file) as client:
        session = await client.register("mallory")
        token = session["accessToken"]
        assert (await client.me(token)).data["me"]["username"] == "mallory"
        response = await client.http.get("/.well-known/jwks.json")
        assert response.status_code == 200
        jwks = response.json()
    assert len(jwks["keys"]) == 1
    published = jwks["keys"][0]
    assert published["alg"] == algorithm
    assert published["use"] == "sig"
    assert not {"d", "p", "q", "dp", "dq", "qi"} & published.keys(), "private key published"
    header = jwt.get_unverified_header(token)
    assert header["alg"] == algorithm
    assert header["kid"] == published["kid"]
    claims = jwt.decode(
        token,
        jwt.PyJWK(published).key,
        algorithms=[algorithm],
        audience="graphql-app",
        issuer="graphql-app",
    )
    assert claims["type"] == "access"
    assert claims["roles"] == ["USER"]


async def test_jwks_is_404_under_hs256(client: GraphQLClient) -> None:
    response = await client.http.get("/.well-known/jwks.json")
    assert response.status_code == 404


async def test_hs256_signed_with_the_rsa_public_key_is_refused(
    run_app: AppRunner, tmp_path: Path
) -> None:
    private = _generate("RS256")
    key_file = _write_key(tmp_path / "key.pem", private)
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    async with run_app(jwt_algorithm="RS256", jwt_private_key_file=key_file) as client:
        token = (await client.register("mallory"))["accessToken"]
        header, payload = _parts(token)
        confused = _hs256({**header, "alg": "HS256"}, payload, public_pem)
        await _assert_refused(client, confused, "TOKEN_INVALID")
        none = f"{_b64(json.dumps({**header, 'alg': 'none'}).encode())}.{token.split('.')[1]}."
        await _assert_refused(client, none, "TOKEN_INVALID")


async def test_hs256_key_rotation(run_app: AppRunner) -> None:
    async with run_app(jwt_secret=TEST_SECRET) as client:
        session = await client.register("mallory")
    old_kid = jwt.get_unverified_header(session["accessToken"])["kid"]

    async with run_app(jwt_secret=OTHER_SECRET, jwt_previous_secrets=TEST_SECRET) as client:
        assert (await client.me(session["accessToken"])).errors == []
        refreshed = await client.refresh(session["refreshToken"])
        assert refreshed.errors == []
        new_token = refreshed.data["refresh"]["accessToken"]
        assert jwt.get_unverified_header(new_token)["kid"] != old_kid

    async with run_app(jwt_secret=OTHER_SECRET) as client:
        await _assert_refused(client, session["accessToken"], "TOKEN_INVALID")
        assert (await client.me(new_token)).errors == []


async def test_asymmetric_key_rotation(run_app: AppRunner, tmp_path: Path) -> None:
    old_file = _write_key(tmp_path / "old.pem", _generate("ES256"))
    new_file = _write_key(tmp_path / "new.pem", _generate("ES256"))
    async with run_app(jwt_algorithm="ES256", jwt_private_key_file=old_file) as client:
        old_token = (await client.register("mallory"))["accessToken"]

    rotated = {"jwt_algorithm": "ES256", "jwt_private_key_file": new_file}
    async with run_app(**rotated, jwt_previous_key_files=str(old_file)) as client:
        assert (await client.me(old_token)).errors == []
        new_token = (await client.login("mallory")).data["login"]["accessToken"]
        kids = {k["kid"] for k in (await client.http.get("/.well-known/jwks.json")).json()["keys"]}
        assert jwt.get_unverified_header(old_token)["kid"] in kids
        assert jwt.get_unverified_header(new_token)["kid"] in kids
        assert (
            jwt.get_unverified_header(new_token)["kid"]
            != jwt.get_unverified_header(old_token)["kid"]
        )

    async with run_app(**rotated) as client:
        await _assert_refused(client, old_token, "TOKEN_INVALID")
        assert (await client.me(new_token)).errors == []
        kids = {k["kid"] for k in (await client.http.get("/.well-known/jwks.json")).json()["keys"]}
        assert jwt.get_unverified_header(old_token)["kid"] not in kids


# --- production start-up checks ------------------------------------------------------------


def _production(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "app_env": "production",
        "mongodb_url": "mongodb://127.0.0.1:1",
        "jwt_secret": TEST_SECRET,
        "data_dir": tmp_path,
        **overrides,
    }
    settings = Settings(**values)
    load_keyring(settings)
    return settings


def test_production_accepts_a_strong_secret(tmp_path: Path) -> None:
    assert _production(tmp_path).is_production


@pytest.mark.parametrize(
    ("overrides", "variable"),
    [
        ({"jwt_secret": None}, "JWT_SECRET"),
        ({"jwt_secret": "x" * 31}, "JWT_SECRET"),
        ({"mongodb_url": None}, "MONGODB_URL"),
        ({"jwt_algorithm": "RS256"}, "JWT_PRIVATE_KEY_FILE"),
        (
            {"jwt_algorithm": "RS256", "jwt_private_key_file": "/nonexistent/key.pem"},
            "JWT_PRIVATE_KEY_FILE",
        ),
    ],
)
def test_production_refuses_to_start_naming_the_variable(
    tmp_path: Path, overrides: dict[str, Any], variable: str
) -> None:
    with pytest.raises((ConfigError, ValidationError), match=variable):
        _production(tmp_path, **overrides)


def test_a_key_of_the_wrong_type_is_refused(tmp_path: Path) -> None:
    key_file = _write_key(tmp_path / "ed.pem", _generate("EdDSA"))
    with pytest.raises(ConfigError, match="JWT_PRIVATE_KEY_FILE"):
        _production(tmp_path, jwt_algorithm="RS256", jwt_private_key_file=key_file)


def test_serve_refuses_in_production_without_a_secret(tmp_path: Path) -> None:
    env = {"APP_ENV": "production", "MONGODB_URL": "mongodb://127.0.0.1:1", "PATH": "/usr/bin"}
    done = subprocess.run(  # our own CLI, fixed arguments
        [sys.executable, "-m", "graphql_app", "serve", "--port", "0"],
        env={**env, "DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert "JWT_SECRET" in done.stderr
    assert "Traceback" not in done.stderr
