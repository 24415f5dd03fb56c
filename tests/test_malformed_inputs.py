"""Malformed and hostile input across recipes, --set, prompt files, model paths, benchmarks
and constitutions: each gets one clear message naming the problem (and where), a fix, and
a non-zero exit; never a traceback. Runs the CLI's own `main()` in-process (same code path
as the `alignkit` command, minus the interpreter start) so the suite stays fast."""

import json
import os
import shutil
import sys

import pytest
from conftest import REPO

from alignkit.cli import main

GOOD = (REPO / "recipes" / "verifiable_instructions.yaml").read_text()
SIGNALS = "signals:\n  - name: verifiable_instructions\n"


def cli(capsys, monkeypatch, *args):
    monkeypatch.setattr(sys, "argv", ["alignkit", *args])
    with pytest.raises(SystemExit) as exit_:
        main()
    out = capsys.readouterr()
    return exit_.value.code, out.out + out.err


# -- recipes (alignkit validate) ----------------------------------------------------------------
RECIPES = [
    ("tab indentation", "name: x\nsignals:\n\t- name: verifiable_instructions\n", ["invalid YAML", "r.yaml:3"]),
    ("unclosed bracket", "name: x\n" + SIGNALS + "train: {lora: [1, 2\n", ["invalid YAML"]),
    ("a list, not a mapping", "- name: x\n", ["must be a YAML mapping"]),
    ("empty file", "", ["must be a YAML mapping"]),
    ("unknown top-level field", "name: x\ncolour: blue\n" + SIGNALS, ["r.yaml:2", "`colour`", "unknown field"]),
    ("unknown nested field", "name: x\n" + SIGNALS + "train:\n  lr: 0.1\n", ["r.yaml:5", "`train.lr`"]),
    ("wrong type", "name: x\n" + SIGNALS + "prompts:\n  n: lots\n", ["`prompts.n`", "integer"]),
    ("out of range", "name: x\n" + SIGNALS + "generate:\n  n: -1\n", ["`generate.n`", "greater than or equal"]),
    ("no signals", "name: x\n", ["`signals`", "at least one signal", "in-context recipe"]),
    ("empty signals", "name: x\nsignals: []\n", ["r.yaml:2: field `signals`", "at least one signal"]),
    ("unknown signal", "name: x\nsignals:\n  - name: vibes\n", ["unknown signal 'vibes'", "code_execution"]),
    ("unknown benchmark", "name: x\n" + SIGNALS + "evaluate:\n  benchmarks: [mmlu]\n", ["unknown benchmark 'mmlu'"]),
    ("bad executor", "name: x\nexecutor: spark\n" + SIGNALS, ["`executor`", "'local' or 'ray'"]),
    ("bad train.method", "name: x\n" + SIGNALS + "train:\n  method: ppo\n", ["`train.method`"]),
    ("reseed with one iteration", "name: x\n" + SIGNALS + "prompts:\n  reseed: true\n",
     ["r.yaml:5", "`prompts.reseed`", "set iterations: 2 or more"]),
    ("bad build.kind", "name: x\n" + SIGNALS + "build:\n  kind: pairs\n", ["`build.kind`"]),
    ("signal params not a mapping", "name: x\nsignals:\n  - name: verifiable_instructions\n    params: [1]\n",
     ["`signals.0.params`"]),
    ("missing name", SIGNALS, ["`name`", "Field required"]),
    ("misspelled signal param", "name: x\nsignals:\n  - name: checker_revision\n    params: {relabels: 3}\n",
     ["r.yaml:4", "`signals.0.params.relabels`", "unknown parameter", "did you mean `relabel`"]),
    ("mistyped signal param", "name: x\nsignals:\n  - name: checker_revision\n    params:\n      max_per_group: 1\n"
     "      relabel: many\n", ["r.yaml:6", "`signals.0.params.relabel`", "valid integer", "'many'"]),
    ("signal param out of range", "name: x\n" + SIGNALS + "    params: {}\n  - name: self_consistency\n    params:\n"
     "      min_agreement: 2\n", ["r.yaml:7", "`signals.1.params.min_agreement`", "less than or equal to 1"]),
    ("required signal param", "name: x\nsignals:\n  - name: reward_model\n    params: {}\n",
     ["r.yaml:4", "`signals.0.params.model`", "required"]),
    ("nested signal param", "name: x\nsignals:\n  - name: self_refine\n    params:\n      scorer:\n"
     "        name: verifiable_instructions\n        params: {loose: true, require_complet: true}\n",
     ["r.yaml:7", "`signals.0.params.scorer.params.require_complet`", "unknown parameter"]),
]


