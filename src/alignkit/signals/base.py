"""Signals: components that annotate groups of candidates. Registering one makes it
usable from a recipe by name."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from alignkit.types import Group

Source = Literal["inductive_bias", "behavior_imitation", "model_feedback", "environment_feedback"]
SOURCES: tuple[str, ...] = ("inductive_bias", "behavior_imitation", "model_feedback", "environment_feedback")

REGISTRY: dict[str, type[Signal]] = {}


class Signal:
    """Base class. Subclasses set the class attributes and implement `annotate`.

    A signal that asks a model (judge, critic, teacher, the policy itself) sets
    `uses_model` and reaches it with `self.model(spec)`; the runner binds a resolver
    that maps "policy" to the model being aligned (in iteration k, the model trained
    in iteration k-1) and any other spec to a backend for that model.
    """

    name: ClassVar[str]
    source: ClassVar[Source]
    kind: ClassVar[str]
    description: ClassVar[str]
    uses_model: ClassVar[bool] = False

    def __init__(self, **params: Any) -> None:
        self.params = params
        self._resolve: Callable[[str], Any] | None = None
        # run-level tallies behind summary(); plain counts, so tallies from parallel workers add up
        self.counts: Counter[str] = Counter()

    def bind(self, resolve: Callable[[str], Any]) -> Signal:
        """Give the signal a way to reach models: `resolve(spec) -> Backend`."""
        self._resolve = resolve
        return self

    def model(self, spec: str = "policy") -> Any:
        if self._resolve is None:
            from alignkit.errors import AlignkitError

            raise AlignkitError(f"signal {self.name!r} needs a model but none was bound",
                                fix="call signal.bind(resolver) before annotate (the runner does this)")
        return self._resolve(spec)

    def annotate(self, groups: list[Group]) -> list[Group]:
        raise NotImplementedError

    def summary(self) -> dict[str, Any]:
        """Run-level facts about the signal (e.g. a judge's position consistency) for the report,
        computed from `self.counts`."""
        return {}


def register(cls: type[Signal]) -> type[Signal]:
    assert cls.source in SOURCES, cls.source
    REGISTRY[cls.name] = cls
    return cls


def _load_builtin() -> None:
    from alignkit.signals import environment, imitation, inductive_bias, model_feedback  # noqa: F401  (registers on import)
    _load_plugins()


def _load_plugins() -> None:
    """Modules named in ALIGNKIT_PLUGINS (comma-separated) register their own signals on import."""
    import importlib
    import os

    for mod in filter(None, (m.strip() for m in os.environ.get("ALIGNKIT_PLUGINS", "").split(","))):
        try:
            importlib.import_module(mod)
        except ImportError as exc:
            from alignkit.errors import AlignkitError

            raise AlignkitError(f"cannot import signal plugin {mod!r}: {exc}", where="ALIGNKIT_PLUGINS",
                                fix="name importable modules (on PYTHONPATH), comma-separated") from None


def get_signal(name: str) -> type[Signal]:
    _load_builtin()
    return REGISTRY[name]


def signal_names() -> list[str]:
    _load_builtin()
    return sorted(REGISTRY)


def describe_signals() -> list[dict[str, str]]:
    _load_builtin()
    return [{"name": c.name, "source": c.source, "kind": c.kind, "description": c.description}
            for c in sorted(REGISTRY.values(), key=lambda c: c.name)]


# Methods of the taxonomy that are not annotation signals: prompt sources a recipe names under
# `prompts.source`, and experiments with their own module. `alignkit signals` lists them too.
OTHER_METHODS = [
    {"name": "evol_instruct", "source": "behavior_imitation", "kind": "prompts",
     "description": "Evol-Instruct (Xu et al. 2023): a generator model rewrites seed tasks in depth (constraints, "
                    "deepening, concretizing, reasoning) and in breadth over rounds; failed or copied rewrites are "
                    "eliminated and near-duplicates dropped by MiniLM similarity. Use: prompts.source: evol_instruct."},
    {"name": "self_instruct", "source": "behavior_imitation", "kind": "prompts",
     "description": "Self-Instruct (Wang et al. 2023): a generator model writes new instructions from sampled pool "
                    "tasks; Self-Instruct's filters and MiniLM deduplication keep diverse ones. "
                    "Use: prompts.source: self_instruct."},
    {"name": "weak_to_strong", "source": "behavior_imitation", "kind": "module",
     "description": "Weak-to-strong generalization (Burns et al. 2023): a weak classifier trained on ground truth "
                    "labels a split a stronger one learns from (plainly and with the confidence loss); reports "
                    "performance gap recovered with a CI over seeds. Use: python3 -m alignkit.weak_to_strong."},
]


def describe_methods() -> list[dict[str, str]]:
    """Every method alignkit implements: the registered signals, then the prompt sources and
    modules of OTHER_METHODS, each with its survey source."""
    return describe_signals() + [dict(m) for m in OTHER_METHODS]
