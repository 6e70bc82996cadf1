"""A small demo of cognito-middleware: FastAPI pages, a Starlette route, guests and AWS credentials.

Run it with ``python -m example_app``: without ``COGNITO_*`` variables it starts the local
Cognito with demo users and signs in against it; with them it uses your real Cognito.
"""

from __future__ import annotations

from .app import DemoUser, create_app, demo_config

__all__ = ["DemoUser", "create_app", "demo_config"]
