"""``python -m cognito_middleware.local [--host 127.0.0.1] [--port 9229] [--seed FILE]``

Prints the ``COGNITO_*`` lines an app needs (stdout is a valid ``.env`` file: everything else
is a ``#`` comment), then serves until interrupted.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .app import LocalCognito
from .seed import DEMO_PASSWORD, Seed, SeedError, demo_seed
from .server import bind, make_server


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cognito_middleware.local",
                                     description="Run a local, offline AWS Cognito.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9229, help="0 picks a free port")
    parser.add_argument("--seed", help="JSON or TOML seed file (default: the demo seed)")
    parser.add_argument("--app-url", default="http://127.0.0.1:8000",
                        help="the app's base URL (demo callback and sign-out URLs)")
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
    cognito = LocalCognito(seed, base_url=f"http://{host}:{port}")
    out = [f"# Local Cognito listening on {cognito.base_url}",
           f"# user pool {cognito.pool_id}, issuer {cognito.issuer}"]
    if not args.seed:
        out.append(f"# users: alice (admin, users), bob (users); password {DEMO_PASSWORD}")
        for provider in seed.providers:
            for idp_user in provider.users:
                out.append(f"# {provider.name} ({provider.type}) user: {idp_user.username}; "
                           f"password {DEMO_PASSWORD}")
    for provider in seed.providers:
        if provider.type == "SAML" and provider.users:
            out.append(f"# {provider.name} SAML metadata: {cognito.base_url}/_idp/"
                       f"{provider.name}/federationmetadata/2007-06/federationmetadata.xml")
    out += [f"{name}={value}" for name, value in cognito.env(app_url=args.app_url).items()]
    print("\n".join(out), flush=True)
    server = make_server(cognito.app)
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # pragma: no cover - interactive
        pass
    finally:
        sock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
