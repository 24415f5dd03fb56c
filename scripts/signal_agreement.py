"""Agreement of a run's signal with ground truth, on the candidates it annotated.

    python3 scripts/signal_agreement.py runs/self_rewarding --signal self_judge
    python3 scripts/signal_agreement.py runs/pairwise_judge --signal pairwise_judge

The truth is the verifiable-instruction checker (constraint prompts) or, for arithmetic
prompts, whether the answer's final number equals the known answer. Prints JSON per
annotate stage (one per iteration)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--signal", required=True)
    args = ap.parse_args()
    for path in sorted((args.run / "stages").glob("annotate*")):
        stage = Stage.existing(args.run, path.name)
        groups = stage.read_groups()
        print(json.dumps({"stage": path.name, **agreement(groups, args.signal, _truth(groups))}, indent=1))


if __name__ == "__main__":
    main()
