"""Run an ASGI app with uvicorn in a background thread, on a free port."""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from starlette.types import ASGIApp

from .tls import TLSFiles

__all__ = ["background_server", "bind", "make_server", "serve_until_stopped"]


def bind(host: str, port: int) -> socket.socket:
    """A listening socket; ``port=0`` picks a free port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def make_server(
    app: ASGIApp,
    *,
    log_level: str = "warning",
    access_log: bool = False,
    tls: TLSFiles | None = None,
) -> Any:
    """A uvicorn server for ``app`` (HTTPS with ``tls``), to run on a socket from :func:`bind`."""
    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "running the local Cognito as a server needs uvicorn: "
            "pip install 'cognito-middleware[local]'"
        ) from exc
    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=access_log,
        lifespan="off",
        ws="none",
        http="h11",
        timeout_graceful_shutdown=1,
        log_config=None,
        ssl_certfile=str(tls.certificate) if tls else None,
        ssl_keyfile=str(tls.key) if tls else None,
    )
    return uvicorn.Server(config)


def serve_until_stopped(server: Any, sock: socket.socket) -> None:
    """Run ``server`` on ``sock`` in this (main) thread until SIGINT or SIGTERM, then return.

    uvicorn re-raises the stopping signal once it has shut down, which would end the process
    before the caller's own shutdown work (the last save of the state file) runs.
    """

    @contextmanager
    def capture_signals() -> Iterator[None]:
        stops = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, server.handle_exit) for sig in stops}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    server.capture_signals = capture_signals
    server.run(sockets=[sock])


@contextmanager
def background_server(
    app: ASGIApp,
    host: str = "127.0.0.1",
    port: int = 0,
    startup_timeout: float = 10.0,
    tls: TLSFiles | None = None,
) -> Iterator[tuple[str, int]]:
    """Serve ``app`` in a daemon thread; yields ``(host, port)``; stops and joins on exit."""
    sock = bind(host, port)
    bound_port = sock.getsockname()[1]
    server = make_server(app, tls=tls)
    thread = threading.Thread(
        target=server.run,
        kwargs={"sockets": [sock]},
        name=f"local-cognito-{bound_port}",
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the local Cognito server did not start")
        time.sleep(0.005)
    try:
        yield host, bound_port
    finally:
        server.should_exit = True
        # Open keep-alive connections would hold a graceful shutdown for no benefit here.
        server.force_exit = True
        thread.join(timeout=5)
        sock.close()
