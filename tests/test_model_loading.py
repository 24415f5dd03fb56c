"""Models the way users load them: `model: {name, dtype, device_map, chat_template}`, QLoRA, and a
chat template for a base model that has none, on the tiny random model."""

import json
import shutil

import pytest
import torch
from conftest import REPO
from transformers import AutoModelForCausalLM, AutoTokenizer

from alignkit.config import TrainConfig
from alignkit.errors import AlignkitError
from alignkit.models.base import Sampling
from alignkit.models.embedded import BASE_TEMPLATE
from alignkit.models.hf import HFBackend
from alignkit.pipeline import Runner
from alignkit.recipe import load_recipe
from alignkit.stages import _model_key
from alignkit.train import train

RECIPE = REPO / "recipes" / "verifiable_instructions.yaml"
ROWS = [{"id": str(i), "prompt": [{"role": "user", "content": f"Say {w}."}],
         "completion": [{"role": "assistant", "content": f"{w} {w} {w}."}]}
        for i, w in enumerate(["apple", "pear", "plum", "fig", "kiwi", "lime", "date", "yuzu"])]
CHAT = [[{"role": "user", "content": "Name a fruit."}]]


@pytest.fixture(scope="module")
def base_model_dir(tiny_model_dir, tmp_path_factory):
    """The tiny model with its chat template removed, as a base model ships."""
    path = tmp_path_factory.mktemp("tiny-base") / "m"
    shutil.copytree(tiny_model_dir, path)
    (path / "chat_template.jinja").unlink(missing_ok=True)
    config = json.loads((path / "tokenizer_config.json").read_text())
    config.pop("chat_template", None)
    (path / "tokenizer_config.json").write_text(json.dumps(config))
    assert AutoTokenizer.from_pretrained(path).chat_template is None
    return path


def _write(tmp_path, text):
    path = tmp_path / "r.yaml"
    path.write_text(text)
    return path


def test_model_mapping_keeps_the_name_and_old_keys(tmp_path):
    plain = load_recipe(RECIPE)
    mapped = load_recipe(RECIPE, ["model.dtype=bfloat16", "model.device_map=cpu"])  # --set on `model: NAME`
    assert mapped.model == plain.model and mapped.model_options.dtype == "bfloat16" and mapped.load_dtype == "bfloat16"
    assert mapped.model_options.device_map == "cpu"
    # an existing recipe's stage keys do not change: the model part is its name, as before
    assert _model_key(plain) == plain.model
    assert _model_key(load_recipe(RECIPE, ["model.device_map=auto"])) == plain.model  # placement is not keyed
    assert _model_key(mapped) == [plain.model, {"dtype": "bfloat16"}]
    old = load_recipe(RECIPE, ["dtype=bfloat16"])  # the top-level key still works
    assert old.load_dtype == "bfloat16" and old.model_options.dtype is None and _model_key(old) == old.model
    text = "name: x\nmodel:\n  name: embedded\n  dtype: float16\nsignals:\n  - name: verifiable_instructions\n"
    assert load_recipe(_write(tmp_path, text)).load_dtype == "float16"
    swapped = load_recipe(_write(tmp_path, text), ["model=other/model"])  # the name changes, the options stay
    assert swapped.model == "other/model" and swapped.load_dtype == "float16"


def test_model_mapping_errors_name_field_and_line(tmp_path):
    text = "name: x\nmodel:\n  name: embedded\n  dtype: float8\nsignals:\n  - name: verifiable_instructions\n"
    with pytest.raises(AlignkitError, match=r"r\.yaml:4: field `model\.dtype`"):
        load_recipe(_write(tmp_path, text))
    with pytest.raises(AlignkitError, match="dtype: float32 and model.dtype: bfloat16 disagree"):
        load_recipe(RECIPE, ["dtype=float32", "model.dtype=bfloat16"])
    with pytest.raises(AlignkitError, match="qlora trains LoRA adapters on a 4-bit base"):
        load_recipe(RECIPE, ["train.lora=null", "train.qlora=true"])


