"""`alignkit serve` as a hostile or careless client meets it: malformed HTTP and JSON, bodies
too large, prompts past the context, slow clients, and 200 requests at once. A real server
(uvicorn, the tiny model) on a loopback port; raw sockets, so nothing is smoothed over by a
client library."""

import json
import socket
import threading
import time

import pytest

from alignkit.serve import MAX_BODY, start_server
from alignkit.serve.load import CHAT, request_bytes, run_load, run_slow_clients

TIMEOUT = 1.5  # the test server's header and body timeouts, seconds


@pytest.fixture(scope="module")
def srv(tiny):
    server = start_server(tiny, "tiny", quiet=True, header_timeout=TIMEOUT, body_timeout=TIMEOUT)
    yield server
    server.shutdown()


def exchange(server, raw: bytes, timeout: float = 30.0) -> tuple[int, dict, bytes]:
    """Send raw bytes; return the first response's status and JSON body, and whatever the
    server sent after it before closing (b"" when it closed cleanly)."""
    with socket.create_connection(server.server_address, timeout=timeout) as s:
        try:
            s.sendall(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before taking all of an oversized body
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(65536)
            assert chunk, f"connection closed with no response (got {data!r})"
            data += chunk
        head, _, rest = data.partition(b"\r\n\r\n")
        headers = dict(line.split(": ", 1) for line in head.decode().split("\r\n")[1:])
        headers = {k.lower(): v for k, v in headers.items()}
        length = int(headers["content-length"])
        while len(rest) < length:
            chunk = s.recv(65536)
            assert chunk, "connection closed inside the response body"
            rest += chunk
        body, after = rest[:length], rest[length:]
        if headers.get("connection") == "close":
            try:
                while chunk := s.recv(65536):
                    after += chunk
            except ConnectionResetError:
                pass
        return int(head.split()[1]), json.loads(body), after


def head(extra: str, path: str = "/v1/chat/completions", method: str = "POST") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: x\r\n{extra}\r\n".encode()


def chat(body: bytes | dict) -> bytes:
    return request_bytes("x", body).replace(b"Connection: close\r\n", b"")


GOOD = {"messages": CHAT, "max_tokens": 2}
DEEP = b'{"messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
BIG_PROMPT = {"messages": [{"role": "user", "content": "hello world " * 90_000}]}  # ~1 MB, ~180K tokens
CASES = {
    "negative Content-Length": (head("Content-Length: -1\r\n") + b"x" * 1000, 400, "Content-Length"),
    "non-numeric Content-Length": (head("Content-Length: abc\r\n") + b"{}", 400, "Content-Length"),
    "two different Content-Lengths": (head("Content-Length: 2\r\nContent-Length: 3\r\n") + b"{}", 400,
                                      "Content-Length"),
    "Content-Length and chunked at once": (head("Content-Length: 2\r\nTransfer-Encoding: chunked\r\n")
                                           + b"2\r\n{}\r\n0\r\n\r\n", 400, "Transfer-Encoding"),
    "no Content-Length, body follows": (head("") + json.dumps(GOOD).encode(), 411, "Content-Length"),
    "malformed chunk": (head("Transfer-Encoding: chunked\r\n") + b"zz\r\n{}\r\n", 400, "chunk"),
    "chunked body over the limit": (head("Transfer-Encoding: chunked\r\n")
                                    + (b"100000\r\n" + b" " * 0x100000 + b"\r\n") * 5, 413, "limit"),
    "declared body over the limit": (head(f"Content-Length: {100 * 2**20}\r\n") + b"{", 413, "limit"),
    "headers over 16 KB": (head("X-Pad: " + "a" * 200_000 + "\r\nContent-Length: 2\r\n") + b"{}", 400, "malformed"),
    "garbage request line": (b"HELLO\r\n\r\n", 400, "malformed"),
    "empty body": (chat(b""), 400, "JSON object"),
    "not JSON": (chat(b"{not json"), 400, "not valid JSON"),
    "not UTF-8": (chat(b'{"messages": "\xff\xfe"}'), 400, "UTF-8"),
    "JSON nested 100,000 deep": (chat(DEEP), 400, "nested too deeply"),
    "5,000-digit seed": (chat(b'{"messages": [], "seed": ' + b"9" * 5000 + b"}"), 400, "too long"),
    "4,000-digit seed": (chat({**GOOD, "seed": int("9" * 4000)}), 400, "`seed` must be between"),
    "NaN temperature": (chat(b'{"messages": [{"role": "user", "content": "x"}], "temperature": NaN}'), 400,
                        "`temperature`"),
    "lone surrogate in content": (chat(b'{"messages": [{"role": "user", "content": "a\\ud800b"}]}'), 400,
                                  "lone surrogate"),
    "a JSON array": (chat([GOOD]), 400, "JSON object"),
    "no messages": (chat({"messages": []}), 400, "non-empty"),
    "content not a string": (chat({"messages": [{"role": "user", "content": {"a": 1}}]}), 400, r"messages[0]"),
    "n over the bound": (chat({**GOOD, "n": 65}), 400, "between 1 and 64"),
    "max_tokens over the bound": (chat({**GOOD, "max_tokens": 100_000}), 400, "between 1 and 4096"),
    "streaming": (chat({**GOOD, "stream": True}), 400, "not supported"),
    "1 MB prompt past the context": (chat(BIG_PROMPT), 400, "maximum context length is 1024"),
    "prompt + max_tokens past the context": (chat({"messages": CHAT, "max_tokens": 1020}), 400,
                                             "maximum context length is 1024"),
    "Content-Length with a plus sign": (head("Content-Length: +2\r\n") + b"{}", 400, "Content-Length"),
    "5,000-digit Content-Length": (head("Content-Length: " + "9" * 5000 + "\r\n") + b"{}", 400, "Content-Length"),
    "Transfer-Encoding gzip": (head("Transfer-Encoding: gzip\r\n") + b"xx", 400, "Transfer-Encoding"),
    "no Host header": (b"POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}", 400, "Host"),
    "HTTP/1.0, no Content-Length, body follows": (b"POST /v1/chat/completions HTTP/1.0\r\n\r\n"
                                                  + json.dumps(GOOD).encode(), 411, "Content-Length"),
    "NUL in a header": (head("X-A: a\x00b\r\nContent-Length: 2\r\n") + b"{}", 400, "malformed"),
    "object nested 50,000 deep": (chat(b'{"messages": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_000 + b"}"), 400,
                                  "nested too deeply"),
    "infinite temperature": (chat(b'{"messages": [{"role": "user", "content": "x"}], "temperature": 1e999}'),
                             400, "`temperature`"),
    "fractional seed": (chat({**GOOD, "seed": 1.5}), 400, "`seed` must be an integer"),
    "n as a string": (chat({**GOOD, "n": "2"}), 400, "`n` must be an integer"),
    "top_logprobs over the bound": (chat({**GOOD, "logprobs": True, "top_logprobs": 21}), 400, "between 0 and 20"),
    "surrogate as a role": (chat(b'{"messages": [{"role": "\\ud800", "content": "x"}]}'), 400, "messages[0]"),
    "10,000 messages past the context": (chat({"messages": [{"role": "user", "content": "x"}] * 10_000}), 400,
                                         "maximum context length"),
    "unknown route": (chat(GOOD).replace(b"/v1/chat/completions", b"/v1/nothing"), 404, "no route"),
    "GET on chat": (head("", method="GET"), 405, "not allowed"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_every_malformed_request_gets_an_openai_shaped_4xx(srv, name):
    raw, status, needle = CASES[name]
    got, body, after = exchange(srv, raw)
    assert got == status, body
    err = body["error"]
    assert set(err) == {"message", "type", "param", "code"} and needle in err["message"], err
    assert b"HTTP/1.1" not in after, "the rest of the request was parsed as a second request"


def test_the_server_is_still_up_after_the_malformed_requests(srv):
    for raw, _, _ in CASES.values():
        exchange(srv, raw)
    status, body, _ = exchange(srv, chat(GOOD))
    assert status == 200 and body["choices"][0]["message"]["role"] == "assistant"


def test_a_default_max_tokens_shrinks_to_fit_the_context(srv):
    long = {"messages": [{"role": "user", "content": "hi " * 985}], "temperature": 0}  # 1,016 prompt tokens
    status, body, _ = exchange(srv, chat(long))
    assert status == 200, body
    # 8 positions left of 1,024: the default 256 shrank (a decoded text re-tokenizes to about as many)
    assert body["usage"]["prompt_tokens"] == 1016 and body["usage"]["completion_tokens"] <= 12, body["usage"]


@pytest.fixture(scope="module")
def load_srv(tiny_model_dir):
    from alignkit.models.hf import HFBackend

    server = start_server(HFBackend(str(tiny_model_dir), batch_size=32), "tiny", quiet=True)
    yield server
    server.shutdown()


def test_200_concurrent_requests_no_resets_and_fewer_generate_calls(load_srv):
    steps = load_srv.batcher.steps
    out = run_load(*load_srv.server_address, requests=200, timeout=120,
                   body={"messages": CHAT, "max_tokens": 1, "temperature": 0})
    assert out["outcomes"] == {"200": 200}, out
    # identical sampling settings: waiting requests share generate calls (up to 32 rows each)
    assert load_srv.batcher.steps - steps <= 100, load_srv.batcher.steps - steps
    assert out["p50_s"] <= out["p99_s"] < 120


def test_slow_clients_time_out_and_do_not_block_others(srv):
    out = run_slow_clients(*srv.server_address, clients=20, gap=0.25, limit=4 * TIMEOUT + 5, requests=10)
    # half trickle a head (408), half a body (408 after the body timeout); none outlives its limit
    assert out["slow"] == {"408": 20}, out
    assert out["slow_max_s"] < TIMEOUT + 3 and out["ordinary"] == {"200": 10}, out


def test_an_idle_connection_is_closed_silently(srv):
    with socket.create_connection(srv.server_address, timeout=10) as s:
        start = time.perf_counter()
        assert s.recv(100) == b"" and time.perf_counter() - start < TIMEOUT + 3


def test_a_big_request_does_not_hold_back_a_small_one(srv):
    done: dict[str, float] = {}

    def go(name: str, body: dict) -> None:
        assert exchange(srv, chat(body), timeout=300)[0] == 200
        done[name] = time.perf_counter()

    big = threading.Thread(target=go, args=("big", {"messages": CHAT, "n": 24, "max_tokens": 16,
                                                    "temperature": 1.0}))
    big.start()
    time.sleep(0.2)  # the big one is in the batcher: 3 steps of 8 rows
    go("small", {"messages": CHAT, "max_tokens": 2})
    big.join()
    assert done["small"] < done["big"]


def test_max_body_is_4_mb():
    assert MAX_BODY == 4 * 1024 * 1024