@pytest.mark.parametrize("case, text, needles", RECIPES, ids=[r[0] for r in RECIPES])
def test_malformed_recipe(case, text, needles, tmp_path, capsys, monkeypatch):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    code, out = cli(capsys, monkeypatch, "validate", str(path))
    assert code != 0 and "Traceback" not in out and "fix:" in out
    for needle in needles:
        assert needle in out, out


def test_recipe_that_is_not_utf8_or_not_a_file(tmp_path, capsys, monkeypatch):
    path = tmp_path / "r.yaml"
    path.write_bytes(b"name: caf\xe9\n")
    code, out = cli(capsys, monkeypatch, "validate", str(path))
    assert code != 0 and "not UTF-8" in out and "Traceback" not in out
    code, out = cli(capsys, monkeypatch, "validate", str(tmp_path))
    assert code != 0 and "not found" in out
    code, out = cli(capsys, monkeypatch, "validate", str(tmp_path / "nope.yaml"))
    assert code != 0 and "not found" in out


# -- --set --------------------------------------------------------------------------------------
SETS = [
    ("no equals sign", "prompts.n", ["--set", "key.path=value"]),
    ("empty key", "=3", ["--set"]),
    ("through a scalar", "name.x=1", ["cannot set 'name.x'"]),
    ("unknown field", "train.colour=1", ["`train.colour`", "unknown field"]),
    ("wrong type", "train.epochs=abc", ["`train.epochs`"]),
    ("list index out of range", "signals.5.name=x", ["cannot set"]),
]


@pytest.mark.parametrize("case, item, needles", SETS, ids=[s[0] for s in SETS])
def test_bad_set(case, item, needles, capsys, monkeypatch):
    code, out = cli(capsys, monkeypatch, "validate", str(REPO / "recipes" / "verifiable_instructions.yaml"),
                    "--set", item)
    assert code != 0 and "Traceback" not in out
    for needle in needles:
        assert needle in out, out


# -- prompt files (alignkit run: the prompts stage runs before any model work) -------------------
PROMPT_FILES = [
    ("bad JSON line", b'{"prompt": "ok"}\n{not json}\n', [":2", "invalid JSON"]),
    ("missing columns", b'{"text": "hello"}\n', ["missing column `messages` or `prompt`", "text"]),
    ("empty file", b"", ["no rows"]),
    ("only blank lines", b"\n\n  \n", ["no rows"]),
    ("not UTF-8", b'{"prompt": "caf\xe9"}\n', [":1", "not UTF-8"]),
    ("10 MB single line", b"x" * (10 * 2**20) + b"\n", [":1", "invalid JSON"]),
    ("messages not a list", b'{"messages": "hi"}\n', ["`messages` must be"]),
    ("message without content", b'{"messages": [{"role": "user"}]}\n', ["`messages` must be"]),
    ("meta not an object", b'{"prompt": "hi", "meta": [1]}\n', ["`meta` must be an object"]),
    ("a row that is not an object", b'["hi"]\n', ["expected a JSON object"]),
]


@pytest.mark.parametrize("case, content, needles", PROMPT_FILES, ids=[p[0] for p in PROMPT_FILES])
def test_malformed_prompt_file(case, content, needles, tmp_path, capsys, monkeypatch):
    data = tmp_path / "prompts.jsonl"
    data.write_bytes(content)
    code, out = cli(capsys, monkeypatch, "run", str(REPO / "recipes" / "verifiable_instructions.yaml"), "--out",
                    str(tmp_path / "run"), "--set", "prompts.source=jsonl", "--set", f"prompts.path={data}")
    assert code != 0 and "Traceback" not in out and "prompts.jsonl" in out and len(out) < 2000
    for needle in needles:
        assert needle in out, out


