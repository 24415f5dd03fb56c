"""Signals: components that annotate groups of candidates. Registering one makes it
usable from a recipe by name."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from alignkit.types import Group

Source = Literal["inductive_bias", "behavior_imitation", "model_feedback", "environment_feedback"]
SOURCES: tuple[str, ...] = ("inductive_bias", "behavior_imitation", "model_feedback", "environment_feedback")

REGISTRY: dict[str, type[Signal]] = {}


class Signal:
    """Base class. Subclasses set the class attributes and implement `annotate`."""

    name: ClassVar[str]
    source: ClassVar[Source]
    kind: ClassVar[str]
    description: ClassVar[str]

    def __init__(self, **params: Any) -> None:
        self.params = params

    def annotate(self, groups: list[Group]) -> list[Group]:
        raise NotImplementedError


def register(cls: type[Signal]) -> type[Signal]:
    assert cls.source in SOURCES, cls.source
    REGISTRY[cls.name] = cls
    return cls


def _load_builtin() -> None:
    from alignkit.signals import environment, inductive_bias  # noqa: F401  (registers on import)


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
