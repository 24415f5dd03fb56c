import json

import pytest

from alignkit.data.store import RunStore
from alignkit.types import Annotation, Candidate, Group, Prompt


def _group(text="hi", n=2):
    p = Prompt(messages=[{"role": "user", "content": text}], meta={"constraints": [{"id": "x", "kwargs": {"k": 1}}]})
    cands = [Candidate(f"answer {i}", {"model": "m", "sample": i},
                       [Annotation("sig", "score", float(i), "why", {"v": 1})]) for i in range(n)]
    return Group(p, cands)


def test_prompt_id_is_stable_content_hash():
    a = Prompt(messages=[{"role": "user", "content": "x"}], meta={"a": 1})
    b = Prompt(messages=[{"role": "user", "content": "x"}], meta={"a": 1})
    c = Prompt(messages=[{"role": "user", "content": "y"}], meta={"a": 1})
    assert a.id == b.id != c.id


def test_group_roundtrips_through_parquet(tmp_path):
    stage = RunStore(tmp_path).stage("s", "k1")
    groups = [_group("a"), _group("b", 0), _group("c", 3)]
    stage.write_groups(groups, shard_size=2)
    back = stage.read_groups()
    assert [g.to_row() for g in back] == [g.to_row() for g in groups]
    assert back[2].candidates[1].value("sig") == 1.0
    assert len(list(stage.path.glob("shard-*.parquet"))) == 2


def test_existing_reopens_a_finished_stage_under_its_own_key(tmp_path):
    from alignkit.data.store import Stage
    from alignkit.errors import AlignkitError

    stage = RunStore(tmp_path).stage("generate", "some-key")
    stage.write_groups([_group("a")])
    stage.finish(rows=1)
    again = Stage.existing(tmp_path, "generate")
    assert again.key == "some-key" and again.done()  # opening it must not clear it
    assert [g.prompt.text for g in again.read_groups()] == ["a"]
    with pytest.raises(AlignkitError, match="no 'annotate' stage") as err:
        Stage.existing(tmp_path, "annotate")
    assert "alignkit run" in err.value.fix


def test_finished_stage_is_kept_and_key_change_clears_it(tmp_path):
    store = RunStore(tmp_path)
    stage = store.stage("s", "k1")
    stage.write_groups([_group()])
    stage.finish(rows=1)
    assert store.stage("s", "k1").done()
    again = store.stage("s", "k2")
    assert not again.done()
    assert not list(again.path.glob("shard-*"))


def test_corrupted_shard_is_detected(tmp_path):
    store = RunStore(tmp_path)
    stage = store.stage("s", "k1")
    stage.write_groups([_group()])
    stage.finish(rows=1)
    shard = stage.shard_path(0)
    shard.write_bytes(shard.read_bytes()[:-10])
    reopened = store.stage("s", "k1")
    assert not reopened.done()
    assert not reopened.has_shard(0)  # unreadable: removed so it is recomputed
    assert not shard.exists()


def test_manifest_records_hashes(tmp_path):
    stage = RunStore(tmp_path).stage("s", "k")
    stage.write_json("x.json", {"a": 1})
    m = stage.finish(rows=0)
    assert set(m["files"]) == {"x.json"}
    assert json.loads(stage.manifest_path.read_text())["key"] == "k"


def test_no_temp_files_left_after_writes(tmp_path):
    stage = RunStore(tmp_path).stage("s", "k")
    stage.write_groups([_group()])
    assert not [p for p in stage.path.iterdir() if ".tmp" in p.name]


@pytest.mark.parametrize("n", [0, 1, 5])
def test_values_of_any_type_survive(tmp_path, n):
    g = _group(n=n)
    for c in g.candidates:
        c.annotations.append(Annotation("other", "label", {"nested": [1, "x", None]}, "", {}))
    stage = RunStore(tmp_path).stage("s", "k")
    stage.write_groups([g])
    assert stage.read_groups()[0].to_row() == g.to_row()
