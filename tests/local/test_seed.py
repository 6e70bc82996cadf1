"""Seeds: the demo seed's constants, loading JSON and TOML, and errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cognito_middleware import CognitoConfig
from cognito_middleware.local import LocalCognito, Seed, SeedError, demo_seed
from cognito_middleware.local.seed import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_IDENTITY_POOL_ID,
    DEMO_POOL_ID,
)

TOML = """
user_pool_id = "us-east-1_Toml123"

[[groups]]
name = "staff"
precedence = 3
role_arn = "arn:aws:iam::111122223333:role/staff"

[[users]]
username = "zoe"
password = "pw-123456"
email = "zoe@example.com"
groups = ["staff"]
attributes = { "custom:team" = "blue" }

[[clients]]
client_id = "tomlclient1234567890abcdef"
callback_urls = ["http://localhost:3000/auth/callback"]
refresh_token_rotation = true
rotation_grace_seconds = 30

[[providers]]
name = "Entra"
type = "SAML"
issuer = "https://sts.windows.net/tenant/"
attribute_mapping = { email = "mail" }

[[providers.users]]
username = "x@corp.example"
password = "pw"
user_id = "x@corp.example"
claims = { mail = "x@corp.example" }

[identity_pool]
identity_pool_id = "us-east-1:11111111-2222-3333-4444-555555555555"
allow_unauthenticated = false
authenticated_role_arn = "arn:aws:iam::111122223333:role/auth"

[identity_pool.role_mapping]
type = "Rules"
ambiguous_role_resolution = "Deny"
rules = [{ claim = "custom:team", match_type = "Equals", value = "blue", role_arn = "arn:aws:iam::111122223333:role/blue" }]
"""  # noqa: E501


def test_demo_seed_constants() -> None:
    seed = demo_seed(app_url="http://127.0.0.1:8123/")
    assert seed.user_pool_id == DEMO_POOL_ID == "eu-west-1_LocalDemo"
    web = seed.clients[0]
    assert (web.client_id, web.client_secret) == (DEMO_CLIENT_ID, DEMO_CLIENT_SECRET)
    assert web.callback_urls == ["http://127.0.0.1:8123/auth/callback"]
    assert web.logout_urls == ["http://127.0.0.1:8123/"]
    assert web.identity_providers == ["COGNITO", "AzureAD", "Okta"]
    assert web.refresh_token_rotation and web.enable_token_revocation
    assert {u.username: u.groups for u in seed.users} == {
        "alice": ["admin", "users"],
        "bob": ["users"],
    }
    assert seed.identity_pool is not None
    assert seed.identity_pool.identity_pool_id == DEMO_IDENTITY_POOL_ID
    assert seed.identity_pool.allow_unauthenticated


def test_env_is_accepted_by_the_middleware_config() -> None:
    cognito = LocalCognito(demo_seed())
    env = cognito.env(app_url="http://127.0.0.1:8000")
    assert set(env) == {
        "COGNITO_USER_POOL_ID",
        "COGNITO_CLIENT_ID",
        "COGNITO_CLIENT_SECRET",
        "COGNITO_DOMAIN",
        "COGNITO_ISSUER",
        "COGNITO_REDIRECT_URI",
        "COGNITO_LOGOUT_URI",
        "COGNITO_IDENTITY_POOL_ID",
        "COGNITO_IDENTITY_ENDPOINT",
        "COGNITO_ALLOWED_PROVIDERS",
        "COGNITO_SESSION_SECRET",
    }
    config = CognitoConfig.from_env(env)
    assert config.issuer_url == cognito.issuer
    assert config.login_provider_key == cognito.login_provider_key
    assert config.allowed_providers == ("AzureAD", "Okta")
    assert config.client_secret_value == DEMO_CLIENT_SECRET


@pytest.mark.parametrize("suffix", [".toml", ".json"])
def test_load_from_file(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"seed{suffix}"
    if suffix == ".toml":
        path.write_text(TOML)
    else:
        import tomllib

        path.write_text(json.dumps(tomllib.loads(TOML)))
    seed = Seed.from_file(path)
    assert seed.user_pool_id == "us-east-1_Toml123"
    assert seed.users[0].attributes == {"custom:team": "blue"}
    assert seed.providers[0].users[0].claims == {"mail": "x@corp.example"}
    assert seed.identity_pool is not None and seed.identity_pool.role_mapping is not None
    assert seed.identity_pool.role_mapping.rules[0].value == "blue"
    assert Seed.from_dict(seed.to_dict()) == seed
    cognito = LocalCognito(seed)
    claims = cognito.mint_tokens("zoe")
    assert claims["expires_in"] == 3600


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"user_pool_id": "nope"}, "user_pool_id"),
        ({"user_pool_id": "eu-west-1_A", "colour": 1}, "unknown keys ['colour']"),
        (
            {
                "user_pool_id": "eu-west-1_A",
                "users": [{"username": "u", "password": "p", "groups": ["g"]}],
            },
            "unknown group 'g'",
        ),
        (
            {
                "user_pool_id": "eu-west-1_A",
                "clients": [{"client_id": "c", "identity_providers": ["X"]}],
            },
            "unknown provider 'X'",
        ),
        ({"user_pool_id": "eu-west-1_A", "users": [{"username": "u"}]}, "seed.users[0]"),
        (
            {"user_pool_id": "eu-west-1_A", "identity_pool": {"identity_pool_id": "x"}},
            "identity_pool_id",
        ),
    ],
)
def test_invalid_seeds(data: dict[str, object], message: str) -> None:
    with pytest.raises(SeedError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Seed.from_dict(data)