def test_prompt_files_that_do_not_exist_or_are_not_parquet(tmp_path, capsys, monkeypatch):
    recipe = str(REPO / "recipes" / "verifiable_instructions.yaml")
    code, out = cli(capsys, monkeypatch, "run", recipe, "--out", str(tmp_path / "a"), "--set", "prompts.source=jsonl",
                    "--set", f"prompts.path={tmp_path / 'none.jsonl'}")
    assert code != 0 and "not found" in out
    fake = tmp_path / "p.parquet"
    fake.write_text("this is not parquet")
    code, out = cli(capsys, monkeypatch, "run", recipe, "--out", str(tmp_path / "b"), "--set",
                    "prompts.source=parquet", "--set", f"prompts.path={fake}")
    assert code != 0 and "cannot read Parquet" in out and "Traceback" not in out


# -- models, benchmarks, constitutions ----------------------------------------------------------
def test_model_paths_that_are_missing_or_not_models(tmp_path, capsys, monkeypatch):
    empty = tmp_path / "empty-model"
    empty.mkdir()
    for model, needle in [(tmp_path / "no-such-model", "does not exist"), (empty, "could not load model")]:
        code, out = cli(capsys, monkeypatch, "eval", "--model", str(model), "--bench", "ifeval_heldout", "--out",
                        str(tmp_path / "e"), "--n", "2")
        assert code != 0 and needle in out and "fix:" in out and "Traceback" not in out, out
    code, out = cli(capsys, monkeypatch, "eval", "--model", "openai:", "--bench", "ifeval_heldout", "--out",
                    str(tmp_path / "e"))
    assert code != 0 and "bad model spec" in out


def test_unknown_benchmark_on_the_command_line(tmp_path, capsys, monkeypatch):
    code, out = cli(capsys, monkeypatch, "eval", "--model", "embedded", "--bench", "ifeval_heldout,mmlu", "--out",
                    str(tmp_path / "e"))
    assert code != 0 and "unknown benchmark 'mmlu'" in out and "humaneval" in out


@pytest.mark.parametrize("content, needle", [
    ("principles:\n  - name: a\n    critique: [unclosed\n", "invalid YAML"),
    ("principles:\n  - {name: a, critique: c}\n", "`revision` must be a non-empty string"),
])
def test_broken_constitution_through_the_cli(tmp_path, tiny_model_dir, capsys, monkeypatch, content, needle):
    path = tmp_path / "c.yaml"
    path.write_text(content)
    code, out = cli(capsys, monkeypatch, "run", str(REPO / "recipes" / "constitutional.yaml"), "--out",
                    str(tmp_path / "run"), "--set", f"model={tiny_model_dir}", "--set", "prompts.n=2",
                    "--set", "generate.max_new_tokens=4", "--set", "evaluate.n=2", "--set",
                    "evaluate.max_new_tokens=2", "--set", f"signals.0.params.constitution={path}")
    assert code != 0 and needle in out and "c.yaml" in out and "Traceback" not in out, out


def test_the_suite_covers_at_least_30_malformed_inputs():
    extra = 3 + 2 + 3 + 1 + 2  # the non-parametrized tests above: recipes, prompt paths, models, bench, constitution
    assert len(RECIPES) + len(SETS) + len(PROMPT_FILES) + extra >= 30


# -- round two (issue 20): bombs, bounds and the tracebacks a red team found ---------------------
def _bomb(levels: int = 8) -> str:
    """An anchor bomb: each level aliases the one before ten times (10**levels values as a tree)."""
    rows = ["a0: &a0 [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"]
    rows += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, levels)]
    return "{" + ", ".join(rows) + "}"


RECIPES_2 = [
    ("anchor bomb under signals.0.params", f"name: x\nsignals:\n  - name: verifiable_instructions\n    params: "
     f"{_bomb()}\n", ["`signals.0.params.a", "expands to more than 100,000 values", "anchor bomb"]),
    ("anchor bomb in description", f"name: x\ndescription: {_bomb()}\n" + SIGNALS, ["`description.a", "expands"]),
    ("recursive alias", "name: x\nsignals: &s [{name: verifiable_instructions, params: {x: *s}}]\n",
     ["contains itself"]),
    ("3000 levels of nesting", "name: x\n" + SIGNALS + "description: " + "[" * 3000 + "]" * 3000 + "\n",
     ["nested too deeply"]),
    ("100 levels of nesting", "name: x\n" + SIGNALS + "description: " + "[" * 100 + "]" * 100 + "\n",
     ["nested more than 64 levels"]),
    ("a 2 MB recipe", "name: x\n" + SIGNALS + "description: " + "x" * (2 << 20) + "\n", ["at most 1,048,576"]),
]


