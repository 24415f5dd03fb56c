"""`alignkit serve MODEL`: a small OpenAI-compatible server over the HF backend, so a model
(an aligned checkpoint, say) can act at once as judge, teacher or critic for another run,
through the `openai` backend or any OpenAI client.

Endpoints: GET /v1/models, GET /health, POST /v1/chat/completions with `messages`, `n`,
`temperature`, `top_p`, `max_tokens` (or `max_completion_tokens`), `seed`, `logprobs`,
`top_logprobs`. No streaming, tools or `stop`; those requests get a 400 that says so.
One model, one request computing at a time (a lock); the HTTP server itself is threaded.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from alignkit.models.base import Sampling

MAX_BODY = 4 * 1024 * 1024
UNSUPPORTED = ("stream", "tools", "functions", "stop", "response_format")


class BadRequest(Exception):
    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


def _number(body: dict, key: str, default: Any, kind: type, lo: float, hi: float) -> Any:
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        raise BadRequest(f"`{key}` must be a{'n integer' if kind is int else ' number'}", key)
    if not lo <= value <= hi:
        raise BadRequest(f"`{key}` must be between {lo} and {hi}, got {value}", key)
    return kind(value)


def parse_request(body: Any) -> tuple[list[dict], Sampling, int]:
    """Validate a chat-completions body -> (messages, sampling, top_logprobs or -1 for none)."""
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object")
    for key in UNSUPPORTED:
        if body.get(key):
            raise BadRequest(f"`{key}` is not supported by alignkit serve", key)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise BadRequest("`messages` must be a non-empty list", "messages")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant") \
                or not isinstance(m.get("content"), str):
            raise BadRequest(f"messages[{i}] needs a role (system, user, assistant) and string content",
                             f"messages[{i}]")
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    sampling = Sampling(n=_number(body, "n", 1, int, 1, 64),
                        temperature=_number(body, "temperature", 1.0, float, 0.0, 2.0),
                        top_p=_number(body, "top_p", 1.0, float, 1e-6, 1.0),
                        max_new_tokens=_number({"max_tokens": max_tokens}, "max_tokens", 256, int, 1, 4096),
                        seed=_number(body, "seed", 0, int, -(2**63), 2**63 - 1))
    top = -1
    if body.get("logprobs"):
        top = _number(body, "top_logprobs", 0, int, 0, 20)
    return [{"role": m["role"], "content": m["content"]} for m in messages], sampling, top


def send_json(handler: BaseHTTPRequestHandler, status: int, payload: dict) -> None:
    """Write `payload` as a complete JSON response (keep-alive safe: explicit length)."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class ChatServer:
    """The server's state: one backend and the lock that serialises its use."""

    def __init__(self, backend, model_name: str):
        self.backend, self.model_name, self.lock = backend, model_name, threading.Lock()

    def complete(self, body: Any) -> dict:
        messages, sampling, top = parse_request(body)
        with self.lock:
            outs = self.backend.generate([messages], sampling, details=True)[0]
            logprobs = [self.backend.token_logprobs(messages, text, top) if top >= 0 else None for text, _ in outs]
            tok = self.backend.tokenizer
            prompt_tokens = len(tok(self.backend._render(messages), add_special_tokens=False).input_ids)
            completion_tokens = sum(len(tok(text, add_special_tokens=False).input_ids) for text, _ in outs)
        choices = []
        for i, ((text, finish), lp) in enumerate(zip(outs, logprobs)):
            choice = {"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": finish,
                      "logprobs": None if lp is None else {"content": lp}}
            choices.append(choice)
        return {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
                "model": self.model_name, "choices": choices,
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens}}


def make_handler(server: ChatServer, quiet: bool = False) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: Any) -> None:
            if not quiet:
                super().log_message(fmt, *args)

        def _send(self, status: int, payload: dict) -> None:
            send_json(self, status, payload)

        def _error(self, status: int, message: str, param: str | None = None, kind: str = "invalid_request_error"):
            self._send(status, {"error": {"message": message, "type": kind, "param": param, "code": None}})

        def do_GET(self) -> None:  # noqa: N802
            if self.path.rstrip("/") in ("/v1/models", "/models"):
                self._send(200, {"object": "list", "data": [{"id": server.model_name, "object": "model",
                                                             "owned_by": "alignkit"}]})
            elif self.path == "/health":
                self._send(200, {"status": "ok"})
            else:
                self._error(404, f"no route {self.path}", kind="not_found_error")

        def do_POST(self) -> None:  # noqa: N802
            if self.path.rstrip("/") not in ("/v1/chat/completions", "/chat/completions"):
                self._error(404, f"no route {self.path}; use /v1/chat/completions", kind="not_found_error")
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                self._error(413, f"request body over {MAX_BODY} bytes")
                return
            try:
                body = json.loads(self.rfile.read(length) or b"null")
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                self._error(400, f"the request body is not valid JSON: {exc}")
                return
            try:
                self._send(200, server.complete(body))
            except BadRequest as exc:
                self._error(400, str(exc), exc.param)
            except Exception as exc:  # a model failure is the server's fault: 500, and keep serving
                self._error(500, f"{type(exc).__name__}: {exc}", kind="server_error")

    return Handler


def start_server(backend, model_name: str, host: str = "127.0.0.1", port: int = 0,
                 quiet: bool = False) -> ThreadingHTTPServer:
    """Bind (port 0: any free port) and serve in a daemon thread; `.server_address` tells where.
    Call `.shutdown()` to stop."""
    httpd = ThreadingHTTPServer((host, port), make_handler(ChatServer(backend, model_name), quiet))
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd
