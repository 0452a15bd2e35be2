"""A group's memory as progressive disclosure, not one ever-growing file.

The layout: CLAUDE.md at the workspace's root is a short index that every run reads into
its system prompt (who is here, preferences, pointers); details live in skills,
`.claude/skills/NAME/SKILL.md` (front matter `name` and `description`), of which the prompt
lists only names and descriptions and the agent reads the rest with read_skill when a task
needs it. The system prompt (core.agent.prompt) tells the agent to keep it that way.

Existing groups are moved to the layout once, on their first run (`organise_once`): a
CLAUDE.md over INDEX_MAX_LINES lines has each section (a `## ` heading and what follows,
or `# ` headings when it has no `## `) of at least SECTION_MIN_LINES lines moved, verbatim,
into a skill of its own, and a pointer line `- HEADING: skill NAME` put in its place. Every
line is kept: each is either still in the index or in exactly one new skill. Smaller files,
small sections, the text before the first heading and headings inside code blocks stay.
Only workspaces pynchy made (under the data folder's groups/) are rewritten: a folder a
person brought (`groups add --folder`, a repository, say) is theirs. All reads and writes
go through core.workspace_files: a container may have planted symlinks there.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from sqlite_utils import Database

from pynchy_cli.core.db import utcnow
from pynchy_cli.core.groups import MEMORY_FILE, Group
from pynchy_cli.core.paths import Paths
from pynchy_cli.core.plugins.skills import GROUP_SKILLS as SKILLS_DIR
from pynchy_cli.core.plugins.skills import SKILL_FILE
from pynchy_cli.core.workspace_files import (
    UnsafePath,
    folder_fd,
    list_folder,
    read_text,
    write_file,
)

log = logging.getLogger("pynchy.memory")

INDEX_MAX_LINES = 60  # an index longer than this is split, and the prompt asks for less
SECTION_MIN_LINES = 8  # sections shorter than this stay in the index
MAX_MEMORY_BYTES = 2_000_000
_HEADING = re.compile(r"^(#{1,6})\s+(\S.*?)\s*#*\s*$")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")


@dataclass(frozen=True)
class Section:
    start: int  # line index of its heading
    end: int  # one past its last line
    title: str


@dataclass
class Split:
    index: str
    skills: dict[str, str] = field(default_factory=dict)  # skill name -> SKILL.md text


def _headings(lines: list[str]) -> list[tuple[int, int, str]]:
    """(line index, level, title) of each heading outside fenced code blocks."""
    found, fence = [], ""
    for i, line in enumerate(lines):
        opened = _FENCE.match(line)
        if opened:
            mark = opened.group(1)
            if not fence:
                fence = mark
            elif (
                mark[0] == fence[0] and len(mark) >= len(fence) and not line.strip(mark[0]).strip()
            ):
                fence = ""
            continue
        heading = None if fence else _HEADING.match(line)
        if heading:
            found.append((i, len(heading.group(1)), heading.group(2)))
    return found


def sections(lines: list[str]) -> list[Section]:
    """The sections a long memory file is split by: `## ` ones, or else `# ` ones but the
    first (the title)."""
    headings = _headings(lines)
    level = 2 if any(lv == 2 for _, lv, _ in headings) else 1
    found = []
    for n, (start, lv, title) in enumerate(headings):
        if lv != level or (level == 1 and n == 0):
            continue
        end = next((s for s, other, _ in headings[n + 1 :] if other <= level), len(lines))
        found.append(Section(start, end, title))
    return found


def slug(title: str) -> str:
    words = re.sub(r"[^a-z0-9]+", " ", title.lower()).split()
    name = ""
    for word in words:
        if len(name) + len(word) + 1 > 40:
            break
        name = f"{name}-{word}" if name else word
    return name or "notes"


def _description(title: str, body: list[str]) -> str:
    first = next((line.strip() for line in body if line.strip()), "")
    first = re.sub(r"^[-*+>#\s]+", "", first)
    text = f"{title}: {first}" if first else title
    text = " ".join(text.split())
    return (text[:197] + "...") if len(text) > 200 else text


def split_memory(text: str, taken: set[str]) -> Split | None:
    """The index and the new skills for a memory file too long to stay whole, or None.
    `taken`: skill names already in use (a new one gets -2, -3, ... instead)."""
    lines = text.splitlines(keepends=True)
    if len(lines) <= INDEX_MAX_LINES:
        return None
    moving = [s for s in sections(lines) if s.end - s.start >= SECTION_MIN_LINES]
    if not moving:
        return None
    split = Split(index="")
    index: list[str] = []
    cursor = 0
    used = set(taken)
    for section in moving:
        index += lines[cursor : section.start]
        name = base = slug(section.title)
        n = 2
        while name in used:
            name, n = f"{base}-{n}", n + 1
        used.add(name)
        body = lines[section.start : section.end]
        description = _description(section.title, body[1:])
        front = f"---\nname: {name}\ndescription: {description}\n---\n"
        verbatim = "".join(body)  # blank lines included: every line is kept
        split.skills[name] = front + verbatim + ("" if verbatim.endswith("\n") else "\n")
        index.append(f"- {section.title}: skill `{name}` (read_skill {name})\n")
        cursor = section.end
    index += lines[cursor:]
    split.index = "".join(index)
    return split


def organise(folder: Path) -> list[str]:
    """Split the folder's CLAUDE.md into an index and skills if it is long; the names of
    the skills made ([] when nothing was done)."""
    try:
        text, cut = read_text(folder, MEMORY_FILE, max_bytes=MAX_MEMORY_BYTES)
    except (FileNotFoundError, UnsafePath, OSError):
        return []
    if cut:  # too large to rewrite without losing its end
        return []
    split = split_memory(text, _skill_names(folder))
    if split is None:
        return []
    made = []
    for name, skill in split.skills.items():
        rel = f"{SKILLS_DIR}/{name}/{SKILL_FILE}"
        # Skills first: a crash before the index is rewritten duplicates lines, never loses one.
        if not write_file(folder, rel, skill, replace=False, make_folders=True):
            raise FileExistsError(rel)
        made.append(name)
    write_file(folder, MEMORY_FILE, split.index)
    _same_owner(folder, [".claude", SKILLS_DIR, *[f"{SKILLS_DIR}/{n}" for n in made]], made)
    return made


def _skill_names(folder: Path) -> set[str]:
    try:
        return {e.name for e in list_folder(folder, SKILLS_DIR)}
    except (FileNotFoundError, UnsafePath, OSError):
        return set()


def _same_owner(folder: Path, folders: list[str], skills: list[str]) -> None:
    """What the host made belongs to the workspace's owner (the agent's uid when pynchy
    runs as root), so the agent can edit its skills; no symlink is followed."""
    if os.geteuid() != 0:
        return
    owner = os.lstat(folder)
    paths = [*folders, *(f"{SKILLS_DIR}/{n}/{SKILL_FILE}" for n in skills), MEMORY_FILE]
    for rel in dict.fromkeys(paths):
        parent, _, name = rel.rpartition("/")
        with folder_fd(folder, parent) as fd:
            os.chown(name, owner.st_uid, owner.st_gid, dir_fd=fd, follow_symlinks=False)


def organise_once(db: Database, paths: Paths, group: Group) -> list[str]:
    """Put a group's memory in the layout, once per group (recorded in the database);
    notes for the run's transcript. A folder outside the data folder's groups/ is left as
    it is."""
    if db["memory_layout"].count_where("group_id = ?", [group.id]):
        return []
    ours = Path(os.path.realpath(paths.groups_dir)) in Path(os.path.realpath(group.path)).parents
    try:
        made = organise(group.path) if ours else []
    except Exception as exc:  # a workspace the container changed meanwhile: next run
        log.warning("memory of group %s not organised: %s", group.name, exc)
        return [f"memory: {MEMORY_FILE} not split into skills ({exc}); tried again next run"]
    db["memory_layout"].insert(
        {"group_id": group.id, "done_at": utcnow(), "moved": json.dumps(made)}, ignore=True
    )
    if not made:
        return []
    log.info("memory of group %s split into skills: %s", group.name, ", ".join(made))
    return [
        f"memory: {MEMORY_FILE} was long; its sections moved, whole, into the skills "
        f"{', '.join(made)} (under {SKILLS_DIR}/); the index keeps a line for each"
    ]
