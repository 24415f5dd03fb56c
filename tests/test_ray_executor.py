"""`executor: ray` on a local Ray cluster (2 CPUs, 2 actors) gives the same rows, per prompt
id, as `executor: local`, keeps the store's resume behaviour, and merges signal tallies.
Ray's fixed start-up (worker processes importing torch) makes these the slowest unit tests,
so one pair of runs covers generation, two model-free signals (Ray tasks) and a model
signal (an actor pool)."""

import json

import pytest
from conftest import REPO

from alignkit.data.store import RunStore
from alignkit.pipeline import Runner
from alignkit.recipe import SignalConfig, load_recipe

pytest.importorskip("ray")


def _recipe(model, *extra):
    recipe = load_recipe(REPO / "recipes" / "verifiable_instructions.yaml", [
        f"model={model}", "prompts.n=10", "generate.n=2", "generate.max_new_tokens=8", "generate.shard_size=4",
        "generate.temperature=1.0", "train.method=none", "evaluate.n=2", "evaluate.max_new_tokens=4",
        "evaluate.budgets={}", "audit.n=8", *extra])
    recipe.signals.append(SignalConfig(name="pairwise_judge", params={"max_candidates": 2}))
    return recipe


@pytest.fixture(scope="module")
def runs(tiny_model_dir, tmp_path_factory):
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    out = tmp_path_factory.mktemp("ray")
    local = Runner(_recipe(tiny_model_dir), out / "local", log=lambda *_: None).run()
    remote = Runner(_recipe(tiny_model_dir, "executor=ray", "ray.actors=2"), out / "ray", log=lambda *_: None).run()
    yield out, local, remote
    ray.shutdown()


def _stage_rows(out, name):
    key = json.loads((out / "stages" / name / "manifest.json").read_text())["key"]
    return {g.id: g.to_row() for g in RunStore(out).stage(name, key).read_groups()}


def test_ray_and_local_give_the_same_rows_per_prompt(runs):
    out, local, remote = runs
    for stage in ("generate", "annotate"):
        a, b = _stage_rows(out / "local", stage), _stage_rows(out / "ray", stage)
        assert a.keys() == b.keys() and len(a) >= 10
        assert a == b, f"{stage} differs"
    built = [json.loads((out / run / "stages" / "build" / "rows.json").read_text()) for run in ("local", "ray")]
    assert sorted(map(json.dumps, built[0])) == sorted(map(json.dumps, built[1]))
    # the judge's tallies come back from the actors and add up: one pair per original prompt
    assert remote["signals"] == local["signals"] and remote["signals"]["pairwise_judge"]["pairs"] >= 10


def test_ray_generation_resumes_from_finished_shards(runs, tiny_model_dir):
    out = runs[0] / "ray"
    gen = out / "stages" / "generate"
    shards = sorted(gen.glob("shard-*.parquet"))
    assert len(shards) == 3
    kept = {p: p.stat().st_mtime_ns for p in shards[:2]}
    shards[2].unlink()  # as if killed before the last shard was written
    (gen / "manifest.json").unlink()
    Runner(_recipe(tiny_model_dir, "executor=ray"), out, log=lambda *_: None).run()
    assert {p: p.stat().st_mtime_ns for p in shards[:2]} == kept and shards[2].exists()
    assert _stage_rows(out, "generate") == _stage_rows(runs[0] / "local", "generate")