@pytest.mark.parametrize("case, text, needles", RECIPES_2, ids=[r[0] for r in RECIPES_2])
def test_bounded_recipe(case, text, needles, tmp_path, capsys, monkeypatch):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    for command in ("validate", "run"):  # run used to expand a bomb while hashing the stage key
        args = [command, str(path)] + (["--out", str(tmp_path / "run")] if command == "run" else [])
        code, out = cli(capsys, monkeypatch, *args)
        assert code != 0 and "Traceback" not in out and "fix:" in out and len(out) < 3000, out[:3000]
        for needle in needles:
            assert needle in out, out


SETS_2 = [
    ("list index past the end", "signals.5=x", ["'5' is not an index", "2 item(s)"]),
    ("benchmark index past the end", "evaluate.benchmarks.3=x", ["'3' is not an index"]),
    ("word as a list index", "signals.first.name=x", ["'first' is not an index"]),
    ("3000-level key", ".".join(["a"] * 3000) + "=1", ["3000 key parts", "at most 32"]),
    ("100 KB value", "description=" + "x" * 100_000, ["too long", "65,536"]),
    ("anchor bomb as a value", "signals.0.params=" + _bomb(), ["expands to more than"]),
    ("3000-deep value", "description=" + "[" * 3000 + "]" * 3000, ["nested too deeply"]),
]


@pytest.mark.parametrize("case, item, needles", SETS_2, ids=[s[0] for s in SETS_2])
def test_bad_set_in_run(case, item, needles, tmp_path, capsys, monkeypatch):
    code, out = cli(capsys, monkeypatch, "run", str(REPO / "recipes" / "verifiable_instructions.yaml"),
                    "--out", str(tmp_path / "run"), "--set", item)
    assert code != 0 and "Traceback" not in out and "fix:" in out and len(out) < 3000, out[:3000]
    for needle in needles:
        assert needle in out, out


PROMPT_FILES_2 = [
    ("lone surrogate in a prompt", b'{"prompt": "hi \\ud800 there"}\n', [":1", "lone surrogate", "`prompt`"]),
    ("lone surrogate in messages", b'{"messages": [{"role": "user", "content": "\\udfff"}]}\n',
     ["lone surrogate", "`messages`"]),
    ("lone surrogate in meta", b'{"prompt": "hi", "meta": {"k": "\\ud83d"}}\n', ["lone surrogate", "`meta`"]),
    ("prompt of an int", b'{"prompt": 5}\n', ["`prompt` must be a non-empty string, got int"]),
    ("empty prompt", b'{"prompt": ""}\n', ["got an empty string"]),
    ("1 MB prompt", b'{"prompt": "' + b"word " * 200_000 + b'"}\n', ["prompt 1 is", "reads at most", "positions"]),
    ("33 MB line", b'{"prompt": "' + b"x" * (33 << 20) + b'"}\n', [":1", "longer than 32 MiB"]),
]


@pytest.mark.parametrize("case, content, needles", PROMPT_FILES_2, ids=[p[0] for p in PROMPT_FILES_2])
def test_malformed_prompt_file_2(case, content, needles, tmp_path, capsys, monkeypatch):
    test_malformed_prompt_file(case, content, needles, tmp_path, capsys, monkeypatch)


def _parquet(path, columns: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table(columns), path)


PARQUET = [
    ("meta that is not JSON", {"prompt": ["hi"], "meta": ["{not json"]}, ["row 0", "`meta` is a string but not JSON"]),
    ("prompt column of ints", {"prompt": [1, 2]}, ["row 0", "`prompt` must be a non-empty string, got int"]),
    ("messages of strings", {"messages": [["hi"]]}, ["`messages` must be"]),
    ("no rows", None, ["no rows"]),
]


