"""The package's layering, checked on the source: readers of runs (metrics, serving, analysis, loading,
the run directory) import nothing from ``gankit.training``; ``import gankit`` and building the CLI's
parser import no torch."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "src" / "gankit"
READERS = ["metrics", "serve", "analysis", "runs.py", "pretrained.py", "sampling.py", "models", "losses", "data",
           "augment"]


def imports(path: Path) -> set[str]:
    """Every module ``path`` imports (at any depth of the file), as absolute dotted names."""
    module = ".".join(("gankit", *path.relative_to(PKG).with_suffix("").parts))
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            found.add(name)
            found.update(f"{name}.{a.name}" for a in node.names)
    return found


def files(where: str) -> list[Path]:
    p = PKG / where
    return sorted(p.rglob("*.py")) if p.is_dir() else [p]


def test_the_import_walker_resolves_relative_imports():
    found = imports(PKG / "commands" / "train.py")
    assert "gankit.training.trainer" in found and "gankit.config" in found


@pytest.mark.parametrize("where", READERS)
def test_readers_do_not_import_training(where):
    bad = {str(f.relative_to(PKG)): sorted(m for m in imports(f) if m.startswith("gankit.training"))
           for f in files(where)}
    assert not {k: v for k, v in bad.items() if v}


@pytest.mark.parametrize("code", ["import gankit", "from gankit.cli import build_parser; build_parser()"])
def test_light_imports_do_not_load_torch(code):
    out = subprocess.run([sys.executable, "-c", f"{code}; import sys; print('torch' in sys.modules)"],
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def import_cycles() -> list[list[str]]:
    """The package's modules that import each other in a loop (imports at any depth of a file count:
    a function-level import still ties the two modules), one sorted list per loop."""
    modules = {}
    for f in PKG.rglob("*.py"):
        name = ".".join(("gankit", *f.relative_to(PKG).with_suffix("").parts))
        modules[name.removesuffix(".__init__")] = f
    graph = {m: {i for i in imports(f) if i in modules and i != m} for m, f in modules.items()}
    reach = {}
    for m in graph:  # every module reachable from m
        seen, todo = set(), list(graph[m])
        while todo:
            n = todo.pop()
            if n not in seen:
                seen.add(n)
                todo.extend(graph[n])
        reach[m] = seen
    loops = {tuple(sorted(n for n in graph if n == m or (n in reach[m] and m in reach[n])))
             for m in graph if m in reach[m]}
    return sorted(list(loop) for loop in loops)


def test_no_module_imports_itself_through_others():
    assert import_cycles() == []


def test_config_imports_nothing_above_it():
    # the training configuration is read by every layer; it may import only the layers it validates against
    above = ("gankit.training", "gankit.metrics", "gankit.commands", "gankit.runs", "gankit.serve", "gankit.lab")
    assert sorted(m for m in imports(PKG / "config.py") if m.startswith(above)) == []
