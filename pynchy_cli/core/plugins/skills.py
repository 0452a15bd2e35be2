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

from pynchy_cli.protocol import MAX_TOOL_OUTPUT, tool_spec

SKILL_FILE = "SKILL.md"
READ_SKILL = "read_skill"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
MAX_DESCRIPTION = 300  # characters of a description put in the system prompt
MAX_LISTED = 100  # other files listed with a skill's body
_SKIP_PARTS = {"__pycache__", ".git", "node_modules"}


@dataclass(frozen=True)
class Skill:
    name: str
    description: str
    folder: Path  # resolved
    source: str  # plugin | user | group


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


def load_skill(folder: Path, source: str, within: Path | None = None) -> Skill:
    """The skill in `folder`; ValueError if it is not one. `within`: the folder must
    resolve to a place inside it (a group's skills must stay in the group's folder)."""
    resolved = folder.resolve()
    if within is not None and not resolved.is_relative_to(within.resolve()):
        raise ValueError(f"{folder} points outside {within}")
    skill_file = (resolved / SKILL_FILE).resolve()
    if skill_file.parent != resolved or not skill_file.is_file():
        raise ValueError(f"{folder} has no {SKILL_FILE}")
    meta, _body = parse_skill(skill_file.read_text(errors="replace"))
    name = meta.get("name") or folder.name
    if not NAME_RE.match(name):
        raise ValueError(f"{folder}: skill name {name!r} is not a simple word")
    description = _one_line(meta.get("description", "")) or "(no description)"
    return Skill(name, description, resolved, source)


def find_skills(
    registered: list[Any], user_dir: Path | None, group_dir: Path | None
) -> tuple[dict[str, Skill], list[str]]:
    """Every skill a run of this group can read, and warnings about broken ones."""
    found: dict[str, Skill] = {}
    warnings: list[str] = []

    def add(folder: Path, source: str, within: Path | None = None) -> None:
        try:
            skill = load_skill(folder, source, within)
        except (OSError, ValueError) as exc:
            warnings.append(f"skill skipped: {exc}")
            return
        found[skill.name] = skill

    for item in registered:
        if isinstance(item, str | Path):
            add(Path(item), "plugin")
        else:
            warnings.append(f"a plugin registered a skill that is not a folder: {item!r}")
    for base, source, within in (
        (user_dir, "user", None),
        (group_dir / ".claude" / "skills" if group_dir else None, "group", group_dir),
    ):
        if base is None or not base.is_dir():
            continue
        for folder in sorted(base.iterdir()):
            if folder.is_dir() and not folder.name.startswith("."):
                add(folder, source, within)
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
    out = []
    for path in sorted(skill.folder.rglob("*")):
        rel = path.relative_to(skill.folder)
        if path.is_file() and rel.as_posix() != SKILL_FILE and not _SKIP_PARTS & set(rel.parts):
            out.append(rel.as_posix())
            if len(out) >= MAX_LISTED:
                out.append("...")
                break
    return out


def read_skill(skills: dict[str, Skill], name: str, file: str | None = None) -> tuple[str, bool]:
    """(text, is_error): a skill's body with its file list, or one of its files."""
    skill = skills.get(name)
    if skill is None:
        return f"no skill {name!r}; skills: {', '.join(sorted(skills)) or 'none'}", True
    target = (skill.folder / (file or SKILL_FILE)).resolve()
    if not target.is_relative_to(skill.folder):
        return f"{file} is outside the skill {name}", True
    if not target.is_file():
        return f"the skill {name} has no file {file}", True
    try:
        text = target.read_text(errors="replace")
    except OSError as exc:
        return f"cannot read {file or SKILL_FILE}: {exc.strerror}", True
    if file:
        return _clip(text), False
    _meta, body = parse_skill(text)
    others = _files(skill)
    if others:
        body += "\n\n---\nOther files of this skill (read one with read_skill and file):\n"
        body += "\n".join(f"- {f}" for f in others)
    return _clip(body), False
