"""Figure 2, against a peer: the same generation + scoring job in distilabel (its
TransformersLLM and TextGeneration task) and in alignkit (`generate_shard` + the
`self_judge` signal), same model, prompts, n and sampling, measured side by side.

The job: n candidates per prompt (temperature 0.7, top_p 1, top_k off, no repetition
penalty), then each candidate scored 0-5 by the same model with the same rubric prompt
(`self_judge`'s "reply with a single digit"). alignkit scores by log-probabilities of the
digits (its default); distilabel's transformers LLM has no log-probability path, so it
generates the digit (greedy, 2 tokens). distilabel runs through its task API
(`TextGeneration.process`), without its multiprocess Pipeline around it, which only adds
to its time. distilabel is a bench-only install, not a project dependency:

    pip install --no-deps distilabel==1.5.3 && pip install httpx nest-asyncio tblib universal-pathlib
    python bench/peer.py [--quick] [--prompts 8] [--n 2] [--tokens 32]
"""

from __future__ import annotations

import re
import time
import traceback

import _common  # noqa: F401  (puts src/ on the path)
import torch
from _common import interleaved, machine_line, parser, table, verdict


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--prompts", type=int, default=8)
    ap.add_argument("--n", type=int, default=2)
    ap.add_argument("--tokens", type=int, default=32)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.quick:
        args.prompts, args.tokens = 2, 8
    repeats = args.repeats or (1 if args.quick else 3)
    torch.set_num_threads(args.threads)

    from alignkit.data.instructions import synthesize
    from alignkit.executors import generate_shard
    from alignkit.models.base import Sampling
    from alignkit.models.cache import ModelCache
    from alignkit.models.embedded import embedded_model_dir
    from alignkit.signals.inductive_bias import SelfJudge
    from alignkit.signals.judging import RUBRIC, SCORE_ASK
    from alignkit.signals.prompting import quote
    from alignkit.types import Group

    prompts = synthesize("train", args.prompts, seed=9)
    print(machine_line())
    print(f"# {args.prompts} prompts x n={args.n}, max {args.tokens} new tokens, then one 0-5 judgment per "
          f"candidate; median of {repeats} interleaved repeats")
    try:
        import distilabel
        from distilabel.models.llms import TransformersLLM
        from distilabel.steps.tasks import TextGeneration
    except Exception as exc:  # a missing bench-only install is a finding, not a crash
        print(f"distilabel cannot be imported: {type(exc).__name__}: {exc}")
        print("install it for this figure: pip install --no-deps distilabel==1.5.3 && "
              "pip install httpx nest-asyncio tblib universal-pathlib")
        return

    models = ModelCache("embedded", batch_size=args.batch)
    sampling = Sampling(n=args.n, temperature=0.7, top_p=1.0, max_new_tokens=args.tokens, seed=1)

    def alignkit_job(quick_warm: bool = False) -> dict:
        shard = [Group(prompt=p) for p in prompts[:1 if quick_warm else None]]
        t = time.perf_counter()
        generate_shard(models("policy"), shard, sampling, None, "embedded")
        gen_s = time.perf_counter() - t
        SelfJudge(scoring="logprob").bind(models).annotate(shard)
        scores = [c.value("self_judge") for g in shard for c in g.candidates]
        return {"scored": sum(s is not None for s in scores), "gen_s": gen_s}

    try:
        llm = TransformersLLM(model=str(embedded_model_dir()), device="cpu", torch_dtype="float32")
        gen_kwargs = dict(max_new_tokens=args.tokens, temperature=0.7, top_p=1.0, top_k=0, repetition_penalty=1.0,
                          do_sample=True)
        judge_kwargs = dict(max_new_tokens=2, temperature=1.0, repetition_penalty=1.0, do_sample=False)
        gen_task = TextGeneration(llm=llm, num_generations=args.n)
        judge_task = TextGeneration(llm=llm)
        gen_task.load()
        judge_task.load()

        def distilabel_job(quick_warm: bool = False) -> dict:
            inputs = [{"instruction": p.text} for p in prompts[:1 if quick_warm else None]]
            t = time.perf_counter()
            llm.generation_kwargs = gen_kwargs  # distilabel's runtime parameters, set as its pipeline does
            generated = next(gen_task.process(inputs))
            gen_s = time.perf_counter() - t
            # one row per generation (TextGeneration's group_generations=False)
            cands = [(row["instruction"], row["generation"] or "") for row in generated]
            assert len(cands) == len(inputs) * args.n, len(cands)
            asks = [{"instruction": RUBRIC.format(question=quote(q, "question"), response=quote(c, "response"))
                     + "\n" + SCORE_ASK["logprob"]} for q, c in cands]
            llm.generation_kwargs = judge_kwargs
            judged = next(judge_task.process(asks))
            scores = [re.search(r"[0-5]", r["generation"] or "") for r in judged]
            return {"scored": sum(s is not None for s in scores), "gen_s": gen_s}

        distilabel_job(quick_warm=True)
    except Exception as exc:
        print(f"distilabel {distilabel.__version__} failed with transformers installed here:")
        print("".join(traceback.format_exception_only(type(exc), exc)).strip())
        traceback.print_exc()
        return

    alignkit_job(quick_warm=True)
    res = interleaved({"alignkit": alignkit_job, f"distilabel {distilabel.__version__}": distilabel_job}, repeats,
                      warmup=False)
    cands = args.prompts * args.n
    rows = [[k, round(v["seconds"], 1), round(v["gen_s"], 1), round(v["seconds"] - v["gen_s"], 1), cands,
             v["scored"], round(cands / v["seconds"], 3)] for k, v in res.items()]
    print(table(["tool", "job s (median)", "generate s", "score s", "candidates", "scored", "candidates/s"], rows))
    a, d = res["alignkit"], res[f"distilabel {distilabel.__version__}"]
    print(verdict("alignkit / distilabel (whole job)", d["seconds"] / a["seconds"], 1.5))
    print(f"generation alone: {d['gen_s'] / a['gen_s']:.2f}x; scoring alone: "
          f"{(d['seconds'] - d['gen_s']) / (a['seconds'] - a['gen_s']):.2f}x")
    print("raw seconds per repeat:", {k: v["all_seconds"] for k, v in res.items()})


if __name__ == "__main__":
    main()
