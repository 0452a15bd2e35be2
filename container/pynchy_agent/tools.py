"""The tools that act inside the container, confined to the workspace folder."""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pynchy_cli.protocol import MAX_TOOL_OUTPUT, trim_text


class ToolError(Exception):
    """A tool call that failed in a way the model should see and can fix."""


def _clip(text: str) -> str:
    return trim_text(text, MAX_TOOL_OUTPUT)  # the runner trims again to the run's limit


class Workspace:
    def __init__(self, root: str):
        self.root = Path(root).resolve()

    def path(self, relative: str | None, *, must_exist: bool = True) -> Path:
        """Resolve a path given by the model; it must stay inside the workspace."""
        target = (self.root / (relative or ".")).resolve()
        if target != self.root and self.root not in target.parents:
            raise ToolError(f"{relative} is outside the workspace")
        if must_exist and not target.exists():
            raise ToolError(f"{relative} does not exist")
        return target

    def rel(self, path: Path) -> str:
        return str(path.relative_to(self.root)) if path != self.root else "."

    # --- tools -------------------------------------------------------------------------

    def read_file(self, path: str, offset: int = 1, limit: int = 2000) -> str:
        target = self.path(path)
        if target.is_dir():
            raise ToolError(f"{path} is a folder; use list_files")
        try:
            lines = target.read_text(errors="replace").splitlines()
        except OSError as exc:
            raise ToolError(f"cannot read {path}: {exc.strerror}") from exc
        start = max(int(offset), 1)
        chosen = lines[start - 1 : start - 1 + max(int(limit), 1)]
        return _clip("\n".join(f"{n:>6}\t{text}" for n, text in enumerate(chosen, start)))

    def write_file(self, path: str, content: str) -> str:
        target = self.path(path, must_exist=False)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
        return f"wrote {len(content)} characters to {self.rel(target)}"

    def edit_file(self, path: str, old_text: str, new_text: str, replace_all: bool = False) -> str:
        target = self.path(path)
        text = target.read_text()
        count = text.count(old_text)
        if count == 0:
            raise ToolError(f"old_text not found in {path}")
        if count > 1 and not replace_all:
            raise ToolError(f"old_text occurs {count} times in {path}; make it unique")
        text = (
            text.replace(old_text, new_text) if replace_all else text.replace(old_text, new_text, 1)
        )
        target.write_text(text)
        return f"replaced {count if replace_all else 1} occurrence(s) in {self.rel(target)}"

    def list_files(self, pattern: str = "**/*", path: str = ".") -> str:
        base = self.path(path)
        found = sorted(
            self.rel(p) + ("/" if p.is_dir() else "")
            for p in base.glob(pattern)
            if ".git" not in p.relative_to(base).parts
        )
        return _clip("\n".join(found[:2000])) if found else "(no files match)"

    def grep(self, pattern: str, path: str = ".", glob: str | None = None) -> str:
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise ToolError(f"bad regular expression: {exc}") from exc
        base = self.path(path)
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        hits: list[str] = []
        for file in files:
            if ".git" in file.parts or (glob and not fnmatch.fnmatch(file.name, glob)):
                continue
            try:
                for n, line in enumerate(file.read_text(errors="strict").splitlines(), 1):
                    if regex.search(line):
                        hits.append(f"{self.rel(file)}:{n}:{line}")
            except (UnicodeDecodeError, OSError):
                continue  # binary or unreadable
            if len(hits) >= 1000:
                break
        return _clip("\n".join(hits)) if hits else "(no matches)"

    def bash(self, command: str, timeout: int = 120) -> str:
        timeout = min(max(int(timeout), 1), 600)
        try:
            done = subprocess.run(
                ["bash", "-c", command],
                cwd=self.root,
                capture_output=True,
                text=True,
                errors="replace",
                timeout=timeout,
                env={**os.environ, "PWD": str(self.root)},
            )
        except subprocess.TimeoutExpired as exc:
            raise ToolError(f"command timed out after {timeout}s") from exc
        out = f"exit code: {done.returncode}\n"
        if done.stdout:
            out += f"stdout:\n{done.stdout}"
        if done.stderr:
            out += f"\nstderr:\n{done.stderr}"
        return _clip(out)

    def handlers(self) -> dict[str, Callable[..., str]]:
        return {
            "read_file": self.read_file,
            "write_file": self.write_file,
            "edit_file": self.edit_file,
            "list_files": self.list_files,
            "grep": self.grep,
            "bash": self.bash,
        }


def run_local_tool(workspace: Workspace, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
    """Run one local tool; returns (content, is_error). Never raises for tool failures."""
    handler = workspace.handlers().get(name)
    if handler is None:
        return f"unknown tool {name}", True
    try:
        return handler(**arguments), False
    except ToolError as exc:
        return str(exc), True
    except TypeError as exc:
        return f"bad arguments for {name}: {exc}", True
    except OSError as exc:
        return f"{name} failed: {exc}", True
