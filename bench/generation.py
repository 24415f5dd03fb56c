"""Figure 1, generation overhead: alignkit's generate stage (`generate_shard` through
`HFBackend.generate`) against raw `model.generate` on the same batches of the same prompts
with the same settings, against naive one-prompt-at-a-time generation, and against
transformers' continuous batching (`model.generate_batch`, where finished rows leave the
batch and waiting rows take their place). Greedy, embedded model, measured side by side.

Useful tokens run to the end-of-turn token (inclusive); padded tokens are every position
the model computed (rows x steps of each batch), so useful/padded is the share of decode
work that produced text. The last table sets each contender's computed tokens/s against the compute
roof measured in the same run at the same thread count (matmul FLOP/s in its dtype / 2 x params).

With vllm importable (`make setup-vllm`, then run with .venv-vllm/bin/python), vLLM's engine
in float32 and bfloat16 joins as two more contenders (its engine start-up is timed apart);
without it they are skipped. `--realistic` is issue 23's job: 200 chat prompts, temperature
0.7, up to 128 new tokens, natural stops, HF batch 32 on 2 threads, one repeat.

    python bench/generation.py [--quick] [--prompts 24] [--batch 12] [--tokens 64]
    .venv-vllm/bin/python bench/generation.py --realistic
"""

from __future__ import annotations

import sys

import _common  # noqa: F401  (puts src/ on the path)
import torch
from _common import interleaved, machine_line, parser, table, verdict
from hardware import matmul_flops


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--prompts", type=int, default=24)
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--naive-prompts", type=int, default=4, help="naive generation runs on this many prompts")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 holds up under contention)")
    ap.add_argument("--cb", choices=["auto", "on", "off"], default="auto",
                    help="time transformers' continuous batching too (auto: not with --quick)")
    ap.add_argument("--temperature", type=float, default=0.0, help="0: greedy")
    ap.add_argument("--realistic", action="store_true", help="issue 23's job (overrides the sizes above)")
    ap.add_argument("--vllm", choices=["auto", "on", "off"], default="auto",
                    help="vLLM float32 and bfloat16 contenders (auto: where vllm imports)")
    ap.add_argument("--vllm-eager", action="store_true", help="vLLM without torch.compile (faster start-up)")
    ap.add_argument("--vllm-bind", default=None, help="VLLM_CPU_OMP_THREADS_BIND for vLLM-CPU's worker (default: "
                    "every core on machines of up to 4, models/vllm.py cpu_bind; vLLM's own "
                    "default, auto, computes on all cores but one, which it reserves for the engine: 1 of 2 here)")
    ap.add_argument("--vllm-dtypes", default="float32,bfloat16", help="comma-separated vLLM contenders")
    args = ap.parse_args()
    if args.realistic:  # its sizes, where not given on the command line
        preset = dict(prompts=200, batch=32, tokens=128, temperature=0.7, threads=2, naive_prompts=0, cb="off",
                      repeats=1)
        given = {a.dest for a in ap._actions if any(o in sys.argv or any(x.startswith(o + "=") for x in sys.argv)
                                                    for o in a.option_strings)}
        for name, value in preset.items():
            if name not in given:
                setattr(args, name, value)
    if args.quick:
        args.prompts, args.batch, args.tokens, args.naive_prompts = 4, 2, 8, 1
    repeats = args.repeats or (1 if args.quick else 3)
    torch.set_num_threads(args.threads)

    from transformers import GenerationConfig

    from alignkit.data.instructions import synthesize
    from alignkit.executors import generate_shard
    from alignkit.models.base import Sampling
    from alignkit.models.hf import HFBackend
    from alignkit.types import Group

    backend = HFBackend("embedded", batch_size=args.batch)
    model, tok = backend.model, backend.tokenizer
    prompts = synthesize("train", args.prompts, seed=7)
    convs = [p.messages for p in prompts]
    texts = [backend._render(c) for c in convs]
    stops = {tok.eos_token_id, *_as_list(model.generation_config.eos_token_id)} - {None}
    sampling = Sampling(n=1, temperature=args.temperature, max_new_tokens=args.tokens)
    kwargs = dict(max_new_tokens=args.tokens, do_sample=False, temperature=None, top_p=None, top_k=None,
                  pad_token_id=tok.pad_token_id)
    if args.temperature > 0:  # as HFBackend samples
        kwargs.update(do_sample=True, temperature=args.temperature, top_p=1.0, top_k=0)

    # every contender's decode goes through model.generate; record what it computed
    computed: list[torch.Tensor] = []
    original_generate = model.generate

    def recording_generate(*a, **kw):
        ids = original_generate(*a, **kw)
        computed.append(ids[:, kw["input_ids"].shape[1]:])
        return ids

    model.generate = recording_generate

    def counts_from_static() -> dict:
        useful = sum(_useful(row, stops) for new in computed for row in new.tolist())
        padded = sum(new.numel() for new in computed)
        computed.clear()
        return {"useful": useful, "padded": padded}

    def alignkit() -> dict:
        generate_shard(backend, [Group(prompt=p) for p in prompts], sampling, None, "embedded")
        return counts_from_static()

    def raw() -> dict:  # what a user writes by hand: batches in the given order
        for start in range(0, len(texts), args.batch):
            enc = tok(texts[start:start + args.batch], return_tensors="pt", padding=True, add_special_tokens=False)
            with torch.inference_mode():
                ids = model.generate(**enc, **kwargs)
            tok.batch_decode(ids[:, enc.input_ids.shape[1]:], skip_special_tokens=True)
        return counts_from_static()

    def naive() -> dict:
        for text in texts[:args.naive_prompts]:
            enc = tok([text], return_tensors="pt", add_special_tokens=False)
            with torch.inference_mode():
                ids = model.generate(**enc, **kwargs)
            tok.decode(ids[0, enc.input_ids.shape[1]:], skip_special_tokens=True)
        return counts_from_static()

    ids_in = [tok(t, add_special_tokens=False).input_ids for t in texts]
    cb_config = GenerationConfig(max_new_tokens=args.tokens, do_sample=False, eos_token_id=sorted(stops),
                                 pad_token_id=tok.pad_token_id)

    def continuous() -> dict:  # transformers' own refilling scheduler (it sizes its own batch)
        out = model.generate_batch(inputs=ids_in, generation_config=cb_config, progress_bar=False)
        useful = sum(_useful(r.generated_tokens, stops) for r in out.values())
        tok.batch_decode([r.generated_tokens for r in out.values()], skip_special_tokens=True)
        return {"useful": useful, "padded": useful}  # finished rows leave: nothing computed past the end

    contenders = {"alignkit": alignkit, "raw generate": raw}
    if args.naive_prompts:
        contenders["naive (batch 1)"] = naive
    if args.cb == "on" or args.cb == "auto" and not args.quick:
        contenders["hf continuous batching"] = continuous
    print(machine_line())
    decoding = f"temperature {args.temperature}" if args.temperature > 0 else "greedy"
    print(f"# {args.prompts} prompts, batch {args.batch}, {decoding}, max {args.tokens} new tokens, "
          f"naive on {args.naive_prompts} prompts, median of {repeats} interleaved repeats")
    contenders.update(_vllm_contenders(args, convs, sampling))
    if args.naive_prompts:
        naive()  # warm-up
    res = interleaved(contenders, repeats, warmup=False)
    rate = {k: v["useful"] / v["seconds"] for k, v in res.items()}
    rows = [[k, round(v["seconds"], 1), v["useful"], v["padded"], round(rate[k], 1),
             round(v["padded"] / v["seconds"], 1), round(v["useful"] / v["padded"], 2),
             round(rate[k] / rate["raw generate"], 2)] for k, v in res.items()]
    print(table(["contender", "s (median)", "useful tok", "padded tok", "useful tok/s", "padded tok/s",
                 "useful/padded", "vs raw"], rows))
    print(verdict("alignkit / raw generate (useful tok/s)", rate["alignkit"] / rate["raw generate"], 0.95))
    if "naive (batch 1)" in rate:
        print(verdict("alignkit / naive (useful tok/s)", rate["alignkit"] / rate["naive (batch 1)"], 6.0))
    for name in [k for k in rate if k.startswith("vllm")]:
        print(verdict(f"{name} / raw generate (useful tok/s)", rate[name] / rate["raw generate"], 3.0))
    print("raw seconds per repeat:", {k: v["all_seconds"] for k, v in res.items()})
    # the compute roof at this run's thread count (vLLM-CPU computes on as many cores), per dtype
    params = sum(p.numel() for p in model.parameters())
    dtype_of = {k: "bfloat16" if k.endswith("bfloat16") else "float32" for k in res}
    roof = {dt: matmul_flops(getattr(torch, dt), 2 if args.quick else 5) / (2 * params)
            for dt in set(dtype_of.values())}
    computed = {k: v["padded"] / v["seconds"] for k, v in res.items()}
    print(table(["contender", "computed tok/s", "roof tok/s", "share of roof"],
                [[k, round(c, 1), round(roof[dtype_of[k]], 1), f"{c / roof[dtype_of[k]]:.0%}"]
                 for k, c in computed.items()]))
    if any(k.startswith("vllm") for k in res):
        from alignkit.models.vllm import shutdown

        shutdown()


