"""The house rules, checked on the source: no import cycles, cli -> core -> protocol, plugins
use only the public API, and docs/architecture.md names places that exist."""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "pynchy_cli"
# Code templates of `pynchy plugin new`: text that becomes another package's source.
TEMPLATES = PACKAGE / "core" / "plugins" / "scaffold_templates"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py") if TEMPLATES not in p.parents}


def _exports() -> dict[str, str]:
    """pynchy_cli's public names -> the module each comes from (its lazy _EXPORTS table)."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign):
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == "_EXPORTS":
            table = ast.literal_eval(node.value)
            return {name: where[0] for name, where in table.items()}
    raise AssertionError("pynchy_cli/__init__.py has no _EXPORTS table")


def _imports(path: Path, name: str, modules: dict[str, Path], exports: dict[str, str]):
    """Every pynchy_cli module this file imports, wherever the import stands: at the top,
    inside functions, or under `if TYPE_CHECKING:`."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "pynchy_cli":
                    found.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")
                base = base if is_package else base[:-1]
                base = base[: len(base) - (node.level - 1)]
                source = ".".join([*base, *([node.module] if node.module else [])])
            else:
                source = node.module or ""
            if source.split(".")[0] != "pynchy_cli":
                continue
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                if sub in modules:
                    found.add(sub)
                elif source == "pynchy_cli" and alias.name in exports:
                    found.add(exports[alias.name])
                else:
                    found.add(source)
    return {m for m in found if m in modules and m != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    exports = _exports()
    return {name: _imports(path, name, modules, exports) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_import_cycle_among_pynchy_modules():
    cycles = _cycles(_graph())
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(c) for c in cycles)


def test_cycle_finder_sees_a_cycle():
    """The check itself can fail: a two-module loop and a three-module loop are found."""
    graph = {"a": {"b"}, "b": {"a"}, "c": {"d"}, "d": {"e"}, "e": {"c"}, "f": set()}
    assert sorted(_cycles(graph)) == [["a", "b"], ["c", "d", "e"]]


def test_layers_point_down_only():
    """cli -> core -> protocol: core never imports cli or typer; protocol imports nothing of
    pynchy (it ships alone in the agent image)."""
    graph = _graph()
    up = [
        f"{m} imports {d}"
        for m, deps in graph.items()
        if m.startswith("pynchy_cli.core")
        for d in deps
        if d.startswith("pynchy_cli.cli")
    ]
    assert not up, up
    assert graph["pynchy_cli.protocol"] == set()
    for path in _modules().values():
        if "pynchy_cli/core" in path.as_posix():
            assert not re.search(r"^\s*(import typer|from typer)", path.read_text(), re.M), path


def _plugin_files() -> list[Path]:
    return sorted(p for p in (ROOT / "plugins").rglob("*.py") if ".venv" not in p.parts)


def test_plugins_import_only_the_public_api():
    exports = set(_exports())
    wrong = []
    for path in _plugin_files():
        for node in ast.walk(ast.parse(path.read_text())):
            where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                wrong += [
                    f"{where} import {a.name}"
                    for a in node.names
                    if a.name.startswith("pynchy_cli.")
                ]
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("pynchy_cli"):
                if node.module != "pynchy_cli":
                    wrong.append(f"{where} from {node.module} import ...")
                    continue
                wrong += [
                    f"{where} {a.name} is not exported" for a in node.names if a.name not in exports
                ]
    assert not wrong, "\n".join(wrong)


def test_every_public_name_resolves():
    import pynchy_cli

    for name in _exports():
        assert getattr(pynchy_cli, name) is not None, name


# --- docs/architecture.md stays true ------------------------------------------------------

PLACE = re.compile(r"`((?:pynchy_cli|container|plugins|deploy)/[\w/.-]+\.py):([\w.]+)`")


def _defined(path: Path, dotted: str) -> bool:
    """True when `dotted` (function, Class or Class.method) is defined in the file."""
    tree = ast.parse(path.read_text())
    scope: list[ast.stmt] = tree.body
    for part in dotted.split("."):
        match = next(
            (
                node
                for node in scope
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
                and node.name == part
            ),
            None,
        )
        if match is None:
            return False
        scope = match.body
    return True


def test_architecture_doc_names_real_places():
    doc = ROOT / "docs" / "architecture.md"
    places = PLACE.findall(doc.read_text())
    assert len(places) >= 15, "docs/architecture.md should name file:function for each step"
    missing = [
        f"{file}:{name}"
        for file, name in places
        if not (ROOT / file).is_file() or not _defined(ROOT / file, name)
    ]
    assert not missing, "docs/architecture.md names places that do not exist: " + ", ".join(missing)


def test_place_check_can_fail(tmp_path: Path):
    source = tmp_path / "m.py"
    source.write_text("class A:\n    def run(self):\n        pass\n\ndef top():\n    pass\n")
    assert _defined(source, "A.run") and _defined(source, "top")
    assert not _defined(source, "A.walk") and not _defined(source, "B")


if __name__ == "__main__":  # pragma: no cover - a quick look at the graph
    sys.exit(pytest.main([__file__, "-q"]))
