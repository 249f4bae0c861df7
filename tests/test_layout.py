"""The package's architecture holds: no import cycle, a TensorFlow-free side, small modules.

The import graph is read from the sources (module-level imports only; imports
inside functions are deliberate lazy loads), and the commands that must stay
fast are run for real in a fresh interpreter.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import write_space

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "tuner_app"
HEAVY = ("tensorflow", "tf_keras", "tensorflow_recommenders", "keras_tuner", "keras", "tensorflow_datasets")
#: What must never import TensorFlow or keras-tuner when imported: validation, data,
#: storage and reporting, so that `--help`, `validate` and `report` stay fast.
TF_FREE = ("tuner_app.space", "tuner_app.data", "tuner_app.store", "tuner_app.report", "tuner_app.baselines",
           "tuner_app.distributed.roles", "tuner_app.tuning.progress", "tuner_app.cli", "tuner_app.errors")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(nodes) -> set[str]:
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            # `from tuner_app.model import losses` imports the module tuner_app.model.losses
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def module_level_imports(path: Path) -> set[str]:
    """Modules a file imports when it is imported (not inside functions or `if TYPE_CHECKING`)."""
    return imports_of(ast.parse(path.read_text()).body)


def every_import(path: Path) -> set[str]:
    """Modules a file imports when it runs: at module level and inside functions (lazy imports); not
    those under `if TYPE_CHECKING:`, which only type checkers read."""
    def runtime_nodes(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and getattr(child.test, "id", None) == "TYPE_CHECKING":
                continue
            yield child
            yield from runtime_nodes(child)

    return imports_of(runtime_nodes(ast.parse(path.read_text())))


def import_graph(imports) -> dict[str, set[str]]:
    modules = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    edges = {}
    for name, path in modules.items():
        targets = set()
        for imported in imports(path):
            if imported in modules:
                targets.add(imported)
            elif imported.split(".")[0] in HEAVY:
                targets.add(imported.split(".")[0])
        edges[name] = targets
    return edges


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    """Who imports whom when imported: what the TensorFlow-free side must keep clear of."""
    return import_graph(module_level_imports)


def parent_packages(name: str) -> set[str]:
    """Importing a module imports each package above it first (their `__init__`)."""
    return {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}


def test_no_import_cycle():
    """No cycle, counting imports inside functions too: a lazy import is still a dependency."""
    graph = import_graph(every_import)
    state: dict[str, str] = {}

    def visit(node, trail):
        state[node] = "open"
        for nxt in sorted(t for t in graph[node] if t in graph):
            if state.get(nxt) == "open":
                raise AssertionError("import cycle: " + " -> ".join([*trail, node, nxt]))
            if nxt not in state:
                visit(nxt, [*trail, node])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [])


@pytest.mark.parametrize("package", TF_FREE)
def test_tensorflow_free_side_never_imports_tensorflow(graph, package):
    start = [m for m in graph if m == package or m.startswith(package + ".")]
    seen, todo = set(), list(start)
    while todo:
        node = todo.pop()
        if node in seen:
            continue
        seen.add(node)
        heavy = [t for t in graph.get(node, ()) if t in HEAVY]
        assert not heavy, f"{node} imports {heavy[0]} when imported"
        todo.extend(t for t in graph.get(node, ()) | parent_packages(node) if t in graph)


def test_no_module_over_350_lines():
    sizes = {str(p.relative_to(ROOT)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert {p: n for p, n in sizes.items() if n > 350} == {}


def loaded_by(args: list[str], cwd: Path) -> tuple[str, list[str]]:
    """Runs `python -m tuner_app ARGS` in a fresh interpreter; returns its output and the heavy
    modules it had loaded when it exited."""
    code = textwrap.dedent(f"""
        import runpy, sys
        sys.argv = ["tuner_app", *{args!r}]
        try:
            runpy.run_module("tuner_app", run_name="__main__")
        except SystemExit:
            pass
        finally:
            print("LOADED", [m for m in {HEAVY!r} if m in sys.modules])
    """)
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)
    line = [x for x in proc.stdout.splitlines() if x.startswith("LOADED")][-1]
    return proc.stdout + proc.stderr, ast.literal_eval(line.removeprefix("LOADED "))


def test_help_validate_and_report_never_import_tensorflow(tmp_path):
    space = write_space(tmp_path, "tuner: {algorithm: random, max_trials: 2}\nhyperparameters: {}\n")
    (tmp_path / "r.csv").write_text(
        "rank,trial_id,status,objective,objective_name,reason\n1,0,COMPLETED,0.3,val_top_100,\n")
    for args, expect in ((["--help"], "usage:"), (["search", "--help"], "--space"),
                         (["validate", str(space), "deep.yaml"], "valid"), (["report", "r.csv"], "1 trial(s)")):
        output, heavy = loaded_by(args, tmp_path)
        assert expect in output, (args, output)
        assert heavy == [], f"{args} loaded {heavy}"
