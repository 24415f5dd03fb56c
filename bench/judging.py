"""Figure 3, judging cost: the `verifier` signal's log-probability judge (one forward pass,
P('Yes') vs P('No')) against its generative judge (a short explanation ending "Verdict:
Yes/No"), same judge model (the embedded policy), same candidates, measured side by side.
Ground truth: arithmetic problems with known answers, each with one correct and one wrong
worked answer, so agreement is plain accuracy against a 50% base rate. (`self_judge` has the
same two paths and the same cost structure.)

    python bench/judging.py [--quick] [--problems 12]
"""

from __future__ import annotations

import random

import _common  # noqa: F401  (puts src/ on the path)
import torch
from _common import interleaved, machine_line, parser, table, verdict


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--problems", type=int, default=12)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    if args.quick:
        args.problems = 2
    repeats = args.repeats or (1 if args.quick else 3)
    torch.set_num_threads(args.threads)

    from alignkit.data.arithmetic import synthesize
    from alignkit.executors import ModelCache
    from alignkit.signals.model_feedback import Verifier
    from alignkit.types import Candidate, Group

    rng = random.Random(0)
    truth: list[bool] = []
    groups = []
    for p in synthesize("train", args.problems, seed=3):
        ans, op = p.meta["answer"], p.meta["op"]
        a, b = (int(x) for x in __import__("re").findall(r"\d+", p.text)[:2])
        wrong = ans + rng.choice([-11, -10, -2, -1, 1, 2, 9, 10])
        cands = [Candidate(f"{a} {op} {b} = {v}. The answer is {v}.") for v in (ans, wrong)]
        truth += [True, False]
        groups.append(Group(prompt=p, candidates=cands))
    models = ModelCache("embedded", batch_size=32)
    models("policy")
    gen_tokens = 16 if args.quick else 96
    judged: dict[str, list[float]] = {}

    def judge(mode: str):
        def run() -> dict:
            fresh = [Group(prompt=g.prompt, candidates=[Candidate(c.text) for c in g.candidates]) for g in groups]
            params = {"scoring": mode} | ({"max_new_tokens": gen_tokens} if mode == "generate" else {})
            Verifier(**params).bind(models).annotate(fresh)
            judged[mode] = [c.value("verifier.p") for g in fresh for c in g.candidates]
            return {"judgments": len(judged[mode])}
        return run

    print(machine_line())
    print(f"# {len(truth)} judgments ({args.problems} problems x correct/wrong answer), generative judge "
          f"max {gen_tokens} new tokens, batch 32, median of {repeats} interleaved repeats")
    Verifier(scoring="logprob").bind(models).annotate(groups[:1])  # warm-up
    Verifier(scoring="generate", max_new_tokens=4).bind(models).annotate(groups[:1])
    res = interleaved({"logprob": judge("logprob"), "generate": judge("generate")}, repeats, warmup=False)
    rows, acc = [], {}
    for mode, r in res.items():
        p = judged[mode]
        acc[mode] = sum((q >= 0.5) == t for q, t in zip(p, truth)) / len(truth)
        undecided = sum(q == 0.5 for q in p) if mode == "generate" else 0
        rows.append([mode, round(r["seconds"], 1), r["judgments"], round(r["judgments"] / r["seconds"], 2),
                     round(acc[mode], 3), undecided])
    print(table(["judge", "s (median)", "judgments", "judgments/s", "accuracy vs truth", "unparseable"], rows))
    speed = res["generate"]["seconds"] / res["logprob"]["seconds"]
    print(verdict("logprob / generate (judgments/s)", speed, 10.0))
    print(f"agreement: logprob {acc['logprob']:.3f} vs generate {acc['generate']:.3f} -> "
          f"{'no worse' if acc['logprob'] >= acc['generate'] else 'WORSE'} (base rate 0.5)")
    print("raw seconds per repeat:", {k: v["all_seconds"] for k, v in res.items()})


if __name__ == "__main__":
    main()
