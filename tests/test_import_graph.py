"""The import graph of src/alignkit has no cycles and no import from a higher layer
(scripts/import_graph.py, which parses the modules with `ast`)."""

import importlib.util
import subprocess
import sys

from conftest import REPO

SCRIPT = REPO / "scripts" / "import_graph.py"
_spec = importlib.util.spec_from_file_location("import_graph", SCRIPT)
ig = importlib.util.module_from_spec(_spec)
sys.modules["import_graph"] = ig  # dataclasses look their module up by name
_spec.loader.exec_module(ig)


def test_alignkit_has_no_cycles_and_no_upward_imports():
    graph = ig.build_graph()
    assert len(graph.modules) > 40 and graph.edges
    assert ig.cycles(graph) == []
    assert [e.where() for e in ig.upward(graph)] == []
    assert ig.problems(graph) == []  # every module has a layer


def test_check_exits_zero():
    res = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith("ok:")


def _write(root, files):
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def test_finds_cycles_upward_imports_and_unplaced_modules(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/low.py": "def f():\n    from pkg.high import g  # inside a function: still an edge\n",
        "pkg/high.py": "from pkg import low\n",
        "pkg/loop.py": "import pkg.loop\n",
        "pkg/sub/__init__.py": "",
        "pkg/sub/rel.py": "from ..low import f\nfrom . import other\n",
        "pkg/sub/other.py": "",
        "pkg/stray.py": "",
    })
    layers = [("low", ["", "low", "loop", "sub"]), ("high", ["high"])]
    graph = ig.build_graph(tmp_path, "pkg")
    edges = {(e.src, e.dst, e.line) for e in graph.edges}
    assert edges == {("pkg.low", "pkg.high", 2), ("pkg.high", "pkg.low", 1), ("pkg.loop", "pkg.loop", 1),
                     ("pkg.sub.rel", "pkg.low", 1), ("pkg.sub.rel", "pkg.sub.other", 2)}
    assert ig.cycles(graph) == [["pkg.high", "pkg.low"], ["pkg.loop"]]
    assert [(e.src, e.dst) for e in ig.upward(graph, layers, "pkg")] == [("pkg.low", "pkg.high")]
    found = ig.problems(graph, layers, "pkg")
    assert len(found) == 4 and found[-1].startswith("module in no layer: pkg.stray")
    assert "low.py:2: pkg.low (low) imports pkg.high (high)" in found[2]


def test_lazy_imports_only_where_they_save_start_up_time(tmp_path):
    _write(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/light.py": "import json\n",
        "pkg/heavyish.py": "import torch\n",
        "pkg/cli.py": "def main():\n    import json\n",  # the entry keeps per-command imports
        "pkg/sub/__init__.py": "def f():\n    import json\n",  # runs on the way to pkg.sub.*: stays light
        "pkg/user.py": (
            "def a():\n    import os\n"                      # stdlib: needless
            "def b():\n    from pkg import light\n"          # light alignkit module: needless
            "def c():\n    from pkg import heavyish\n"       # loads torch at import: kept
            "def d():\n    import transformers\n"            # heavy third-party: kept
            "def e():\n    try:\n        import yaml\n    except ImportError:\n        pass\n"  # optional: kept
        ),
    })
    found = ig.needless_lazy(tmp_path, "pkg")
    assert [f.split(": `")[1].split("`")[0] for f in found] == ["import os", "from pkg import light"]
    assert all("pkg/user.py:" in f for f in found)


def test_training_loads_without_the_registries():
    """`train.py` reads TrainConfig from the core layer (config.py), so importing it loads none of
    the signals, benchmarks or prompt sources that recipe.py validates names against."""
    code = "import sys, alignkit.train; print(' '.join(m for m in sys.modules if m.startswith('alignkit')))"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert "alignkit.train" in loaded and "alignkit.config" in loaded
    packages = {m.split(".")[1] for m in loaded if "." in m}
    assert packages & {"signals", "evaluate", "data", "checks", "recipe"} == set()
