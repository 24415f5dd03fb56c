"""Instruction synthesis: Self-Instruct and Evol-Instruct with the real MiniLM deduplicator; the
generator is a scripted backend (its replies fixed, to test filtering and dedup) or the tiny model."""

import pytest

from alignkit.data.synthesis import IN_BREADTH, IN_DEPTH, Deduplicator, clean, evol_instruct, self_instruct
from alignkit.recipe import PromptsConfig

SEEDS = ["Write a short poem about the ocean.", "Explain how a bicycle works.", "Give tips for saving money."]


class Scripted:
    """A backend whose replies come from a list, in order (one per conversation)."""

    name = "scripted"

    def __init__(self, replies):
        self.replies, self.seen = list(replies), []

    def generate(self, conversations, sampling, **kw):
        self.seen += conversations
        return [[self.replies.pop(0) if self.replies else "x"] for _ in conversations]


def test_clean_applies_self_instruct_filters():
    assert clean("Task 4: Describe a sunset over the sea.\nTask 5: ...") == "Describe a sunset over the sea."
    assert clean("Draw a picture of a cat.") is None  # a text model cannot
    assert clean("Hi") is None and clean("123 go") is None


def test_deduplicator_rejects_paraphrases_and_keeps_new_topics():
    d = Deduplicator(0.85, ["Write a poem about the sea."])
    assert not d.add("Compose a short poem on the ocean.") and d.rejected == 1
    assert d.add("List three prime numbers and explain why they are prime.")
    assert d.nearest("List three prime numbers and explain why they are prime.") > 0.99


def test_self_instruct_keeps_new_filtered_deduplicated_tasks():
    replies = ["Write a short poem about the ocean.",  # copies a seed: dropped
               "Describe a famous painting.",  # fine
               "Draw a map of your town.",  # banned words: dropped
               "Explain how a refrigerator keeps food cold.",  # fine
               "Describe a famous painting!"]  # near-duplicate of an accepted one: dropped
    gen = Scripted(replies)
    out = self_instruct(gen, SEEDS, 2, batch=5, max_rounds=1)
    assert [p.text for p in out] == ["Describe a famous painting.", "Explain how a refrigerator keeps food cold."]
    assert all(p.meta["source"] == "self_instruct" and p.meta["generator"] == "scripted" for p in out)
    assert "Task 1:" in gen.seen[0][0]["content"] and all(e in SEEDS for e in out[0].meta["examples"])


def test_evol_instruct_rewrites_in_depth_and_breadth():
    gen = Scripted(["Write a short poem about the ocean in exactly four lines that rhyme.",
                    "Explain how a bicycle works.",  # copies its parent: dropped
                    "Give tips for saving money on groceries for a family of five each month."])
    out = evol_instruct(gen, SEEDS, 10, rounds=1, breadth_fraction=0.5, seed=3)
    assert [p.meta["parent"] for p in out] == [SEEDS[0], SEEDS[2]]
    assert all(p.meta["round"] == 1 and p.meta["evolution"] in {*IN_DEPTH, "breadth"} for p in out)
    for conv, p in zip([gen.seen[0], gen.seen[2]], out):  # each rewrite was asked for with its operation
        asked = conv[0]["content"]
        assert p.meta["parent"] in asked and "#Given Task#" in asked
        assert (IN_BREADTH if p.meta["evolution"] == "breadth" else IN_DEPTH[p.meta["evolution"]]) in asked


def test_prompt_source_with_the_tiny_model(tiny_model_dir, tmp_path):
    from alignkit.data.prompts import load_prompts

    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(f'{{"prompt": "{s}"}}\n' for s in SEEDS))
    cfg = PromptsConfig(source="self_instruct", path=str(seeds), n=1, generator=str(tiny_model_dir))
    out = load_prompts(cfg)  # a random model rarely writes a valid task: what it keeps must be clean
    assert len(out) <= 1 and all(clean(p.text) == p.text for p in out)
    with pytest.raises(ValueError):
        PromptsConfig(source="self_instruct", dedup_threshold=1.5)
