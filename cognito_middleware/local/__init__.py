"""A local, offline AWS Cognito for development, demos and tests.

::

    from cognito_middleware.local import LocalCognito, demo_seed

    cognito = LocalCognito(demo_seed(app_url="http://127.0.0.1:8000"))
    with cognito.serve() as base_url:
        env = cognito.env(app_url="http://127.0.0.1:8000")

Command line: ``python -m cognito_middleware.local [--host H] [--port P] [--seed FILE]
[--state FILE] [--aws-issuer] [--tls [--tls-dir DIR]]``.
"""

from __future__ import annotations

from .app import LocalCognito
from .faults import Faults
from .identity import IssuedCredentials
from .idp_api import OutboxMessage
from .pool import User
from .seed import (
    BrandingSeed,
    ClientSeed,
    GroupSeed,
    IdentityPoolSeed,
    IdpUserSeed,
    PasswordPolicySeed,
    ProviderSeed,
    ResourceServerSeed,
    RoleMappingRule,
    RoleMappingSeed,
    Seed,
    SeedError,
    TriggerSeed,
    UserSeed,
    demo_seed,
)
from .state import StateError
from .triggers import SignUpDecision, TokenOverrides, TriggerError, Triggers

__all__ = [
    "BrandingSeed",
    "ClientSeed",
    "Faults",
    "GroupSeed",
    "IdentityPoolSeed",
    "IdpUserSeed",
    "IssuedCredentials",
    "LocalCognito",
    "OutboxMessage",
    "PasswordPolicySeed",
    "ProviderSeed",
    "ResourceServerSeed",
    "RoleMappingRule",
    "RoleMappingSeed",
    "Seed",
    "SeedError",
    "SignUpDecision",
    "StateError",
    "TokenOverrides",
    "TriggerError",
    "TriggerSeed",
    "Triggers",
    "User",
    "UserSeed",
    "demo_seed",
]
