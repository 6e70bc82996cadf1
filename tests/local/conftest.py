from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from cognito_middleware.local import LocalCognito
from cognito_middleware.testing import (  # noqa: F401
    local_cognito,
    local_cognito_app_url,
    local_cognito_signing_keys,
)


@pytest.fixture
async def client(local_cognito: LocalCognito) -> AsyncIterator[httpx.AsyncClient]:  # noqa: F811
    async with httpx.AsyncClient(base_url=local_cognito.base_url, timeout=10) as http:
        yield http
