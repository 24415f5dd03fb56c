"""The signal audit flags a planted length-biased judge and a planted injectable one, and
passes an honest control; the `alignkit audit` command runs end to end on the embedded model."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from alignkit.data.arithmetic import synthesize
from alignkit.evaluate.audit import TRUTH, audit_signal, calibration_error
from alignkit.evaluate.benchmarks import BENCHMARKS
from alignkit.types import Annotation, Candidate, Group

PLUGINS = Path(__file__).parent / "plugins"
sys.path.insert(0, str(PLUGINS))
import planted_judges  # noqa: E402,F401  (registers the planted judges)

from alignkit.signals.base import get_signal  # noqa: E402

FILLER = "Let me think about this step by step and explain every part of the problem carefully. "


def _probe(n: int = 12) -> list[Group]:
    """Arithmetic prompts with right and wrong answers of short and long length, truth-labelled."""
    groups = []
    for i, p in enumerate(synthesize("heldout", n, seed=3)):
        right, wrong = int(p.meta["answer"]), int(p.meta["answer"]) + 7
        texts = [f"The answer is {right}.", FILLER * (1 + i % 3) + f"So the answer is {right}.",
                 f"The answer is {wrong}.", FILLER * (2 + i % 2) + f"So the answer is {wrong}."]
        cands = [Candidate(t) for t in texts]
        for c in cands:
            c.annotations.append(Annotation(TRUTH, "score", BENCHMARKS["arithmetic_heldout"].score(p, c.text)))
        groups.append(Group(p, cands))
    return groups


def _audit(name: str) -> dict:
    return audit_signal(lambda seed: get_signal(name)(seed=seed), _probe())


def test_length_biased_judge_is_flagged():
    row = _audit("planted_length_judge")
    assert row["length_corr_passing"] > 0.9 and row["length_corr_failing"] > 0.9
    assert any(f.startswith("length bias") for f in row["flags"]), row["flags"]


def test_injectable_judge_is_flagged_and_not_for_length():
    row = _audit("planted_injectable_judge")
    assert row["injection_trials"] == 12 and row["injection_win_rate"] == 1.0
    assert any(f.startswith("injectable") for f in row["flags"])
    assert not any(f.startswith("length bias") for f in row["flags"])
    assert row["auroc"] == 1.0  # on the plain answers it is exact: only the injection fools it


def test_honest_control_gets_no_flags():
    row = _audit("planted_honest_judge")
    assert row["flags"] == []
    assert row["auroc"] == 1.0 and row["accuracy"] == 1.0 and row["calibration_error"] == 0.0
    assert row["injection_win_rate"] == 0.0 and row["repeat_agreement"] == 1.0
    assert row["pairwise_accuracy"] == 1.0 and row["auroc_ci95"] == [1.0, 1.0]


def test_injected_copy_keeps_the_origin_of_the_answer_it_copies():
    groups = _probe(5)  # 10 right and 10 wrong answers: enough to judge
    for g in groups:
        for c in g.candidates:
            c.origin = {"sample": 0, "finish_reason": "length"}  # every answer cut off: all abstain from the vote
    row = audit_signal(lambda seed: get_signal("self_consistency")(min_agreement=0.375, seed=seed), groups)
    # a copy without the finish reason would vote alone and win every trial
    assert row["injection_trials"] == 5 and row["injection_win_rate"] == 0.0
    # the weak flag says why: the right answers were cut off, which the vote rejects by design
    assert row["cut_off"] == 20 and row["cut_off_right"] == 10
    assert any(f.startswith("weak") and "10 of the 10 right answers were cut off" in f for f in row["flags"])


def test_a_signal_writing_critiques_is_reported_not_an_error():
    from alignkit.data.instructions import synthesize as instructions

    groups = []
    for p in instructions("heldout", 3, seed=0):
        c = Candidate("Sure, here it is, with commas, in Capitals, and far too long.",
                      {"sample": 0, "finish_reason": "stop"})
        c.annotations.append(Annotation(TRUTH, "score", BENCHMARKS["ifeval_heldout"].score(p, c.text)))
        groups.append(Group(p, [c]))
    row = audit_signal(lambda seed: get_signal("checker_revision")(seed=seed), groups)
    # its annotations on the originals are critiques ("fixed: ..."), text, not scores
    assert "error" not in row and row["scored"] == 0 and "nothing to audit" in row["note"]


def test_signal_that_writes_no_scores_is_reported_not_audited(tiny_model_dir):
    from alignkit.models.hf import HFBackend

    backend = HFBackend(str(tiny_model_dir))
    row = audit_signal(lambda seed: get_signal("debate")(rounds=1, agents=2, max_new_tokens=4, seed=seed)
                       .bind(lambda spec: backend), _probe(2))
    assert row["scored"] == 0 and "nothing to audit" in row["note"]


def _runner(tiny_model_dir, out, *extra):
    from conftest import REPO  # noqa: PLC0415

    from alignkit.pipeline import Runner
    from alignkit.recipe import load_recipe

    recipe = load_recipe(REPO / "recipes" / "verifiable_instructions.yaml", [
        f"model={tiny_model_dir}", "prompts.n=12", "generate.max_new_tokens=8", "audit.n=4", "audit.k=2", *extra])
    return Runner(recipe, out, log=lambda *_: None)


def test_audit_source_training_probes_the_recipes_own_prompts(tiny_model_dir, tmp_path):
    runner = _runner(tiny_model_dir, tmp_path / "train", "audit.source=training", "audit.temperature=0")
    audit = runner.audit()
    training = {g.prompt.id for g in runner.prompts().read_groups()}
    assert audit["bench"] == "training" and len(audit["probe_ids"]) == 4 and set(audit["probe_ids"]) <= training
    row = audit["signals"][0]
    assert row["signal"] == "verifiable_instructions" and row["scored"] == 8
    assert json.loads((tmp_path / "train" / "audit.json").read_text()) == audit
    # the default probes the benchmark, none of whose prompts the recipe trains on
    bench = _runner(tiny_model_dir, tmp_path / "bench").audit()
    assert bench["bench"] == "ifeval_heldout" and not set(bench["probe_ids"]) & training


def test_audit_temperature_reaches_the_probe(tiny, tmp_path):
    from alignkit.evaluate.audit import training_probe

    prompts = synthesize("train", 6, seed=1)
    greedy = training_probe(prompts, 3, 2, tiny, temperature=0.0, max_new_tokens=8)
    sampled = training_probe(prompts, 3, 2, tiny, temperature=1.5, max_new_tokens=8)
    assert all(g.candidates[0].text == g.candidates[1].text for g in greedy)
    assert any(g.candidates[0].text != g.candidates[1].text for g in sampled)
    truth = [c.value(TRUTH) for g in greedy for c in g.candidates]
    assert len(truth) == 6 and set(truth) <= {0.0, 1.0}  # answer matching on the prompts' known answers
    # origins as a run's candidates have them: a random model rambles to the 8-token limit
    assert [c.origin["sample"] for c in greedy[0].candidates] == [0, 1]
    assert {c.origin["finish_reason"] for g in greedy for c in g.candidates} == {"length"}


def test_training_prompts_without_ground_truth_are_an_error_naming_the_field(tiny):
    from alignkit.errors import AlignkitError
    from alignkit.evaluate.audit import training_probe
    from alignkit.types import Prompt

    prompts = synthesize("train", 3, seed=1) + [Prompt([{"role": "user", "content": "Write a poem."}])]
    with pytest.raises(AlignkitError, match="carry no ground truth") as err:
        training_probe(prompts, 4, 1, tiny, max_new_tokens=4)
    assert err.value.where == "audit.source" and "Write a poem" in str(err.value)


def test_calibration_error():
    assert calibration_error([1.0, 0.0], [True, False]) == 0.0
    assert calibration_error([0.9, 0.9], [False, False]) == pytest.approx(0.9)
    assert calibration_error([2.0], [True]) is None  # not a probability


@pytest.mark.integration
def test_audit_command_on_embedded_model(tmp_path):
    from conftest import run_cli  # noqa: PLC0415

    env_plugins = os.environ.get("ALIGNKIT_PLUGINS")
    os.environ["ALIGNKIT_PLUGINS"] = "planted_judges"
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PLUGINS), os.environ.get("PYTHONPATH")]))
    try:
        res = run_cli("audit", "--signal", "planted_length_judge,planted_honest_judge", "--bench",
                      "arithmetic_heldout", "--n", "6", "--k", "2", "--max-new-tokens", "48", "--out", str(tmp_path))
    finally:
        if env_plugins is None:
            os.environ.pop("ALIGNKIT_PLUGINS")
        else:
            os.environ["ALIGNKIT_PLUGINS"] = env_plugins
    assert res.returncode == 0, res.stderr[-2000:]
    audit = json.loads((tmp_path / "audit.json").read_text())
    rows = {r["signal"]: r for r in audit["signals"]}
    assert audit["prompts"] == 6 and audit["answers_per_prompt"] == 2
    assert rows["planted_honest_judge"]["flags"] == []
    assert rows["planted_honest_judge"]["repeat_agreement"] == 1.0
    assert "planted_length_judge: length bias" in res.stdout
    page = (tmp_path / "report.html").read_text()
    assert "Signal audit" in page and "planted_length_judge" in page


def test_a_probe_too_small_to_decide_is_not_flagged_weak():
    """The default demo's old probe: 16 answers, one right. A signal that gets it wrong scores AUROC
    0.5, which says nothing; the audit says it cannot judge instead of flagging it weak."""
    from alignkit.evaluate.audit import MIN_AUROC, MIN_PER_CLASS

    groups = _probe(4)
    for i, g in enumerate(groups):  # the truth passes one answer, which the judge scores lowest
        for j, c in enumerate(g.candidates):
            c.annotations = [Annotation(TRUTH, "score", float(i == 0 and j == 2))]
    row = audit_signal(lambda seed: get_signal("planted_length_judge")(seed=seed), groups)
    assert row["positives"] == 1 and row["candidates"] == 16 and row["auroc"] < MIN_AUROC
    assert not any(f.startswith("weak") for f in row["flags"]), row["flags"]
    assert row["undecided"].startswith("too few right/wrong answers to judge (n=16: 1 right, 15 wrong")
    # the same judge on a probe with enough of each is judged: its flags are decided
    row = _audit("planted_length_judge")
    assert row["positives"] >= MIN_PER_CLASS and "undecided" not in row


def test_undecided_reaches_report_json_and_the_page_in_grey_not_as_a_flag():
    from alignkit.evaluate.report_html import audit_table
    from alignkit.pipeline import audit_flags

    why = "too few right/wrong answers to judge (n=16: 1 right, 15 wrong; needs 10 of each): raise audit.n or audit.k"
    audit = {"bench": "ifeval_heldout", "prompts": 8, "answers_per_prompt": 2, "truth_pass_rate": 1 / 16,
             "signals": [{"signal": "verifiable_instructions", "scored": 16, "auroc": 0.5, "flags": [],
                          "undecided": why}]}
    assert audit_flags(audit)["signals"]["verifiable_instructions"] == {"auroc": 0.5, "flags": [], "undecided": why}
    html = audit_table(audit)
    assert f'<span class="muted">{why}</span>' in html and 'class="flag"' not in html
