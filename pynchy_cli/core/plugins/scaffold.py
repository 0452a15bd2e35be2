"""`pynchy plugin new`: a plugin package that installs, is discovered and tests itself.

    pynchy-NAME/
      pyproject.toml        hatchling, entry point NAME = "pynchy_NAME" in group "pynchy"
      README.md
      pynchy_NAME/__init__.py   the hookimpl for the kind, and its implementation
      tests/test_NAME.py    passes once installed: pynchy plugin install ./pynchy-NAME

The templates live in scaffold_templates/, one module and one test file per kind; the
tests use pynchy_cli.testing (a channel's: FakeChannelHost) and the package carries the
same ruff settings as pynchy, so what is generated passes its tests and `ruff check`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from string import Template

from pynchy_cli.core.errors import ConflictError, UsageError
from pynchy_cli.core.plugins import scaffold_templates as t

KINDS = ("runtime", "channel", "agent_core", "mcp", "skill", "hook", "commands")
NAME_RE = re.compile(r"^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$")  # also a valid MCP server name
RESERVED = {"builtins", "auto", "podman", "docker", "process", "terminal", "echo", "scripted",
            "anthropic", "openai", "selfdoc", "ruff"}  # fmt: skip


@dataclass(frozen=True)
class Names:
    plugin: str  # entry point name, and the name of what it registers: "weather"
    dist: str  # distribution: "pynchy-weather"
    module: str  # import package: "pynchy_weather"
    cls: str  # class-name prefix: "Weather"

    @classmethod
    def of(cls, raw: str) -> Names:
        name = raw.strip().lower().replace("_", "-")
        name = name.removeprefix("pynchy-")
        if not NAME_RE.match(name) or "--" in name:
            raise UsageError(
                f"invalid plugin name {raw!r}",
                "Use lowercase letters, digits and single dashes, starting with a letter",
            )
        if name in RESERVED:
            raise UsageError(f"{name} is the name of a built-in component", "Pick another name")
        module = "pynchy_" + name.replace("-", "_")
        title = "".join(part.capitalize() for part in name.split("-"))
        return cls(plugin=name, dist=f"pynchy-{name}", module=module, cls=title)


def create(raw_name: str, kind: str, directory: Path | None = None) -> tuple[Names, list[Path]]:
    """Write the package; returns its names and the files written (folder first)."""
    if kind not in KINDS:
        raise UsageError(f"unknown plugin kind {kind!r}", f"Use one of: {', '.join(KINDS)}")
    names = Names.of(raw_name)
    root = (directory or Path.cwd() / names.dist).expanduser().resolve()
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise ConflictError(f"{root} already exists and is not empty", "Give another --dir")
    values = {
        "name": names.plugin,
        "dist": names.dist,
        "module": names.module,
        "cls": names.cls,
        "env": names.plugin.upper().replace("-", "_"),
        "kind": kind,
        "deps": ", ".join(f'"{d}"' for d in ("pynchy", *t.EXTRA_DEPS.get(kind, ()))),
        "summary": t.SUMMARY[kind],
    }
    files = {
        "pyproject.toml": t.PYPROJECT,
        "README.md": t.README + t.README_KIND[kind],
        ".gitignore": t.GITIGNORE,
        f"{names.module}/__init__.py": t.MODULE[kind],
        "tests/conftest.py": t.CONFTEST,
        f"tests/test_{names.module}.py": t.TESTS_COMMON + t.TESTS[kind] + t.TESTS_DISCOVERY,
        **{
            path.replace("MODULE", names.module).replace("NAME", names.plugin): text
            for path, text in t.EXTRA_FILES.get(kind, {}).items()
        },
    }
    written = [root]
    for relative, template in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(Template(template).substitute(values), encoding="utf-8")
        written.append(path)
    return names, written
