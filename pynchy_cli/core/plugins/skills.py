"""Skills: folders of instructions (SKILL.md) that an agent reads when a task calls for them.

A skill is a folder holding SKILL.md, which starts with front matter:

    ---
    name: release-notes
    description: How to write this project's release notes.
    ---
    The body: steps, conventions, examples...

Skills come from plugins (`pynchy_skills(register)` with a folder), from the user's
config folder (`~/.config/pynchy/skills/NAME/`) and from the group's own folder
(`.claude/skills/NAME/`); on a name clash the group's wins, then the user's.

Progressive disclosure, through a host tool rather than a mount: the system prompt lists
only each skill's name and one-line description, and the host tool `read_skill` returns
a skill's body (with the list of its other files) or one of those files. We chose the
host tool because a mount would put host paths of plugins and of the user's config
into every container and need a mount per skill folder in every runtime, while the host
tool keeps the container seeing only its workspace, works the same with every runtime
and confines each read to the skill's own folder (symlinks resolved first).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pynchy_cli.core.workspace_files import (
    OUTSIDE,
    UnsafePath,
    list_files,
    list_folder,
    parts_of,
    read_text,
)
from pynchy_cli.protocol import MAX_TOOL_OUTPUT, tool_spec

SKILL_FILE = "SKILL.md"
GROUP_SKILLS = ".claude/skills"  # in a group's folder
READ_SKILL = "read_skill"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_DESCRIPTION = 300  # characters of a description put in the system prompt
MAX_LISTED = 100  # other files listed with a skill's body
MAX_SKILL_BYTES = 4 * MAX_TOOL_OUTPUT  # bytes of a skill's file read at most
_SKIP_PARTS = frozenset({"__pycache__", ".git", "node_modules"})


@dataclass(frozen=True)
class Skill:
    name: str
    description: str
    root: Path  # every file is read through core.workspace_files, relative to root
    base: str  # the skill's folder relative to root: "" for a plugin's or the user's skill
    source: str  # plugin | user | group

    @property
    def folder(self) -> Path:
        return self.root / self.base

    def path_of(self, file: str) -> str:
        """A file of the skill, relative to root; UnsafePath if it leaves the skill."""
        parts = parts_of(file)
        return "/".join([self.base, *parts] if self.base else parts)


def parse_skill(text: str) -> tuple[dict[str, str], str]:
    """(front matter, body) of a SKILL.md. The front matter is a YAML-ish block of
    `key: value` lines between two `---` lines; values may be quoted, and indented
    lines continue the value above (as in YAML's folded `>` blocks)."""
    lines = text.lstrip("\ufeff").splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text.strip()
    meta: dict[str, str] = {}
    key = None
    for i, line in enumerate(lines[1:], 1):
        if line.strip() == "---":
            return meta, "\n".join(lines[i + 1 :]).strip()
        match = re.match(r"^([A-Za-z0-9_-]+)\s*:\s*(.*)$", line)
        if match and not line[:1].isspace():
            key, value = match.group(1).lower(), match.group(2).strip()
            if value in (">", "|", ">-", "|-"):
                value = ""
            meta[key] = _unquote(value)
        elif key is not None and line.strip():
            meta[key] = (meta[key] + " " + line.strip()).strip()
    return {}, text.strip()  # no closing line: not front matter


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def _one_line(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= MAX_DESCRIPTION else line[: MAX_DESCRIPTION - 3] + "..."


def load_skill(root: Path, base: str, source: str) -> Skill:
    """The skill in root/base; ValueError if it is not one. Nothing under root is
    followed if it is a symlink (a group's skills are written by its container)."""
    shown = base or str(root)
    try:
        skill_file = f"{base}/{SKILL_FILE}" if base else SKILL_FILE
        text, _cut = read_text(root, skill_file, max_bytes=MAX_SKILL_BYTES)
    except FileNotFoundError:
        raise ValueError(f"{shown} has no {SKILL_FILE}") from None
    except UnsafePath as exc:
        raise ValueError(str(exc)) from None
    meta, _body = parse_skill(text)
    name = meta.get("name") or (base.rsplit("/", 1)[-1] if base else root.name)
    if not NAME_RE.match(name):
        raise ValueError(f"{shown}: skill name {name!r} is not a simple word")
    description = _one_line(meta.get("description", "")) or "(no description)"
    return Skill(name, description, root, base, source)


def _skill_folders(root: Path, base: str) -> tuple[list[str], list[str]]:
    """(folders, warnings): the skill folders in root/base; symlinked ones are skipped."""
    try:
        entries = list_folder(root, base)
    except FileNotFoundError:
        return [], []
    except UnsafePath as exc:
        return [], [f"skills skipped: {exc}"]
    folders, warnings = [], []
    for entry in entries:
        path = f"{base}/{entry.name}" if base else entry.name
        if entry.name.startswith("."):
            continue
        if entry.kind == "symlink":
            warnings.append(f"skill skipped: {path} is a symlink")
        elif entry.kind == "folder":
            folders.append(path)
    return folders, warnings


def find_skills(
    registered: list[Any], user_dir: Path | None, group_dir: Path | None
) -> tuple[dict[str, Skill], list[str]]:
    """Every skill a run of this group can read, and warnings about broken ones."""
    found: dict[str, Skill] = {}
    warnings: list[str] = []

    def add(root: Path, base: str, source: str) -> None:
        try:
            skill = load_skill(root, base, source)
        except (OSError, ValueError) as exc:
            warnings.append(f"skill skipped: {exc}")
            return
        found[skill.name] = skill

    for item in registered:
        if isinstance(item, str | Path):
            add(Path(item).resolve(), "", "plugin")
        else:
            warnings.append(f"a plugin registered a skill that is not a folder: {item!r}")
    # The user's folder is the host's own: its skill folders may be symlinks to elsewhere.
    if user_dir is not None and user_dir.is_dir():
        for folder in sorted(user_dir.iterdir()):
            if folder.is_dir() and not folder.name.startswith("."):
                add(folder.resolve(), "", "user")
    # The group's is its container's: nothing there is followed.
    if group_dir is not None:
        folders, refused = _skill_folders(group_dir, GROUP_SKILLS)
        warnings += refused
        for base in folders:
            add(group_dir, base, "group")
    return found, warnings


def read_skill_spec(skills: dict[str, Skill]) -> dict[str, Any]:
    return tool_spec(
        READ_SKILL,
        "Read a skill: its instructions (SKILL.md) and the list of its other files. "
        "With `file`, read one of those files instead.",
        {
            "name": {"type": "string", "enum": sorted(skills)},
            "file": {"type": "string", "description": "a file of the skill, e.g. reference.md"},
        },
        ["name"],
    )


def _clip(text: str) -> str:
    if len(text) <= MAX_TOOL_OUTPUT:
        return text
    return text[:MAX_TOOL_OUTPUT] + f"\n... [{len(text) - MAX_TOOL_OUTPUT} characters cut]"


def _files(skill: Skill) -> list[str]:
    try:
        files, more = list_files(skill.root, skill.base, skip=_SKIP_PARTS, limit=MAX_LISTED)
    except (OSError, UnsafePath):
        return []
    return [f for f in files if f != SKILL_FILE] + (["..."] if more else [])


def read_skill(skills: dict[str, Skill], name: str, file: str | None = None) -> tuple[str, bool]:
    """(text, is_error): a skill's body with its file list, or one of its files. A
    symlink, a FIFO or a path leaving the skill's folder is refused."""
    skill = skills.get(name)
    if skill is None:
        return f"no skill {name!r}; skills: {', '.join(sorted(skills)) or 'none'}", True
    shown = file or SKILL_FILE
    try:
        text, cut = read_text(skill.root, skill.path_of(shown), max_bytes=MAX_SKILL_BYTES)
    except UnsafePath as exc:
        if exc.problem == OUTSIDE:
            return f"{file} is outside the skill {name}", True
        return f"refused: {exc}", True
    except FileNotFoundError:
        return f"the skill {name} has no file {file}", True
    except OSError as exc:
        return f"cannot read {shown}: {exc.strerror or exc}", True
    if cut:
        text += f"\n... [cut at {MAX_SKILL_BYTES} bytes]"
    if file:
        return _clip(text), False
    _meta, body = parse_skill(text)
    others = _files(skill)
    if others:
        body += "\n\n---\nOther files of this skill (read one with read_skill and file):\n"
        body += "\n".join(f"- {f}" for f in others)
    return _clip(body), False