def test_backend_dtype_and_device_map(tiny_model_dir):
    b = HFBackend(str(tiny_model_dir), batch_size=2, dtype="bfloat16", device_map="auto")
    assert next(b.model.parameters()).dtype == torch.bfloat16 and b.model.device.type == "cpu"
    out = b.generate(CHAT, Sampling(n=1, temperature=0.0, max_new_tokens=3))
    assert len(out) == 1 and isinstance(out[0][0], str)
    assert len(b.logprobs(CHAT, ["An apple."])) == 1


def test_base_model_without_template_fails_clearly_then_works_with_one(base_model_dir, tmp_path):
    bare = HFBackend(str(base_model_dir), batch_size=2)
    with pytest.raises(AlignkitError, match="has no chat template") as e:
        bare.generate(CHAT, Sampling(n=1, temperature=0.0, max_new_tokens=2))
    assert e.value.where == "model.chat_template" and "chat_template" in e.value.fix
    template_file = tmp_path / "qa.jinja"
    template_file.write_text(BASE_TEMPLATE)
    for given in (BASE_TEMPLATE, str(template_file)):  # a Jinja string or a file
        b = HFBackend(str(base_model_dir), batch_size=2, chat_template=given)
        assert b._render(CHAT[0]).endswith("Q: Name a fruit.\nA:")
        assert len(b.generate(CHAT, Sampling(n=1, temperature=0.0, max_new_tokens=2))[0]) == 1
    with pytest.raises(AlignkitError, match="neither a file nor a Jinja template"):
        HFBackend(str(base_model_dir), chat_template=str(tmp_path / "missing.jinja"))


def _cfg(**kw) -> TrainConfig:
    return TrainConfig(epochs=1, batch_size=4, max_length=64, learning_rate=5e-3, **kw)


def test_training_with_the_template_in_model_dtype(base_model_dir, tmp_path):
    with pytest.raises(AlignkitError, match="has no chat template"):
        train("sft", ROWS, _cfg(), str(base_model_dir), tmp_path / "w0", tmp_path / "m0")
    info = train("sft", ROWS, _cfg(), str(base_model_dir), tmp_path / "w", tmp_path / "m",
                 dtype="bfloat16", chat_template=BASE_TEMPLATE)
    assert info["steps"] == 2
    assert AutoTokenizer.from_pretrained(tmp_path / "m").chat_template == BASE_TEMPLATE  # the trained model has it
    saved = AutoModelForCausalLM.from_pretrained(tmp_path / "m", dtype="auto")
    assert next(saved.parameters()).dtype == torch.bfloat16  # loaded, trained and saved in model.dtype


def test_qlora_trains_a_4bit_base_and_saves_full_precision(tiny_model_dir, tmp_path):
    pytest.importorskip("bitsandbytes", reason="QLoRA needs bitsandbytes (`pip install bitsandbytes`)")
    info = train("sft", ROWS, _cfg(qlora=True), str(tiny_model_dir), tmp_path / "w", tmp_path / "m")
    assert info["steps"] == 2 and info["train_loss"] > 0
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert "quantization_config" not in config  # merged into a full-precision reload: loads without bitsandbytes
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tuned = AutoModelForCausalLM.from_pretrained(tmp_path / "m")
    assert next(tuned.parameters()).dtype == torch.float32
    changed = [k for (k, a), b in zip(base.state_dict().items(), tuned.state_dict().values()) if not torch.equal(a, b)]
    assert changed and not any("lora" in k for k in tuned.state_dict())


def test_run_aligns_a_base_model_with_a_recipe_template(base_model_dir, tmp_path):
    template = tmp_path / "qa.jinja"
    template.write_text(BASE_TEMPLATE)
    recipe = load_recipe(RECIPE, [
        f"model={base_model_dir}", f"model.chat_template={template}", "prompts.n=4", "generate.n=2",
        "generate.max_new_tokens=4", "build.min_score=0.0", "train.epochs=1", "train.batch_size=4",
        "train.max_length=64", "evaluate.n=2", "evaluate.max_new_tokens=4", "evaluate.budgets={}",
        "audit.enabled=false"])
    report = Runner(recipe, tmp_path / "run", log=lambda *_: None).run()
    assert report["benchmarks"]["ifeval_heldout"]["n"] == 2
    assert AutoTokenizer.from_pretrained(tmp_path / "run" / "model").chat_template == BASE_TEMPLATE
