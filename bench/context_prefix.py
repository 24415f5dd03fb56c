"""In-context generation (URIAL's ~380-token context before every prompt, what the in-context
baseline evaluates): the shared context run once per call and its cache copied into every batch,
against plain left-padded generation that runs it for every prompt. Greedy answers to Google's
IFEval prompts, batch 32, float32, measured side by side; also counts how many answers are the
same text both ways (the two compute the context's keys and values in different batch shapes, so
a rare greedy tie may break the other way).

    python bench/context_prefix.py [--quick] [--prompts 64] [--tokens 128] [--repeats 1]
"""

from __future__ import annotations

import _common  # noqa: F401  (puts src/ on the path)
import torch
from _common import answer_runs, ifeval_convs, interleaved, machine_line, parser, print_speeds, verdict


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--prompts", type=int, default=64)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    if args.quick:
        args.prompts, args.tokens = 4, 8
    torch.set_num_threads(args.threads)

    from alignkit.models.base import Sampling
    from alignkit.models.hf import HFBackend

    convs = ifeval_convs(args.prompts, "urial")
    sampling = Sampling(n=1, temperature=0.0, max_new_tokens=args.tokens)
    shared = HFBackend("embedded", batch_size=32)
    plain = HFBackend("embedded", batch_size=32, model=shared.model, tokenizer=shared.tokenizer,
                      generate_prefix_min=10**9)
    answers: dict[str, list] = {}

    res = interleaved(answer_runs({"plain": plain, "shared context": shared}, convs, sampling, answers),
                      args.repeats or 1, warmup=False)
    print(machine_line())
    prompt_tokens = sum(len(shared.tokenizer(shared._render(c)).input_ids) for c in convs) / len(convs)
    print(f"# {args.prompts} prompts with the URIAL context (mean {prompt_tokens:.0f} prompt tokens), "
          f"greedy, up to {args.tokens} new tokens")
    print_speeds(res, "plain", "generation", answers)
    print(verdict("shared context / plain", res["plain"]["seconds"] / res["shared context"]["seconds"], 1.5))


if __name__ == "__main__":
    main()
