"""The server side of the load benchmark: ``python -m benchmarks._serve SPEC_JSON``.

Runs uvicorn with one worker on 127.0.0.1 and the given port, serving the bare app, the bare
app behind a no-op middleware, or the same app behind the middleware (configured from the
``COGNITO_*`` variables in the spec).
"""

from __future__ import annotations

import json
import sys

import uvicorn
from starlette.types import ASGIApp

from .apps import bare_app, cognito_app, cognito_config, passthrough_app


def main(spec_text: str) -> None:
    spec = json.loads(spec_text)
    app: ASGIApp = bare_app()
    if spec["app"] == "cognito":
        app = cognito_app(cognito_config(spec["env"]))
    elif spec["app"] == "passthrough":
        app = passthrough_app()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=int(spec["port"]),
        workers=1,
        log_level="warning",
        access_log=False,
        lifespan="on",
    )


if __name__ == "__main__":
    main(sys.argv[1])
