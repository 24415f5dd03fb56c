"""Does self-consistency have anything to work with? Greedy accuracy, maj@k, pass@k and how
often a confident majority is right, on training-split arithmetic problems, for a generation
context (none, worked examples in the system prompt, or worked examples as prior chat turns).
Run it before spending a self_consistency training run: the method needs maj@k > greedy.
With --run, the vote is taken over a finished run's stored samples instead (no greedy answers).

    python scripts/majority_probe.py [--context none|system|turns] [--n 48] [--k 8]
        [--temperature 0.5] [--max-new-tokens 48] [--min-votes 3] [--model embedded] [--operands 10 99]
    python scripts/majority_probe.py --run runs/answer_match_s7b [--min-votes 2]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from alignkit.data.arithmetic import OPERANDS, extract_answer, synthesize
from alignkit.data.store import Stage
from alignkit.models.base import Sampling
from alignkit.models.cache import ModelCache
from alignkit.pipeline import stage_name
from alignkit.signals.inductive_bias import majority

EXAMPLES = [
    ("Kim has 23 pens and buys 14 more. How many pens does Kim have now? Answer with the number.",
     "23 + 14 = 37. The answer is 37."),
    ("Joe had 52 cups and broke 17. How many cups does Joe have now? Answer with the number.",
     "52 - 17 = 35. The answer is 35."),
    ("A farm has 38 cows and 45 sheep. How many animals does the farm have? Answer with the number.",
     "38 + 45 = 83. The answer is 83."),
]


def context(kind: str) -> list[dict]:
    if kind == "turns":
        return [m for q, a in EXAMPLES for m in ({"role": "user", "content": q}, {"role": "assistant", "content": a})]
    if kind == "system":
        shots = "\n".join(f"Q: {q}\nA: {a}" for q, a in EXAMPLES)
        return [{"role": "system", "content": "Solve the word problem. Write the calculation, then \"The answer "
                 f"is\" and the number. Examples:\n{shots}"}]
    return []


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--context", choices=["none", "system", "turns"], default="turns")
    ap.add_argument("--n", type=int, default=48)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--temperature", type=float, default=0.5)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--min-votes", type=int, default=3)
    ap.add_argument("--model", default="embedded")
    ap.add_argument("--operands", type=int, nargs=2, default=list(OPERANDS), metavar=("LO", "HI"),
                    help="operand range of the training problems (default: the benchmark's 2 digits)")
    ap.add_argument("--run", type=Path, help="vote over this run's stored generate stage instead of sampling")
    ap.add_argument("--iteration", type=int, default=1, help="with --run: that iteration's generate stage")
    args = ap.parse_args()

    if args.run:
        stage = Stage.existing(args.run, stage_name("generate", args.iteration))
        groups = stage.read_groups()
        problems = [g.prompt for g in groups]
        sampled = [[(c.text, c.origin.get("finish_reason")) for c in g.candidates] for g in groups]
        greedy = None
        args.context, args.k = f"stored samples of {args.run}", len(sampled[0])
    else:
        problems = synthesize("train", args.n, seed=0, operands=tuple(args.operands))
        convs = [context(args.context) + p.messages for p in problems]
        backend = ModelCache(args.model, batch_size=32)("policy")
        greedy = backend.generate(convs, Sampling(max_new_tokens=args.max_new_tokens), details=True)
        sampled = backend.generate(convs, Sampling(n=args.k, temperature=args.temperature,
                                                   max_new_tokens=args.max_new_tokens), details=True)
    right = majority_right = any_right = confident = confident_right = cut = 0
    for i, (p, outs) in enumerate(zip(problems, sampled)):
        truth = str(p.meta["answer"])
        right += bool(greedy) and extract_answer(greedy[i][0][0]) == truth
        answers = [extract_answer(text) if finish == "stop" else None for text, finish in outs]
        cut += sum(finish == "length" for _, finish in outs)
        any_right += truth in answers
        modal, votes = majority(answers)  # the self_consistency signal's vote: None on a tie
        if modal is not None:
            majority_right += modal == truth
            if votes >= args.min_votes:
                confident += 1
                confident_right += modal == truth
    n = len(problems)
    greedy_text = f"{right / n:.3f}" if greedy else "not run"
    print(f"context {args.context}: greedy {greedy_text}  maj@{args.k} {majority_right / n:.3f}  "
          f"pass@{args.k} {any_right / n:.3f}  samples cut off {cut / (n * args.k):.2f}  "
          f"majorities >= {args.min_votes}/{args.k}: {confident}, right {confident_right}")
    if greedy:
        print("first greedy answers:", [first[0] for (first,) in greedy[:3]])


if __name__ == "__main__":
    main()
