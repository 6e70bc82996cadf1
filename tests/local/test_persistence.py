"""The state file: what survives a restart, how it is written, and how a bad file is refused."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from cognito_middleware.local import LocalCognito, StateError, demo_seed
from cognito_middleware.local.keys import SigningKey
from cognito_middleware.local.seed import (
    DEMO_IDENTITY_POOL_ID,
    DEMO_PASSWORD,
    DEMO_POOL_ID,
    ClientSeed,
    Seed,
)
from cognito_middleware.local.state import FORMAT, VERSION
from cognito_middleware.testing import sign_in

from .helpers import BASIC, CLI, authorize_url, exchange, jwt_parts, query

IDENTITY = {"Content-Type": "application/x-amz-json-1.1"}
DAVE = "dave@okta.example"


async def get_id(
    client: httpx.AsyncClient, key: str | None = None, id_token: str | None = None
) -> str:
    body: dict[str, Any] = {"IdentityPoolId": DEMO_IDENTITY_POOL_ID}
    if key is not None and id_token is not None:
        body["Logins"] = {key: id_token}
    response = await client.post(
        "/", json=body, headers={**IDENTITY, "X-Amz-Target": "AWSCognitoIdentityService.GetId"}
    )
    assert response.status_code == 200, response.text
    identity_id: str = response.json()["IdentityId"]
    return identity_id


async def refresh(client: httpx.AsyncClient, token: str) -> httpx.Response:
    return await client.post(
        "/oauth2/token", auth=BASIC, data={"grant_type": "refresh_token", "refresh_token": token}
    )


def wait_for(condition: Any, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


@pytest.fixture
def keys(local_cognito_signing_keys: tuple[SigningKey, SigningKey]) -> tuple[SigningKey, ...]:
    return local_cognito_signing_keys


# Across restarts of the command line ------------------------------------------------------


async def test_a_user_an_identity_and_a_refresh_token_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "cognito-state.json"
    with CLI("--state", str(state)) as first:
        assert f"# state: {state}" in first.comments
        async with httpx.AsyncClient(base_url=first.base_url, timeout=10) as client:
            # A federated sign-in creates the user okta_<sub> through HTTP alone.
            signed_in = await sign_in(
                client, authorize_url(identity_provider="Okta"), DAVE, DEMO_PASSWORD
            )
            tokens = (await exchange(client, query(signed_in)["code"])).json()
            claims = jwt_parts(tokens["id_token"])[1]
            key = claims["iss"].split("://", 1)[1]
            identity_id = await get_id(client, key, tokens["id_token"])
            guest_id = await get_id(client)
            jwks = (await client.get(f"/{DEMO_POOL_ID}/.well-known/jwks.json")).json()
        code, err = first.stop()
        assert code == 0, err

    with CLI("--state", str(state), port=first.port) as second:
        assert second.startup < 2.0, f"started in {second.startup:.2f}s"
        async with httpx.AsyncClient(base_url=second.base_url, timeout=10) as client:
            assert (await client.get(f"/{DEMO_POOL_ID}/.well-known/jwks.json")).json() == jwks
            refreshed = await refresh(client, tokens["refresh_token"])
            assert refreshed.status_code == 200, refreshed.text
            new = refreshed.json()
            new_claims = jwt_parts(new["id_token"])[1]
            assert new_claims["sub"] == claims["sub"]
            assert new_claims["cognito:username"] == "okta_00u1a2b3c4d5e6f7g8h9"
            assert new_claims["origin_jti"] == claims["origin_jti"]
            # The same login finds the same identity, with the old token and the new one.
            assert await get_id(client, key, tokens["id_token"]) == identity_id
            assert await get_id(client, key, new["id_token"]) == identity_id
            guest = await client.post(
                "/",
                json={"IdentityId": guest_id},
                headers={
                    **IDENTITY,
                    "X-Amz-Target": "AWSCognitoIdentityService.GetCredentialsForIdentity",
                },
            )
            assert guest.status_code == 200, guest.text


def test_cli_refuses_a_corrupt_state_file_naming_it(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text('{"format": "cognito-middleware-local-state", "version": 1, "user_p')
    result = subprocess.run(
        [sys.executable, "-m", "cognito_middleware.local", "--port", "0", "--state", str(state)],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert "error: cannot load state:" in result.stderr
    assert str(state) in result.stderr and "corrupt JSON" in result.stderr
    assert state.read_text().endswith('"user_p')


# The Python API --------------------------------------------------------------------------


def test_directory_changes_keys_and_revocations_survive(
    tmp_path: Path, keys: tuple[SigningKey, ...]
) -> None:
    state = tmp_path / "state.json"
    with LocalCognito(demo_seed(), state_path=state, signing_keys=(keys[0], keys[1])) as first:
        first.add_group("auditors", precedence=5, role_arn="arn:aws:iam::000000000000:role/a")
        first.add_user(
            "erin",
            "erin-password-1",
            email="erin@example.com",
            groups=["auditors"],
            attributes={"custom:team": "blue"},
            enabled=False,
        )
        first.register_callback(first.client_id, "http://127.0.0.1:5123/auth/callback")
        kept = first.mint_tokens("alice")["refresh_token"]
        revoked = first.mint_tokens("bob")["refresh_token"]
        first.pool.revoke_family(first.pool.refresh_tokens[revoked].origin_jti)
        first.rotate_keys(keep_old=True)
        session = first.pool.new_session("alice")
        jwks = first.jwks()
        erin = first.user("erin")
        assert erin is not None

    second = LocalCognito(state_path=state)
    try:
        restored = second.user("erin")
        assert restored == erin
        assert second.pool.check_password("erin", "erin-password-1") is restored
        assert restored.enabled is False and restored.groups == ["auditors"]
        assert second.pool.groups["auditors"].precedence == 5
        assert second.jwks() == jwks and len(jwks["keys"]) == 4
        assert (
            "http://127.0.0.1:5123/auth/callback"
            in second.pool.clients[second.client_id].callback_urls
        )
        assert not second.is_revoked(kept) and second.is_revoked(revoked)
        assert second.pool.refresh_tokens[kept].scopes == first.pool.refresh_tokens[kept].scopes
        # The hosted-UI session cookie still signs the browser in.
        restored_session = second.pool.session(session)
        assert restored_session is not None and restored_session.username == "alice"
    finally:
        second.close()


def test_an_existing_state_file_wins_over_the_seed(
    tmp_path: Path, keys: tuple[SigningKey, ...]
) -> None:
    state = tmp_path / "state.json"
    LocalCognito(demo_seed(), state_path=state, signing_keys=(keys[0], keys[1])).close()
    other = Seed(user_pool_id="us-east-1_Other1", clients=[ClientSeed(client_id="other1")])
    with LocalCognito(other, state_path=state) as cognito:
        assert cognito.pool_id == DEMO_POOL_ID
        assert cognito.user("alice") is not None


def test_changes_are_saved_without_an_explicit_save(
    tmp_path: Path, keys: tuple[SigningKey, ...]
) -> None:
    state = tmp_path / "state.json"
    with LocalCognito(demo_seed(), state_path=state, signing_keys=(keys[0], keys[1])) as cognito:
        cognito.add_user("frank", "frank-password-1")
        wait_for(lambda: '"frank"' in state.read_text())
        assert "frank" in {
            u["username"] for u in json.loads(state.read_text())["user_pool"]["users"]
        }


def test_the_file_is_versioned_private_and_replaced_whole(
    tmp_path: Path, keys: tuple[SigningKey, ...]
) -> None:
    state = tmp_path / "state.json"
    with LocalCognito(demo_seed(), state_path=state, signing_keys=(keys[0], keys[1])) as cognito:
        inode = state.stat().st_ino
        cognito.add_user("gina", "gina-password-1")
        cognito.save()
    data = json.loads(state.read_text())
    assert (data["format"], data["version"]) == (FORMAT, VERSION)
    assert set(data) == {
        "format",
        "version",
        "saved_at",
        "issuer_style",
        "user_pool",
        "identity_pool",
    }
    # Passwords and private keys: readable by the owner only.
    assert stat.S_IMODE(state.stat().st_mode) == 0o600
    # os.replace of a fresh file, not an in-place rewrite, and no temporary file left over.
    assert state.stat().st_ino != inode
    assert [p.name for p in tmp_path.iterdir()] == ["state.json"]


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("", "corrupt JSON"),
        ("[1, 2]", "not a local Cognito state file"),
        (json.dumps({"format": FORMAT, "version": VERSION + 1}), "is newer than"),
        (json.dumps({"format": FORMAT, "version": "1"}), 'no valid "version"'),
        (
            json.dumps(
                {"format": FORMAT, "version": 1, "issuer_style": "local", "identity_pool": None}
            ),
            "'user_pool' is missing or malformed",
        ),
    ],
)
def test_bad_files_are_refused_with_the_file_named(
    tmp_path: Path, content: str, problem: str
) -> None:
    state = tmp_path / "state.json"
    state.write_text(content)
    with pytest.raises(StateError) as info:
        LocalCognito(state_path=state)
    assert str(info.value).startswith(f"{state}: ")
    assert problem in str(info.value)
    assert info.value.path == state


@pytest.mark.parametrize("damage", ["keys", "users", "user_field", "identities"])
def test_malformed_sections_are_refused(
    tmp_path: Path, keys: tuple[SigningKey, ...], damage: str
) -> None:
    state = tmp_path / "state.json"
    LocalCognito(demo_seed(), state_path=state, signing_keys=(keys[0], keys[1])).close()
    data = json.loads(state.read_text())
    if damage == "keys":
        data["user_pool"]["keys"]["id"]["private_key"] = "-----BEGIN PRIVATE KEY-----\nAAAA\n"
    elif damage == "users":
        data["user_pool"]["users"] = 5
    elif damage == "user_field":
        data["user_pool"]["users"][0]["shoe_size"] = 44
    else:
        data["identity_pool"]["identities"] = {"eu-west-1:x": [["only-one"]]}
    state.write_text(json.dumps(data))
    with pytest.raises(StateError, match=f"^{state}: the state file"):
        LocalCognito(state_path=state)


def test_a_missing_directory_is_created(tmp_path: Path, keys: tuple[SigningKey, ...]) -> None:
    state = tmp_path / "nested" / "dir" / "state.json"
    LocalCognito(demo_seed(), state_path=state, signing_keys=(keys[0], keys[1])).close()
    assert json.loads(state.read_text())["user_pool"]["pool_id"] == DEMO_POOL_ID
    assert os.listdir(state.parent) == ["state.json"]
