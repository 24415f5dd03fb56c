"""In-context alignment (URIAL-style): the context file, the wrapping backend, the training-free
recipe and the baseline column every trained recipe can report."""

import json
import subprocess
import sys

import pytest
from conftest import REPO

from alignkit.errors import AlignkitError
from alignkit.in_context import ContextBackend, load_context
from alignkit.pipeline import Runner
from alignkit.recipe import load_recipe


def test_builtin_urial_puts_system_and_examples_before_the_conversation():
    ctx = load_context("urial")
    assert ctx.name == "urial" and ctx.system and len(ctx.examples) == 3
    conv = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi?"}]
    msgs = ctx.apply(conv)
    assert msgs[0] == {"role": "system", "content": ctx.system + "\n\nBe brief."}  # the user's own system kept
    assert [m["role"] for m in msgs[1:]] == ["user", "assistant"] * 3 + ["user"]
    assert msgs[1]["content"] == ctx.examples[0][0] and msgs[2]["content"] == ctx.examples[0][1]
    assert msgs[-1] == {"role": "user", "content": "Hi?"}
    assert conv[0]["content"] == "Be brief."  # the caller's conversation is not modified


@pytest.mark.parametrize("text,line,words", [
    ("system: hi\nexamples:\n  - {user: a, assistant: b}\ncolour: red\n", 4, "unknown field(s) colour"),
    ("system: hi\nexamples:\n  - {user: a, assistant: b}\n  - {user: c}\n", 4, "example 2"),
    ("system: [1, 2]\n", 1, "`system` must be a string"),
    ("system: hi\nexamples: {user: a}\n", 2, "`examples` must be a list"),
])
def test_bad_context_files_name_the_line(tmp_path, text, line, words):
    path = tmp_path / "ctx.yaml"
    path.write_text(text)
    with pytest.raises(AlignkitError) as err:
        load_context(str(path))
    assert words in err.value.message and err.value.where == f"{path}:{line}" and err.value.fix


def test_unknown_context_says_what_exists():
    with pytest.raises(AlignkitError, match="neither a built-in .*urial.* nor a file"):
        load_context("no-such-context")


def test_context_reaches_the_model(tiny):
    """The wrapped backend scores and answers exactly as the bare one does on the context-prefixed conversation."""
    from alignkit.models.base import Sampling

    ctx = load_context("urial")
    wrapped = ContextBackend(tiny, ctx)
    conv = [[{"role": "user", "content": "Name a colour."}]]
    with_ctx = wrapped.logprobs(conv, ["Blue."])[0]
    assert with_ctx == pytest.approx(tiny.logprobs([ctx.apply(conv[0])], ["Blue."])[0], abs=1e-4)
    assert with_ctx != pytest.approx(tiny.logprobs(conv, ["Blue."])[0], abs=1e-3)
    greedy = Sampling(n=1, temperature=0.0, max_new_tokens=6)
    assert wrapped.generate(conv, greedy) == tiny.generate([ctx.apply(conv[0])], greedy)
    assert wrapped.name == f"{tiny.name}+context:urial"


def _recipe(model, *extra):
    return load_recipe(REPO / "recipes" / "verifiable_instructions.yaml", [
        f"model={model}", "prompts.n=6", "generate.n=2", "generate.max_new_tokens=8", "generate.shard_size=4",
        "build.min_score=0.0", "train.epochs=1", "train.batch_size=4", "train.max_length=128", "audit.enabled=false",
        "evaluate.n=4", "evaluate.max_new_tokens=8", "evaluate.budgets={}", "dtype=float32", *extra])


def test_in_context_recipe_evaluates_the_model_in_context_and_trains_nothing(tmp_path):
    # the embedded model, not the tiny random one: its greedy answers are text the context can change
    recipe = load_recipe(REPO / "recipes" / "in_context.yaml", [
        "evaluate.benchmarks=[ifeval_heldout]", "evaluate.n=4", "evaluate.max_new_tokens=12", "evaluate.budgets={}"])
    assert recipe.signals == [] and recipe.train.method == "none"
    report = Runner(recipe, tmp_path, log=lambda *_: None).run()
    stages = {p.name for p in (tmp_path / "stages").iterdir()}
    assert stages == {"eval_before_ifeval_heldout", "eval_in_context_ifeval_heldout"}  # no prompts, no training
    before = json.loads((tmp_path / "stages" / "eval_before_ifeval_heldout" / "items.json").read_text())
    in_ctx = json.loads((tmp_path / "stages" / "eval_in_context_ifeval_heldout" / "items.json").read_text())
    b = report["benchmarks"]["ifeval_heldout"]
    assert b["after"] == pytest.approx(sum(i["score"] for i in in_ctx) / 4)  # "after" is the model in context
    assert b["before"] == pytest.approx(sum(i["score"] for i in before) / 4)
    assert [i["response"] for i in in_ctx] != [i["response"] for i in before]  # the context changed the answers
    assert not (tmp_path / "model").exists()


def test_trained_recipe_reports_the_in_context_baseline_without_changing_its_other_keys(tiny_model_dir, tmp_path):
    plain, ctx = tmp_path / "plain", tmp_path / "ctx"
    Runner(_recipe(tiny_model_dir), plain, log=lambda *_: None).run()
    report = Runner(_recipe(tiny_model_dir, "evaluate.in_context=urial"), ctx, log=lambda *_: None).run()
    for stage in ("eval_before_ifeval_heldout", "eval_after_ifeval_heldout", "train"):  # same keys, same work
        assert (plain / "stages" / stage / "KEY").read_text() == (ctx / "stages" / stage / "KEY").read_text()
    b = report["benchmarks"]["ifeval_heldout"]
    items = json.loads((ctx / "stages" / "eval_in_context_ifeval_heldout" / "items.json").read_text())
    ic = b["in_context"]
    assert ic["context"] == "urial" and ic["score"] == pytest.approx(sum(i["score"] for i in items) / 4)
    assert ic["delta"] == pytest.approx(b["after"] - ic["score"]) and ic["ci95"][0] <= ic["delta"] <= ic["ci95"][1]
    assert "Against the in-context baseline" in (ctx / "report.html").read_text()


def test_recipe_without_signals_must_be_in_context(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("name: x\ntrain:\n  method: sft\nevaluate:\n  in_context: urial\n")
    with pytest.raises(AlignkitError, match="only an in-context recipe"):
        load_recipe(path)
    path.write_text("name: x\ntrain:\n  method: none\nevaluate:\n  in_context: nowhere.yaml\n")
    with pytest.raises(AlignkitError, match=r"evaluate\.in_context.*nowhere\.yaml"):
        load_recipe(path)


def test_cli_eval_rejects_a_missing_context_before_loading_a_model(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "alignkit", "eval", "--model", "embedded", "--context",
                           str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "--context" in proc.stderr and "neither a built-in" in proc.stderr and "fix:" in proc.stderr
