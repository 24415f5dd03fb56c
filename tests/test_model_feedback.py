"""Model-feedback signals on a tiny random model: the pairwise judge's position-swap logic and
critique-and-revision against a constitution file (default and custom, good and broken)."""

import pytest
from test_inductive_bias import QUESTION, Recorder, _group, _signal

from alignkit.build import build_preference, build_sft
from alignkit.errors import AlignkitError
from alignkit.signals.constitution import load_constitution
from alignkit.signals.model_feedback import combine, parse_winner


@pytest.mark.parametrize("first, swapped, want", [
    ("A", "B", ("x", True)), ("B", "A", ("y", True)), ("A", "A", ("tie", False)), ("B", "B", ("tie", False)),
    ("tie", "tie", ("tie", True)), ("A", "tie", ("tie", False)), (None, "B", ("tie", False)),
])
def test_a_win_counts_only_when_both_orders_agree(first, swapped, want):
    assert combine(first, swapped) == want


@pytest.mark.parametrize("text, want", [
    ("A is clearer. Winner: A", "A"), ("winner: b", "B"), ("Winner: tie", "tie"), ("B", "B"), ("(A).", "A"),
    ("Both are fine", None),
])
def test_parse_winner(text, want):
    assert parse_winner(text) == want


def test_pairwise_judge_compares_every_pair_in_both_orders(tiny):
    rec = Recorder(tiny)
    seen = []
    rec.choice_logprobs = lambda convs, choices: (seen.extend(convs), tiny.choice_logprobs(convs, choices))[1]
    signal = _signal("pairwise_judge", rec)
    g = _group(["67", "68", "The answer is 68."])
    signal.annotate([g])
    assert len(seen) == 6  # 3 pairs x 2 orders
    first, swapped = seen[0][0]["content"], seen[3][0]["content"]
    assert first.index("<response_a>\n67\n") < first.index("<response_b>\n68\n")
    assert "<response_a>\n68\n" in swapped and "<response_b>\n67\n" in swapped
    rates = [c.value("pairwise_judge") for c in g.candidates]
    assert sum(r * 2 for r in rates) == pytest.approx(3)  # each of the 3 pairs hands out one point
    facts = signal.summary()
    assert facts["pairs"] == 3 and 0.0 <= facts["position_consistency"] <= 1.0


def test_a_judge_that_always_picks_the_first_position_wins_nothing(tiny):
    class FirstPositionJudge(Recorder):
        """Fake judge with total position bias (always "A"), a fault a real model shows only sometimes."""

        def choice_logprobs(self, conversations, choices):
            return [[0.0, -5.0] for _ in conversations]

    signal = _signal("pairwise_judge", FirstPositionJudge(tiny))
    g = _group(["67", "68", "69", "70"])
    signal.annotate([g])
    assert [c.value("pairwise_judge") for c in g.candidates] == [0.5] * 4
    assert signal.summary() == {"pairs": 6, "position_consistency": 0.0, "tie_rate": 1.0}
    assert build_preference([g], "pairwise_judge") == []


def test_default_constitution_loads():
    c = load_constitution()
    assert {p.name for p in c.principles} >= {"helpful", "honest", "harmless"}
    assert all(p.critique and p.revision for p in c.principles)


def test_custom_constitution_in_markdown_and_yaml(tmp_path):
    md = tmp_path / "mine.md"
    md.write_text("# Pirate code\n\n## pirate\nCritique: Does it sound like a pirate?\n"
                  "Revision: Rewrite it as a pirate would say it.\n\n## brief\n- critique: Is it long?\n"
                  "- revision: Make it one sentence.\n")
    c = load_constitution(md)
    assert c.name == "Pirate code" and [p.name for p in c.principles] == ["pirate", "brief"]
    assert c.principles[1].revision == "Make it one sentence."
    y = tmp_path / "mine.yaml"
    y.write_text("principles:\n  - {name: kind, critique: \"Is it unkind?\", revision: Make it kind.}\n")
    assert load_constitution(y).principles[0].name == "kind"


@pytest.mark.parametrize("name, text, match", [
    ("syntax.yaml", "principles:\n  - name: a\n    critique: [unclosed\n", r"syntax\.yaml:\d+:\d+: invalid YAML"),
    ("empty.yaml", "name: x\n", "non-empty `principles` list"),
    ("field.yaml", "principles:\n  - {name: a, critique: c, revison: r}\n", r"field\.yaml:2: principle 1: unknown"),
    ("nostr.yaml", "principles:\n  - {name: a, critique: c}\n", "`revision` must be a non-empty string"),
    ("norev.md", "## a\nCritique: c\n", r"norev\.md:1: principle 'a' has no `Revision:` line"),
    ("orphan.md", "Critique: c\n## a\n", r"orphan\.md:1: `Critique:` line before any"),
    ("none.md", "just prose\n", "no principles found"),
])
def test_broken_constitution_is_rejected_with_file_line_and_fix(tmp_path, name, text, match):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(AlignkitError, match=match) as err:
        load_constitution(path)
    assert "fix:" in err.value.render()


def test_constitutional_revision_critiques_against_the_custom_principle(tiny, tmp_path):
    path = tmp_path / "c.md"
    path.write_text("## pirate\nCritique: Does it sound like a pirate?\nRevision: Say it as a pirate.\n")
    rec = Recorder(tiny)
    groups = [_group(["67"]), _group(["The answer is 68."])]
    _signal("constitutional_revision", rec, constitution=str(path), temperature=1.0, max_new_tokens=8,
            feedback_tokens=4).annotate(groups)
    critiques, revisions = rec.calls
    assert "Does it sound like a pirate?" in critiques[0][0]["content"] and QUESTION in critiques[0][0]["content"]
    assert "Say it as a pirate." in revisions[0][0]["content"]
    for g in groups:
        orig, *revs = g.candidates
        assert orig.value("constitutional_revision") == 0.0
        for r in revs:
            assert r.origin["principle"] == "pirate" and r.value("constitutional_revision") == 1.0
    kept = [g for g in groups if len(g.candidates) == 2]
    assert kept and len(build_sft(kept, "constitutional_revision")) == len(kept)
    assert all(r["rejected"][0]["content"] in ("67", "The answer is 68.")
               for r in build_preference(kept, "constitutional_revision"))


def test_missing_constitution_file_is_a_clear_error(tiny):
    with pytest.raises(AlignkitError, match="constitution file 'nope.yaml' not found"):
        _signal("constitutional_revision", tiny, constitution="nope.yaml").annotate([_group(["67"])])
