"""Recipe schema (pydantic) and YAML loading with errors that name file, line, field and fix. The parts
that validate names against a registry (prompt sources, signals and their params, benchmarks, contexts)
live here; the rest are in `config.py`, low in the house."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal

import yaml
from pydantic import Field, ValidationError, ValidationInfo, field_validator, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from alignkit.config import (  # re-exported: the Recipe's parts that ask no registry
    AuditConfig,
    BuildConfig,
    Engine,
    GenerateConfig,
    ModelOptions,
    RayConfig,
    TrainConfig,
    _Strict,
)
from alignkit.data import safe_yaml
from alignkit.data.arithmetic import OPERANDS
from alignkit.data.broad import POOLS
from alignkit.data.prompts import SOURCES
from alignkit.errors import AlignkitError
from alignkit.evaluate.benchmarks import BENCHMARKS
from alignkit.in_context import load_context
from alignkit.signals.base import REGISTRY, get_signal, param_problem, signal_names

if TYPE_CHECKING:
    from alignkit.signals.base import Signal


class PromptsConfig(_Strict):
    source: Literal[tuple(SOURCES)] = "ifeval_synth"  # type: ignore[valid-type]  # the table in data/prompts.py
    path: str | None = None
    split: str = "train"
    n: int = Field(64, ge=1)
    seed: int = 0
    pair_fraction: float = Field(0.5, ge=0, le=1)
    references: bool = False  # arithmetic: attach a worked reference answer (supervised data, e.g. for SPIN)
    operands: tuple[int, int] = OPERANDS  # arithmetic: range of both numbers (benchmarks: 10-99)
    generator: str = "embedded"  # self_instruct, evol_instruct: the model writing prompts (seeds: path or built-in)
    dedup_threshold: float = Field(0.85, gt=0, le=1)  # ...: drop one this similar (MiniLM cosine) to one kept
    # broad_instructions: where requests come from (data/broad.py POOLS) and the longest kept
    requests: list[Literal[POOLS]] = ["alpaca_eval", "arena_hard"]  # type: ignore[valid-type]
    max_request_words: int = Field(60, ge=4)
    balance: bool = False  # broad_instructions: draw the pools in turn (equal shares), not in proportion to size
    rephrase: float = Field(0.0, ge=0, le=1)  # broad_instructions: share of constraints in other wordings
    # hf (data/hf_source.py): which columns hold the prompt (a string or a chat) and which go into meta
    prompt_column: str | None = None
    messages_column: str | None = None
    meta_columns: list[str] = []
    shuffle: bool = False  # hf, jsonl, parquet: take n rows at random (with `seed`) instead of the first n
    # iterations > 1: iteration k draws its own prompts with seed + k - 1 (fresh requests each round)
    reseed: bool = False
    LATE_FIELDS: ClassVar[frozenset[str]] = frozenset({"requests", "max_request_words", "rephrase", "prompt_column",
                                                       "messages_column", "meta_columns", "shuffle", "reseed",
                                                       "balance"})

    @model_validator(mode="after")
    def _columns_for_hf(self) -> PromptsConfig:
        """Column mapping is read by source `hf` only: set elsewhere it would be silently ignored."""
        named = [f for f in ("prompt_column", "messages_column", "meta_columns") if getattr(self, f)]
        if named and self.source != "hf":
            raise ValueError(f"{', '.join(named)} work with source: hf only (source is {self.source!r}); "
                             "set source: hf or remove them")
        if self.prompt_column and self.messages_column:
            raise ValueError("set prompt_column or messages_column, not both")
        return self

    @field_validator("operands")
    @classmethod
    def _range(cls, operands: tuple[int, int]) -> tuple[int, int]:
        lo, hi = operands
        if not 0 <= lo < hi:
            raise ValueError(f"operands must be [LOW, HIGH] with 0 <= LOW < HIGH, got [{lo}, {hi}]")
        return operands


class SignalConfig(_Strict):
    """A signal and its params. The params are checked against the signal's `Params` model (a
    misspelled or mistyped one is an error at its own line) but kept as written: the stage keys
    hash them, and `{run}` placeholders are filled only when the run constructs the signal."""

    name: str
    params: dict[str, Any] = {}

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        if name not in signal_names():
            raise ValueError(f"unknown signal {name!r}; known signals: {', '.join(signal_names())} "
                             "(`alignkit signals` lists them)")
        return name

    @field_validator("params")
    @classmethod
    def _typed(cls, params: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if "name" in info.data:  # an unknown name is reported by _known
            get_signal(info.data["name"]).Params.model_validate(params)  # its errors keep their field locations
        return params


class EvaluateConfig(_Strict):
    benchmarks: list[str] = ["ifeval_heldout"]
    n: int = Field(100, ge=1)
    max_new_tokens: int = Field(128, ge=1)
    budgets: dict[str, Annotated[int, Field(ge=1)]] = {}  # per benchmark max_new_tokens, overriding max_new_tokens
    batch_size: int = Field(32, ge=1)
    seed: int = 0
    judge: str | None = None  # judged benchmarks (mtbench): the judge model; default the base model
    engine: Engine = "hf"  # the evaluated models' answers on transformers or vLLM (as generate.engine)
    # in-context alignment, the training-free baseline (URIAL-style, `alignkit.in_context`): the base model
    # is also evaluated with this context (a built-in name such as `urial`, or a context file) before it;
    # with train.method none, that evaluation is the recipe's "after"
    in_context: str | None = None
    LATE_FIELDS: ClassVar[frozenset[str]] = frozenset({"budgets", "engine", "in_context"})

    @field_validator("in_context")
    @classmethod
    def _context(cls, spec: str | None) -> str | None:
        """The context must load (a built-in name or a readable, well-formed file)."""
        if spec is not None:
            try:
                load_context(spec)
            except AlignkitError as exc:
                raise ValueError(f"{exc.message}" + (f" ({exc.where})" if exc.where else "")
                                 + (f"; {exc.fix}" if exc.fix else "")) from None
        return spec

    def budget(self, bench: str) -> int:
        return self.budgets.get(bench, self.max_new_tokens)

    @field_validator("benchmarks", "budgets")
    @classmethod
    def _known(cls, names: list[str] | dict[str, int]) -> list[str] | dict[str, int]:
        """Benchmark names (and budgets' keys, so a misspelled one is not silently ignored) must exist."""
        for name in names:
            if name not in BENCHMARKS:
                raise ValueError(f"unknown benchmark {name!r}; known: {', '.join(sorted(BENCHMARKS))}")
        return names


class Recipe(_Strict):
    name: str
    description: str = ""
    # measured reasons not to use the recipe as it is (`alignkit recipes` and `alignkit run` print it)
    caution: str = ""
    model: str = "embedded"  # or a mapping {name: NAME, dtype, device_map, chat_template}: see ModelOptions
    model_options: ModelOptions = ModelOptions()  # filled from a `model:` mapping
    seed: int = 0
    iterations: int = Field(1, ge=1)  # k > 1: each iteration generates, annotates and trains from the last model
    # weights of the local models the run loads for generation, signals and evaluation (training: train.bf16)
    dtype: Literal["float32", "bfloat16"] = "float32"
    executor: Literal["local", "ray"] = "local"  # where generation and annotation run
    ray: RayConfig = RayConfig()
    prompts: PromptsConfig = PromptsConfig()
    generate: GenerateConfig = GenerateConfig()
    signals: list[SignalConfig] = []  # at least one, unless the recipe only evaluates in context (_needs_signals)
    build: BuildConfig = BuildConfig()
    train: TrainConfig = TrainConfig()
    evaluate: EvaluateConfig = EvaluateConfig()
    audit: AuditConfig = AuditConfig()

    @model_validator(mode="before")
    @classmethod
    def _model_mapping(cls, data: Any) -> Any:
        """`model: {name: X, dtype: ...}` -> `model: X` and `model_options`, so `recipe.model` stays the name."""
        if isinstance(data, dict) and isinstance(data.get("model"), dict):
            data = dict(data)
            options = dict(data.pop("model"))
            data["model"] = options.pop("name", "embedded")
            data["model_options"] = options
        return data

    @model_validator(mode="after")
    def _one_dtype(self) -> Recipe:
        if self.model_options.dtype and "dtype" in self.model_fields_set and self.dtype != self.model_options.dtype:
            raise ValueError(f"dtype: {self.dtype} and model.dtype: {self.model_options.dtype} disagree; "
                             "keep model.dtype (it also sets training's weights) and remove the top-level dtype")
        return self

    @model_validator(mode="after")
    def _needs_signals(self) -> Recipe:
        """Every recipe has a signal, except an in-context one (train.method: none with evaluate.in_context),
        which aligns by its context alone and generates nothing."""
        if not self.signals and not (self.train.method == "none" and self.evaluate.in_context):
            # raised at the `signals` field (a plain ValueError here would point at the top level)
            raise ValidationError.from_exception_data("Recipe", [InitErrorDetails(
                type=PydanticCustomError("signals_required", "list at least one signal (`alignkit signals` lists "
                                         "them); only an in-context recipe (train.method: none with "
                                         "evaluate.in_context) has none"), loc=("signals",), input=self.signals)])
        return self

    @model_validator(mode="after")
    def _reseed_iterates(self) -> Recipe:
        if self.prompts.reseed and self.iterations == 1:
            raise ValidationError.from_exception_data("Recipe", [InitErrorDetails(
                type=PydanticCustomError("reseed_needs_iterations", "prompts.reseed draws new prompts for "
                                         "iterations 2 and later, and this recipe has one iteration: set "
                                         "iterations: 2 or more, or remove reseed"),
                loc=("prompts", "reseed"), input=True)])
        return self

    @model_validator(mode="after")
    def _engine_here(self) -> Recipe:
        if self.generate.engine == "vllm" and self.executor == "ray":  # evaluation never runs on Ray
            raise ValueError("generate.engine: vllm runs its own engine here; with executor: ray the actors "
                             "generate on transformers. Set executor: local, or generate.engine: hf")
        return self

    @property
    def load_dtype(self) -> str:
        """The weights' dtype of the local models the run loads for generation, signals and evaluation."""
        return self.model_options.dtype or self.dtype


# -- loading -------------------------------------------------------------------------------

def _line_of(root: yaml.Node | None, loc: tuple) -> int | None:
    """1-based line of the YAML node at a pydantic error location, or its nearest parent."""
    node, line = root, (root.start_mark.line + 1 if root is not None else None)
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            nxt = next((v for k, v in node.value if k.value == part), None)
            if nxt is None:
                key = next((k for k, _ in node.value if k.value == part), None)
                return key.start_mark.line + 1 if key is not None else line
            node = nxt
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        line = node.start_mark.line + 1
    return line


def apply_overrides(data: dict, overrides: list[str]) -> dict:
    """Apply `--set a.b=value` overrides; values are parsed as YAML scalars."""
    data = copy.deepcopy(data)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise AlignkitError(f"bad --set {item!r}", where="--set",
                                fix="write --set key.path=value, e.g. --set prompts.n=8")
        parts = key.strip().split(".")
        if len(parts) > _MAX_SET_DEPTH or len(item) > _MAX_SET_CHARS:
            raise AlignkitError(f"--set {item[:60]!r}... is too long ({len(parts)} key parts, {len(item):,} "
                                "characters)", where="--set", fix=f"a key has at most {_MAX_SET_DEPTH} parts and an "
                                f"override at most {_MAX_SET_CHARS:,} characters; put larger values in the recipe")
        node = data
        for part in parts[:-1]:
            if isinstance(node, list):
                node = node[_index(node, part, key)]
                continue
            if not isinstance(node, dict):
                raise AlignkitError(f"cannot set {key!r}: {part!r} is not a section", where="--set",
                                    fix="use a dotted path through sections, e.g. train.lora.r=8")
            if node is data and part == "model" and isinstance(node.get(part), str):
                node[part] = {"name": node[part]}  # --set model.dtype=... on `model: NAME`
            node = node.setdefault(part, {})
        try:
            from alignkit.data import safe_yaml

            value = safe_yaml.load(raw, f"--set {key}")[0] if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        if node is data and parts == ["model"] and isinstance(node.get("model"), dict) and isinstance(value, str):
            node["model"]["name"] = value  # --set model=X on a `model:` mapping keeps its load options
        elif isinstance(node, list):
            node[_index(node, parts[-1], key)] = value
        elif isinstance(node, dict):
            node[parts[-1]] = value
        else:
            raise AlignkitError(f"cannot set {key!r}", where="--set", fix="check the path against the recipe")
    return data


_MAX_SET_DEPTH, _MAX_SET_CHARS = 32, 65536


def _index(node: list, part: str, key: str) -> int:
    """The list position `part` names in --set `key`, or a clear error."""
    if not part.isdigit() or int(part) >= len(node):
        raise AlignkitError(f"cannot set {key!r}: {part!r} is not an index of that list (it has {len(node)} "
                            f"item(s): 0 to {len(node) - 1})" if node else f"cannot set {key!r}: that list is empty",
                            where="--set", fix="name an existing item, or write the whole list, e.g. "
                            "--set evaluate.benchmarks=[ifeval_heldout,arithmetic_heldout]")
    return int(part)


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    path = Path(path)
    if not path.is_file():
        raise AlignkitError(f"recipe file {str(path)!r} not found", fix="give the path of a recipe YAML; "
                            "`alignkit recipes` lists the built-in ones")

    text = safe_yaml.read_text(path)
    # bounded: size, depth, alias expansion
    data, root = safe_yaml.parse(text, path, "fix the YAML syntax at that line (indentation, colons, quotes)")
    if not isinstance(data, dict):
        raise AlignkitError("a recipe must be a YAML mapping (key: value lines)", where=str(path),
                            fix="start from a built-in recipe: `alignkit recipes`")
    data = apply_overrides(data, overrides or [])
    safe_yaml.check_size(data, f"{path} (with --set)" if overrides else str(path))
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        lines, about_params = [], False
        for err in exc.errors():
            loc = tuple(err["loc"])
            loc = ("model", *loc[1:]) if loc[:1] == ("model_options",) else loc  # written as model: {...}
            field = ".".join(str(p) for p in loc) or "(top level)"
            line = _line_of(root, loc)
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                msg = "unknown field (check the spelling; `alignkit validate` on a built-in recipe shows valid ones)"
            if signal := _params_signal(data, loc):
                msg, about_params = f"signal {signal.name}: {param_problem(signal, err, loc[3:], named=False)}", True
            lines.append(f"{path}:{line}: field `{field}`: {msg}" if line else f"{path}: field `{field}`: {msg}")
        fix = "correct the field(s) above; the schema is documented in docs/recipes.md"
        raise AlignkitError("invalid recipe\n  " + "\n  ".join(lines), fix=fix + (
            " (the signals' parameters there, and in `alignkit signals --json`)" if about_params else "")) from None


def _params_signal(data: dict, loc: tuple) -> type[Signal] | None:
    """The signal class whose params an error at `loc` (signals.N.params.FIELD...) is about, or None."""
    if len(loc) < 4 or loc[0] != "signals" or loc[2] != "params":
        return None

    try:
        return REGISTRY.get(data["signals"][loc[1]]["name"])
    except (KeyError, IndexError, TypeError):
        return None
