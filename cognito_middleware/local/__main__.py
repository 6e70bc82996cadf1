"""``python -m cognito_middleware.local [--host 127.0.0.1] [--port 9229] [--seed FILE]
[--state FILE] [--aws-issuer] [--tls [--tls-dir DIR]]``

Prints the ``COGNITO_*`` lines an app needs (stdout is a valid ``.env`` file: everything else
is a ``#`` comment), then serves until interrupted; with ``--state`` the state is saved on each
change and at shutdown.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .app import LocalCognito
from .seed import DEMO_PASSWORD, TRIGGER_NAMES, Seed, SeedError, demo_seed
from .server import bind, make_server, serve_until_stopped
from .state import StateError


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m cognito_middleware.local", description="Run a local, offline AWS Cognito."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9229, help="0 picks a free port")
    parser.add_argument("--seed", help="JSON or TOML seed file (default: the demo seed)")
    parser.add_argument(
        "--app-url",
        default="http://127.0.0.1:8000",
        help="the app's base URL (demo callback and sign-out URLs)",
    )
    parser.add_argument(
        "--state",
        metavar="FILE",
        help="keep the state in this JSON file across restarts (an existing "
        "file wins over the seed)",
    )
    parser.add_argument(
        "--aws-issuer",
        action="store_true",
        help="issue tokens with iss https://cognito-idp.<region>.amazonaws.com/<pool id>",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve HTTPS with a self-signed certificate, made once and reused",
    )
    parser.add_argument(
        "--tls-dir",
        metavar="DIR",
        help="where the certificate is kept (default: next to the state file, "
        "else the user's data directory)",
    )
    args = parser.parse_args(argv)
    try:
        seed = Seed.from_file(args.seed) if args.seed else demo_seed(app_url=args.app_url)
    except (OSError, ValueError, SeedError) as exc:
        print(f"error: cannot load seed: {exc}", file=sys.stderr)
        return 2
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    port = sock.getsockname()[1]
    host = f"[{args.host}]" if ":" in args.host else args.host
    scheme = "https" if args.tls else "http"
    try:
        cognito = LocalCognito(
            seed,
            base_url=f"{scheme}://{host}:{port}",
            state_path=args.state,
            issuer_style="aws" if args.aws_issuer else None,
        )
    except SeedError as exc:  # e.g. a trigger's module cannot be imported
        sock.close()
        print(f"error: cannot load seed: {exc}", file=sys.stderr)
        return 2
    except StateError as exc:
        sock.close()
        print(f"error: cannot load state: {exc}", file=sys.stderr)
        return 2
    try:
        tls = cognito.tls_files(args.host, args.tls_dir) if args.tls else None
    except OSError as exc:
        sock.close()
        cognito.close()
        print(f"error: cannot make the TLS certificate: {exc}", file=sys.stderr)
        return 1
    cognito.tls = tls
    out = [
        f"# Local Cognito listening on {cognito.base_url}",
        f"# user pool {cognito.pool_id}, issuer {cognito.issuer}",
    ]
    if cognito.state_path is not None:
        out.append(f"# state: {cognito.state_path}")
    if tls is not None:
        out.append(f"# TLS certificate (trust it): {tls.certificate}")
    triggers = [name for name in TRIGGER_NAMES if cognito.triggers.configured(name)]
    if triggers:
        out.append(f"# Lambda triggers: {', '.join(triggers)}")
    if not args.seed:
        out.append(f"# users: alice (admin, users), bob (users); password {DEMO_PASSWORD}")
        for provider in seed.providers:
            for idp_user in provider.users:
                out.append(
                    f"# {provider.name} ({provider.type}) user: {idp_user.username}; "
                    f"password {DEMO_PASSWORD}"
                )
    for provider in seed.providers:
        if provider.type == "SAML" and provider.users:
            out.append(
                f"# {provider.name} SAML metadata: {cognito.base_url}/_idp/"
                f"{provider.name}/federationmetadata/2007-06/federationmetadata.xml"
            )
    out += [f"{name}={value}" for name, value in cognito.env(app_url=args.app_url).items()]
    print("\n".join(out), flush=True)
    server = make_server(cognito.app, tls=tls)
    try:
        serve_until_stopped(server, sock)
    finally:
        sock.close()
        cognito.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
