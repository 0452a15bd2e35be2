"""Workspace paths for an MCP server on the host (`[mcp.NAME] map_paths = true`).

The agent knows its files as /workspace/...; a server on the host knows the group's real
folder. For each tool, the arguments its input schema calls path-like (by property name:
path, file, dir, folder, repo_path, sourceFiles, ...; or by `format`: path, file-path,
directory) are rewritten before the call: `/workspace/x` and a relative `x` become the
group folder's real path, resolved (symlinks, `..`). One that then lies outside the group
folder, or an absolute path elsewhere (/etc/passwd), is refused before the server sees
it. Results come back with the folder's real path written as /workspace again, so the
agent never learns where its workspace is on the host.

This keeps a trusted host server to the workspace the agent sees; it is not a confinement:
the server itself can still open anything its user can, and a hostile agent can swap a
folder for a symlink between the check and the call. Third-party code that needs the
files belongs in a container (`container = true`, core.plugins.mcp_container).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from pynchy_cli.protocol import WORKSPACE

# A property is path-like when its last word is one of these (repo_path, sourceFile,
# output-dir), or its whole name is one of these or of PATH_NAMES.
PATH_WORDS = {
    "path", "paths", "file", "files", "filename", "filenames", "filepath", "filepaths",
    "dir", "dirs", "directory", "directories", "folder", "folders",
}  # fmt: skip
PATH_NAMES = {"root", "roots", "repo", "repository", "cwd", "source", "sources", "destination"}
PATH_FORMATS = {"path", "file-path", "filepath", "directory", "dir-path"}
_WORD_RE = re.compile(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])")


class PathRefused(ValueError):
    """An argument that names something outside the workspace."""


def path_like(name: str, schema: Any) -> bool:
    """Does this property hold a path? Its format says so, or its name does (`xpath`,
    `file_content` and `data_source` do not)."""
    if isinstance(schema, dict) and schema.get("format") in PATH_FORMATS:
        return True
    words = [w.lower() for w in _WORD_RE.findall(name)]
    return name.lower() in PATH_WORDS | PATH_NAMES or bool(words) and words[-1] in PATH_WORDS


class WorkspacePaths:
    """The mapping between /workspace and one group's folder on the host."""

    def __init__(self, folder: Path):
        self.given = str(folder)
        self.real = os.path.realpath(folder)

    # --- agent -> host ---------------------------------------------------------------

    def arguments(self, arguments: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
        """The arguments with every path-like value on the host; PathRefused names the
        first one outside the workspace."""
        return self._object(arguments, schema, "")

    def _object(self, value: dict[str, Any], schema: Any, where: str) -> dict[str, Any]:
        props = schema.get("properties", {}) if isinstance(schema, dict) else {}
        out = {}
        for key, item in value.items():
            sub = props.get(key) if isinstance(props, dict) else None
            out[key] = self._value(item, sub, f"{where}{key}", path_like(key, sub))
        return out

    def _value(self, value: Any, schema: Any, where: str, is_path: bool) -> Any:
        if isinstance(value, str):
            return self.to_host(value, where) if is_path else value
        if isinstance(value, list):
            items = schema.get("items") if isinstance(schema, dict) else None
            return [self._value(v, items, f"{where}[{i}]", is_path) for i, v in enumerate(value)]
        if isinstance(value, dict):
            return self._object(value, schema, f"{where}.")
        return value

    def to_host(self, value: str, where: str = "path") -> str:
        """One agent path as the real, resolved host path inside the group folder."""
        if not value:
            return value
        if value.startswith("file://"):
            return "file://" + self.to_host(value.removeprefix("file://"), where)
        if value.startswith("~"):
            raise PathRefused(f"{where} {value!r} is not a workspace path")
        if value.startswith("/"):
            if value != WORKSPACE and not value.startswith(WORKSPACE + "/"):
                raise PathRefused(
                    f"{where} {value!r} is outside the workspace: this server sees only"
                    f" {WORKSPACE} (the group's folder)"
                )
            value = value[len(WORKSPACE) :].lstrip("/")
        resolved = os.path.realpath(os.path.join(self.real, value))
        if resolved != self.real and not resolved.startswith(self.real + os.sep):
            raise PathRefused(
                f"{where} {WORKSPACE}/{value} leads outside the workspace (through '..' or"
                " a symlink): this server sees only the group's folder"
            )
        return resolved

    # --- host -> agent ---------------------------------------------------------------

    def to_agent(self, text: str) -> str:
        """Text from the server with the group folder's host path written as /workspace."""
        for host in sorted({self.real, self.given}, key=len, reverse=True):
            # not inside a longer name: the folder main2 is not main's
            text = re.sub(re.escape(host) + r"(?![\w.-])", WORKSPACE, text)
        return text
