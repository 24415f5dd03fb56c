"""Agreement of a run's signal with ground truth, on the candidates it annotated.

    python3 scripts/signal_agreement.py runs/self_rewarding --signal self_judge
    python3 scripts/signal_agreement.py runs/pairwise_judge --signal pairwise_judge
    python3 scripts/signal_agreement.py runs/self_rewarding_s8 --signal self_judge \\
        --rescore ask_position=end --rescore ask_position=start

The truth is the verifiable-instruction checker (constraint prompts) or, for arithmetic
prompts, whether the answer's final number equals the known answer. Prints JSON per
annotate stage (one per iteration). With `--rescore`, the first annotate stage's candidates
are judged again by `--model` (default the embedded model, iteration 1's judge) with each
setting's params (KEY=VALUE, comma-separated; repeatable), timed side by side (median of
`--repeats` interleaved passes), with the tokens each row runs past the prefixes it shares
with the others (what a log-probability judge computes per row)."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import yaml

from alignkit.data.arithmetic import extract_answer
from alignkit.data.store import Stage
from alignkit.evaluate.agreement import agreement
from alignkit.signals.environment import VerifiableInstructions
from alignkit.types import Annotation


def _truth(groups) -> str:
    VerifiableInstructions(require_complete=True).annotate(groups)
    for g in groups:
        if "answer" in g.prompt.meta:
            for c in g.candidates:
                ok = extract_answer(c.text) == str(g.prompt.meta["answer"])
                c.annotations.append(Annotation("truth", "score", float(ok)))
        else:
            for c in g.candidates:
                if c.value("verifiable_instructions") is not None:
                    c.annotations.append(Annotation("truth", "score", c.value("verifiable_instructions")))
    return "truth"


class _RowTokens:
    """The judge backend, counting the tokens each scored row runs past its shared prefixes."""

    def __init__(self, backend):
        self.backend, self.name, self.rows, self.tokens = backend, backend.name, 0, 0

    def __getattr__(self, attr):
        return getattr(self.backend, attr)

    def choice_logprobs(self, conversations, choices):
        from alignkit.models.prefix import plan

        tok, b = self.backend.tokenizer, self.backend
        seqs = [tok(b._render(c), add_special_tokens=False).input_ids for c in conversations]
        p = plan(seqs, [len(s) - 1 for s in seqs], b.shared_prefix_min, b.shared_prefix_groups)
        self.rows += len(seqs)
        self.tokens += p.own_tokens([len(s) for s in seqs])
        return self.backend.choice_logprobs(conversations, choices)


def _rescore(run: Path, signal: str, settings: list[str], model: str, repeats: int) -> None:
    from alignkit.models import load_backend
    from alignkit.signals.base import get_signal

    stage = Stage.existing(run, "annotate")
    judge = _RowTokens(load_backend(model, 32))
    parsed = {s: {k: yaml.safe_load(v) for k, v in (kv.split("=", 1) for kv in s.split(",") if kv)}
              for s in settings}
    get_signal(signal)().bind(lambda spec: judge).annotate(stage.read_groups()[:2])  # warm-up
    seconds: dict[str, list[float]] = {s: [] for s in settings}
    out: dict[str, dict] = {}
    for _ in range(repeats):
        for s in settings:
            groups = stage.read_groups()
            for g in groups:
                for c in g.candidates:
                    c.annotations = [a for a in c.annotations if not a.signal.startswith(signal)]
            judge.rows = judge.tokens = 0
            start = time.perf_counter()
            get_signal(signal)(**parsed[s]).bind(lambda spec: judge).annotate(groups)
            seconds[s].append(time.perf_counter() - start)
            out[s] = {"params": parsed[s], "row_tokens": judge.tokens / max(judge.rows, 1),
                      **agreement(groups, signal, _truth(groups))}
    for s in settings:
        median = statistics.median(seconds[s])
        print(json.dumps({"setting": s, "seconds": round(median, 2), "all_seconds": [round(x, 2) for x in seconds[s]],
                          "judgments_per_s": round(out[s]["candidates"] / median, 2), **out[s]}, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--signal", required=True)
    ap.add_argument("--rescore", action="append", metavar="KEY=VALUE,...",
                    help="judge the first annotate stage again with these params (repeatable)")
    ap.add_argument("--model", default="embedded", help="the judge for --rescore")
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    if args.rescore:
        _rescore(args.run, args.signal, args.rescore, args.model, args.repeats)
        return
    for path in sorted((args.run / "stages").glob("annotate*")):
        stage = Stage.existing(args.run, path.name)
        groups = stage.read_groups()
        print(json.dumps({"stage": path.name, **agreement(groups, args.signal, _truth(groups))}, indent=1))


if __name__ == "__main__":
    main()
