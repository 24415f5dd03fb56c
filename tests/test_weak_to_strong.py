"""Weak-to-strong generalization: the task's ground truth, PGR and its interval, Burns et al.'s
confidence loss, and one seed end to end (real MiniLM weak model, tiny random strong model)."""

import math

import pytest
import torch

from alignkit.experiments import weak_to_strong as w2s


def test_statements_carry_the_computed_truth_and_splits_are_disjoint():
    seen = {}
    for split in ("weak_train", "w2s_train", "test"):
        rows = w2s.statements(200, 0, split)
        assert len(rows) == 200 and sum(y for _, y in rows) == 100
        for text, label in rows:
            nums = tuple(sorted(int(w.strip(".")) for w in text.split() if w.strip(".").isdigit()))
            expected = nums[0] % 2 == 0 if "even" in text else nums[0] % 2 == 1 if "odd" in text else \
                int(text.split()[0]) == max(nums)
            assert label == int(expected) == w2s.truth(text)
            seen.setdefault(("gt" if "greater" in text else "parity", nums), set()).add(split)
    assert all(len(s) == 1 for s in seen.values())
    assert w2s.statements(50, 1, "test") == w2s.statements(50, 1, "test") != w2s.statements(50, 2, "test")


def test_single_kind_tasks_and_accuracy_by_kind():
    for task in ("greater", "parity"):
        rows = w2s.statements(60, 0, "test", task)
        assert {w2s.kind(t) for t, _ in rows} == {task} and sum(y for _, y in rows) == 30
        assert all(y == w2s.truth(t) for t, y in rows)
    mixed = w2s.statements(40, 0, "test")
    right = [float(y) for _, y in mixed]
    flip_parity = [1 - p if w2s.kind(t) == "parity" else p for p, (t, _) in zip(right, mixed)]
    assert w2s.accuracy_by_kind(flip_parity, mixed) == {"greater": 1.0, "parity": 0.0}
    with pytest.raises(w2s.AlignkitError, match="unknown task"):
        w2s.statements(4, 0, "test", "sums")
    with pytest.raises(w2s.AlignkitError, match="distinct parity statements"):  # 900 numbers x 2 claims / 3 splits
        w2s.statements(700, 0, "test", "parity")


def test_pgr_and_interval_over_seeds():
    assert w2s.pgr(0.6, 0.8, 1.0) == pytest.approx(0.5)
    assert math.isnan(w2s.pgr(0.7, 0.8, 0.7))
    m, (lo, hi) = w2s.mean_ci([0.4, 0.5, 0.6])
    assert m == pytest.approx(0.5) and lo == pytest.approx(0.5 - 4.303 * 0.1 / 3 ** 0.5) and hi > 0.7
    assert math.isnan(w2s.mean_ci([0.5])[1][0])


def test_confidence_loss_mixes_labels_with_hardened_own_predictions(tiny_model_dir, tmp_path):
    from transformers import TrainingArguments

    model, tok = w2s.load_classifier(str(tiny_model_dir), seed=0)
    enc = tok(["1 + 1 = 2", "2 + 2 = 5", "3 + 3 = 6", "9 - 4 = 4"], return_tensors="pt", padding=True)
    labels = torch.tensor([[0.2, 0.8], [0.6, 0.4], [0.3, 0.7], [0.9, 0.1]])
    args = TrainingArguments(output_dir=str(tmp_path), report_to="none")
    plain = w2s._trainer_class()(model=model, args=args)
    aux = w2s._trainer_class()(model=model, args=args, aux_coef=0.5, warmup_frac=0.2)
    for t in (plain, aux):
        t.state.global_step, t.state.max_steps = 50, 100  # past warm-up: the full coefficient
    with torch.no_grad():
        logits = model(**enc).logits.float()
        got_plain = plain.compute_loss(model, dict(enc, labels=labels.clone()))
        got_aux = aux.compute_loss(model, dict(enc, labels=labels.clone()))
    assert got_plain == pytest.approx(float(torch.nn.functional.cross_entropy(logits, labels)), rel=1e-5)
    p1 = torch.softmax(logits, -1)[:, 1]
    hard = (p1 >= torch.quantile(p1, 1 - labels[:, 1].mean())).float()
    target = 0.5 * labels + 0.5 * torch.stack([1 - hard, hard], 1)
    assert got_aux == pytest.approx(float(torch.nn.functional.cross_entropy(logits, target)), rel=1e-5)
    assert float(got_aux) != pytest.approx(float(got_plain))


