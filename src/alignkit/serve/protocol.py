"""uvicorn's h11 protocol with the limits a public server needs and uvicorn leaves out:

- a request's head (request line and headers) must arrive within `header_timeout` seconds
  of the connection opening or of the previous response; uvicorn's keep-alive timer stops
  at the first byte, so a client trickling a byte at a time would otherwise hold its
  connection forever (slowloris). Idle connections are closed silently; a half-sent head
  gets a 408.
- at most `max_connections` open connections; the next one gets a 503 and is closed.
- malformed HTTP (bad Content-Length, bad chunk, oversized headers) gets an OpenAI-shaped
  JSON 400 instead of uvicorn's plain-text one.
"""

from __future__ import annotations

import asyncio
import json
import sys

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from alignkit.serve.api import error_payload


def _response(status: int, reason: bytes, payload: dict) -> list[h11.Event]:
    body = json.dumps(payload).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    return [h11.Response(status_code=status, headers=headers, reason=reason), h11.Data(data=body), h11.EndOfMessage()]


class BoundedH11Protocol(H11Protocol):
    header_timeout = 10.0  # set per server by `protocol_class`
    max_connections = 1024

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._head_timer: asyncio.TimerHandle | None = None
        self._cycle_at_arm, self._bytes_seen = None, 0
        if len(self.connections) > self.max_connections:
            self._reply_and_close(503, b"Service Unavailable", error_payload(
                f"the server has {self.max_connections} open connections; retry shortly", "server_error"))
            return
        self._arm()

    def _arm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
        self._bytes_seen = 0
        self._cycle_at_arm = self.cycle
        self._head_timer = self.loop.call_later(self.header_timeout, self._head_timeout)

    def data_received(self, data: bytes) -> None:
        self._bytes_seen += len(data)
        super().data_received(data)
        if self.cycle is not self._cycle_at_arm and self._head_timer is not None:
            self._head_timer.cancel()  # a whole request head arrived; the app bounds the body's time
            self._head_timer = None

    def on_response_complete(self) -> None:
        if not self.transport.is_closing():
            self._arm()
        super().on_response_complete()
        if self.cycle is not self._cycle_at_arm and self._head_timer is not None:
            self._head_timer.cancel()  # a pipelined request was already waiting
            self._head_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        if getattr(self, "_head_timer", None) is not None:
            self._head_timer.cancel()
        super().connection_lost(exc)

    def _head_timeout(self) -> None:
        self._head_timer = None
        if self.transport.is_closing() or (self.cycle is not None and not self.cycle.response_complete):
            return
        if self._bytes_seen:
            self._reply_and_close(408, b"Request Timeout", error_payload(
                f"the request's headers did not arrive within {self.header_timeout:g} s; send the whole request "
                "at once", code="request_timeout"))
        else:
            self.transport.close()

    def _reply_and_close(self, status: int, reason: bytes, payload: dict) -> None:
        try:
            for event in _response(status, reason, payload):
                self.transport.write(self.conn.send(event))
        except h11.LocalProtocolError:
            pass  # h11 cannot answer in this state; just close
        self.transport.close()

    def send_400_response(self, msg: str) -> None:
        # called inside uvicorn's `except h11.RemoteProtocolError`, so the error is at hand
        exc = sys.exc_info()[1]
        detail = f": {exc}" if isinstance(exc, h11.RemoteProtocolError) else ""
        self._reply_and_close(400, b"Bad Request", error_payload(
            f"malformed HTTP request{detail}; send a valid HTTP/1.1 request with a non-negative Content-Length "
            "(or chunked encoding) and headers under 16 KB", code="malformed_http"))


def protocol_class(header_timeout: float, max_connections: int) -> type[BoundedH11Protocol]:
    """A BoundedH11Protocol subclass with these limits (uvicorn takes a class, not an instance)."""
    return type("BoundedH11", (BoundedH11Protocol,), {"header_timeout": header_timeout,
                                                      "max_connections": max_connections})
