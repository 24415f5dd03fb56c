"""transformers backend: batched, left-padded chat generation and completion log-probs."""

from __future__ import annotations

import copy
import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase

from alignkit.errors import AlignkitError
from alignkit.models.base import Messages, Sampling
from alignkit.models.embedded import require_local_model, resolve_model_path
from alignkit.models.prefix import plan
from alignkit.models.templates import NO_TEMPLATE_FIX, chat_template_text

SHARED_PREFIX_MIN = 16  # tokens; a shorter common prefix is recomputed per row (HFBackend's default)
# Generation runs a prefix that every prompt of a call shares (an in-context alignment context, a long
# system prompt) once, when it is at least this long; chat templates' own shared opening (a default
# system turn, ~20-30 tokens) stays below it, so plain generation computes exactly as before.
GENERATE_PREFIX_MIN = 64
CONTINUOUS_PAGE = 32  # tokens per KV-cache page in continuous batching (a shared prefix shares whole pages)


def load_model_and_tokenizer(spec: str, dtype: str = "float32", device_map: str | dict | None = None,
                             chat_template: str | None = None) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """Load a causal LM and its tokenizer from the embedded name, a local path or a hub id; its weights
    in `dtype`, placed by transformers' `device_map` (None: the CPU), with `chat_template` (a file or a
    Jinja string) replacing the tokenizer's own."""
    path = resolve_model_path(spec)
    require_local_model(path)
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        placement = {"device_map": device_map} if device_map is not None else {}
        model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype), **placement)
    except Exception as exc:  # a missing, damaged or mistyped file: any error here is about the files
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
        raise AlignkitError(
            f"could not load model {spec!r}: {type(exc).__name__}: {first}",
            where="model",
            fix="check the path or id (this machine may have no access to the model hub, so use a local "
            "directory or `embedded`); a damaged model (a truncated model.safetensors, a config.json field of "
            "the wrong type) must be saved again",
        ) from None
    if chat_template:
        tokenizer.chat_template = chat_template_text(chat_template)
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = "left"
    model.eval()
    return model, tokenizer


