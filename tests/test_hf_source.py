"""Prompt source `hf`: a save_to_disk directory, local json/csv/parquet files through
`load_dataset`, a hub id (offline here: its clear error), column mapping, shuffle/seed."""

import pytest
from conftest import REPO, run_cli
from datasets import Dataset, DatasetDict

from alignkit.data.prompts import load_prompts
from alignkit.errors import AlignkitError
from alignkit.recipe import PromptsConfig

ROWS = [{"question": f"Question number {i}?", "topic": f"t{i % 3}", "level": i} for i in range(10)]


def _cfg(path, **kw) -> PromptsConfig:
    return PromptsConfig(source="hf", path=str(path), n=kw.pop("n", 4), **kw)


def test_save_to_disk_directory_with_column_mapping(tmp_path):
    Dataset.from_list(ROWS).save_to_disk(str(tmp_path / "ds"))
    prompts = load_prompts(_cfg(tmp_path / "ds", prompt_column="question", meta_columns=["topic", "level"]))
    assert [p.messages for p in prompts] == [[{"role": "user", "content": f"Question number {i}?"}]
                                             for i in range(4)]
    assert prompts[2].meta == {"topic": "t2", "level": 2}
    assert not any(p.name.startswith("cache-") for p in (tmp_path / "ds").iterdir())  # nothing written into it


def test_dataset_dict_split_and_messages_column(tmp_path):
    chats = [{"conv": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": f"Hi {i}"}]}
             for i in range(3)]
    DatasetDict({"train": Dataset.from_list(chats[:1]), "test": Dataset.from_list(chats)}).save_to_disk(
        str(tmp_path / "dd"))
    prompts = load_prompts(_cfg(tmp_path / "dd", split="test", messages_column="conv"))
    assert len(prompts) == 3 and prompts[1].messages == chats[1]["conv"]
    with pytest.raises(AlignkitError, match=r"split 'dev' not in .* \(splits found: train, test\)") as e:
        load_prompts(_cfg(tmp_path / "dd", split="dev", messages_column="conv"))
    assert e.value.where == "prompts.split"


@pytest.mark.parametrize("suffix", ["jsonl", "csv", "parquet"])
def test_local_files_through_load_dataset(tmp_path, suffix):
    path = tmp_path / f"data.{suffix}"
    ds = Dataset.from_list([{"prompt": r["question"], "topic": r["topic"]} for r in ROWS])
    {"jsonl": ds.to_json, "csv": ds.to_csv, "parquet": ds.to_parquet}[suffix](str(path))
    prompts = load_prompts(_cfg(path, n=3, meta_columns=["topic"]))  # `prompt` column found by default
    assert [p.text for p in prompts] == [f"Question number {i}?" for i in range(3)]
    assert [p.meta["topic"] for p in prompts] == ["t0", "t1", "t2"]


def test_shuffle_with_seed_before_taking_n(tmp_path):
    Dataset.from_list(ROWS).save_to_disk(str(tmp_path / "ds"))
    texts = lambda **kw: [p.text for p in load_prompts(_cfg(tmp_path / "ds", prompt_column="question", **kw))]  # noqa: E731
    first, a, b, c = texts(), texts(shuffle=True, seed=1), texts(shuffle=True, seed=1), texts(shuffle=True, seed=2)
    assert a == b and a != first and a != c
    assert set(a) <= {r["question"] for r in ROWS}


def test_jsonl_source_shuffles_too(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text("".join(f'{{"prompt": "p{i}"}}\n' for i in range(20)))
    cfg = PromptsConfig(source="jsonl", path=str(path), n=5, shuffle=True, seed=3)
    texts = [p.text for p in load_prompts(cfg)]
    assert len(texts) == 5 and texts != [f"p{i}" for i in range(5)]


@pytest.mark.parametrize("field,value", [("prompt_column", "text"), ("messages_column", "chat"),
                                         ("meta_columns", ["topic", "difficulty"])])
def test_wrong_column_names_it_the_columns_found_and_the_field(tmp_path, field, value):
    Dataset.from_list(ROWS).save_to_disk(str(tmp_path / "ds"))
    kw = {field: value} if field != "meta_columns" else {field: value, "prompt_column": "question"}
    with pytest.raises(AlignkitError) as e:
        load_prompts(_cfg(tmp_path / "ds", **kw))
    wrong = value if isinstance(value, str) else "difficulty"
    assert f"column {wrong!r} not in the dataset (columns found: question, topic, level)" in e.value.message
    assert e.value.where == f"prompts.{field}" and "columns found" in e.value.fix


def test_no_prompt_column_by_default_is_named(tmp_path):
    path = tmp_path / "d.csv"
    Dataset.from_list(ROWS).to_csv(str(path))
    with pytest.raises(AlignkitError, match=r"no `messages` or `prompt` column \(columns found: question, topic, "
                                            r"level\)"):
        load_prompts(_cfg(path))


def test_hub_id_offline_says_so(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # this machine has no hub; the path is the same with one
    with pytest.raises(AlignkitError) as e:
        load_prompts(_cfg("someone/some-prompts"))
    assert "could not load dataset 'someone/some-prompts' from the Hugging Face Hub" in e.value.message
    assert "save_to_disk" in e.value.fix and e.value.where == "prompts.path"


def test_column_fields_rejected_for_other_sources():
    with pytest.raises(ValueError, match="prompt_column work with source: hf only"):
        PromptsConfig(source="jsonl", path="x.jsonl", prompt_column="q")


def test_cli_run_with_wrong_column_fails_cleanly(tmp_path, tiny_model_dir):
    Dataset.from_list(ROWS).save_to_disk(str(tmp_path / "ds"))
    res = run_cli("run", str(REPO / "recipes" / "verifiable_instructions.yaml"), "--out", str(tmp_path / "run"),
                  "--set", f"model={tiny_model_dir}", "--set", "prompts.source=hf",
                  "--set", f"prompts.path={tmp_path / 'ds'}", "--set", "prompts.prompt_column=text")
    text = res.stdout + res.stderr
    assert res.returncode != 0 and "Traceback" not in text, text
    assert "prompts.prompt_column: column 'text' not in the dataset (columns found: question, topic, level)" in text
