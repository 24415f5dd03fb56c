"""Signals: components that annotate groups of candidates. Registering one makes it
usable from a recipe by name.

A signal declares its parameters as a nested pydantic model, `Params`: names, types, ranges,
defaults and a one-line description each. The recipe validates a signal's `params` against
it (`alignkit validate` names the file, line and field of a misspelled or mistyped one),
`alignkit signals --json` prints its JSON schema, and docs/recipes.md's parameter tables are
generated from it (scripts/signal_docs.py).

Where signals come from (`_load_builtin`, run by every registry lookup):
- the built-in ones: every module of the `alignkit.signals` package is imported, found with
  `pkgutil.iter_modules` (a new module there registers its classes with no edit elsewhere, and
  this module names none of them, so the package has no import cycle);
- third-party packages: entry points in the group `alignkit.signals`, each naming a module that
  registers its own signals on import, or a `Signal` class, which is registered here; e.g. in
  pyproject.toml `[project.entry-points."alignkit.signals"] mine = "mypkg.signals"`;
- modules named in the environment variable ALIGNKIT_PLUGINS (comma-separated), read on every
  lookup, e.g. the planted judges of the audit's tests (`tests/plugins/`).
"""

from __future__ import annotations

import difflib
import importlib
import importlib.metadata
import os
import pkgutil
from collections import Counter
from collections.abc import Callable
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alignkit.errors import AlignkitError
from alignkit.types import Group

Source = Literal["inductive_bias", "behavior_imitation", "model_feedback", "environment_feedback"]
SOURCES: tuple[str, ...] = ("inductive_bias", "behavior_imitation", "model_feedback", "environment_feedback")

REGISTRY: dict[str, type[Signal]] = {}


class AnyParams(BaseModel):
    """The parameters of a signal that declares none: any names and values are accepted, unchecked,
    so third-party signals written before typed parameters keep working. Read them from
    `self.params` (the dict as written) or `self.p.model_extra`."""

    model_config = ConfigDict(extra="allow")


class SignalParams(BaseModel):
    """Base of a signal's declared parameters: an unknown name is an error. Every signal takes
    `seed` (the audit sets it for each repeat)."""

    model_config = ConfigDict(extra="forbid")

    seed: int = Field(0, description="random seed of what the signal samples (the audit sets it per repeat)")


class SignalRef(BaseModel):
    """A nested signal, e.g. self_refine's `scorer` or teacher_demonstrations' `filter`: a
    registered signal's name, or `{name, params}`; its params are checked against that signal's."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="a registered signal (`alignkit signals`)")
    params: dict[str, Any] = Field(default_factory=dict, description="its params")
    _name_only: bool = PrivateAttr(False)

    @model_validator(mode="wrap")
    @classmethod
    def _from_name(cls, data: Any, handler: Callable[[Any], SignalRef]) -> SignalRef:
        ref = handler({"name": data} if isinstance(data, str) else data)
        ref._name_only = isinstance(data, str)
        return ref

    @field_validator("name")
    @classmethod
    def _registered(cls, name: str) -> str:
        if name not in signal_names():
            raise ValueError(f"unknown signal {name!r}; known signals: {', '.join(signal_names())}")
        return name

    @field_validator("params")
    @classmethod
    def _typed(cls, params: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        name = info.data.get("name")
        if name is not None:
            get_signal(name).Params.model_validate(params)  # its errors carry their location
        return params

    @classmethod
    def __get_pydantic_json_schema__(cls, core_schema: Any, handler: Any) -> dict[str, Any]:
        return {"anyOf": [{"type": "string", "description": "a signal name"}, handler(core_schema)]}

    def as_written(self) -> str | dict[str, Any]:
        """The reference as a recipe spells it (a name, or {name, params}), e.g. for provenance."""
        return self.name if self._name_only else self.model_dump(exclude_unset=True)

    def build(self, resolve: Callable[[str], Any] | None) -> Signal:
        """The signal, bound to `resolve` when it uses a model."""
        signal = get_signal(self.name)(**self.params)
        return signal.bind(resolve) if signal.uses_model and resolve is not None else signal


class Signal:
    """Base class. Subclasses set the class attributes and implement `annotate`.

    A signal that asks a model (judge, critic, teacher, the policy itself) sets
    `uses_model` and reaches it with `self.model(spec)`; the runner binds a resolver
    that maps "policy" to the model being aligned (in iteration k, the model trained
    in iteration k-1) and any other spec to a backend for that model.

    Parameters: a subclass declares a nested `class Params(SignalParams)` (pydantic; unknown
    names forbidden, each field typed, ranged, defaulted and described in one line). The
    constructor validates its keyword arguments into `self.p` (typed access: `self.p.relabel`)
    and keeps them as written in `self.params`. A subclass that declares no Params inherits
    `AnyParams`, which accepts any parameters unchecked (third-party plugins, tests).
    """

    name: ClassVar[str]
    source: ClassVar[Source]
    kind: ClassVar[str]
    description: ClassVar[str]
    uses_model: ClassVar[bool] = False
    Params: ClassVar[type[BaseModel]] = AnyParams

    def __init__(self, **params: Any) -> None:
        self.params = params  # as written: Ray workers rebuild the signal from them
        try:
            self.p: Any = type(self).Params.model_validate(params)
        except ValidationError as exc:
            raise params_error(type(self), exc) from None
        self._resolve: Callable[[str], Any] | None = None
        # run-level tallies behind summary(); plain counts, so tallies from parallel workers add up
        self.counts: Counter[str] = Counter()

    def bind(self, resolve: Callable[[str], Any]) -> Signal:
        """Give the signal a way to reach models: `resolve(spec) -> Backend`."""
        self._resolve = resolve
        return self

    def model(self, spec: str = "policy") -> Any:
        if self._resolve is None:
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


_discovered = False  # built-in modules and entry points are imported once per process


def _load_builtin() -> None:
    """Fill the registry: the package's modules and entry points once, ALIGNKIT_PLUGINS every time."""
    global _discovered
    if not _discovered:
        _load_package()
        _load_entry_points()
        _discovered = True
    _load_plugins()


def _load_package() -> None:
    """Import every module of `alignkit.signals`; the signal classes register themselves. Modules
    are named by string, so no static import edge runs from here back to them."""
    package = importlib.import_module(__package__)
    for info in pkgutil.iter_modules(package.__path__):
        if info.name != "base" and not info.name.startswith("_"):
            importlib.import_module(f"{__package__}.{info.name}")


def _load_entry_points() -> None:
    """Third-party signals declared as entry points in the group `alignkit.signals`."""
    for ep in importlib.metadata.entry_points(group="alignkit.signals"):  # read at call time: tests swap it
        try:
            obj = ep.load()
        except (ImportError, AttributeError) as exc:
            raise AlignkitError(f"cannot load signal plugin {ep.name!r} ({ep.value}): {exc}",
                                where="entry points, group alignkit.signals",
                                fix="install the package that provides it, or uninstall the broken one") from None
        if isinstance(obj, type) and issubclass(obj, Signal) and REGISTRY.get(obj.name) is not obj:
            register(obj)


def _load_plugins() -> None:
    """Modules named in ALIGNKIT_PLUGINS (comma-separated) register their own signals on import."""
    for mod in filter(None, (m.strip() for m in os.environ.get("ALIGNKIT_PLUGINS", "").split(","))):
        try:
            importlib.import_module(mod)
        except ImportError as exc:
            raise AlignkitError(f"cannot import signal plugin {mod!r}: {exc}", where="ALIGNKIT_PLUGINS",
                                fix="name importable modules (on PYTHONPATH), comma-separated") from None


def get_signal(name: str) -> type[Signal]:
    _load_builtin()
    return REGISTRY[name]


def signal_names() -> list[str]:
    _load_builtin()
    return sorted(REGISTRY)


def describe_signals() -> list[dict[str, Any]]:
    """Each registered signal: name, source, kind, description and `params`, the JSON schema of
    its parameters."""
    _load_builtin()
    return [{"name": c.name, "source": c.source, "kind": c.kind, "description": c.description,
             "params": c.Params.model_json_schema()}
            for c in sorted(REGISTRY.values(), key=lambda c: c.name)]


# -- parameter errors --------------------------------------------------------------------------

def param_problem(cls: type[Signal], err: dict[str, Any], loc: tuple = (), named: bool = True) -> str:
    """One pydantic error on a signal's params, worded for the user. `loc` is the error's location
    inside the params (default: the error's own); `named: False` leaves the field's name out (the
    caller shows it)."""
    loc = loc or tuple(err["loc"])
    field = ".".join(str(p) for p in loc)
    fields = cls.Params.model_fields
    if err["type"] == "missing":
        about = fields[loc[0]].description if len(loc) == 1 and loc[0] in fields else None
        return ("needs params." + field if named else "required") + (f" ({about})" if about else "")
    if err["type"] == "extra_forbidden":
        text = f"unknown parameter `{field}`" if named else "unknown parameter"
        if len(loc) == 1:
            close = difflib.get_close_matches(str(loc[0]), list(fields), n=1)
            text += f" (did you mean `{close[0]}`?)" if close else ""
            text += f"; {getattr(cls, 'name', cls.__name__)} takes: {', '.join(sorted(fields))}"
        return text
    msg = err["msg"].removeprefix("Value error, ")
    msg += "" if err["type"] == "value_error" else f" (got {err['input']!r})"
    return f"params.{field}: {msg}" if named and field else msg


def params_error(cls: type[Signal], exc: ValidationError) -> AlignkitError:
    """A signal constructed with bad params: what is wrong with which field, and where to look."""
    errors = exc.errors()
    name = getattr(cls, "name", cls.__name__)
    where = "signals.params" + "".join(f".{p}" for p in errors[0]["loc"])
    return AlignkitError(f"signal {name!r}: " + "; ".join(param_problem(cls, e) for e in errors), where=where,
                         fix=f"correct the param(s); `alignkit signals --json` and docs/recipes.md list {name}'s "
                         "parameters with their types and defaults")
