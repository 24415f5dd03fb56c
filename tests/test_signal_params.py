"""Typed signal parameters: each signal's Params model checks what a recipe (or code) passes,
keeps the params as written for the stage keys, feeds `alignkit signals --json` and the
generated tables of docs/recipes.md."""

import subprocess
import sys

import pytest
import yaml
from conftest import REPO
from pydantic import BaseModel
from pydantic_core import to_jsonable_python

from alignkit.errors import AlignkitError
from alignkit.recipe import load_recipe
from alignkit.signals.base import Signal, describe_signals, get_signal, signal_names

RECIPES = sorted((REPO / "recipes").glob("*.yaml"))


def test_params_are_validated_into_typed_fields_and_kept_as_written():
    s = get_signal("checker_revision")(relabel="3")
    assert s.p.relabel == 3 and s.p.max_per_group == 1 and s.p.max_sentences is None  # typed, defaults filled
    assert s.params == {"relabel": "3"}  # as written
    assert get_signal("answer_match")().p.extract == "final"


@pytest.mark.parametrize("params, where, needles", [
    ({"relabels": 3}, "signals.params.relabels", ["unknown parameter `relabels`", "did you mean `relabel`"]),
    ({"relabel": "many"}, "signals.params.relabel", ["valid integer", "'many'"]),
    ({"relabel": -1}, "signals.params.relabel", ["greater than or equal to 0"]),
])
def test_a_bad_param_is_an_error_naming_the_field(params, where, needles):
    with pytest.raises(AlignkitError) as err:
        get_signal("checker_revision")(**params)
    assert err.value.where == where and "checker_revision" in err.value.message
    assert all(n in err.value.message for n in needles), err.value.message
    assert "alignkit signals --json" in err.value.fix


def test_templates_and_choices_are_checked_when_the_signal_is_built():
    with pytest.raises(AlignkitError, match="the template lacks") as err:
        get_signal("pairwise_judge")(template="Which is better? {question}")
    assert "{response_a}" in err.value.message and err.value.where == "signals.params.template"
    with pytest.raises(AlignkitError, match="'final' or 'last'"):
        get_signal("answer_match")(extract="first")


def test_nested_signals_are_checked_and_keep_their_written_form():
    named = get_signal("self_refine")(scorer="verifiable_instructions").p.scorer
    assert named.name == "verifiable_instructions" and named.as_written() == "verifiable_instructions"
    ref = get_signal("self_refine")(scorer={"name": "self_consistency", "params": {"min_agreement": 0.4}}).p.scorer
    assert ref.as_written() == {"name": "self_consistency", "params": {"min_agreement": 0.4}}
    assert ref.build(None).p.min_agreement == 0.4
    with pytest.raises(AlignkitError) as err:
        get_signal("self_refine")(scorer={"name": "verifiable_instructions", "params": {"require_complet": True}})
    assert err.value.where == "signals.params.scorer.params.require_complet"


def test_a_signal_that_declares_no_params_accepts_any():
    """Third-party plugins written before typed params: no Params, anything goes, unchecked."""

    class Plugin(Signal):
        name, source, kind, description = "test_plugin", "model_feedback", "score", "tests only"

    s = Plugin(anything=1, rubric="x")
    assert s.params == {"anything": 1, "rubric": "x"} and s.p.model_extra == s.params
    assert Plugin().params == {}


def test_every_builtin_signal_declares_forbidding_params_with_help():
    builtin = [n for n in signal_names() if get_signal(n).__module__.startswith("alignkit.")]  # not test plugins
    assert len(builtin) >= 18
    for name in builtin:
        params = get_signal(name).Params
        assert params.model_config.get("extra") == "forbid", name
        assert "seed" in params.model_fields, name  # the audit passes seed to every signal
        assert all(f.description for f in params.model_fields.values()), name


def test_signals_json_carries_each_params_schema():
    rows = {r["name"]: r for r in describe_signals()}
    schema = rows["checker_revision"]["params"]
    assert schema["additionalProperties"] is False
    assert schema["properties"]["relabel"].items() >= {"type": "integer", "default": 0, "minimum": 0}.items()
    assert "write" in rows["collective_constitution"]["params"]["required"]


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_builtin_recipes_validate_and_keep_signal_params_as_written(path):
    """The stage keys hash `recipe.signals`: they must hold the params as written, not the
    filled-in defaults, or every existing run's stages would be recomputed."""
    recipe = load_recipe(path)
    written = yaml.safe_load(path.read_text()).get("signals", [])  # an in-context recipe has none
    assert to_jsonable_python(recipe.signals) == [{"name": s["name"], "params": s.get("params", {})} for s in written]
    for s in recipe.signals:  # and the signals can be built from them
        params = {k: v.replace("{run}", "/tmp/run") if isinstance(v, str) else v for k, v in s.params.items()}
        assert isinstance(get_signal(s.name)(**params).p, BaseModel)


def test_recipe_param_errors_name_file_line_and_field(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("name: x\nsignals:\n  - name: verifiable_instructions\n  - name: checker_revision\n"
                    "    params:\n      max_per_group: 2\n      relabels: 3\n")
    with pytest.raises(AlignkitError) as err:
        load_recipe(path)
    assert f"{path}:7: field `signals.1.params.relabels`" in err.value.message
    assert "did you mean `relabel`" in err.value.message
    with pytest.raises(AlignkitError, match="signals.1.params.relabel`: signal checker_revision: Input should be"):
        load_recipe(path, ["signals.1.params={relabel: many}"])
    assert load_recipe(path, ["signals.1.params={relabel: 2}"]).signals[1].params == {"relabel": 2}


def test_signal_docs_are_generated_from_the_schemas(tmp_path):
    script = [sys.executable, str(REPO / "scripts" / "signal_docs.py")]
    ok = subprocess.run([*script, "--check"], capture_output=True, text=True, cwd=REPO)
    assert ok.returncode == 0, ok.stderr + ok.stdout
    doc = (REPO / "docs" / "recipes.md").read_text()
    assert "| `relabel` | integer ≥ 0 | `0` |" in doc and "| `write` | non-empty string | required |" in doc
    stale = tmp_path / "recipes.md"
    stale.write_text(doc.replace("| `relabel` | integer ≥ 0 | `0` |", "| `relabel` | integer | `1` |"))
    bad = subprocess.run([*script, "--check", "--file", str(stale)], capture_output=True, text=True, cwd=REPO)
    assert bad.returncode == 1 and "out of date" in bad.stderr
    fixed = subprocess.run([*script, "--file", str(stale)], capture_output=True, text=True, cwd=REPO)
    assert fixed.returncode == 0 and stale.read_text() == doc
