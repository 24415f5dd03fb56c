"""Figure 5, scaling: the Ray executor with 2 actors against 1 on a CPU-bound annotation
stage, the `code_execution` signal running each candidate against its unit tests in the
sandbox (one sandbox at a time per Ray worker: `workers: 1`). Same groups, same chunks;
each cluster is started fresh and warmed up before its timed pass, and the two are
interleaved. In-process (`executor: local`) passes with 1 and 2 sandbox threads are timed
alongside for reference.

Candidates are stand-ins for model-written code, half a wrong one-liner and half a
busy loop (~0.1 s of Python), so every run costs a sandboxed interpreter start plus some
compute, like real candidates.

    python bench/scaling.py [--quick] [--groups 24]
"""

from __future__ import annotations

import _common  # noqa: F401  (puts src/ on the path)
from _common import interleaved, machine_line, parser, table, verdict

BUSY = "def {name}(*args):\n    s = 0\n    for i in range(1_500_000):\n        s += i\n    return s\n"
STUB = "def {name}(*args):\n    return None\n"


def main() -> None:
    ap = parser(__doc__)
    ap.add_argument("--groups", type=int, default=24)
    ap.add_argument("--chunk", type=int, default=4, help="groups per Ray task")
    args = ap.parse_args()
    if args.quick:  # one Ray cluster start instead of two: the 1-actor pass is skipped
        args.groups, args.chunk = 4, 2
    repeats = args.repeats or (1 if args.quick else 3)

    import ray

    from alignkit.data.functions import synthesize
    from alignkit.executors import RayExecutor
    from alignkit.signals.environment import CodeExecution
    from alignkit.types import Candidate, Group

    prompts = synthesize("train", args.groups, seed=11)

    def groups() -> list[Group]:
        return [Group(prompt=p, candidates=[Candidate(f"```python\n{t.format(name=p.meta['entry_point'])}```")
                                            for t in (STUB, BUSY)]) for p in prompts]

    def chunks() -> list[list[Group]]:
        gs = groups()
        return [gs[i:i + args.chunk] for i in range(0, len(gs), args.chunk)]

    def ray_pass(actors: int):
        def run() -> dict:
            ray.shutdown()
            ex = RayExecutor(actors=actors, cpus_per_actor=1)
            ex.annotate(CodeExecution(workers=1), chunks()[:actors], "embedded", 8)  # start and warm the workers
            import time

            t = time.perf_counter()
            signal = CodeExecution(workers=1)
            out = ex.annotate(signal, chunks(), "embedded", 8)
            secs = time.perf_counter() - t
            ray.shutdown()
            assert all(c.value("code_execution.status") for g in out for c in g.candidates)
            return {"runs": signal.counts["runs"], "timed_s": secs}
        return run

    def local_pass(workers: int):
        def run() -> dict:
            signal = CodeExecution(workers=workers)
            signal.annotate(groups())
            return {"runs": signal.counts["runs"], "timed_s": None}
        return run

    print(machine_line())
    print(f"# {args.groups} groups x 2 candidates, {args.chunk} groups per Ray task, "
          f"median of {repeats} interleaved repeats")
    contenders = {"ray 1 actor": ray_pass(1), "ray 2 actors": ray_pass(2), "local 1 thread": local_pass(1),
                  "local 2 threads": local_pass(2)}
    if args.quick:
        del contenders["ray 1 actor"]
    res = interleaved(contenders, repeats, warmup=False)
    for r in res.values():  # Ray passes: time the annotate call only, not cluster start and warm-up
        if r["timed_s"] is not None:
            r["seconds"] = r["timed_s"]
    rows = [[k, round(v["seconds"], 1), v["runs"], round(v["runs"] / v["seconds"], 2)] for k, v in res.items()]
    print(table(["executor", "s (median)", "sandbox runs", "runs/s"], rows))
    if "ray 1 actor" in res:
        print(verdict("ray 2 actors / 1 actor (runs/s)", res["ray 1 actor"]["seconds"] / res["ray 2 actors"]["seconds"],
                      1.7))
    print(f"local 2 threads / 1 thread: {res['local 1 thread']['seconds'] / res['local 2 threads']['seconds']:.2f}x")
    print("raw seconds per repeat (ray: whole pass incl. cluster start):",
          {k: v["all_seconds"] for k, v in res.items()})


if __name__ == "__main__":
    main()
