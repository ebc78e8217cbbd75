"""The latent-space explorer: a local web page over one trained run (``aekit explore RUN``).

    from aekit.explore import ExploreSession, create_app, serve
    session = ExploreSession.from_run("runs/vae")
    serve(session, host="127.0.0.1", port=8765)      # blocks; Ctrl-C stops it

session.py holds the model and the map's examples (loaded once; one lock around model calls),
render.py turns examples into PNGs, series values or text and reads users' images, app.py is the
FastAPI app (page, assets, JSON API under /api, its OpenAPI schema at /api/openapi.json), static/ the
page itself (no CDN: it works offline). docs/EXPLORER.md describes the page and the API.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
from typing import Any

from ..errors import AekitError
from .app import MAX_BODY, create_app
from .session import ExploreSession

log = logging.getLogger("aekit.explore")

__all__ = ["ExploreSession", "create_app", "serve", "bind", "MAX_BODY", "is_loopback", "ServerThread"]


def is_loopback(host: str) -> bool:
    """Whether ``host`` is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on (host, port); port 0 picks a free one. Clear errors for a taken port or
    an address this machine does not have."""
    if not 0 <= int(port) <= 65535:
        raise AekitError(f"--port must be from 0 to 65535, got {port}", "e.g. --port 8765 (0: any free port)")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise AekitError(f"--host {host} is not an address of this machine", "use 127.0.0.1 (this machine only) or 0.0.0.0") from None
    family, _, _, _, addr = infos[0]
    # proto IPPROTO_TCP: asyncio sets TCP_NODELAY only on such sockets' connections (with proto 0,
    # Nagle + delayed ACKs add ~40 ms to every response: measured)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(addr)
    except OSError as e:
        sock.close()
        taken = e.errno in (98, 48)  # EADDRINUSE on Linux, macOS
        raise AekitError(f"cannot listen on {host}:{port} ({'the port is in use' if taken else e.strerror})",
                         "choose another --port (0: any free port)" if taken else "use --host 127.0.0.1") from None
    sock.listen(128)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def serve(session: ExploreSession, host: str = "127.0.0.1", port: int = 8765, *, announce: Any = None,
          sock: socket.socket | None = None) -> None:
    """Serve the explorer of ``session`` until interrupted. Binds 127.0.0.1 unless told otherwise, and
    warns when binding wider (anyone who reaches the port can query the model)."""
    try:
        import uvicorn
    except ImportError as e:
        raise AekitError("the explorer needs FastAPI and uvicorn (uvicorn is not installed)", "pip install 'aekit[explore]'") from e
    app = create_app(session)
    if not is_loopback(host):
        log.warning("warning: listening on %s, not only this machine: anyone who can reach this port can query the model "
                    "(there is no authentication); use --host 127.0.0.1 to keep it local", host)
    sock = sock or bind(host, port)
    (announce or (lambda line: print(line, flush=True)))(f"aekit explore: {session.name} at {url_of(sock)}  (Ctrl-C to stop)")
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_graceful_shutdown=2)
    uvicorn.Server(config).run(sockets=[sock])


class ServerThread:
    """The explorer served from a background thread (tests, benchmarks, notebooks):

        with ServerThread(session) as url:     # http://127.0.0.1:<free port>/
            ...
    """

    def __init__(self, session: ExploreSession, host: str = "127.0.0.1", port: int = 0):
        import uvicorn

        self.sock = bind(host, port)
        self.url = url_of(self.sock)
        config = uvicorn.Config(create_app(session), log_level="warning", access_log=False, timeout_graceful_shutdown=2)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> str:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the explorer's server did not start")
            time.sleep(0.02)
        return self.url

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
