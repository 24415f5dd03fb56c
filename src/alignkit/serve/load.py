"""A loopback load client for `alignkit serve`: raw HTTP/1.1 over asyncio, one connection per
request, so refused and reset connections are counted rather than retried. Used by the
suite (tests/test_serve.py) and by bench/serve_load.py."""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections import Counter

CHAT = [{"role": "user", "content": "Say hi."}]


def request_bytes(host: str, body: dict | bytes, path: str = "/v1/chat/completions") -> bytes:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n").encode() + data


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict]:
    """(status, JSON body) of one response with a Content-Length."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
    body = await reader.readexactly(int(headers.get("content-length", "0")))
    return status, json.loads(body) if body else {}


async def _one(host: str, port: int, payload: bytes, timeout: float) -> tuple[str, float]:
    start = time.perf_counter()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        try:
            writer.write(payload)
            await writer.drain()
            status, _ = await asyncio.wait_for(read_response(reader), timeout)
        finally:
            writer.close()
        return str(status), time.perf_counter() - start
    except ConnectionResetError:
        return "reset", time.perf_counter() - start
    except ConnectionRefusedError:
        return "refused", time.perf_counter() - start
    except (asyncio.TimeoutError, TimeoutError):
        return "timeout", time.perf_counter() - start
    except (asyncio.IncompleteReadError, OSError) as exc:
        return type(exc).__name__, time.perf_counter() - start


def _percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def run_load(host: str, port: int, requests: int = 200, body: dict | None = None, timeout: float = 120.0) -> dict:
    """Send `requests` chat completions at once, each on its own connection. Returns the
    outcome counts ("200", "reset", "refused", "timeout", ...), p50/p99 latency of the 200s in
    seconds, and the wall time."""
    payload = request_bytes(host, body or {"messages": CHAT, "max_tokens": 8, "temperature": 0})

    async def main() -> list[tuple[str, float]]:
        return await asyncio.gather(*[_one(host, port, payload, timeout) for _ in range(requests)])

    start = time.perf_counter()
    results = asyncio.run(main())
    wall = time.perf_counter() - start
    ok = [t for kind, t in results if kind == "200"]
    return {"outcomes": dict(Counter(kind for kind, _ in results)), "p50_s": _percentile(ok, 50) if ok else None,
            "p99_s": _percentile(ok, 99) if ok else None, "wall_s": wall}


async def _slow(host: str, port: int, first: bytes, gap: float, limit: float) -> tuple[str, float]:
    """Send `first`, then a byte every `gap` s; return how the server ended it and when."""
    start = time.perf_counter()
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(first)
        await writer.drain()
        while time.perf_counter() - start < limit:
            try:
                status, _ = await asyncio.wait_for(read_response(reader), gap)
                return str(status), time.perf_counter() - start
            except (asyncio.TimeoutError, TimeoutError):
                writer.write(b"x")
                await writer.drain()
            except asyncio.IncompleteReadError as exc:
                if not exc.partial:
                    return "closed", time.perf_counter() - start
                raise
        return "still open", time.perf_counter() - start
    except (ConnectionResetError, BrokenPipeError):
        return "closed", time.perf_counter() - start
    finally:
        writer.close()


def run_slow_clients(host: str, port: int, clients: int = 20, gap: float = 0.25, limit: float = 30.0,
                     requests: int = 20, body: dict | None = None) -> dict:
    """`clients` slowloris connections (half trickle a request head, half a body) while
    `requests` ordinary requests are served. Returns how each slow one ended (status,
    "closed" or "still open") and its longest life, and the ordinary requests' outcomes."""
    head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nContent-".encode()
    body_start = (f"POST /v1/chat/completions HTTP/1.1\r\nHost: {host}\r\nContent-Length: 100000\r\n\r\n"
                  '{"messages": ').encode()
    payload = request_bytes(host, body or {"messages": CHAT, "max_tokens": 4, "temperature": 0})

    async def main():
        slow = [_slow(host, port, head if i % 2 == 0 else body_start, gap, limit) for i in range(clients)]
        fast = [_one(host, port, payload, limit) for _ in range(requests)]
        return await asyncio.gather(asyncio.gather(*slow), asyncio.gather(*fast))

    slow, fast = asyncio.run(main())
    return {"slow": dict(Counter(kind for kind, _ in slow)), "slow_max_s": max(t for _, t in slow),
            "ordinary": dict(Counter(kind for kind, _ in fast)), "ordinary_max_s": max(t for _, t in fast)}
