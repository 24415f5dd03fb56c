"""The OpenAI-compatible backend against a real `alignkit serve` server on loopback, through
the official `openai` client. Faults a healthy server never shows (429s, 5xx, a server that
ignores `n`, a slow server) come from FaultProxy, a named fault injector that sits between
the client and the real server."""

import importlib.util
import json
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import REPO

from alignkit.errors import AlignkitError
from alignkit.models.base import Sampling
from alignkit.models.openai import FLOOR, OpenAIBackend, parse_spec
from alignkit.serve import start_server


def send_json(handler: BaseHTTPRequestHandler, status: int, payload: dict) -> None:
    """The fault proxy's reply: a complete JSON response with an explicit length."""
    data = json.dumps(payload).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


CONVS = [[{"role": "user", "content": "Say hi."}], [{"role": "user", "content": "Count to three."}],
         [{"role": "user", "content": "Name a colour."}]]


@pytest.fixture(scope="module")
def server(tiny):
    httpd = start_server(tiny, "tiny", quiet=True)
    yield f"http://127.0.0.1:{httpd.server_address[1]}/v1"
    httpd.shutdown()


class FaultProxy:
    """Fault injector (not a model): forwards to the real server, but first answers the
    requests numbered in `fail` with the given HTTP status, delays every request by `delay`
    seconds, and with `drop_n` forwards every request with n=1 (as llama.cpp treats n)."""

    def __init__(self, upstream: str, fail: dict[int, int] | None = None, drop_n: bool = False, delay: float = 0.0):
        self.upstream, self.fail, self.drop_n, self.delay = upstream, fail or {}, drop_n, delay
        self.seen, self.forwarded_n, self.lock = 0, [], threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with proxy.lock:
                    proxy.seen += 1
                    number = proxy.seen
                time.sleep(proxy.delay)
                if number in proxy.fail:
                    return self._reply(proxy.fail[number], {"error": {"message": "injected fault"}})
                if proxy.drop_n:
                    body["n"] = 1
                with proxy.lock:
                    proxy.forwarded_n.append(body.get("n", 1))
                req = urllib.request.Request(proxy.upstream + self.path.removeprefix("/v1"),
                                             data=json.dumps(body).encode(),
                                             headers={"Content-Type": "application/json"})
                try:
                    with urllib.request.urlopen(req) as resp:
                        self._reply(resp.status, json.loads(resp.read()))
                except urllib.error.HTTPError as err:
                    self._reply(err.code, json.loads(err.read()))

            def _reply(self, status, payload):
                send_json(self, status, payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def close(self):
        self.httpd.shutdown()


def _backend(url, **kw):
    kw.setdefault("backoff", 0.01)
    return OpenAIBackend("tiny", url, **kw)


def test_parse_spec():
    assert parse_spec("openai:judge@http://127.0.0.1:8000/v1") == ("judge", "http://127.0.0.1:8000/v1")
    assert parse_spec("openai:gpt-x") == ("gpt-x", None)
    with pytest.raises(AlignkitError, match="bad model spec"):
        parse_spec("openai:")


def test_greedy_generation_through_the_server_equals_the_local_backend(tiny, server):
    remote = _backend(server).generate(CONVS, Sampling(n=1, temperature=0.0, max_new_tokens=8), details=True)
    local = tiny.generate(CONVS, Sampling(n=1, temperature=0.0, max_new_tokens=8), details=True)
    assert remote == local


def test_n_samples_per_conversation_in_one_request(server):
    backend = _backend(server)
    out = backend.generate(CONVS, Sampling(n=3, temperature=1.0, max_new_tokens=6))
    assert [len(row) for row in out] == [3, 3, 3] and backend.supports_n is True
    assert backend.requests == len(CONVS)


def test_choice_logprobs_match_the_local_model(tiny, server):
    top = tiny.token_logprobs(CONVS[0], "", top_k=3)[0]["top_logprobs"]
    choices = [t["token"] for t in top[:2]]
    remote = _backend(server).choice_logprobs(CONVS[:1], choices + ["zzzunlikelytoken"])[0]
    assert remote[:2] == pytest.approx([t["logprob"] for t in top[:2]], abs=1e-4)
    assert remote[2] == FLOOR


def test_a_server_that_ignores_n_gets_separate_requests_and_loses_nothing(server):
    proxy = FaultProxy(server, drop_n=True)
    try:
        backend = _backend(proxy.url)
        out = backend.generate(CONVS, Sampling(n=3, temperature=1.0, max_new_tokens=6), details=True)
        assert [len(row) for row in out] == [3, 3, 3] and all(t is not None for row in out for t in row)
        assert backend.supports_n is False
        # first conversation: 1 request with n=3 (answered with 1) + 2 singles; the others 3 singles each
        assert proxy.seen == 1 + 2 + 3 * (len(CONVS) - 1) and set(proxy.forwarded_n) == {1}
    finally:
        proxy.close()


def test_429_and_5xx_are_retried_and_every_sample_arrives_once(server):
    proxy = FaultProxy(server, fail={1: 429, 2: 503, 4: 500})
    try:
        backend = _backend(proxy.url, concurrency=2)
        out = backend.generate(CONVS, Sampling(n=2, temperature=1.0, max_new_tokens=6))
        assert [len(row) for row in out] == [2, 2, 2]
        assert backend.retries == 3 and proxy.seen == len(CONVS) + 3 and len(proxy.forwarded_n) == len(CONVS)
    finally:
        proxy.close()


def test_a_client_error_fails_at_once_with_the_servers_message(server):
    proxy = FaultProxy(server, fail={1: 400})
    try:
        backend = _backend(proxy.url)
        with pytest.raises(AlignkitError, match=r"HTTP 400.*injected fault"):
            backend.generate(CONVS[:1], Sampling(max_new_tokens=4))
        assert backend.retries == 0
    finally:
        proxy.close()


def test_a_slow_server_times_out_and_the_error_counts_the_failures(server):
    proxy = FaultProxy(server, delay=1.5)
    try:
        backend = _backend(proxy.url, timeout=0.3, max_retries=1)
        with pytest.raises(AlignkitError, match=r"2 of 2 requests .* failed after 1 retries"):
            backend.generate(CONVS[:2], Sampling(max_new_tokens=4))
    finally:
        proxy.close()


def test_logprob_scoring_of_a_given_completion_is_refused_clearly(server):
    with pytest.raises(AlignkitError, match="cannot score a given completion"):
        _backend(server).logprobs(CONVS[:1], ["hi"])


def test_server_rejects_bad_requests_with_openai_shaped_errors(server):
    import openai

    client = openai.OpenAI(base_url=server, api_key="x", max_retries=0)
    assert [m.id for m in client.models.list()] == ["tiny"]
    for kwargs, needle in [({"messages": []}, "non-empty"), ({"messages": CONVS[0], "n": 0}, "`n`"),
                           ({"messages": CONVS[0], "stream": True}, "not supported"),
                           ({"messages": [{"role": "wizard", "content": "x"}]}, r"messages\[0\]")]:
        with pytest.raises(openai.BadRequestError, match=needle):
            client.chat.completions.create(model="tiny", **kwargs)
    req = urllib.request.Request(server + "/chat/completions", data=b"{not json", method="POST",
                                 headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    assert err.value.code == 400 and "not valid JSON" in json.loads(err.value.read())["error"]["message"]


def test_a_signal_judges_through_the_server_by_model_spec(tiny_model_dir, tmp_path, server):
    from alignkit.pipeline import Runner
    from alignkit.recipe import load_recipe

    recipe = load_recipe(REPO / "recipes" / "verifier_kto.yaml", [
        f"model={tiny_model_dir}", "prompts.n=2", "generate.n=2", "generate.max_new_tokens=6",
        f"signals.0.params.judge=openai:tiny@{server}", "train.method=none", "evaluate.n=2",
        "evaluate.max_new_tokens=4"])
    report = Runner(recipe, tmp_path, log=lambda *_: None).run()
    assert report["signals"]["verifier"]["candidates"] == 4


def test_alignkit_serve_command_serves_the_openai_client(tiny_model_dir):
    import openai

    proc = subprocess.Popen([sys.executable, "-m", "alignkit", "serve", str(tiny_model_dir), "--port", "0",
                             "--name", "served"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving served at http://127.0.0.1:"), line + proc.stderr.read()
        url = line.split(" at ")[1].split()[0]
        backend = OpenAIBackend.from_spec(f"openai:served@{url}")
        assert [len(r) for r in backend.generate(CONVS[:1], Sampling(n=2, max_new_tokens=4))] == [2]
        assert openai.OpenAI(base_url=url, api_key="x").models.list().data[0].id == "served"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                    reason="llama-cpp-python's server is not installed (its build takes ~15 min; not in CI)")
def test_llama_cpp_server_with_the_embedded_gguf(tmp_path):
    """Optional: llama.cpp's own server, which ignores n>1; the backend must notice and still
    return n samples per conversation."""
    import socket

    from alignkit.models.embedded import gguf_path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", str(gguf_path()), "--host",
                             "127.0.0.1", "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}/v1"
        for _ in range(120):
            try:
                urllib.request.urlopen(url + "/models", timeout=1)
                break
            except OSError:
                time.sleep(0.5)
        backend = OpenAIBackend("smollm2", url)
        out = backend.generate(CONVS[:2], Sampling(n=3, temperature=1.0, max_new_tokens=8))
        assert [len(r) for r in out] == [3, 3]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
