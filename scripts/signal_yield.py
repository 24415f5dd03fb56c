"""What a finished verifiable-instruction run's signal yielded (docs/results.md, run F): the
generation (samples, tokens by the base tokenizer, answers cut at the token limit), how often the
policy's own samples pass the checker (overall, per prompt, per constraint type), and where the
preference pairs' chosen answers come from (an on-policy sample, a checker repair, a relabelled or
a contrast answer); how many samples and pair answers loop (checks/repetition.py), the pairs'
mean answer length in words, and how much longer a counter pair's rejected answer is (`unasked`; the
shortened pairs of `unasked_short` and the run-on pairs of `unasked_tail` apart).

    python scripts/signal_yield.py RUN [--signal verifiable_instructions]
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from pathlib import Path

from alignkit.checks.repetition import loops
from alignkit.data.store import Stage


def source_of(origin: dict) -> str:
    """Where a candidate came from: the policy's sample, or which checker_revision edit made it."""
    if "signal" not in origin:
        return "sample"
    if origin.get("contrast"):
        return "contrast"
    return "relabel" if origin.get("relabeled_from") else "repair"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--signal", default="verifiable_instructions")
    args = ap.parse_args()

    from transformers import AutoTokenizer

    from alignkit.models.embedded import resolve_model_path

    generated = Stage.existing(args.run, "generate").read_groups()
    cands = [c for g in generated for c in g.candidates]
    tok = AutoTokenizer.from_pretrained(resolve_model_path("embedded"))
    tokens = sum(len(tok(c.text, add_special_tokens=False).input_ids) for c in cands)
    cut = sum(c.origin.get("finish_reason") == "length" for c in cands)
    print(f"generation: {len(cands)} samples, {tokens} tokens, {cut} cut at the token limit, "
          f"{sum(loops(c.text) for c in cands)} looping")

    groups = Stage.existing(args.run, "annotate").read_groups()
    real = [g for g in groups if "relabeled_from" not in g.prompt.meta]
    passing, types = [], defaultdict(lambda: [0, 0])
    for g in real:
        samples = [c for c in g.candidates if source_of(c.origin) == "sample"]
        k = sum(c.value(args.signal) == 1.0 for c in samples)
        passing.append((k, len(samples)))
        for con in g.prompt.meta.get("constraints", []):
            types[con["id"]][0] += k
            types[con["id"]][1] += len(samples)
    total = sum(n for _, n in passing)
    print(f"samples passing: {sum(k for k, _ in passing) / max(total, 1):.3f} of {total} "
          f"({len(real)} prompts; prompts by passing samples: {sorted(Counter(k for k, _ in passing).items())})")
    for name, (k, n) in sorted(types.items(), key=lambda t: t[1][0] / max(t[1][1], 1)):
        print(f"  {name:45s} {k:4d} of {n}")

    counter = [g for g in groups if any("unasked" in c.origin for c in g.candidates)]
    apart = {"shortened": "shortened pairs", "ran_on": "run-on pairs"}
    kinds = [("counter pairs", [g for g in counter if g.candidates[1].origin["unasked"][0] not in apart])] + [
        (kind, [g for g in counter if g.candidates[1].origin["unasked"] == [form]]) for form, kind in apart.items()]
    for kind, pairs in kinds:
        if not pairs:  # checker_revision.unasked(_short, _tail): the rejected answer's length against the chosen one
            continue
        gaps = [len(g.candidates[1].text.split()) - len(g.candidates[0].text.split()) for g in pairs]
        print(f"{kind}: {len(pairs)}; the rejected answer longer in {sum(d > 0 for d in gaps)}, "
              f"shorter in {sum(d < 0 for d in gaps)}, as long in {sum(d == 0 for d in gaps)}; "
              f"{sum(gaps) / len(gaps):+.1f} words on average")

    by_id = {g.id: g for g in groups}
    rows = Stage.existing(args.run, "build").read_json("rows.json")
    chosen = Counter()
    for row in rows:
        g = by_id[row["id"]]
        origin = next((c.origin for c in g.candidates if c.text == row["chosen"][0]["content"]), None)
        prompt = "relabelled prompt" if "relabeled_from" in g.prompt.meta else "real prompt"
        chosen[(prompt, source_of(origin) if origin is not None else "?")] += 1
    looping = {side: sum(loops(row[side][0]["content"]) for row in rows) for side in ("chosen", "rejected")}
    words = {side: sum(len(row[side][0]["content"].split()) for row in rows) / max(len(rows), 1)
             for side in ("chosen", "rejected")}
    print(f"pairs: {len(rows)} ({looping['chosen']} chosen and {looping['rejected']} rejected answers loop; "
          f"mean words {words['chosen']:.0f} chosen, {words['rejected']:.0f} rejected); chosen answer by source:")
    for (prompt, source), count in sorted(chosen.items()):
        print(f"  {prompt:18s} {source:9s} {count}")


if __name__ == "__main__":
    main()
