"""Online RL (GRPO, RLOO) with a registered signal as the reward, on a tiny model."""

import json

import pytest
from conftest import REPO

from alignkit.pipeline import Runner
from alignkit.recipe import SignalConfig, load_recipe
from alignkit.rewards import signal_reward

LOWER = {"constraints": [{"id": "change_case:english_lowercase", "kwargs": {}}], "base_task": "Describe rain."}


def test_signal_reward_scores_each_completion_with_the_checker():
    reward = signal_reward([SignalConfig(name="verifiable_instructions", params={"require_complete": True})],
                           "verifiable_instructions", lambda spec: None, eos_ids={2}, max_tokens=4)
    prompt = [{"role": "user", "content": "Describe rain. Your entire response should be in lowercase."}]
    completions = [[{"role": "assistant", "content": t}] for t in
                   ("rain falls softly on the roof.", "Rain falls softly.", "rain falls softly on the", "rain falls.")]
    ids = [[5, 6, 2], [5, 6, 2], [5, 6, 7, 8], [5, 2]]  # the third ran into the token limit
    got = reward([prompt] * 4, completions, completion_ids=ids, meta=[json.dumps(LOWER)] * 4)
    assert got == [1.0, 0.0, 0.0, 1.0]
    assert reward.__name__ == "verifiable_instructions"


@pytest.mark.parametrize("method", ["grpo", "rloo"])
def test_online_rl_trains_on_prompts_with_the_signal_as_reward(tiny_model_dir, tmp_path, method):
    recipe = load_recipe(REPO / "recipes" / "grpo.yaml", [
        f"model={tiny_model_dir}", f"train.method={method}", "prompts.n=4", "generate.n=2",
        "generate.max_new_tokens=6", "train.max_steps=2", "train.batch_size=2",
        "build.signal=verifiable_instructions.partial", "evaluate.n=2", "evaluate.max_new_tokens=4"])
    report = Runner(recipe, tmp_path, log=lambda *_: None).run()
    info = json.loads((tmp_path / "stages" / "train" / "train.json").read_text())
    assert info["method"] == method and info["steps"] == 2 and info["rows"] == 4
    assert "reward_first" in info and 0.0 <= info["reward_first"] <= 1.0
    assert not (tmp_path / "stages" / "generate").exists()  # sampling happened inside the trainer
    assert report["benchmarks"]["ifeval_heldout"]["n"] == 2
