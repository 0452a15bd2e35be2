"""The built-in hook plugin `selfdoc`: documentation holds only commands that worked.

"Run the commands and be sure they work before writing docs; otherwise it is a hypothesis,
not documentation." In the groups `[plugin.selfdoc] groups` names, pynchy records each bash
command the agent runs and its exit code (after_tool); when the agent writes a doc file
(write_file or edit_file of its memory CLAUDE.md, anything under .claude/, docs/*.md) whose
shell blocks gain commands that did not exit 0 in this run, the write is refused with the
commands and why (`mode = "refuse"`, the default), or goes through with
`<!-- unverified: not run in this session -->` above each such block (`mode = "mark"`).

    [plugin.selfdoc]
    groups = ["main"]            # or ["*"]; none unless named
    mode = "refuse"              # or "mark"
    docs = ["CLAUDE.md", "*/CLAUDE.md", ".claude/*.md", "docs/*.md"]   # fnmatch patterns

Commands the file already had are left alone, and so is a block already marked
unverified. Writes made by shell commands (`cat > docs/x.md`) are not seen. Like every
tool check this is a policy for a cooperating runner, not a security boundary.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import threading
from pathlib import Path
from typing import Any

from pynchy_cli.core.plugins import doc_commands
from pynchy_cli.core.plugins.hookspecs import Problem, hookimpl
from pynchy_cli.core.plugins.lifecycle import RunInfo, ToolResult
from pynchy_cli.core.workspace_files import UnsafePath, read_text
from pynchy_cli.protocol import WORKSPACE

NAME = "selfdoc"
MODES = ("refuse", "mark")
DOC_PATTERNS = ("CLAUDE.md", "*/CLAUDE.md", ".claude/*.md", "docs/*.md")
MAX_DOC_BYTES = 1_000_000
MAX_RECORDED = 5000  # bash calls remembered per run
_EXIT = re.compile(r"^exit code: (-?\d+)")

# run id -> (command, exit code or None when it did not finish), in order
_ran: dict[str, list[tuple[str, int | None]]] = {}
_lock = threading.Lock()


def _table(run: RunInfo) -> dict[str, Any]:
    table = run.settings.plugin.get(NAME)
    return table if isinstance(table, dict) else {}


@hookimpl
def pynchy_after_tool(run: RunInfo, tool: str, arguments: dict, result: ToolResult) -> None:
    command = arguments.get("command")
    if tool != "bash" or not isinstance(command, str):
        return
    found = None if result.is_error else _EXIT.match(result.content)
    with _lock:
        ran = _ran.setdefault(run.run_id, [])
        if len(ran) < MAX_RECORDED:
            ran.append((command, int(found.group(1)) if found else None))


@hookimpl
def pynchy_after_run(run: RunInfo) -> None:
    with _lock:
        _ran.pop(run.run_id, None)


def commands_run(run_id: str) -> list[tuple[str, int | None]]:
    """The bash commands recorded for a run so far, with their exit codes."""
    with _lock:
        return list(_ran.get(run_id, []))


@hookimpl
def pynchy_before_tool(run: RunInfo, tool: str, arguments: dict) -> dict | str | None:
    if tool not in ("write_file", "edit_file"):
        return None
    rel = _workspace_path(run, arguments.get("path"))
    patterns = _table(run).get("docs") or DOC_PATTERNS
    if rel is None or not any(fnmatch.fnmatchcase(rel, str(p)) for p in patterns):
        return None
    old = _current(run.folder, rel)
    new = _after(tool, arguments, old)
    if new is None:
        return None  # the tool itself will say what is wrong with the call
    ran = commands_run(run.run_id)
    worked = set().union(*(doc_commands.shown_to_work(c) for c, code in ran if code == 0))
    lacking = doc_commands.unverified(new, old, worked.__contains__)
    if not lacking:
        return None
    if _table(run).get("mode") == "mark":
        marked = doc_commands.mark(new, [block for block, _ in lacking])
        if tool == "write_file":
            return {**arguments, "content": marked}
        # The whole file in one replacement: the marks may sit outside new_text.
        return {"path": arguments["path"], "old_text": old, "new_text": marked}
    return _refusal(rel, [c for _, commands in lacking for c in commands], ran)


pynchy_before_tool.tools = ("write_file", "edit_file")  # the doc writes it checks


def _refusal(rel: str, commands: list[str], ran: list[tuple[str, int | None]]) -> str:
    failed = {}
    for command, code in ran:
        for shown in doc_commands.shown_to_work(command):
            failed[shown] = code
    notes = []
    for command in dict.fromkeys(commands):
        code = failed.get(doc_commands.words(command), "absent")
        why = (
            "not run in this session"
            if code == "absent"
            else ("did not finish" if code is None else f"exited {code}")
        )
        notes.append(f"`{command}` ({why})")
    return (
        f"{rel} documents commands that did not run successfully in this session: "
        f"{'; '.join(notes)}. Run each with bash first and write the doc once it works, "
        f"or put {doc_commands.UNVERIFIED_MARK} above the block"
    )


def _workspace_path(run: RunInfo, path: Any) -> str | None:
    """The tool's path relative to the workspace, or None when it is not in it."""
    if not isinstance(path, str) or not path:
        return None
    for root in (WORKSPACE, str(run.folder)):  # the container's, the process runtime's
        if path == root or path.startswith(root.rstrip("/") + "/"):
            path = path[len(root.rstrip("/")) + 1 :]
            break
    rel = posixpath.normpath(path)
    if rel.startswith(("/", "../")) or rel in (".", ".."):
        return None
    return rel


def _current(folder: Path, rel: str) -> str:
    """The doc as it is now ("" when it does not exist or is not a plain file)."""
    try:
        text, _cut = read_text(folder, rel, max_bytes=MAX_DOC_BYTES)
    except (FileNotFoundError, NotADirectoryError, UnsafePath, OSError):
        return ""
    return text


def _after(tool: str, arguments: dict, old: str) -> str | None:
    """The doc as the call would leave it, or None when the call cannot work."""
    if tool == "write_file":
        content = arguments.get("content")
        return content if isinstance(content, str) else None
    old_text, new_text = arguments.get("old_text"), arguments.get("new_text")
    if not isinstance(old_text, str) or not isinstance(new_text, str) or not old_text:
        return None
    count = old.count(old_text)
    if count == 0 or (count > 1 and not arguments.get("replace_all")):
        return None
    return old.replace(old_text, new_text, -1 if arguments.get("replace_all") else 1)


@hookimpl
def pynchy_doctor(settings: Any) -> list[Problem]:
    table = settings.plugin.get(NAME) or {}
    problems = []
    if table.get("mode", "refuse") not in MODES:
        problems.append(
            Problem(NAME, f"mode {table['mode']!r} is unknown", 'Set mode = "refuse" or "mark"')
        )
    groups = table.get("groups")
    if groups is not None and not (
        isinstance(groups, list) and all(isinstance(g, str) for g in groups)
    ):
        problems.append(Problem(NAME, "groups must be a list of group names", 'groups = ["main"]'))
    return [Problem(p.name, p.what, p.fix, kind="hook") for p in problems]
