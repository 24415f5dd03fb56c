"""Figure 3, judging cost: two judge signals, each with its log-probability judge (one forward
pass) against its generative judge (a short explanation, then the verdict), same judge model
(the embedded policy), same candidates, measured side by side. `verifier`: P('Yes') vs
P('No') against "... Verdict: Yes/No" (short prompt). `self_judge`: expected 0-5 score from
the digit probabilities against "... Score: N" (Yuan et al.'s long additive rubric, which all
candidates share, so the log-probability judge runs it once: `HFBackend.choice_logprobs`).
Ground truth: arithmetic problems with known answers, each with `--candidates` worked answers,
half correct and half wrong: accuracy of the verifier's verdict (base rate 0.5) and, for both,
pair accuracy (over every correct/wrong pair of a problem, the correct one scored higher; a tie
counts one half). The log-probability self_judge is also timed with the prefix cache cut back:
root only (the rubric, not each question) and none, side by side; and both log-probability
judges with `ask_position: start` (the closing ask opens the prompt, so each row runs only
its own answer).

    python bench/judging.py [--quick] [--problems 12] [--candidates 2]
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
    ap.add_argument("--candidates", type=int, default=2, help="answers per problem, half correct (even)")
    args = ap.parse_args()
    if args.quick:
        args.problems = 2
    repeats = args.repeats or (1 if args.quick else 3)
    torch.set_num_threads(args.threads)

    from alignkit.data.arithmetic import synthesize
    from alignkit.models.cache import ModelCache
    from alignkit.models.hf import HFBackend
    from alignkit.signals.inductive_bias import SelfJudge
    from alignkit.signals.model_feedback import Verifier
    from alignkit.types import Candidate, Group

    rng = random.Random(0)
    truth: list[bool] = []
    groups = []
    half = max(1, args.candidates // 2)
    phrasings = ["{a} {op} {b} = {v}. The answer is {v}.", "{a} {op} {b} gives {v}, so the answer is {v}."]
    for p in synthesize("train", args.problems, seed=3):
        ans, op = p.meta["answer"], p.meta["op"]
        a, b = (int(x) for x in __import__("re").findall(r"\d+", p.text)[:2])
        offsets = [rng.choice([-11, -10, -2, -1, 1, 2, 9, 10])]
        offsets += rng.sample(sorted({-11, -10, -2, -1, 1, 2, 9, 10} - set(offsets)), half - 1)
        values = [ans] * half + [ans + d for d in offsets]
        cands = [Candidate(phrasings[j % half % 2].format(a=a, op=op, b=b, v=v)) for j, v in enumerate(values)]
        truth += [True] * half + [False] * half
        groups.append(Group(prompt=p, candidates=cands))
    models = ModelCache("embedded", batch_size=32)
    policy = models("policy")
    # the same weights with less prefix sharing: groups' prefixes not cached ("root"), nothing ("none")
    sharing = {"all": policy, **{share: HFBackend(policy.name, model=policy.model, tokenizer=policy.tokenizer,
                                                  batch_size=32, **kw)
                                 for share, kw in (("root", {"shared_prefix_groups": False}),
                                                   ("none", {"shared_prefix_min": 10**9}))}}
    gen_tokens = 16 if args.quick else 96
    judged: dict[str, list[float]] = {}
    signals = {"verifier": (Verifier, "verifier.p"), "self_judge": (SelfJudge, "self_judge")}

    def judge(signal: str, mode: str, label: str | None = None, share: str = "all", **extra):
        """A timed job; `share` cuts the prefix cache back: "root" (the rubric, not each question:
        session 6's code), "none" (choice_logprobs before the prefix cache)."""
        cls, key = signals[signal]
        label = label or f"{signal} {mode}"

        def run() -> dict:
            fresh = [Group(prompt=g.prompt, candidates=[Candidate(c.text) for c in g.candidates]) for g in groups]
            params = {"scoring": mode} | ({"max_new_tokens": gen_tokens} if mode == "generate" else {}) | extra
            cls(**params).bind(lambda spec: sharing[share]).annotate(fresh)
            judged[label] = [c.value(key) for g in fresh for c in g.candidates]
            return {"judgments": len(judged[label])}
        return run

    print(machine_line())
    print(f"# {len(truth)} judgments per judge ({args.problems} problems x {half} correct + {half} wrong "
          f"answers), generative judges max {gen_tokens} new tokens, batch 32, median of {repeats} interleaved repeats")
    for cls, _ in signals.values():  # warm-up
        cls(scoring="logprob").bind(models).annotate(groups[:1])
        cls(scoring="generate", max_new_tokens=4).bind(models).annotate(groups[:1])
    jobs = {f"{s} {m}": judge(s, m) for s in signals for m in ("logprob", "generate")}
    root_only, unshared = "self_judge logprob, root prefix only", "self_judge logprob, prefix not shared"
    jobs[root_only] = judge("self_judge", "logprob", root_only, share="root")
    jobs[unshared] = judge("self_judge", "logprob", unshared, share="none")
    for s in signals:
        jobs[f"{s} logprob, ask first"] = judge(s, "logprob", f"{s} logprob, ask first", ask_position="start")
    res = interleaved(jobs, repeats, warmup=False)
    rows, pair = [], {}
    for name, r in res.items():
        p = judged[name]
        pairs = [(g[i], g[half + j]) for g in (p[k : k + 2 * half] for k in range(0, len(p), 2 * half))
                 for i in range(half) for j in range(half)]
        pair[name] = sum(0.5 if a is None or b is None or a == b else float(a > b)  # None: unparseable
                         for a, b in pairs) / len(pairs)
        acc = "—" if not name.startswith("verifier") else round(
            sum((q >= 0.5) == t for q, t in zip(p, truth)) / len(truth), 3)
        rows.append([name, round(r["seconds"], 1), r["judgments"], round(r["judgments"] / r["seconds"], 2),
                     acc, round(pair[name], 3)])
    print(table(["judge", "s (median)", "judgments", "judgments/s", "verdict accuracy", "pair accuracy"], rows))
    print(verdict("self_judge logprob: root + question prefixes / root only (judgments/s)",
                  res[root_only]["seconds"] / res["self_judge logprob"]["seconds"], 1.0))
    print(verdict("self_judge logprob: root only / not shared (judgments/s)",
                  res[unshared]["seconds"] / res[root_only]["seconds"], 1.0))
    for signal in signals:
        gen = f"{signal} generate"
        for lp in (f"{signal} logprob", f"{signal} logprob, ask first"):
            print(verdict(f"{lp} / generate (judgments/s)", res[gen]["seconds"] / res[lp]["seconds"], 10.0))
            print(f"{lp} pair accuracy {pair[lp]:.3f} vs generate {pair[gen]:.3f} -> "
                  f"{'no worse' if pair[lp] >= pair[gen] else 'WORSE'} (base rate 0.5)")
    print("raw seconds per repeat:", {k: v["all_seconds"] for k, v in res.items()})


if __name__ == "__main__":
    main()
