"""Bad input: one clear message naming the problem, a non-zero exit, never a traceback."""

import json

import pytest
from conftest import REPO, run_cli

GOOD = (REPO / "recipes" / "verifiable_instructions.yaml").read_text()


def _assert_clean_failure(res, *needles):
    assert res.returncode != 0
    assert "Traceback" not in res.stderr + res.stdout
    text = res.stderr + res.stdout
    for needle in needles:
        assert needle in text, text


def test_malformed_yaml_names_file_and_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsignals:\n  - name: verifiable_instructions\n   params: {oops\n")
    _assert_clean_failure(run_cli("validate", str(bad)), "bad.yaml:", "invalid YAML", "fix:")


def test_unknown_signal_names_field_line_and_known_signals(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text(GOOD.replace("- name: checker_revision", "- name: majority_vibes"))
    res = run_cli("validate", str(bad))
    line = next(i for i, t in enumerate(bad.read_text().splitlines(), 1) if "majority_vibes" in t)
    _assert_clean_failure(res, f"r.yaml:{line}", "signals.1.name", "unknown signal 'majority_vibes'",
                          "verifiable_instructions")


def test_unknown_field_and_wrong_type(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text("name: x\nprompts:\n  n: lots\n  colour: blue\nsignals:\n  - name: verifiable_instructions\n")
    _assert_clean_failure(run_cli("validate", str(bad)), "prompts.n", "prompts.colour", "unknown field")


def test_bad_set_override():
    path = str(REPO / "recipes" / "verifiable_instructions.yaml")
    _assert_clean_failure(run_cli("validate", path, "--set", "prompts.n"), "--set", "key.path=value")
    _assert_clean_failure(run_cli("validate", path, "--set", "train.epochs=-1"), "train.epochs")


def test_missing_recipe_file(tmp_path):
    _assert_clean_failure(run_cli("validate", str(tmp_path / "none.yaml")), "not found")


def test_missing_model_path(tmp_path):
    path = str(REPO / "recipes" / "verifiable_instructions.yaml")
    res = run_cli("run", path, "--out", str(tmp_path / "run"), "--set", f"model={tmp_path / 'no-such-model'}")
    _assert_clean_failure(res, "no-such-model", "does not exist", "fix:")


def test_missing_vllm_model_path(tmp_path):
    """`vllm:PATH` with no such directory: vLLM took it for a hub id and the user got a traceback (session
    36, pointing at `model` where an iterated run saves model_it1 ... model_itK)."""
    res = run_cli("eval", "--model", f"vllm:{tmp_path / 'run' / 'model'}", "--bench", "arithmetic_dev", "--n", "2",
                  "--out", str(tmp_path / "ev"))
    _assert_clean_failure(res, "run/model", "does not exist", "model_it1", "fix:")


@pytest.mark.parametrize("content,needle", [
    ('{"text": "hello"}\n', "missing column `messages` or `prompt`"),
    ('{"prompt": "ok"}\n{not json}\n', ":2"),
    ("", "no rows"),
    ('{"messages": "hi"}\n', "`messages` must be"),
])
def test_jsonl_with_wrong_columns(tmp_path, tiny_model_dir, content, needle):
    data = tmp_path / "prompts.jsonl"
    data.write_text(content)
    path = str(REPO / "recipes" / "verifiable_instructions.yaml")
    res = run_cli("run", path, "--out", str(tmp_path / "run"), "--set", f"model={tiny_model_dir}",
                  "--set", "prompts.source=jsonl", "--set", f"prompts.path={data}",
                  "--set", "evaluate.n=2", "--set", "evaluate.max_new_tokens=2", "--set", "evaluate.budgets={}")
    _assert_clean_failure(res, "prompts.jsonl", needle)


def by_family(rec: list[dict], family: str) -> list[tuple[str, str]]:
    return [(r["name"], r["method"]) for r in rec if r["family"] == family]


def test_listing_commands_print_json():
    sig = json.loads(run_cli("signals", "--json").stdout)
    assert {"name", "source", "kind", "description", "params"} <= set(sig[0])
    schemas = {s["name"]: s["params"] for s in sig if "params" in s}  # each signal's parameter JSON schema
    assert "relabel" in schemas["checker_revision"]["properties"] and len(schemas) == len(sig) - 3
    assert {s["source"] for s in sig} <= {"inductive_bias", "behavior_imitation", "model_feedback",
                                          "environment_feedback"}
    other = {s["name"]: s["kind"] for s in sig if s["kind"] in ("prompts", "experiment")}
    assert other == {"self_instruct": "prompts", "evol_instruct": "prompts", "weak_to_strong": "experiment"}
    used = {s["name"]: s["recipes"] for s in sig}  # the method -> recipe mapping, both ways with `recipes`
    assert "spin" in used["self_play"] and "self_rewarding" in used["self_judge"]
    assert used["self_instruct"] == ["self_instruct"] and used["weak_to_strong"] == []
    rec = json.loads(run_cli("recipes", "--json").stdout)
    names = {r["name"] for r in rec}
    assert "verifiable_instructions" in names
    assert all(r["signals"] for r in rec if r["family"] != "in_context")  # in context: aligned by the prompt alone
    assert by_family(rec, "in_context") == [("in_context", "none")]
    cautions = {r["name"] for r in rec if r["caution"]}  # measured harm is shown where recipes are chosen
    assert {"debate", "in_context"} <= cautions and "verifiable_instructions" not in cautions
    by_name = {r["name"]: r for r in rec}  # each recipe's survey family and training method, shown plainly
    assert (by_name["spin"]["family"], by_name["spin"]["signals"], by_name["spin"]["method"]) == (
        "inductive_bias", ["self_play"], "dpo")
    assert by_name["rejection_sampling"]["family"] == "model_feedback"
    assert [r["family"] for r in rec] == sorted(r["family"] for r in rec)  # grouped by family
