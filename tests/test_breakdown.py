"""The breakdown behind a benchmark's number: answer lengths, and per constraint type the items
carrying it, followed before and after, and the loss flag; on hand-written items with known answers."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import REPO

from alignkit.evaluate.breakdown import bench_breakdown, length_stats, lost_note, markdown, summary_line
from alignkit.types import Prompt

NO_COMMA = {"id": "punctuation:no_comma", "kwargs": {}}
APPLE = {"id": "keywords:existence", "kwargs": {"keywords": ["apple"]}}
PS = {"id": "detectable_content:postscript", "kwargs": {"postscript_marker": "P.S."}}
TITLE = {"id": "detectable_format:title", "kwargs": {}}


def _prompt(text: str, *constraints: dict) -> Prompt:
    return Prompt(messages=[{"role": "user", "content": text}],
                  meta={"base_task": text, "constraints": list(constraints)})


PROMPTS = [_prompt("Say something about fruit.", NO_COMMA, APPLE), _prompt("Greet a friend.", NO_COMMA, PS),
           _prompt("Write a titled line about fruit.", APPLE, TITLE)]
# before: p1 follows both, p2 neither, p3 both; after: p1 neither, p2 both, p3 only the title
BEFORE = ["I like apple pie", "Hello there, friend", "<<Fruit>>\nAn apple a day"]
AFTER = ["I like pie, cake", "Hello there friend\nP.S. bye", "<<Fruit>>\nA pear a day"]


def _items(responses: list[str], prompts: list[Prompt] = PROMPTS) -> list[dict]:
    return [{"id": p.id, "prompt": p.text, "response": r, "score": 0.0} for p, r in zip(prompts, responses)]


@pytest.fixture(scope="module")
def bd():
    return bench_breakdown("ifeval_heldout", _items(BEFORE), _items(AFTER), prompts=PROMPTS)


def test_per_constraint_counts_and_loss_flag(bd):
    types = bd["constraints"]["types"]
    assert list(types)[:2] == ["keywords:existence", "punctuation:no_comma"]  # most items first, then by name
    apple = types["keywords:existence"]
    assert (apple["items"], apple["followed_before"], apple["followed_after"]) == (2, 2, 0)
    assert apple["delta"] == -1.0 and apple["ci95"] == [-1.0, -1.0] and apple["significant_loss"]
    comma = types["punctuation:no_comma"]  # one item lost, one gained: no significant change
    assert (comma["items"], comma["followed_before"], comma["followed_after"]) == (2, 1, 1)
    assert comma["delta"] == 0.0 and comma["ci95"][0] < 0 < comma["ci95"][1] and not comma["significant_loss"]
    ps = types["detectable_content:postscript"]
    assert (ps["items"], ps["followed_before"], ps["followed_after"]) == (1, 0, 1) and ps["significant_gain"]
    assert (types["detectable_format:title"]["followed_before"], types["detectable_format:title"]["followed_after"]) \
        == (1, 1)
    assert bd["constraints"]["significant_losses"] == ["keywords:existence"]
    assert bd["constraints"]["matched_items"] == 3 and bd["constraints"]["unmatched_items"] == 0


def test_instruction_and_prompt_level_accuracy(bd):
    inst = bd["constraints"]["instruction_level"]
    assert inst["n"] == 6 and inst["before"] == pytest.approx(4 / 6) and inst["after"] == pytest.approx(3 / 6)
    assert inst["delta"] == pytest.approx(-1 / 6) and inst["ci95"][0] <= inst["delta"] <= inst["ci95"][1]
    pl = bd["constraints"]["prompt_level"]
    assert pl["n"] == 3 and pl["before"] == pytest.approx(2 / 3) and pl["after"] == pytest.approx(1 / 3)


def test_lengths_in_words(bd):
    before, after = bd["length"]["before"], bd["length"]["after"]
    assert before["n"] == 3 and before["mean"] == 4.0 and before["median"] == 4.0  # 4, 3 and 5 words
    assert before["p10"] == pytest.approx(3.2) and before["p25"] == 3.5 and before["p75"] == 4.5
    assert before["p90"] == pytest.approx(4.8) and before["share_ge_150"] == 0.0
    assert after["mean"] == pytest.approx(14 / 3)  # 4, 5 and 5 words
    long = length_stats(["word " * 150, "word " * 149, "", "a b"])
    assert long["share_ge_150"] == 0.25 and long["n"] == 4
    assert length_stats([]) == {"n": 0}
    looping = length_stats(["I can help you with that today. " * 5, "A plain short answer."])
    assert looping["share_looping"] == 0.5 and long["share_looping"] == 0.5  # "word word word ..." loops too


def test_lost_items_say_whether_their_answers_grew_or_shrank():
    """Sentence-count losses out of distribution were upper bounds ignored by longer answers, most of them
    loops (session 36): the breakdown counts, per type, the lost items whose answers got longer, shorter, and
    that loop."""
    fewer = {"id": "length_constraints:number_sentences", "kwargs": {"relation": "less than", "num_sentences": 3}}
    prompts = [_prompt(f"Describe thing {i} briefly.", fewer) for i in range(4)]
    before = ["One sentence.", "Two short ones. Here.", "It is red.", "Far too many. Really. Sentences. Here."]
    loop = "It is a dream come true for the kids. " * 6
    after = ["One. Two. Three. Four sentences now.", loop, "Red.", "Fine. Short."]
    t = bench_breakdown("ifeval_heldout", _items(before, prompts), _items(after, prompts),
                        prompts=prompts)["constraints"]["types"]["length_constraints:number_sentences"]
    assert (t["followed_before"], t["followed_after"]) == (3, 2)  # two lost, one kept, one gained
    assert (t["lost"], t["lost_longer"], t["lost_shorter"], t["lost_looping"]) == (2, 2, 0, 1)
    assert lost_note(t) == "lost 2: 2 longer, 0 shorter, 1 looping"
    least = {"id": "length_constraints:number_sentences", "kwargs": {"relation": "at least", "num_sentences": 3}}
    more = [_prompt("Describe a thing at length.", least)]
    cut = bench_breakdown("ifeval_heldout", _items([after[0]], more), _items(["Red."], more),
                          prompts=more)["constraints"]["types"]["length_constraints:number_sentences"]
    assert (cut["lost"], cut["lost_longer"], cut["lost_shorter"], cut["lost_looping"]) == (1, 0, 1, 0)
    kept = bench_breakdown("ifeval_heldout", _items(after[:2], prompts[:2]), _items(before[:2], prompts[:2]),
                           prompts=prompts[:2])["constraints"]["types"]["length_constraints:number_sentences"]
    assert kept["lost"] == 0 and lost_note(kept) == ""  # gains only: nothing to say


def test_items_without_their_prompt_and_benchmarks_without_constraints():
    stray = _prompt("A prompt the benchmark does not have.", NO_COMMA)
    prompts = [*PROMPTS, stray]
    out = bench_breakdown("ifeval_heldout", _items([*BEFORE, "a, b"], prompts), _items([*AFTER, "a b"], prompts),
                          prompts=PROMPTS)
    assert out["constraints"]["matched_items"] == 3 and out["constraints"]["unmatched_items"] == 1
    assert out["constraints"]["types"]["punctuation:no_comma"]["items"] == 2  # the stray item is not counted
    plain = bench_breakdown("arithmetic_heldout", _items(BEFORE), _items(AFTER))
    assert set(plain) == {"length", "guard"} and plain["guard"]["passed"]


def test_the_guard_in_the_breakdown_and_its_line():
    worked = "First 12 + 30 = 42, then 42 - 2 = 40 apples are left. The answer is 40."
    prompts = [_prompt(f"Problem {i}.") for i in range(20)]
    out = bench_breakdown("arithmetic_heldout", _items([worked] * 20, prompts), _items(["40."] * 20, prompts))
    assert not out["guard"]["passed"] and out["guard"]["form_after"]["mean_words"] == 1.0
    assert summary_line("arithmetic_heldout", out).endswith(
        "; capability guard fails: answers shrink: 19 -> 1 words (below 0.75 of the base's)")


def test_summary_line_and_markdown(bd):
    line = summary_line("ifeval_heldout", bd)
    assert line == ("ifeval_heldout: mean answer length 4 -> 5 words; constraint types with a significant loss: "
                    "keywords:existence (lost 2: 0 longer, 0 shorter, 0 looping)")
    assert summary_line("arithmetic_heldout", {"length": bd["length"]}).endswith("4 -> 5 words")
    md = markdown("ifeval_heldout", bd, "test")
    assert md.startswith("### ifeval_heldout (test)")
    assert ("| `keywords:existence` | 2 | 2 | 0 | -1.000 | [-1.000, -1.000] | **loss**; lost 2: 0 longer, 0 shorter, "
            "0 looping |") in md
    assert "| `detectable_content:postscript` | 1 | 0 | 1 | +1.000 | [+1.000, +1.000] | gain |" in md  # none lost
    assert "| *instruction-level* | 6 | 0.667 | 0.500 |" in md


def _report(bd) -> dict:
    b = {"before": 2 / 3, "after": 1 / 3, "delta": -1 / 3, "ci95": [-1.0, 0.33], "n": 3}
    return {"model": "m", "recipe": "r", "wall_seconds": 1.0, "breakdown": {"ifeval_heldout": bd},
            "benchmarks": {"ifeval_heldout": {**b, "split": "test"}, "ifeval_ood_dev": {**b, "split": "dev"}}}


def test_console_report_shows_split_and_summary(bd, tmp_path, capsys):
    from alignkit.cli import _print_report

    _print_report(_report(bd), tmp_path)
    out = capsys.readouterr().out
    assert "split" in out and "test" in out and "dev" in out
    assert "dev benchmarks are for choosing settings; their numbers are not results" in out
    assert "ifeval_heldout: mean answer length 4 -> 5 words; constraint types with a significant loss: " \
           "keywords:existence (lost 2: 0 longer, 0 shorter, 0 looping)" in out


def test_html_report_has_split_length_and_constraint_tables(bd):
    from alignkit.evaluate.report_html import render

    page = render(_report(bd))
    assert "<th>split</th>" in page and "<td>test</td>" in page and '<td class="flag">dev</td>' in page
    assert "dev numbers are not results" in page
    assert "Breakdown: answer lengths and constraints" in page and "answer length (words)" in page
    assert "<code>keywords:existence</code>" in page and "significant loss" in page


def _write_run(run, bd_before: list[str], bd_after: list[str]) -> None:
    """A finished run's files as the pipeline leaves them: report.json and two evaluation stages."""
    from alignkit.data.store import RunStore

    store = RunStore(run)
    for label, responses in (("before", bd_before), ("after", bd_after)):
        stage = store.stage(f"eval_{label}_ifeval_heldout", f"key-{label}")
        stage.write_json("items.json", _items(responses))
        stage.finish()
    b = {"before": 2 / 3, "after": 1 / 3, "delta": -1 / 3, "ci95": [-1.0, 0.33], "n": 3, "split": "test"}
    (run / "report.json").write_text(json.dumps({"model": "m", "recipe": "r", "wall_seconds": 1.0,
                                                 "benchmarks": {"ifeval_heldout": b}}))


def test_script_prints_markdown_for_a_run_without_a_stored_breakdown(tmp_path):
    """An older run (no `breakdown` in report.json): the lengths come from its stored items; its items'
    prompts are not the benchmark's, so nothing is matched and no constraint table is claimed."""
    _write_run(tmp_path, BEFORE, AFTER)
    res = subprocess.run([sys.executable, str(REPO / "scripts" / "breakdown.py"), str(tmp_path)],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert "### ifeval_heldout (test)" in res.stdout and "| before | 3 | 4.0 |" in res.stdout
    assert "No item matched the benchmark's regenerated prompts (3 items)" in res.stdout
    missing = subprocess.run([sys.executable, str(REPO / "scripts" / "breakdown.py"), str(tmp_path), "--bench",
                              "humaneval"], capture_output=True, text=True, timeout=60)
    assert missing.returncode != 0 and "did not evaluate 'humaneval'" in missing.stderr