class HFBackend:
    """A transformers model behind the backend protocol."""

    def __init__(self, spec: str, *, batch_size: int = 32, model=None, tokenizer=None, dtype: str = "float32",
                 device_map: str | dict | None = None, chat_template: str | None = None,
                 shared_prefix_min: int = SHARED_PREFIX_MIN, shared_prefix_groups: bool = True,
                 generate_prefix_min: int = GENERATE_PREFIX_MIN, continuous: bool = False):
        """`shared_prefix_min`: the shortest common prefix (tokens) that log-prob scoring runs once;
        `shared_prefix_groups` False caches only the prefix all rows share, not each group's
        (bench/judging.py compares both; 10**9 turns sharing off). `generate_prefix_min`: the same
        for generation, where only the prefix all prompts of a call share is run once. `continuous`:
        greedy generation through transformers' continuous batching (`generate_batch`), which
        refills a finished answer's slot at once instead of padding it to the batch's longest
        answer. On a 2-core CPU it is 2x slower than the static batches with the same answers
        (bench/continuous.py, docs/benchmarks.md), so recipes do not use it."""
        self.name = spec
        self.shared_prefix_min, self.shared_prefix_groups = shared_prefix_min, shared_prefix_groups
        self.generate_prefix_min, self.continuous = generate_prefix_min, continuous
        if model is None:
            model, tokenizer = load_model_and_tokenizer(spec, dtype, device_map, chat_template)
        self.model, self.tokenizer = model, tokenizer
        self._cache_kw = _cache_kw(model)
        self.tokenizer.padding_side = "left"
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.batch_size = batch_size

    def _turn_ends(self) -> list[int]:
        """The generation config's end-of-turn ids (it holds one id, a list, or none)."""
        eos = self.model.generation_config.eos_token_id
        return list(eos) if isinstance(eos, (list, tuple)) else [] if eos is None else [eos]

    def _render(self, conversation: Messages) -> str:
        if self.tokenizer.chat_template is None:  # transformers' own error names no recipe field
            raise AlignkitError(f"model {self.name!r} has no chat template (a base model?)",
                                where="model.chat_template", fix=NO_TEMPLATE_FIX)
        return self.tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)

    @torch.inference_mode()
    def generate(
        self,
        conversations: list[Messages],
        sampling: Sampling,
        progress: Callable[[int], None] | None = None,
        details: bool = False,
    ) -> list[list[str]] | list[list[tuple[str, str]]]:
        """n completions per conversation. Rows are sorted by prompt length so each batch
        pads little; the seed of a batch depends only on its content, so results do not
        depend on what else is generated in the same call. With `details`, each completion
        is `(text, finish_reason)`, the reason being "stop" (end of turn) or "length"."""
        return self.complete([self._render(c) for c in conversations], sampling, progress, details)

    @torch.inference_mode()
    def complete(self, texts: list[str], sampling: Sampling, progress: Callable[[int], None] | None = None,
                 details: bool = False) -> list[list[str]] | list[list[tuple[str, str]]]:
        """`generate` on raw, already rendered texts (e.g. Magpie's bare user-turn prefix)."""
        jobs = [(i, k) for i in range(len(texts)) for k in range(sampling.n)]
        ids = [self.tokenizer(t, add_special_tokens=False).input_ids for t in texts]
        jobs.sort(key=lambda job: (len(ids[job[0]]), job[0], job[1]))
        out: list[list] = [["" for _ in range(sampling.n)] for _ in texts]
        stops = {self.tokenizer.eos_token_id, *self._turn_ends()} - {None}
        greedy = sampling.temperature <= 0
        if greedy and self.continuous and sampling.n == 1:
            return self._continuous(ids, sampling.max_new_tokens, stops, progress, details)
        root = _shared_root(ids, self.generate_prefix_min)
        prefix = self._forward(None, [], [ids[0][:root]], cache=True) if root else None
        for start in range(0, len(jobs), self.batch_size):
            batch = jobs[start : start + self.batch_size]
            enc = self._generation_inputs([ids[i] for i, _ in batch], root, prefix)
            if not greedy:
                torch.manual_seed(_batch_seed(sampling.seed, [texts[i] for i, _ in batch], batch))
            kwargs = dict(max_new_tokens=sampling.max_new_tokens, pad_token_id=self.tokenizer.pad_token_id)
            if greedy:
                kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            else:
                kwargs.update(do_sample=True, temperature=sampling.temperature, top_p=sampling.top_p, top_k=0)
            generated = self.model.generate(**enc, **kwargs)
            new = generated[:, enc["input_ids"].shape[1] :]
            decoded = self.tokenizer.batch_decode(new, skip_special_tokens=True)
            for (i, k), ids_row, row in zip(batch, new.tolist(), decoded):
                finish = "stop" if stops & set(ids_row) else "length"
                out[i][k] = (row.strip(), finish) if details else row.strip()
            if progress:
                progress(len(batch))
        return out

    def _continuous(self, ids: list[list[int]], max_new_tokens: int, stops: set[int],
                    progress: Callable[[int], None] | None, details: bool) -> list[list]:
        """Greedy answers through transformers' continuous batching: a finished answer's slot is
        refilled by the next prompt at once, and prompts sharing a prefix share its cache blocks."""
        # here, not at the top: continuous batching's config is recent, and this module also loads
        # under the vLLM environment's pinned transformers
        from transformers import GenerationConfig
        from transformers.generation.configuration_utils import ContinuousBatchingConfig

        config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=sorted(stops),
                                  pad_token_id=self.tokenizer.pad_token_id)
        batching = ContinuousBatchingConfig(max_requests_per_batch=self.batch_size, page_size=CONTINUOUS_PAGE)
        results = self.model.generate_batch(ids, generation_config=config, continuous_batching_config=batching,
                                            warmup=False)
        out: list[list] = []
        for res in sorted(results.values(), key=lambda r: int(r.request_id.rsplit("_", 1)[-1])):
            tokens = list(res.generated_tokens)
            text = self.tokenizer.decode(tokens, skip_special_tokens=True).strip()
            out.append([(text, "stop" if stops & set(tokens) else "length") if details else text])
        if progress:
            progress(len(ids))
        return out

    def _generation_inputs(self, rows: list[list[int]], root: int, prefix: _Cached | None) -> dict:
        """`generate`'s inputs for token rows: left-padded; with a computed shared `prefix` (its first
        `root` tokens), the padding sits between it and each row's own tokens, and a copy of its cache
        per row comes along, so generation runs only the rows' own tokens (positions count past the
        padding: transformers derives them from the mask)."""
        if not prefix:
            input_ids, mask = self._left_padded(rows)
            return {"input_ids": input_ids.to(self.model.device), "attention_mask": mask.to(self.model.device)}
        tails, mask = self._left_padded([r[root:] for r in rows])
        head = torch.tensor([rows[0][:root]] * len(rows))
        input_ids = torch.cat([head, tails], dim=1).to(self.model.device)
        mask = torch.cat([torch.ones_like(head), mask], dim=1).to(self.model.device)
        cache = _select(prefix.cache, [0] * len(rows))
        return {"input_ids": input_ids, "attention_mask": mask, self._cache_kw: cache}

    @torch.inference_mode()
    def logprobs(self, conversations: list[Messages], completions: list[str]) -> list[float]:
        """Summed log-probability of each completion (its tokens only) after the prompt. Shared
        prompt prefixes run once (`_run_shared`); logits only at the completions' positions."""
        prompt_ids = [self.tokenizer(self._render(c), add_special_tokens=False).input_ids for c in conversations]
        comp_ids = [self.tokenizer(t, add_special_tokens=False).input_ids for t in completions]
        seqs = [p + c for p, c in zip(prompt_ids, comp_ids)]
        result = [0.0] * len(seqs)

        def score(rows: list[int], input_ids: torch.Tensor, logits: torch.Tensor) -> None:
            keep = logits.shape[1]  # logits[:, k] predicts the token after position width - keep + k
            for row, i in enumerate(rows):
                n = len(comp_ids[i])
                if n:
                    lp = torch.log_softmax(logits[row, keep - 1 - n : keep - 1].float(), dim=-1)
                    result[i] = float(lp.gather(-1, input_ids[row, -n:].unsqueeze(-1)).sum())

        keep = lambda rows: 1 + max(len(comp_ids[i]) for i in rows)  # noqa: E731
        self._run_shared(seqs, [len(p) - 1 for p in prompt_ids], keep, score)
        return result

    @torch.inference_mode()
    def choice_logprobs(self, conversations: list[Messages], choices: list[str]) -> list[list[float]]:
        """Log-probability of each choice as the first token of the reply: one forward pass per
        conversation, logits at the last position only; shared prefixes (a judge's rubric, a
        prompt's question repeated for each of its candidates) run once (`_run_shared`).
        Choices must be single tokens."""
        ids = []
        for c in choices:
            tok = self.tokenizer(c, add_special_tokens=False).input_ids
            if len(tok) != 1:
                raise ValueError(f"choice {c!r} is {len(tok)} tokens; choice_logprobs needs single tokens")
            ids.append(tok[0])
        seqs = [self.tokenizer(self._render(c), add_special_tokens=False).input_ids for c in conversations]
        result: list[list[float]] = [[] for _ in seqs]

        def score(rows: list[int], input_ids: torch.Tensor, logits: torch.Tensor) -> None:
            for i, row in zip(rows, torch.log_softmax(logits[:, -1].float(), dim=-1)[:, ids].tolist()):
                result[i] = row

        self._run_shared(seqs, [len(s) - 1 for s in seqs], lambda rows: 1, score)
        return result

    def _run_shared(self, seqs: list[list[int]], caps: list[int], keep: Callable[[list[int]], int],
                    score: Callable[[list[int], torch.Tensor, torch.Tensor], None]) -> None:
        """Forward every sequence, running shared prefixes once (models/prefix.py plans them; row
        i's cached prefix covers at most caps[i] tokens): the root every row shares runs once;
        each group's extension (e.g. one question before its candidates) runs once, batched with
        other groups' on copies of the root's cache; each row's own tail runs on a copy of its
        group's cache. Rows are left-padded in every pass, the padding sitting between the cached
        part and the new tokens (masked, positions counted past it), so every row still ends at
        the last position. `score(rows, tail ids, logits)` gets the last `keep(rows)` logits."""
        p = plan(seqs, caps, self.shared_prefix_min, self.shared_prefix_groups)
        root = self._forward(None, [], [seqs[0][: p.root]], cache=True) if p.root else None
        groups = sorted(p.groups, key=lambda g: g[0])
        self._run_tails(root, [(0, i, p.root) for ext, rows in groups if not ext for i in rows], seqs, keep, score)
        extended = [(ext, rows) for ext, rows in groups if ext]
        for start in range(0, len(extended), self.batch_size):
            chunk = extended[start : start + self.batch_size]
            heads = [seqs[rows[0]][p.root : p.root + ext] for ext, rows in chunk]
            cached = self._forward(root, [0] * len(chunk), heads, cache=True)
            members = [(g, i, p.root + ext) for g, (ext, rows) in enumerate(chunk) for i in rows]
            self._run_tails(cached, members, seqs, keep, score)

    def _run_tails(self, prefix: _Cached | None, members: list[tuple[int, int, int]], seqs: list[list[int]],
                   keep: Callable[[list[int]], int], score: Callable) -> None:
        """Batches of rows by length; member (g, i, cut) runs seqs[i][cut:] after cached row g."""
        for batch in self._length_batches([len(seqs[i]) - cut for _, i, cut in members]):
            batch = [members[j] for j in batch]
            rows = [i for _, i, _ in batch]
            tails = [seqs[i][cut:] for _, i, cut in batch]
            input_ids, logits = self._forward(prefix, [g for g, _, _ in batch], tails, keep=keep(rows))
            score(rows, input_ids, logits)

    def _left_padded(self, rows: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token rows left-padded to one width, and their attention mask."""
        pad, width = self.tokenizer.pad_token_id, max(len(r) for r in rows)
        input_ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
        return input_ids, mask

    def _length_batches(self, lengths: list[int]) -> list[list[int]]:
        """Indices grouped into batches of `batch_size` rows of similar length."""
        order = sorted(range(len(lengths)), key=lambda i: (lengths[i], i))
        return [order[s : s + self.batch_size] for s in range(0, len(order), self.batch_size)]

    def _forward(self, prefix: _Cached | None, idx: list[int], tails: list[list[int]], keep: int = 1,
                 cache: bool = False):
        """Run left-padded `tails`, row j after cached row idx[j] of `prefix` (None: from scratch).
        Returns the new `_Cached` when `cache`, else (tail ids, last `keep` logits)."""
        input_ids, mask = self._left_padded(tails)
        width = input_ids.shape[1]
        starts = [prefix.next_pos[j] for j in idx] if prefix else [0] * len(tails)
        positions = torch.tensor([[s] * (width - len(t)) + list(range(s, s + len(t))) for s, t in zip(starts, tails)])
        kwargs: dict = {}
        if prefix:
            kwargs[self._cache_kw] = _select(prefix.cache, idx)
            mask = torch.cat([prefix.mask[idx], mask.to(prefix.mask.device)], dim=1)
        device = self.model.device  # under a device_map, the first layer's device
        input_ids, mask, positions = input_ids.to(device), mask.to(device), positions.to(device)
        out = self.model(input_ids=input_ids, attention_mask=mask, position_ids=positions, use_cache=cache,
                         logits_to_keep=keep, **kwargs)
        if cache:
            return _Cached(out[self._cache_kw], mask, [s + len(t) for s, t in zip(starts, tails)])
        return input_ids, out.logits

    @torch.inference_mode()
    def token_logprobs(self, conversation: Messages, completion: str, top_k: int = 0) -> list[dict]:
        """Per-token log-probabilities of `completion` after the prompt, each with the `top_k`
        most likely tokens at that position (OpenAI's `logprobs.content` shape). An empty
        completion reports the end-of-turn token that ended it."""
        prompt = self.tokenizer(self._render(conversation), add_special_tokens=False).input_ids
        comp = self.tokenizer(completion, add_special_tokens=False).input_ids
        if not comp:
            comp = (self._turn_ends() or [self.tokenizer.eos_token_id])[:1]
        ids = torch.tensor([prompt + comp], device=self.model.device)
        logp = torch.log_softmax(self.model(input_ids=ids).logits[0, len(prompt) - 1 : -1].float(), dim=-1)
        out = []
        for pos, tok in enumerate(comp):
            entry = {"token": self.tokenizer.decode([tok]), "logprob": float(logp[pos, tok])}
            if top_k:
                vals, idx = logp[pos].topk(top_k)
                entry["top_logprobs"] = [{"token": self.tokenizer.decode([i]), "logprob": float(v)}
                                         for v, i in zip(vals.tolist(), idx.tolist())]
            out.append(entry)
        return out


@dataclass
class _Cached:
    """A computed prefix: its KV cache (one row per prefix), attention mask, and the position
    each row's next token takes."""

    cache: object
    mask: torch.Tensor
    next_pos: list[int]


def _select(cache, idx: list[int]):
    """A cache holding rows `idx` of `cache` (repeats allowed), leaving `cache` untouched."""
    out = copy.copy(cache)
    out.layers = [copy.copy(layer) for layer in cache.layers]
    out.batch_select_indices(torch.tensor(idx))
    return out


def _cache_kw(model) -> str:
    """The keyword a model takes its KV cache by: `cache` from transformers 5.2x on (where the old
    `past_key_values` warns), `past_key_values` before (the vLLM environment's pinned release)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _shared_root(rows: list[list[int]], minimum: int) -> int:
    """Tokens every row starts with, leaving each row at least one of its own (0: fewer than `minimum`,
    or a single row): the root of the scoring path's prefix plan."""
    return plan(rows, [len(r) - 1 for r in rows], minimum, groups=False).root


def _batch_seed(seed: int, texts: list[str], batch: list[tuple[int, int]]) -> int:
    key = "\x00".join(f"{t}\x01{k}" for t, (_, k) in zip(texts, batch))
    return (seed * 1_000_003 + int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)) % (2**31)
