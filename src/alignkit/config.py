"""The run configuration's parts that ask no registry: generation, dataset building, training,
the signal audit and Ray. Low in the house (the core layer), so training reads `TrainConfig`
without importing the signals, benchmarks and prompt sources that `recipe.py` validates names
against. `recipe.py` assembles these into the `Recipe` and re-exports them."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from alignkit.methods import METHODS, QLORA


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # fields added after runs were first keyed: left out of stage keys while they hold their
    # default, so a run made before they existed is still reused (see `key_view`)
    LATE_FIELDS: ClassVar[frozenset[str]] = frozenset()

    def key_view(self) -> dict[str, Any]:
        """The config as stage keys hash it."""
        skip = {f for f in self.LATE_FIELDS if getattr(self, f) == type(self).model_fields[f].default}
        return self.model_dump(mode="json", exclude=skip)


Engine = Literal["hf", "vllm"]  # generate.engine, evaluate.engine: transformers or vLLM's engine


class GenerateConfig(_Strict):
    LATE_FIELDS: ClassVar[frozenset[str]] = frozenset({"engine"})
    n: int = Field(4, ge=0)  # 0: no policy samples; the signals write the candidates
    temperature: float = Field(0.8, ge=0)
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int = Field(128, ge=1)
    batch_size: int = Field(32, ge=1)
    shard_size: int = Field(32, ge=1)
    system_prompt: str | None = None  # generation-time context, dropped from training rows
    # the policy's samples on transformers (hf) or on vLLM's engine (vllm: make setup-vllm; ~4x the
    # tokens/s on CPU once its ~90 s start-up is paid, docs/benchmarks.md). Signals' models stay on hf.
    engine: Engine = "hf"


class BuildConfig(_Strict):
    kind: Literal["sft", "preference", "kto"] = "sft"
    signal: str = "verifiable_instructions"
    tiebreak: str | None = None  # a second annotation ordering equal scores, e.g. verifiable_instructions.partial
    min_score: float = 1.0
    max_per_prompt: int = Field(1, ge=1)


class LoraConfig(_Strict):
    r: int = Field(16, ge=1)
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] | str = "all-linear"


class ModelOptions(_Strict):
    """How the recipe's model (`model:`) is loaded, given as `model: {name: ..., dtype: ...}`; a
    plain `model: NAME` keeps every default. Other models (teachers, judges) get dtype and device_map."""

    dtype: Literal["float32", "bfloat16", "float16"] | None = None  # all loads, training too (None: top `dtype`)
    device_map: str | dict[str, Any] | None = None  # transformers' device_map, e.g. auto, cuda:0 (GPUs)
    chat_template: str | None = None  # a Jinja template (file or string) for a base model that has none


class TrainConfig(_Strict):
    method: Literal[tuple(METHODS)] = "sft"  # type: ignore[valid-type]  # the table in methods.py
    epochs: float = Field(2.0, gt=0)
    learning_rate: float = Field(5e-4, gt=0)
    batch_size: int = Field(8, ge=1)
    grad_accum: int = Field(1, ge=1)
    max_length: int = Field(512, ge=16)
    beta: float = Field(0.1, gt=0)  # dpo, kto, orpo (lambda), simpo
    simpo_gamma: float = Field(0.5, ge=0)  # simpo: target reward margin
    kl_beta: float = Field(0.0, ge=0)  # grpo, rloo: KL penalty to the starting model (0: no reference model)
    max_steps: int = -1  # stop after this many optimizer steps (-1: run the epochs)
    loss_type: str | list[str] = "sigmoid"  # dpo: TRL loss type(s), e.g. [sigmoid, sft] for RPO
    loss_weights: list[float] | None = None
    # dpo: LD-DPO (Liu et al. 2024) weight on the longer answer's tokens past the shorter one's length;
    # below 1 the pair's length difference counts less (0 masks it). None: plain DPO
    ld_alpha: float | None = Field(None, ge=0, le=1)
    heldout_fraction: float = Field(0.25, ge=0, lt=1)  # reward: prompts kept out of training to measure the model
    lora: LoraConfig | None = LoraConfig()
    seed: int = 0
    launcher: Literal["none", "accelerate", "torchrun"] = "none"  # train in separate launched processes
    accelerate_config: str | None = None  # launcher accelerate: a config file, e.g. configs/accelerate/ddp.yaml
    processes: int = Field(2, ge=1)  # launcher torchrun: processes on this machine (DDP; gloo on CPU)
    bf16: bool = False  # bf16 autocast (fp32 master weights): faster on CUDA and on CPUs with AMX
    group_by_length: bool = False  # batches of similar length: less padding when answer lengths vary
    # experiment trackers, as TRL names them; alignkit's stage metrics go there too (tracking.py)
    report_to: list[Literal["tensorboard", "wandb", "mlflow", "trackio"]] = []
    qlora: bool = False  # QLoRA: the base model frozen in 4 bits (bitsandbytes NF4), the LoRA adapters trained
    # WiSE-FT: the saved model is start + interpolate x (trained - start); below 1 keeps part of the change
    interpolate: float = Field(1.0, gt=0, le=2)
    LATE_FIELDS: ClassVar[frozenset[str]] = frozenset({"bf16", "group_by_length", "qlora", "interpolate",
                                                          "ld_alpha"})

    @field_validator("interpolate")
    @classmethod
    def _not_reward(cls, alpha: float, info: ValidationInfo) -> float:
        if alpha != 1 and info.data.get("method") == "reward":
            raise ValueError("a reward model's head is new, so there is nothing to interpolate it with: remove "
                             "interpolate (or set it to 1)")
        return alpha

    @field_validator("ld_alpha")
    @classmethod
    def _dpo_only(cls, alpha: float | None, info: ValidationInfo) -> float | None:
        if alpha is not None and info.data.get("method") != "dpo":
            raise ValueError("ld_alpha weights the length difference of DPO's pairs: it works with method: dpo "
                             "only; remove it")
        return alpha

    @field_validator("qlora")
    @classmethod
    def _needs_lora(cls, on: bool, info: ValidationInfo) -> bool:
        if on and info.data.get("lora") is None:
            raise ValueError("qlora trains LoRA adapters on a 4-bit base: set train.lora (or remove qlora)")
        if on and info.data.get("method") not in QLORA:
            raise ValueError(f"qlora works with {', '.join(QLORA)}; remove it")
        return on

    def key_view(self) -> dict[str, Any]:
        """Where metrics are reported does not change the model: never part of a stage key."""
        view = super().key_view()
        view.pop("report_to")
        return view

    @field_validator("report_to", mode="before")
    @classmethod
    def _trackers(cls, value: Any) -> Any:
        """One name or a list; "none" (TRL's word) or an empty list for none."""
        value = [value] if isinstance(value, str) else value
        return [v for v in value if v != "none"] if isinstance(value, list) else value

    @field_validator("group_by_length")
    @classmethod
    def _sft_only(cls, on: bool, info: ValidationInfo) -> bool:
        if on and info.data.get("method") != "sft":
            raise ValueError("group_by_length works with method: sft only (TRL's other trainers keep their lengths "
                             "under other columns); remove it")
        return on


class AuditConfig(_Strict):
    """The signal audit that runs before anything else: each signal scores a small probe set of
    a ground-truth benchmark (default: the first evaluated one that has per-answer truth), or,
    with `source: training`, of the recipe's own training prompts (they must carry ground truth:
    a known answer, verifiable constraints or unit tests), so the verdict is about the data
    the run trains on."""

    enabled: bool = True
    source: Literal["benchmark", "training"] = "benchmark"
    bench: str | None = None
    n: int = Field(8, ge=1)  # probe prompts
    k: int = Field(2, ge=1)  # sampled answers per prompt
    temperature: float = Field(0.8, ge=0)


class RayConfig(_Strict):
    actors: int = Field(2, ge=1)  # one model per actor
    cpus_per_actor: int = Field(1, ge=1)  # also the actor's torch threads
    address: str | None = None  # a cluster to join; default RAY_ADDRESS, else a local cluster
