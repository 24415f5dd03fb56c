"""`alignkit serve` under load, on loopback: the real CLI in a subprocess, then 200
concurrent chat completions (each on its own connection, so a refused or reset connection
is counted, not retried), then slow clients (half trickle a request head, half a body) while
ordinary requests are served. Prints outcome counts, p50/p99 latency of the answered
requests, and whether the server process survived (a crash) and still answers /health.

The default model is a tiny random Llama (2 layers, the embedded model's tokenizer), so the
figures measure the server rather than the model; `--model embedded` uses a real one.

    python bench/serve_load.py [--quick] [--requests 200] [--max-tokens 8] [--slow 20] [--model tiny]
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from _common import SRC, machine_line, parser


def tiny_model(path: Path) -> str:
    """A tiny random Llama with the embedded model's tokenizer (as tests/conftest.py builds it)."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from alignkit.models.embedded import embedded_model_dir

    tok = AutoTokenizer.from_pretrained(embedded_model_dir())
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024,
                      bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                      tie_word_embeddings=True)
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return str(path)


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--model", default="tiny", help="tiny (random, built here), embedded, or a model path")
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--max-tokens", type=int, default=8)
    ap.add_argument("--slow", type=int, default=20, help="slow clients")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--client-timeout", type=float, default=2.0)
    args = ap.parse_args()
    if args.quick:
        args.requests, args.slow, args.max_tokens = 20, 4, 2

    from alignkit.serve.load import CHAT, run_load, run_slow_clients

    with tempfile.TemporaryDirectory() as tmp:
        model = tiny_model(Path(tmp)) if args.model == "tiny" else args.model
        env = {**os.environ, "PYTHONPATH": str(SRC) + os.pathsep + os.environ.get("PYTHONPATH", "")}
        proc = subprocess.Popen([sys.executable, "-m", "alignkit", "serve", model, "--port", "0", "--name", "bench",
                                 "--batch-size", str(args.batch_size), "--client-timeout", str(args.client_timeout)],
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
        try:
            line = proc.stdout.readline()
            if not line.startswith("serving"):
                sys.exit(f"the server did not start: {line!r}")
            url = line.split(" at ")[1].split()[0]
            host, port = url.split("//")[1].split("/")[0].rsplit(":", 1)
            body = {"messages": CHAT, "max_tokens": args.max_tokens, "temperature": 0}
            run_load(host, int(port), requests=8, body=body)  # warm-up
            load = run_load(host, int(port), requests=args.requests, body=body)
            slow = run_slow_clients(host, int(port), clients=args.slow, limit=4 * args.client_timeout + 10,
                                    requests=10, body=body)
            time.sleep(0.5)
            alive = proc.poll() is None
            health = json.loads(urllib.request.urlopen(url.removesuffix("/v1") + "/health", timeout=30).read())
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    print(machine_line())
    print(f"model {args.model}, batch {args.batch_size}, max_tokens {args.max_tokens}, greedy")
    print(f"{args.requests} concurrent requests: outcomes {load['outcomes']}, p50 {load['p50_s']:.2f} s, "
          f"p99 {load['p99_s']:.2f} s, all answered in {load['wall_s']:.1f} s")
    resets = sum(v for k, v in load["outcomes"].items() if k != "200")
    print(f"{args.slow} slow clients: ended as {slow['slow']} within {slow['slow_max_s']:.1f} s "
          f"(limit {args.client_timeout:g} s); 10 ordinary requests meanwhile: {slow['ordinary']}, "
          f"slowest {slow['ordinary_max_s']:.1f} s")
    print(f"crashes: {0 if alive else 1}; resets or refusals: {resets}; /health after: {health['status']}")


if __name__ == "__main__":
    main()