def test_one_seed_end_to_end(tiny_model_dir, tmp_path):
    cfg = w2s.Config(weak="minilm", strong=str(tiny_model_dir), n_weak_train=32, n_w2s_train=32, n_test=16,
                     weak_stage=w2s.Stage(epochs=1, batch_size=16),
                     strong_stage=w2s.Stage(epochs=1, batch_size=16, top_layers=1))
    res = w2s.run_seed(cfg, 0, tmp_path, log=lambda *_: None)
    for key in ("weak", "ceiling", "w2s", "w2s_aux", "weak_label_accuracy"):
        assert 0.0 <= res[key] <= 1.0
    assert res["pgr"] == pytest.approx(w2s.pgr(res["weak"], res["w2s"], res["ceiling"]), nan_ok=True)


def test_freeze_below_trains_only_the_head_and_top_blocks(tiny_model_dir):
    model, _ = w2s.load_classifier(str(tiny_model_dir), seed=0)
    w2s.freeze_below(model, 1)
    trainable = {n.split(".")[0] if not n.startswith("model.layers") else ".".join(n.split(".")[:3])
                 for n, p in model.named_parameters() if p.requires_grad}
    assert trainable == {"score", "model.layers.1", "model"}  # head, top block, final norm
    assert not any(p.requires_grad for n, p in model.named_parameters() if n.startswith("model.layers.0"))
    assert not model.model.embed_tokens.weight.requires_grad and model.model.norm.weight.requires_grad


def test_early_stopping_keeps_the_weights_that_agree_best_with_held_out_weak_labels(tiny_model_dir, tmp_path):
    rows = w2s.statements(48, 0, "w2s_train", "greater")
    held = [t for t, _ in rows[:16]]
    weak = [1 - y if i % 4 == 0 else y for i, (_, y) in enumerate(rows[:16])]  # labels with a quarter wrong
    model, tok = w2s.train_classifier(str(tiny_model_dir), [t for t, _ in rows[16:]],
                                      [[1.0 - y, float(y)] for _, y in rows[16:]],
                                      w2s.Stage(epochs=2, batch_size=8, learning_rate=1e-3, top_layers=1), 0,
                                      tmp_path, early_stop=(held, weak), eval_every=1)
    history = model.early_stop_history
    assert [s for s, _ in history] == list(range(1, 9))  # 32 rows / 8 per step x 2 epochs, scored each step
    assert w2s.accuracy(w2s.predict(model, tok, held), weak) == pytest.approx(max(a for _, a in history), abs=1e-4)


def test_students_choose_which_strong_models_train_and_each_variant_gets_a_pgr(tiny_model_dir, tmp_path):
    cfg = w2s.Config(weak="minilm", strong=str(tiny_model_dir), n_weak_train=32, n_w2s_train=40, n_test=16,
                     weak_stage=w2s.Stage(epochs=1, batch_size=16),
                     strong_stage=w2s.Stage(epochs=1, batch_size=16, top_layers=1),
                     students=("ceiling", "w2s_early", "w2s_hard"))
    res = w2s.run_seed(cfg, 0, tmp_path, log=lambda *_: None)
    assert "w2s" not in res and "w2s_aux" not in res
    assert res["w2s_early_stops"] and "w2s_hard_stops" not in res
    for name, key in (("w2s_early", "pgr_early"), ("w2s_hard", "pgr_hard")):
        assert res[key] == pytest.approx(w2s.pgr(res["weak"], res[name], res["ceiling"]), nan_ok=True)
    assert w2s.summary_keys([res]) == ["weak", "ceiling", "w2s_early", "w2s_hard", "pgr_early", "pgr_hard"]
