"""Signals are found, not listed: every module of alignkit.signals, entry points in the group
`alignkit.signals`, and modules named in ALIGNKIT_PLUGINS."""

from importlib.metadata import EntryPoint

import pytest

from alignkit.errors import AlignkitError
from alignkit.signals import base

PLUGIN = '''
from alignkit.signals.base import Signal


class EchoSignal(Signal):  # not registered by itself: the entry point names the class
    name = "ep_echo"
    source = "model_feedback"
    kind = "score"
    description = "test"

    def annotate(self, groups):
        return groups
'''


def test_every_source_module_is_discovered():
    names = set(base.signal_names())
    # one signal from each source module; base.py names none of them
    assert {"self_consistency", "teacher_demonstrations", "verifier", "code_execution"} <= names


@pytest.fixture
def fresh_registry(monkeypatch):
    monkeypatch.setattr(base, "REGISTRY", dict(base.REGISTRY))  # restored after the test
    monkeypatch.setattr(base, "_discovered", False)


def _entry_points(monkeypatch, *eps):
    import importlib.metadata

    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group: [ep for ep in eps if ep.group == group])


def test_an_entry_point_class_is_registered(fresh_registry, monkeypatch, tmp_path):
    (tmp_path / "ep_signal_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    _entry_points(monkeypatch, EntryPoint("echo", "ep_signal_plugin:EchoSignal", "alignkit.signals"),
                  EntryPoint("other", "no_such_module", "another.group"))
    assert "ep_echo" in base.signal_names()
    assert base.get_signal("ep_echo").__name__ == "EchoSignal"


def test_a_broken_entry_point_is_a_clear_error(fresh_registry, monkeypatch):
    _entry_points(monkeypatch, EntryPoint("gone", "no_such_module_for_alignkit", "alignkit.signals"))
    with pytest.raises(AlignkitError) as err:
        base.signal_names()
    assert "'gone'" in err.value.message and "alignkit.signals" in err.value.where
