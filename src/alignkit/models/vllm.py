"""vLLM's offline engine behind the backend protocol, for GPU generation (optional extra:
`pip install vllm`). Model spec: `vllm:MODEL` (`vllm:embedded`, a local path, a hub id).

- generate: `LLM.chat` over all conversations at once (vLLM schedules its own batches),
  `n` samples each, finish reasons "stop" / "length".
- logprobs: the summed log-probability of given completions from `prompt_logprobs` over
  the rendered conversation followed by the completion's tokens.
- choice_logprobs: the first generated position's top-20 log-probabilities (a choice
  outside them gets FLOOR), like the OpenAI backend.
"""

from __future__ import annotations

from typing import Any

from alignkit.errors import AlignkitError
from alignkit.models.base import Messages, Sampling, choices_from_top
from alignkit.models.embedded import resolve_model_path


class VLLMBackend:
    def __init__(self, spec: str, *, batch_size: int = 256, **engine_kwargs: Any):
        try:
            import vllm
        except ImportError:
            raise AlignkitError("the vllm backend needs the vllm package (and a GPU)", where="model",
                                fix="pip install vllm on a machine with a CUDA GPU, or use the model without "
                                "the vllm: prefix (the transformers backend)") from None
        self.name = spec
        path = resolve_model_path(spec.removeprefix("vllm:"))
        engine_kwargs.setdefault("max_num_seqs", batch_size)
        self.llm = vllm.LLM(model=path, **engine_kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self._vllm = vllm

    def _params(self, **kw: Any) -> Any:
        return self._vllm.SamplingParams(**kw)

    def generate(self, conversations: list[Messages], sampling: Sampling, progress=None,
                 details: bool = False) -> list[list[str]] | list[list[tuple[str, str]]]:
        params = self._params(n=sampling.n, temperature=sampling.temperature, top_p=sampling.top_p,
                              max_tokens=sampling.max_new_tokens, seed=sampling.seed)
        outs = self.llm.chat(conversations, params, use_tqdm=False)
        result = []
        for req in outs:
            row = [(o.text.strip(), "length" if o.finish_reason == "length" else "stop") for o in req.outputs]
            result.append(row if details else [t for t, _ in row])
            if progress:
                progress(len(row))
        return result

    def _render_ids(self, conversation: Messages) -> list[int]:
        text = self.tokenizer.apply_chat_template(conversation, tokenize=False, add_generation_prompt=True)
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def logprobs(self, conversations: list[Messages], completions: list[str]) -> list[float]:
        from vllm.inputs import TokensPrompt

        prompts, spans = [], []
        for conv, comp in zip(conversations, completions):
            head = self._render_ids(conv)
            tail = self.tokenizer(comp, add_special_tokens=False).input_ids
            prompts.append(TokensPrompt(prompt_token_ids=head + tail))
            spans.append((len(head), len(head) + len(tail)))
        outs = self.llm.generate(prompts, self._params(max_tokens=1, prompt_logprobs=0), use_tqdm=False)
        result = []
        for out, (start, end) in zip(outs, spans):
            ids = out.prompt_token_ids
            result.append(sum(out.prompt_logprobs[i][ids[i]].logprob for i in range(start, end)))
        return result

    def choice_logprobs(self, conversations: list[Messages], choices: list[str]) -> list[list[float]]:
        outs = self.llm.chat(conversations, self._params(max_tokens=1, temperature=0.0, logprobs=20),
                             use_tqdm=False)
        return [choices_from_top([(lp.decoded_token, lp.logprob) for lp in req.outputs[0].logprobs[0].values()],
                                 choices) for req in outs]