def _vllm_contenders(args, convs: list, sampling) -> dict:
    """vLLM float32 and bfloat16 through alignkit's VLLMBackend (its engine start-up printed
    apart; eager with --quick or --vllm-eager), or none where vllm does not import."""
    import importlib.util
    import time

    if args.vllm == "off" or args.vllm == "auto" and importlib.util.find_spec("vllm") is None:
        print("# vllm: skipped (not importable here; `make setup-vllm`, then .venv-vllm/bin/python)")
        return {}
    import os

    from alignkit.models.vllm import VLLMBackend, cpu_bind

    if args.vllm_bind:
        os.environ["VLLM_CPU_OMP_THREADS_BIND"] = args.vllm_bind
    bind = os.environ.get("VLLM_CPU_OMP_THREADS_BIND") or cpu_bind() or "auto"  # what the backend will use
    print(f"# vllm: VLLM_CPU_OMP_THREADS_BIND={bind}")
    out = {}
    for dtype in args.vllm_dtypes.split(","):
        t = time.perf_counter()
        backend = VLLMBackend("vllm:embedded", dtype=dtype, enforce_eager=args.quick or args.vllm_eager)
        mode = "eager" if args.quick or args.vllm_eager else "torch.compile"
        print(f"# vllm {dtype} ({mode}): engine start-up {time.perf_counter() - t:.1f} s (not in the timings below)")
        ids = [backend._render_ids(c) for c in convs]

        def run(backend=backend, ids=ids) -> dict:
            outs = backend._run(ids, n=1, temperature=sampling.temperature, top_p=sampling.top_p,
                                max_tokens=sampling.max_new_tokens)
            useful = sum(len(o.token_ids) for r in outs for o in r.outputs)  # the stop token included
            return {"useful": useful, "padded": useful}  # finished rows leave the batch

        out[f"vllm {dtype}"] = run
    return out


def _as_list(x) -> list:
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _useful(row: list[int], stops: set[int]) -> int:
    """Tokens up to and including the first stop token (all of them if none)."""
    for i, t in enumerate(row):
        if t in stops:
            return i + 1
    return len(row)


if __name__ == "__main__":
    main()
