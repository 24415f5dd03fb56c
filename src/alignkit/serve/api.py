"""The chat-completions request: its limits, its validation, and OpenAI-shaped errors."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from alignkit.models.base import Messages, Sampling

MAX_BODY = 4 * 1024 * 1024  # bytes of request body
MAX_N = 64  # choices per request
MAX_TOKENS = 4096  # completion tokens per choice (also capped by the model's context)
DEFAULT_MAX_TOKENS = 256
MAX_TOP_LOGPROBS = 20
UNSUPPORTED = ("stream", "tools", "functions", "stop", "response_format")


class ApiError(Exception):
    """An error answered as OpenAI's `{"error": {message, type, param, code}}` with `status`.
    `close`: the request's body may be unread, so the connection must close after the reply
    (otherwise the unread bytes would be parsed as the next request)."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error", close: bool = False):
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.kind, self.close = kind, close

    def payload(self) -> dict:
        return error_payload(self.message, self.kind, self.param, self.code)


def error_payload(message: str, kind: str = "invalid_request_error", param: str | None = None,
                  code: str | None = None) -> dict:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def bad(message: str, param: str | None = None, code: str | None = None) -> ApiError:
    return ApiError(400, message, param, code)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."  # a 4,000-digit number is not echoed back


def _number(body: dict, key: str, default: Any, kind: type, lo: float, hi: float) -> Any:
    value = body.get(key, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (kind is int and value != int(value)):
        raise bad(f"`{key}` must be a{'n integer' if kind is int else ' number'}, got {_show(value)}", key)
    if not lo <= value <= hi:  # NaN fails this too
        raise bad(f"`{key}` must be between {lo} and {hi}, got {_show(value)}", key)
    return kind(value)


def parse_json(raw: bytes) -> Any:
    """The body as JSON, or a 400 that says why not (bad syntax, bad UTF-8, nesting too deep,
    a number too long to convert)."""
    try:
        return json.loads(raw) if raw.strip() else None
    except RecursionError:
        raise bad("the request body is nested too deeply to parse; send a flat chat-completions object") from None
    except json.JSONDecodeError as exc:
        raise bad(f"the request body is not valid JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise bad(f"the request body is not valid UTF-8 (byte {exc.start}); send UTF-8 JSON") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise bad(f"the request body holds a number too long to read ({str(exc).split(':')[0]}); "
                  "send numbers in range") from None


@dataclass
class ChatRequest:
    messages: Messages
    sampling: Sampling
    top_logprobs: int  # -1: no logprobs
    max_tokens_given: bool  # False: the default, which may shrink to fit the context


def parse_request(body: Any) -> ChatRequest:
    """Validate a chat-completions body; every problem is a 400 naming its field."""
    if not isinstance(body, dict):
        raise bad("the request body must be a JSON object with `messages`")
    for key in UNSUPPORTED:
        if body.get(key):
            raise bad(f"`{key}` is not supported by alignkit serve; remove it", key)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise bad("`messages` must be a non-empty list", "messages")
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") not in ("system", "user", "assistant") \
                or not isinstance(m.get("content"), str):
            raise bad(f"messages[{i}] needs a role (system, user, assistant) and string content", f"messages[{i}]")
        try:
            m["content"].encode("utf-8")
        except UnicodeEncodeError as exc:
            raise bad(f"messages[{i}].content holds a lone surrogate at character {exc.start}, which is not "
                      "valid Unicode; send the text as valid UTF-8", f"messages[{i}].content") from None
    max_tokens = body.get("max_completion_tokens", body.get("max_tokens"))
    sampling = Sampling(n=_number(body, "n", 1, int, 1, MAX_N),
                        temperature=_number(body, "temperature", 1.0, float, 0.0, 2.0),
                        top_p=_number(body, "top_p", 1.0, float, 1e-6, 1.0),
                        max_new_tokens=_number({"max_tokens": max_tokens}, "max_tokens", DEFAULT_MAX_TOKENS, int, 1,
                                               MAX_TOKENS),
                        seed=_number(body, "seed", 0, int, -(2**63), 2**63 - 1))
    top = -1
    if body.get("logprobs"):
        top = _number(body, "top_logprobs", 0, int, 0, MAX_TOP_LOGPROBS)
    return ChatRequest([{"role": m["role"], "content": m["content"]} for m in messages], sampling, top,
                       max_tokens is not None)
