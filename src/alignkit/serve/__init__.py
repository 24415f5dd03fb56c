"""`alignkit serve MODEL`: an OpenAI-compatible server over the HF backend, so a model (an
aligned checkpoint, say) can act at once as judge, teacher or critic for another run,
through the `openai` backend or any OpenAI client.

Endpoints: GET /v1/models, GET /health, POST /v1/chat/completions with `messages`, `n`,
`temperature`, `top_p`, `max_tokens` (or `max_completion_tokens`), `seed`, `logprobs`,
`top_logprobs`. No streaming, tools or `stop`; those requests get a 400 that says so.

HTTP is uvicorn (h11) with Starlette (`protocol.py` adds the limits uvicorn lacks); requests
are validated in `api.py` and answered by `app.py`; one worker thread owns the model and
batches waiting requests (`batcher.py`). Every error is OpenAI-shaped:
`{"error": {"message", "type", "param", "code"}}`.
"""

from __future__ import annotations

import socket
import threading
import time

from alignkit.serve.api import MAX_BODY, MAX_N, MAX_TOKENS, parse_request
from alignkit.serve.batcher import Batcher

__all__ = ["MAX_BODY", "MAX_N", "MAX_TOKENS", "Server", "parse_request", "start_server"]


class Server:
    """A running server: `.server_address` is (host, port); `.shutdown()` stops it."""

    def __init__(self, uvicorn_server, thread: threading.Thread, sock: socket.socket, batcher):
        self._server, self._thread, self._sock, self.batcher = uvicorn_server, thread, sock, batcher
        self.server_address = sock.getsockname()[:2]

    def shutdown(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)
        self.batcher.close()
        self._sock.close()


def start_server(backend, model_name: str, host: str = "127.0.0.1", port: int = 0, quiet: bool = False, *,
                 header_timeout: float = 10.0, body_timeout: float = 30.0, keep_alive: float = 5.0,
                 max_connections: int = 1024, max_queued_rows: int = 8192) -> Server:
    """Bind (port 0: any free port; an OSError if it cannot) and serve in a daemon thread.
    `header_timeout`/`body_timeout`: seconds a client may take to send a request's head/body;
    `keep_alive`: seconds an idle connection stays open; beyond `max_connections` open
    connections a new one gets a 503, beyond `max_queued_rows` queued choices a request a 429."""
    import uvicorn

    from alignkit.serve.app import ChatService, build_app
    from alignkit.serve.protocol import protocol_class

    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(4096)  # the kernel caps it at net.core.somaxconn; the stdlib server's 5 reset half of 200
    except OSError:
        sock.close()
        raise
    batcher = Batcher(backend, max_rows=getattr(backend, "batch_size", 32), max_queued_rows=max_queued_rows)
    app = build_app(ChatService(backend, model_name, batcher), body_timeout)
    config = uvicorn.Config(app, http=protocol_class(header_timeout, max_connections), lifespan="off",
                            timeout_keep_alive=keep_alive, access_log=not quiet,
                            log_level="error" if quiet else "info", backlog=4096)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name="alignkit-serve", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            batcher.close()
            sock.close()
            raise OSError(0, f"the HTTP server did not start on {host}:{port}")
        time.sleep(0.01)
    return Server(server, thread, sock, batcher)
