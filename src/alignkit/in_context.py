"""In-context alignment, URIAL-style (Lin et al. 2023): a system prompt and k stylistic examples
placed before every conversation, so the model is aligned by its context alone (no training).

A context file (YAML):
    name: my-context
    system: "You are a helpful assistant..."
    examples:
      - {user: "a request", assistant: "the answer in the style wanted"}

`load_context("urial")` is the built-in one (src/alignkit/contexts/urial.yaml); any other spec is
a path. `ContextBackend` wraps any backend (transformers, vLLM, an OpenAI-compatible server, so
black-box models too) and prepends the context to every conversation it is asked about.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alignkit.data import safe_yaml
from alignkit.errors import AlignkitError
from alignkit.models.base import Backend, Messages, Sampling

BUILTIN = Path(__file__).resolve().parent / "contexts"
_FIX = ("write `system:` (a string) and `examples:` (a list of entries with `user` and `assistant` strings); "
        "see src/alignkit/contexts/urial.yaml")


@dataclass(frozen=True)
class Context:
    name: str
    system: str
    examples: tuple[tuple[str, str], ...]  # (user, assistant) turns shown before the conversation
    path: str

    def apply(self, conversation: Messages) -> Messages:
        """The conversation with the context before it. A system message of the conversation's
        own follows the context's system prompt in one system turn."""
        own = [m["content"] for m in conversation if m["role"] == "system"]
        system = "\n\n".join([self.system, *own]) if self.system else "\n\n".join(own)
        turns: Messages = [{"role": "system", "content": system}] if system else []
        for user, assistant in self.examples:
            turns += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
        return turns + [m for m in conversation if m["role"] != "system"]


def builtin_names() -> list[str]:
    return sorted(p.stem for p in BUILTIN.glob("*.yaml"))


def load_context(spec: str, where: str = "evaluate.in_context") -> Context:
    """A built-in context by name (`urial`) or a context file by path."""
    path = BUILTIN / f"{spec}.yaml" if spec in builtin_names() else Path(spec)
    if not path.is_file():
        raise AlignkitError(f"context {spec!r} is neither a built-in ({', '.join(builtin_names())}) nor a file",
                            where=where, fix="name a built-in context or give the path of a context YAML file")
    data, root = safe_yaml.parse(safe_yaml.read_text(path, "context"), path, _FIX)
    if not isinstance(data, dict):
        raise AlignkitError("a context file is a mapping", where=str(path), fix=_FIX)
    lines = {k.value: v.start_mark.line + 1 for k, v in root.value} if root is not None else {}
    unknown = sorted(set(data) - {"name", "system", "examples"})
    if unknown:
        raise AlignkitError(f"unknown field(s) {', '.join(unknown)}", where=f"{path}:{lines[unknown[0]]}", fix=_FIX)
    system, examples = data.get("system", ""), data.get("examples") or []
    if not isinstance(system, str):
        raise AlignkitError("`system` must be a string", where=f"{path}:{lines.get('system', 1)}", fix=_FIX)
    if not isinstance(examples, list):
        raise AlignkitError("`examples` must be a list", where=f"{path}:{lines.get('examples', 1)}", fix=_FIX)
    nodes = next((v.value for k, v in root.value if k.value == "examples"), [])
    pairs = []
    for i, (ex, node) in enumerate(zip(examples, nodes)):
        ok = isinstance(ex, dict) and set(ex) == {"user", "assistant"} and all(
            isinstance(v, str) and v.strip() for v in ex.values())
        if not ok:
            raise AlignkitError(f"example {i + 1} needs exactly a non-empty `user` and `assistant` string",
                                where=f"{path}:{node.start_mark.line + 1}", fix=_FIX)
        pairs.append((ex["user"].strip(), ex["assistant"].strip()))
    if not system.strip() and not pairs:
        raise AlignkitError("the context is empty", where=str(path), fix=_FIX)
    return Context(str(data.get("name") or path.stem), system.strip(), tuple(pairs), str(path))


class ContextBackend:
    """A backend that answers every conversation with `context` before it."""

    def __init__(self, inner: Backend, context: Context):
        self.inner, self.context = inner, context
        self.name = f"{inner.name}+context:{context.name}"

    @property
    def batch_size(self) -> Any:
        return getattr(self.inner, "batch_size", None)

    @batch_size.setter
    def batch_size(self, value: Any) -> None:
        self.inner.batch_size = value

    def generate(self, conversations: list[Messages], sampling: Sampling, progress=None,
                 details: bool = False) -> list[list[str]] | list[list[tuple[str, str]]]:
        return self.inner.generate([self.context.apply(c) for c in conversations], sampling,
                                   progress=progress, details=details)

    def logprobs(self, conversations: list[Messages], completions: list[str]) -> list[float]:
        return self.inner.logprobs([self.context.apply(c) for c in conversations], completions)