@pytest.mark.parametrize("case, columns, needles", PARQUET, ids=[p[0] for p in PARQUET])
def test_malformed_parquet_prompts(case, columns, needles, tmp_path, capsys, monkeypatch):
    data = tmp_path / "prompts.parquet"
    if columns is None:  # a Parquet file with a prompt column and no rows
        import pyarrow as pa

        columns = {"prompt": pa.array([], pa.string())}
    _parquet(data, columns)
    code, out = cli(capsys, monkeypatch, "run", str(REPO / "recipes" / "verifiable_instructions.yaml"), "--out",
                    str(tmp_path / "run"), "--set", "prompts.source=parquet", "--set", f"prompts.path={data}")
    assert code != 0 and "Traceback" not in out and "prompts.parquet" in out and "fix:" in out, out
    for needle in needles:
        assert needle in out, out


def _damage_config(d):
    cfg = json.loads((d / "config.json").read_text())
    (d / "config.json").write_text(json.dumps(cfg | {"num_hidden_layers": "two"}))


MODELS = [
    ("config.json field of the wrong type", _damage_config),
    ("config.json not JSON", lambda d: (d / "config.json").write_text("{not json")),
    ("truncated model.safetensors", lambda d: os.truncate(d / "model.safetensors", 1000)),
    ("empty model.safetensors", lambda d: (d / "model.safetensors").write_bytes(b"")),
    ("no weights", lambda d: (d / "model.safetensors").unlink()),
]


@pytest.mark.parametrize("case, damage", MODELS, ids=[m[0] for m in MODELS])
def test_damaged_model_directory(case, damage, tiny_model_dir, tmp_path, capsys, monkeypatch):
    model = tmp_path / "model"
    shutil.copytree(tiny_model_dir, model)
    damage(model)
    code, out = cli(capsys, monkeypatch, "eval", "--model", str(model), "--bench", "ifeval_heldout", "--out",
                    str(tmp_path / "e"), "--n", "1", "--max-new-tokens", "2")
    assert code != 0 and "could not load model" in out and "fix:" in out and "Traceback" not in out, out
    assert len(out) < 2000


def _out_commands(out: str) -> dict[str, list[str]]:
    recipe = str(REPO / "recipes" / "verifiable_instructions.yaml")
    return {"run": ["run", recipe, "--out", out],
            "eval": ["eval", "--model", "embedded", "--bench", "ifeval_heldout", "--out", out, "--n", "1"],
            "audit": ["audit", "--signal", "verifiable_instructions", "--out", out, "--n", "1"]}


@pytest.mark.parametrize("command", ["run", "eval", "audit"])
def test_out_naming_an_existing_file(command, tmp_path, capsys, monkeypatch):
    target = tmp_path / "taken"
    target.write_text("mine")
    code, out = cli(capsys, monkeypatch, *_out_commands(str(target))[command])
    assert code != 0 and "is a file, not a directory" in out and "--out" in out and "Traceback" not in out, out
    assert target.read_text() == "mine"


def test_out_below_a_file(tmp_path, capsys, monkeypatch):
    (tmp_path / "f").write_text("")
    code, out = cli(capsys, monkeypatch, *_out_commands(str(tmp_path / "f" / "run"))["run"])
    assert code != 0 and "cannot write to" in out and "fix:" in out and "Traceback" not in out, out


@pytest.mark.parametrize("command", ["run", "eval"])
def test_out_on_a_read_only_filesystem(command, tmp_path):
    import subprocess

    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("mounting a read-only filesystem needs root and unshare")
    ro = tmp_path / "ro"
    ro.mkdir()
    args = " ".join(f"'{a}'" for a in _out_commands(str(ro / "run"))[command])
    res = subprocess.run(["unshare", "-m", "sh", "-c", f"mount -t tmpfs -o ro tmpfs '{ro}' && "
                          f"'{sys.executable}' -m alignkit {args}"], capture_output=True, text=True, timeout=300,
                         cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    out = res.stdout + res.stderr
    if "mount:" in out:
        pytest.skip(f"cannot mount here: {out[:200]}")
    assert res.returncode != 0 and "Read-only file system" in out and "--out" in out, out
    assert "Traceback" not in out and "fix:" in out


def test_the_suite_covers_at_least_70_malformed_inputs():
    first = len(RECIPES) + len(SETS) + len(PROMPT_FILES) + 3 + 2 + 3 + 1 + 2  # the first round (above)
    second = len(RECIPES_2) + len(SETS_2) + len(PROMPT_FILES_2) + len(PARQUET) + len(MODELS) + 3 + 1 + 2
    assert first + second >= 70, (first, second)
