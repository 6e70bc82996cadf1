from __future__ import annotations

import pytest

from cognito_middleware import CognitoConfig, ConfigurationError

GOOD = {
    "COGNITO_USER_POOL_ID": "eu-west-1_AbCdEf123",
    "COGNITO_CLIENT_ID": "4hqt9ikctmesulmh0hbqbs00ta",
    "COGNITO_DOMAIN": "https://myapp.auth.eu-west-1.amazoncognito.com",
    "COGNITO_REDIRECT_URI": "https://app.example.com/auth/callback",
    "COGNITO_SESSION_SECRET": "s" * 40,
}


def test_from_env_derives_cognito_urls() -> None:
    config = CognitoConfig.from_env(GOOD)
    assert config.region == "eu-west-1"
    assert config.issuer_url == "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
    assert config.jwks_url.endswith("/eu-west-1_AbCdEf123/.well-known/jwks.json")
    assert config.login_provider_key == "cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf123"
    assert config.token_url == "https://myapp.auth.eu-west-1.amazoncognito.com/oauth2/token"
    assert config.scopes == ("openid", "email", "profile")
    assert config.cookies_secure is True


@pytest.mark.parametrize(
    ("var", "value", "needle"),
    [
        ("COGNITO_USER_POOL_ID", "not-a-pool", "user pool id"),
        ("COGNITO_SESSION_SECRET", "short", "32 bytes"),
        ("COGNITO_DOMAIN", "http://myapp.example.com", "https"),
        ("COGNITO_REDIRECT_URI", "https://app.example.com/elsewhere", "/auth/callback"),
        ("COGNITO_IDENTITY_POOL_ID", "eu-west-1-nope", "identity pool id"),
        ("COGNITO_SCOPES", "email profile", "openid"),
        ("COGNITO_SESSION_STORE", "memcached://x", "redis://"),
        ("COGNITO_GUEST_CREDENTIALS", "sometimes", "true or false"),
    ],
)
def test_errors_name_the_variable_to_fix(var: str, value: str, needle: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        CognitoConfig.from_env({**GOOD, var: value})
    assert info.value.setting == var
    assert needle in str(info.value)


@pytest.mark.parametrize("var", ["COGNITO_CLIENT_ID", "COGNITO_SESSION_SECRET", "COGNITO_DOMAIN"])
def test_missing_required_variable(var: str) -> None:
    env = {k: v for k, v in GOOD.items() if k != var}
    with pytest.raises(ConfigurationError, match=f"{var}: is not set"):
        CognitoConfig.from_env(env)


def test_plain_http_allowed_for_loopback_only_and_then_cookies_are_not_secure() -> None:
    config = CognitoConfig.from_env(
        {
            **GOOD,
            "COGNITO_DOMAIN": "http://127.0.0.1:9229",
            "COGNITO_REDIRECT_URI": "http://localhost:8000/auth/callback",
            "COGNITO_ISSUER": "http://127.0.0.1:9229/eu-west-1_AbCdEf123",
        }
    )
    assert config.cookies_secure is False
    assert config.login_provider_key == "127.0.0.1:9229/eu-west-1_AbCdEf123"


def test_repr_masks_secrets() -> None:
    config = CognitoConfig.from_env({**GOOD, "COGNITO_CLIENT_SECRET": "topsecretvalue123"})
    text = repr(config) + str(config.session_secrets)
    assert "topsecretvalue123" not in text
    assert "s" * 40 not in text
    assert config.client_secret_value == "topsecretvalue123"


def test_secret_rotation_list() -> None:
    config = CognitoConfig.from_env({**GOOD, "COGNITO_SESSION_SECRET": "a" * 32 + "," + "b" * 32})
    assert [s.get() for s in config.session_secrets] == ["a" * 32, "b" * 32]


def test_lists_are_split() -> None:
    config = CognitoConfig.from_env(
        {**GOOD, "COGNITO_ALLOWED_PROVIDERS": "AzureAD, Google", "COGNITO_EXTRA_CLIENT_IDS": "m1"}
    )
    assert config.allowed_providers == ("AzureAD", "Google")
    assert config.allowed_client_ids == {"4hqt9ikctmesulmh0hbqbs00ta", "m1"}


@pytest.mark.parametrize(
    ("value", "expected"), [("false", False), ("No", False), ("0", False), ("TRUE", True)]
)
def test_guest_credentials_from_the_environment(value: str, expected: bool) -> None:
    config = CognitoConfig.from_env({**GOOD, "COGNITO_GUEST_CREDENTIALS": value})
    assert config.guest_credentials is expected
    assert CognitoConfig.from_env(GOOD).guest_credentials is True


def test_jwks_uri_overrides_the_derived_one() -> None:
    derived = CognitoConfig.from_env(GOOD)
    assert derived.jwks_url == f"{derived.issuer_url}/.well-known/jwks.json"
    config = CognitoConfig.from_env(
        {
            **GOOD,
            "COGNITO_JWKS_URI": "http://127.0.0.1:9229/eu-west-1_AbCdEf123/.well-known/jwks.json",
        }
    )
    assert config.issuer_url == derived.issuer_url
    assert config.jwks_url == "http://127.0.0.1:9229/eu-west-1_AbCdEf123/.well-known/jwks.json"
    with pytest.raises(ConfigurationError) as info:
        CognitoConfig.from_env({**GOOD, "COGNITO_JWKS_URI": "http://keys.example/jwks.json"})
    assert info.value.setting == "COGNITO_JWKS_URI"
