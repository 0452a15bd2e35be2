"""The system prompt the host gives a run, recorded with the run for `agent trace`."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from pynchy_cli.core.groups import MEMORY_FILE, Group
from pynchy_cli.core.memory_layout import INDEX_MAX_LINES, SKILLS_DIR
from pynchy_cli.core.workspace_files import UnsafePath, read_text
from pynchy_cli.protocol import GLOBAL_MEMORY, WORKSPACE

_MAX_MEMORY = 20_000  # characters of each memory file put in the prompt


def _read_memory(folder: Path, label: str, warnings: list[str]) -> str:
    """The memory file of `folder` (a group's workspace, which its container writes), read
    without following symlinks; refused or unreadable, it counts as empty and
    `warnings` says why (never what a symlink points at)."""
    try:
        text, cut = read_text(folder, MEMORY_FILE, max_bytes=4 * _MAX_MEMORY)
    except FileNotFoundError:
        return ""
    except UnsafePath as exc:
        warnings.append(f"{label} {exc}: ignored")
        return ""
    except OSError as exc:
        warnings.append(f"{label} {MEMORY_FILE} unreadable ({exc.strerror or exc}): ignored")
        return ""
    if cut or len(text) > _MAX_MEMORY:
        return text[:_MAX_MEMORY] + "\n[... memory cut]"
    return text


def system_prompt(
    assistant_name: str,
    group: Group,
    global_memory_dir: Path,
    tool_names: list[str],
    now: datetime | None = None,
    skills: list[tuple[str, str]] | None = None,
    warnings: list[str] | None = None,
) -> str:
    """`skills`: (name, one-line description) pairs. Only these go into the prompt; the
    agent reads a skill's body with the read_skill tool when a task calls for it.
    `warnings` collects memory files that were refused."""
    warnings = [] if warnings is None else warnings
    now = now or datetime.now().astimezone()
    parts = [
        f"You are {assistant_name}, a personal assistant. You are answering in the group "
        f'"{group.name}".',
        f"Current time: {now.isoformat(timespec='minutes')}.",
        f"Your workspace is {WORKSPACE}: files you create there persist between runs. "
        f"Shared global memory, read-only, is at {GLOBAL_MEMORY}.",
        _memory_guide("write_file" in tool_names),
        "Your final answer is sent to the group; use send_message for messages before that.",
        "Tools: " + ", ".join(tool_names) + ".",
    ]
    if skills:
        listed = "\n".join(f"- {name}: {description}" for name, description in skills)
        parts.append(
            "Skills are instructions for particular tasks. When a task matches one, read it "
            f"first with read_skill (name) and follow it.\n<skills>\n{listed}\n</skills>"
        )
    global_text = _read_memory(global_memory_dir, "global memory file", warnings)
    if global_text.strip():
        parts.append(f"<global_memory>\n{global_text.strip()}\n</global_memory>")
    group_text = _read_memory(group.path, "memory file", warnings)
    if group_text.strip():
        parts.append(f"<group_memory>\n{group_text.strip()}\n</group_memory>")
        lines = len(group_text.strip().splitlines())
        if lines > INDEX_MAX_LINES:
            parts.append(
                f"Your {MEMORY_FILE} has {lines} lines, more than {INDEX_MAX_LINES}: move "
                "details out of it into skills when you next write to it."
            )
    return "\n\n".join(parts)


def _memory_guide(can_write: bool) -> str:
    """How the agent's memory is laid out (core.memory_layout), and how to keep it so."""
    guide = (
        f"Your memory is {WORKSPACE}/{MEMORY_FILE}, a short index read into every run (below): "
        "durable facts such as who is here, preferences and ongoing work, and one line per "
        f"skill. Keep it under {INDEX_MAX_LINES} lines. Details (procedures, reference notes, "
        f"long lists) live in skills, {WORKSPACE}/{SKILLS_DIR}/NAME/SKILL.md: each run lists "
        "them by name and description, and read_skill reads one when a task needs it."
    )
    if can_write:
        guide += (
            " To add a skill, write that file starting with front matter (a line ---, "
            "name: NAME, description: one line saying when to read it, a line ---), then "
            f"add `- TOPIC: skill NAME` to {MEMORY_FILE}; it is listed from the next run. "
            f"When {MEMORY_FILE} grows, move sections into skills rather than adding to it."
        )
    return guide
