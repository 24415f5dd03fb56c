"""The report page from synthetic run files: iteration curves, audit flags, escaping."""

from __future__ import annotations

from alignkit.evaluate.report_html import render


def _report():
    bench = {"before": 0.2, "after": 0.3, "delta": 0.1, "ci95": [0.02, 0.18], "n": 50}
    its = [{"iteration": 1, "model": "m1", "benchmarks": {"ifeval_heldout": {**bench, "after": 0.25, "delta": 0.05}}},
           {"iteration": 2, "model": "m2", "benchmarks": {"ifeval_heldout": {**bench, "before": 0.25, "delta": 0.05}}}]
    return {"model": "m2", "recipe": "self_rewarding", "wall_seconds": 12.0, "benchmarks": {"ifeval_heldout": bench},
            "iterations": its}


def _audit():
    return {"bench": "arithmetic_heldout", "prompts": 8, "answers_per_prompt": 2, "truth_pass_rate": 0.25, "signals": [
        {"signal": "self_judge", "scored": 16, "auroc": 0.55, "auroc_ci95": [0.3, 0.8], "pairwise_accuracy": 0.5,
         "calibration_error": 0.3, "repeat_agreement": 1.0, "length_corr_passing": 0.6, "length_corr_failing": 0.1,
         "injection_win_rate": 0.5, "flags": ["length bias: r = 0.60", "injectable: 50%"]},
        {"signal": "debate", "scored": 0, "flags": [], "note": "nothing to audit"},
        {"signal": "broken", "error": "KeyError: 'answer'", "flags": []}]}


def test_page_has_iteration_curve_audit_flags_and_samples():
    groups = [{"id": "g", "messages": [{"role": "user", "content": "Add 2 and 3."}], "meta": "{}", "candidates": [
        {"text": "5", "origin": "{}", "annotations": [{"signal": "self_judge", "kind": "score", "value": "0.8",
                                                       "rationale": "", "provenance": "{}"}]}]}]
    rows = [{"id": "g", "prompt": [{"role": "user", "content": "Add 2 and 3."}], "chosen": [{"role": "assistant",
             "content": "5"}], "rejected": [{"role": "assistant", "content": "6"}]}]
    page = render(_report(), details={"signal": {"signal": "self_judge"}, "base_model": "embedded"}, audit=_audit(),
                  groups=groups, rows=rows, items={"ifeval_heldout": {"before": [{"prompt": "p", "response": "a",
                                                                                   "score": 0.0}],
                                                                        "it2": [{"prompt": "p", "response": "b",
                                                                                 "score": 1.0}]}})
    assert page.count("<img") == 3  # benchmark bars, iteration curve, score histogram
    assert "Iterations" in page and "iteration 0 = base model" not in page  # the axis label is inside the PNG
    assert "length bias: r = 0.60" in page and "injectable: 50%" in page
    assert "nothing to audit" in page and "KeyError" in page
    assert "0.550 [0.30, 0.80]" in page
    assert "Training rows" in page and "chosen" in page and "rejected" in page


def test_model_text_is_escaped():
    groups = [{"id": "g", "messages": [{"role": "user", "content": "hi"}], "meta": "{}", "candidates": [
        {"text": "<script>alert(1)</script>", "origin": "{}", "annotations": []}]}]
    page = render(_report(), groups=groups)
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_reward_run_mixes_a_single_score_with_a_paired_comparison():
    report = {"model": "rm", "recipe": "reward_model", "wall_seconds": 1.0, "benchmarks": {
        "reward_pairs_heldout": {"score": 0.9, "ci95": [0.8, 1.0], "n": 40},
        "best_of_n_heldout": {"before": 0.2, "after": 0.4, "delta": 0.2, "ci95": [0.1, 0.3], "n": 10}}}
    page = render(report)
    assert page.count("<img") == 1 and "reward_pairs_heldout" in page and "0.900" in page and "+0.200" in page
