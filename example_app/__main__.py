"""``python -m example_app [--host 127.0.0.1] [--port 8000] [--cognito-port 9229]``.

Without ``COGNITO_*`` variables the local Cognito is started with its demo users and the app
signs in against it. With any of them set, the app uses the Cognito they describe (see the
README's configuration) and starts nothing else.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from typing import TYPE_CHECKING

from starlette.types import ASGIApp

from cognito_middleware import ConfigurationError

from .app import DemoUser, create_app, demo_config

if TYPE_CHECKING:
    from cognito_middleware.local.seed import Seed


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m example_app",
        description="Run the cognito-middleware demo app.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=8000, help="port of the app")
    parser.add_argument(
        "--cognito-port",
        type=int,
        default=9229,
        help="port of the local Cognito (ignored when COGNITO_* variables are set)",
    )
    return parser.parse_args(argv)


def _uses_real_cognito(environ: Mapping[str, str]) -> bool:
    return any(name.startswith("COGNITO_") and value for name, value in environ.items())


def _app_url(host: str, port: int) -> str:
    # The callback URL must be loopback for plain HTTP; listening on every interface still
    # means the browser reaches the app on 127.0.0.1.
    shown = "127.0.0.1" if host in ("", "0.0.0.0", "::") else host  # noqa: S104
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m example_app``; returns the exit status."""
    args = _parse_args(argv)
    app_url = _app_url(args.host, args.port)
    try:
        # Bound before anything starts, so that a busy port is reported at once and clearly.
        sock = _listen(args.host, args.port)
    except OSError as exc:
        return _fail(f"cannot listen on {args.host}:{args.port} ({exc.strerror}); use --port")
    with sock, ExitStack() as stack:
        if _uses_real_cognito(os.environ):
            try:
                config = demo_config()
            except ConfigurationError as exc:
                return _fail(f"configuration error: {exc}")
            print(f"Cognito:        {config.domain}", flush=True)
            print(f"Demo app:       {app_url}", flush=True)
            _serve(create_app(config), sock)
            return 0

        from cognito_middleware.local import LocalCognito, demo_seed

        seed = demo_seed(app_url=app_url)
        cognito = LocalCognito(seed)
        try:
            cognito_url = stack.enter_context(
                cognito.serve(host="127.0.0.1", port=args.cognito_port)
            )
        except OSError as exc:
            return _fail(
                f"cannot start the local Cognito on port {args.cognito_port} ({exc.strerror}); "
                "use --cognito-port"
            )
        config = demo_config(cognito.env(app_url=app_url))
        users = demo_users_of(seed)
        print(f"Local Cognito:  {cognito_url}", flush=True)
        print(f"Demo app:       {app_url}", flush=True)
        print("Demo users:", flush=True)
        width = max((len(user.username) for user in users), default=0)
        for user in users:
            where = user.provider or "Cognito user pool"
            print(
                f"  {user.username:<{width}}  password {user.password}  ({where}; "
                f"{user.description})",
                flush=True,
            )
        _serve(create_app(config, demo_users=users), sock)
    return 0


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


def _serve(app: ASGIApp, sock: socket.socket) -> None:
    import uvicorn

    uvicorn.Server(uvicorn.Config(app, log_level="info")).run(sockets=[sock])


def _fail(message: str) -> int:
    print(f"python -m example_app: error: {message}", file=sys.stderr, flush=True)
    return 2


def demo_users_of(seed: Seed) -> list[DemoUser]:
    """The sign-ins a local Cognito seed offers, for the home page and the console."""
    users = [
        DemoUser(
            username=user.username,
            password=user.password,
            description=f"groups: {', '.join(user.groups)}" if user.groups else "no groups",
        )
        for user in seed.users
        if user.enabled
    ]
    users += [
        DemoUser(
            username=idp_user.username,
            password=idp_user.password,
            description=provider.display_name or f"{provider.type} provider",
            provider=provider.name,
        )
        for provider in seed.providers
        for idp_user in provider.users
    ]
    return users


if __name__ == "__main__":
    sys.exit(main())
