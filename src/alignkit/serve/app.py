"""The Starlette app: routes, body reading under size and time limits, the context-length
check, and the hand-off to the batcher. Every error, including unknown routes, wrong
methods and the server's own failures, is answered in OpenAI's error shape."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from alignkit.serve.api import MAX_BODY, ApiError, ChatRequest, error_payload, parse_json, parse_request
from alignkit.serve.batcher import Batcher, Busy, Job

PREFIX_CHARS = 32  # characters per context position counted before a long prompt is refused


def context_length(backend) -> int | None:
    """Positions the model can attend to: its config's, else the tokenizer's when it is real."""
    cfg = getattr(getattr(backend, "model", None), "config", None)
    for name in ("max_position_embeddings", "n_positions", "max_sequence_length", "seq_length"):
        value = getattr(cfg, name, None)
        if isinstance(value, int) and value > 0:
            return value
    value = getattr(getattr(backend, "tokenizer", None), "model_max_length", None)
    return value if isinstance(value, int) and 0 < value < 10**7 else None


def _fit(req: ChatRequest, prompt_tokens: int, ctx: int | None) -> ChatRequest:
    """Cap the prompt and completion at the context length, as OpenAI does; a default
    max_tokens shrinks to what is left instead."""
    if ctx is None:
        return req
    want = req.sampling.max_new_tokens
    if prompt_tokens >= ctx or (req.max_tokens_given and prompt_tokens + want > ctx):
        raise ApiError(400, f"this model's maximum context length is {ctx} tokens, but {prompt_tokens + want}"
                       f"{' or more' if prompt_tokens >= ctx else ''} were requested ({prompt_tokens} in the "
                       f"messages, {want} in the completion); shorten the messages or lower max_tokens",
                       "messages", "context_length_exceeded")
    return replace(req, sampling=replace(req.sampling, max_new_tokens=min(want, ctx - prompt_tokens)))


class ChatService:
    """The model's side: render, measure, queue, and shape the answer."""

    def __init__(self, backend, model_name: str, batcher: Batcher):
        self.backend, self.model_name, self.batcher = backend, model_name, batcher
        self.ctx = context_length(backend)

    def _tokens(self, text: str) -> int:
        return len(self.backend.tokenizer(text, add_special_tokens=False).input_ids)

    def _prompt_tokens(self, text: str) -> int:
        """The prompt's length in tokens; past the context, only a bounded prefix is counted (a 3 MB
        prompt takes seconds to tokenize, and any count over the context is refused alike)."""
        if self.ctx is not None and len(text) > PREFIX_CHARS * self.ctx:
            head = self._tokens(text[: PREFIX_CHARS * self.ctx])
            if head >= self.ctx:
                return head
        return self._tokens(text)

    def prepare(self, raw: bytes) -> tuple[Job, int]:
        """Parse, validate and size the request (in a worker thread: a 4 MB prompt takes a while
        to tokenize, and the event loop must keep serving)."""
        req = parse_request(parse_json(raw))
        text = self.backend._render(req.messages)
        prompt_tokens = self._prompt_tokens(text)
        req = _fit(req, prompt_tokens, self.ctx)
        return Job(req.messages, text, req.sampling, req.top_logprobs), prompt_tokens

    def answer(self, job: Job, prompt_tokens: int) -> dict:
        choices = [{"index": i, "message": {"role": "assistant", "content": text}, "finish_reason": finish,
                    "logprobs": {"content": job.logprobs[i]} if job.top_logprobs >= 0 else None}
                   for i, (text, finish) in enumerate(job.outs)]
        completion_tokens = sum(self._tokens(text) for text, _ in job.outs)
        return {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
                "model": self.model_name, "choices": choices,
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens}}


async def read_body(request: Request, timeout: float) -> bytes:
    """The whole body, at most MAX_BODY bytes, within `timeout` seconds."""
    length, chunked = request.headers.get("content-length"), "transfer-encoding" in request.headers
    if length is not None and chunked:  # the classic request-smuggling shape: refuse it
        raise ApiError(400, "the request has both Content-Length and Transfer-Encoding; send one", close=True)
    if length is None and not chunked:
        raise ApiError(411, "the request has no Content-Length; send the JSON body with a Content-Length header "
                       "(or chunked)", close=True)
    if length is not None and int(length) > MAX_BODY:  # h11 has checked it is a non-negative integer
        raise ApiError(413, f"the request body is {int(length)} bytes, over the {MAX_BODY}-byte limit; send a "
                       "smaller request", close=True)

    async def collect() -> bytes:
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_BODY:
                raise ApiError(413, f"the request body is over the {MAX_BODY}-byte limit; send a smaller request",
                               close=True)
        return bytes(body)

    try:
        return await asyncio.wait_for(collect(), timeout)
    except asyncio.TimeoutError:
        raise ApiError(408, f"the request body did not arrive within {timeout:g} s; send it at once",
                       code="request_timeout", close=True) from None


def error_response(exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.payload(), exc.status, headers={"connection": "close"} if exc.close else None)


def build_app(service: ChatService, body_timeout: float = 30.0) -> Starlette:
    async def models(request: Request) -> JSONResponse:
        return JSONResponse({"object": "list", "data": [{"id": service.model_name, "object": "model",
                                                         "owned_by": "alignkit"}]})

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "queued": len(service.batcher.queue)})

    async def chat(request: Request) -> JSONResponse:
        try:
            raw = await read_body(request, body_timeout)
            job, prompt_tokens = await run_in_threadpool(service.prepare, raw)
            try:
                future = service.batcher.submit(job)
            except Busy as exc:
                raise ApiError(429, f"the server is overloaded ({exc}); retry later", kind="rate_limit_error") from None
            await asyncio.wrap_future(future)
            return JSONResponse(await run_in_threadpool(service.answer, job, prompt_tokens))
        except ApiError as exc:
            return error_response(exc)
        except Exception as exc:  # the model failed: a 500 for this request, and keep serving
            return JSONResponse(error_payload(f"{type(exc).__name__}: {exc}", "server_error"), 500)

    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 404:
            message = f"no route {request.url.path}; the routes are /v1/chat/completions, /v1/models and /health"
            return JSONResponse(error_payload(message, "not_found_error"), 404)
        message = f"{request.method} is not allowed on {request.url.path}: {exc.detail}"
        return JSONResponse(error_payload(message), exc.status_code, headers=exc.headers)

    async def server_error(request: Request, exc: Exception) -> JSONResponse:  # a bug: still OpenAI-shaped
        return JSONResponse(error_payload(f"{type(exc).__name__}: {exc}", "server_error"), 500)

    routes = [Route(p, models, methods=["GET"]) for p in ("/v1/models", "/models", "/v1/models/", "/models/")]
    routes += [Route("/health", health, methods=["GET"])]
    routes += [Route(p, chat, methods=["POST"]) for p in ("/v1/chat/completions", "/chat/completions",
                                                          "/v1/chat/completions/", "/chat/completions/")]
    return Starlette(routes=routes, exception_handlers={HTTPException: http_error, Exception: server_error})
