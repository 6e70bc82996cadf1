"""Helpers for testing apps that use the middleware, against the local Cognito.

Enable the pytest fixtures in your ``conftest.py``::

    pytest_plugins = ["cognito_middleware.testing"]

Fixtures: ``local_cognito`` (a demo-seeded emulator served on a free port, fresh for each
test), ``local_cognito_app_url`` (the app URL registered on its demo clients),
``local_cognito_clock`` (the emulator's clock; override it to share the app's),
``frozen_clock`` (a :class:`FrozenClock` at the test's start).

Acting as a user, through the real middleware::

    async def test_admin_page(client, config, local_cognito):
        await signed_in(local_cognito, config, "dora", groups=["admins"], client=client)
        assert (await client.get("/admin")).status_code == 200

    async def test_api(client, local_cognito):
        token = bearer_token(local_cognito, "bob")
        response = await client.get("/api/me", headers={"Authorization": f"Bearer {token}"})

Signing in through the hosted UI, as a browser does::

    async with httpx.AsyncClient(base_url=local_cognito.base_url) as browser:
        response = await sign_in(browser, authorize_url, "alice", DEMO_PASSWORD)
        assert "code=" in response.headers["location"]

Time: :class:`FrozenClock` (stands still until moved) and :class:`ShiftedClock` (real time
plus an offset) go wherever a ``clock`` is taken.
"""

from __future__ import annotations

from importlib.util import find_spec

from ..local.seed import DEMO_PASSWORD
from ._browser import HTMLForm, find_forms, sign_in
from ._clock import FrozenClock, ShiftedClock
from ._identity import SignedIn, bearer_token, issue_tokens, signed_in

# The fixtures need pytest; the helpers do not.
if find_spec("pytest") is not None:
    from ._fixtures import (
        frozen_clock,
        local_cognito,
        local_cognito_app_url,
        local_cognito_clock,
        local_cognito_signing_keys,
    )

__all__ = [
    "DEMO_PASSWORD",
    "FrozenClock",
    "HTMLForm",
    "ShiftedClock",
    "SignedIn",
    "bearer_token",
    "find_forms",
    "frozen_clock",
    "issue_tokens",
    "local_cognito",
    "local_cognito_app_url",
    "local_cognito_clock",
    "local_cognito_signing_keys",
    "sign_in",
    "signed_in",
]
