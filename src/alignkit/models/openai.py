"""Any OpenAI-compatible server (vLLM, llama.cpp, Ollama, `alignkit serve`, hosted APIs)
behind the backend protocol, through the official `openai` client.

Model spec: `openai:MODEL@BASE_URL` (e.g. `openai:judge@http://127.0.0.1:8000/v1`), or
`openai:MODEL` with OPENAI_BASE_URL set. The key comes from OPENAI_API_KEY (default "EMPTY").

- Concurrency: at most `concurrency` requests in flight (ALIGNKIT_OPENAI_CONCURRENCY, default 8).
- Timeouts and retries: each request times out after `timeout` s (ALIGNKIT_OPENAI_TIMEOUT, default
  120); 429, 5xx, connection errors and timeouts are retried up to `max_retries` times with
  exponential backoff and full jitter. Other errors (400, 401, 404) fail at once with the
  server's message.
- Nothing lost or duplicated: every sample has its own slot (conversation, index); a slot is
  filled once, by the first response that carries it, and a call returns only when every
  slot is filled (or raises, naming how many requests failed).
- Unsupported features are detected, not trusted: a server that returns fewer than `n`
  choices (llama.cpp ignores `n`) gets the rest as separate requests, and from then on `n`
  separate requests. Log-probabilities come only from generated tokens' `top_logprobs`
  (never `echo`, which llama.cpp answers wrongly); a server without them gets a clear error.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any

from alignkit.errors import AlignkitError
from alignkit.models.base import FLOOR, Messages, Sampling, choices_from_top

__all__ = ["FLOOR", "OpenAIBackend", "parse_spec"]


def parse_spec(spec: str) -> tuple[str, str | None]:
    """`openai:MODEL@BASE_URL` -> (MODEL, BASE_URL); the URL may be absent."""
    body = spec.removeprefix("openai:")
    model, sep, url = body.partition("@")
    if not model:
        raise AlignkitError(f"bad model spec {spec!r}", where="model",
                            fix="write openai:MODEL@BASE_URL, e.g. openai:judge@http://127.0.0.1:8000/v1")
    return model, (url or None) if sep else None


class OpenAIBackend:
    def __init__(self, model: str, base_url: str | None = None, api_key: str | None = None, *,
                 concurrency: int | None = None, timeout: float | None = None, max_retries: int = 6,
                 backoff: float = 0.5, max_backoff: float = 20.0, top_logprobs: int = 20):
        import openai

        base_url = base_url or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise AlignkitError(f"no server address for openai:{model}", where="model",
                                fix="write openai:MODEL@http://HOST:PORT/v1 or set OPENAI_BASE_URL")
        self.model, self.base_url = model, base_url
        self.name = f"openai:{model}@{base_url}"
        self.concurrency = concurrency or int(os.environ.get("ALIGNKIT_OPENAI_CONCURRENCY", "8"))
        self.timeout = timeout or float(os.environ.get("ALIGNKIT_OPENAI_TIMEOUT", "120"))
        self.max_retries, self.backoff, self.max_backoff = max_retries, backoff, max_backoff
        self.top_logprobs = top_logprobs
        self.client = openai.OpenAI(base_url=base_url, api_key=api_key or os.environ.get("OPENAI_API_KEY", "EMPTY"),
                                    timeout=self.timeout, max_retries=0)  # retries are ours, with jitter
        self.supports_n: bool | None = None  # learned from the first request with n > 1
        self.requests = self.retries = 0
        self._lock = threading.Lock()

    @classmethod
    def from_spec(cls, spec: str, **kw: Any) -> OpenAIBackend:
        model, url = parse_spec(spec)
        return cls(model, url, **kw)

    # -- one request, retried ------------------------------------------------------------------
    def _create(self, **kwargs: Any) -> Any:
        import openai

        for attempt in range(self.max_retries + 1):
            with self._lock:
                self.requests += 1
            try:
                return self.client.chat.completions.create(model=self.model, **kwargs)
            except (openai.RateLimitError, openai.InternalServerError, openai.APIConnectionError) as exc:
                last: Exception = exc  # 429, 5xx, refused connection, timeout (a subclass): try again
            except openai.APIStatusError as exc:
                if exc.status_code in (408, 409) or exc.status_code >= 500:
                    last = exc
                else:
                    raise AlignkitError(f"{self.name} refused the request (HTTP {exc.status_code}): "
                                        f"{_message(exc)}", where="model",
                                        fix="check the model name and the parameters the server supports") from None
            if attempt < self.max_retries:
                with self._lock:
                    self.retries += 1
                time.sleep(random.uniform(0, min(self.max_backoff, self.backoff * 2**attempt)))
        raise _Failed(last)

    def _run(self, jobs: list[Callable[[], None]]) -> None:
        """Run jobs `concurrency` at a time; raise after all have finished if any failed."""
        failed: list[Exception] = []
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = [pool.submit(job) for job in jobs]
            for fut in as_completed(futures):
                exc = fut.exception()
                if isinstance(exc, AlignkitError):
                    raise exc
                if exc is not None:
                    failed.append(exc)
        if failed:
            first = failed[0].cause if isinstance(failed[0], _Failed) else failed[0]
            raise AlignkitError(f"{len(failed)} of {len(jobs)} requests to {self.name} failed after "
                                f"{self.max_retries} retries: {type(first).__name__}: {first}", where="model",
                                fix="check that the server is up and not overloaded; lower "
                                "ALIGNKIT_OPENAI_CONCURRENCY or raise ALIGNKIT_OPENAI_TIMEOUT; re-running "
                                "the recipe resumes from the finished shards")

    # -- the backend protocol ------------------------------------------------------------------
    def generate(self, conversations: list[Messages], sampling: Sampling, progress=None,
                 details: bool = False) -> list[list[str]] | list[list[tuple[str, str]]]:
        n = sampling.n
        slots: list[list[tuple[str, str] | None]] = [[None] * n for _ in conversations]
        lock = threading.Lock()
        params = dict(temperature=sampling.temperature, top_p=sampling.top_p, max_tokens=sampling.max_new_tokens)

        def fill(i: int, first: int, count: int) -> None:
            resp = self._create(messages=conversations[i], n=count, seed=sampling.seed + first, **params)
            got = 0
            with lock:
                for ch in resp.choices[:count]:
                    k = first + got
                    if slots[i][k] is None:
                        slots[i][k] = ((ch.message.content or "").strip(),
                                       "length" if ch.finish_reason == "length" else "stop")
                        got += 1
            if progress and got:
                progress(got)
            if count > 1 and got < count:
                self.supports_n = False  # e.g. llama.cpp: it answered n > 1 with fewer choices
                for k in range(first + got, first + count):
                    fill(i, k, 1)
            elif count > 1 and self.supports_n is None:
                self.supports_n = True

        if n > 1 and self.supports_n is None and conversations:  # learn from one request first
            fill(0, 0, n)
            rest = range(1, len(conversations))
        else:
            rest = range(len(conversations))
        if n > 1 and self.supports_n is False:
            jobs = [lambda i=i, k=k: fill(i, k, 1) for i in rest for k in range(n)]
        else:
            jobs = [lambda i=i: fill(i, 0, n) for i in rest]
        self._run(jobs)
        assert all(s is not None for row in slots for s in row), "unfilled sample slot"
        return [[s if details else s[0] for s in row] for row in slots]

    def choice_logprobs(self, conversations: list[Messages], choices: list[str]) -> list[list[float]]:
        """Log-probability of each choice as the reply's first token, from the server's
        top_logprobs at the first position (FLOOR when a choice is not among them)."""
        out: list[list[float] | None] = [None] * len(conversations)

        def one(i: int) -> None:
            resp = self._create(messages=conversations[i], n=1, temperature=0.0, max_tokens=1, logprobs=True,
                                top_logprobs=self.top_logprobs)
            lp = resp.choices[0].logprobs if resp.choices else None
            if lp is None or not lp.content or not lp.content[0].top_logprobs:
                raise AlignkitError(f"{self.name} returned no top_logprobs, so it cannot score choices",
                                    where="signals.params.scoring",
                                    fix="use scoring: generate for this judge, or a server that supports logprobs "
                                    "(vLLM, alignkit serve)")
            out[i] = choices_from_top([(t.token, t.logprob) for t in lp.content[0].top_logprobs], choices)

        self._run([lambda i=i: one(i) for i in range(len(conversations))])
        return out  # type: ignore[return-value]

    def logprobs(self, conversations: list[Messages], completions: list[str]) -> list[float]:
        raise AlignkitError(f"{self.name}: the chat API cannot score a given completion's log-probability",
                            where="model", fix="use this model where one-token choices (Yes/No, A/B, 0-5) or "
                            "generated verdicts suffice (scoring: logprob or generate), or an hf model")


class _Failed(Exception):
    def __init__(self, cause: Exception):
        super().__init__(str(cause))
        self.cause = cause


def _message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        err = body.get("error", body)
        if isinstance(err, dict) and err.get("message"):
            return str(err["message"])
    return str(exc)
