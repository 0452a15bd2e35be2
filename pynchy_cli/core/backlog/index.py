"""TODO.md, the backlog's index: one line per item, in one section per status.

Parsing keeps everything it does not understand (the preamble, section blurbs, notes) so an
edit changes only the lines it means to. Rendering normalises blank lines between blocks.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import unquote

from pynchy_cli.core.backlog.model import STATUSES, Status, status_for_heading

INDEX_FILE = "TODO.md"

_HEADING_RE = re.compile(r"^(#{2,6})\s+(.*?)\s*#*\s*$")
_ENTRY_RE = re.compile(r"^[-*+]\s+(?P<body>.*\S)\s*$")
_PRIORITY_RE = re.compile(r"^\*\*\[\s*(?P<level>[^\]]*?)\s+PRIORITY\s*\]\*\*\s*", re.IGNORECASE)
_LINK_RE = re.compile(r"^\[(?P<title>[^\]]+)\]\((?P<link>[^)\s]+)\)\s*(?:[—–:-]+\s*)?(?P<rest>.*)$")

_PREAMBLE = """# Backlog

Single source of truth for this project's work items, managed with `pynchy backlog`
(plain `git mv` and an editor work just as well).

## Instructions

- Each item is a one-line description linking to its plan file in the matching status folder.
- When adding a new idea, create a stub plan file in the appropriate folder and add a line here \
(`pynchy backlog add "TITLE"`).
- Human ideas go straight to `1-approved/`. Agent ideas go to `0-proposed/` (`--by agent`).
- When status changes, `git mv` the plan file to the new folder and move the line to the \
matching section below (`pynchy backlog move ITEM STATUS`).
- When an item is completed or denied, `git mv` it to `5-completed/` or `denied/` and remove \
the line from this file (`pynchy backlog done ITEM`, `pynchy backlog deny ITEM`).
- Keep this file clean. One line per item. Link to the plan for details. \
`pynchy backlog check` verifies this file against the folders.

## Pipeline
"""


@dataclass
class Entry:
    """One item line. `extra` holds indented lines that (wrongly) continue it."""

    line: str
    title: str | None
    link: str | None
    text: str  # the description after the link, or the whole text of an unlinked item
    priority: str | None
    extra: list[str] = field(default_factory=list)

    @classmethod
    def parse(cls, line: str) -> Entry | None:
        match = _ENTRY_RE.match(line)
        if not match:
            return None
        body = match["body"]
        priority = None
        marker = _PRIORITY_RE.match(body)
        if marker:
            priority = marker["level"].lower() or None
            body = body[marker.end() :]
        linked = _LINK_RE.match(body)
        if linked:
            return cls(line, linked["title"].strip(), linked["link"], linked["rest"], priority)
        return cls(line, None, None, body.strip(), priority)

    @property
    def plan_path(self) -> str | None:
        """The linked plan, relative to the backlog folder ("3-ready/x.md"), if it is local."""
        if not self.link or re.match(r"^[a-z][a-z0-9+.-]*:", self.link, re.IGNORECASE):
            return None
        path = unquote(self.link.split("#", 1)[0])
        if not path.endswith(".md") or path.startswith("/"):
            return None
        return posixpath.normpath(path)

    def relinked(self, new_link: str) -> Entry:
        """The same line pointing at another plan path."""
        assert self.link is not None
        line = self.line.replace(f"]({self.link})", f"]({new_link})", 1)
        return Entry(line, self.title, new_link, self.text, self.priority, list(self.extra))


def format_line(title: str, link: str, description: str = "", priority: str | None = None) -> str:
    marker = f"**[{priority.upper()} PRIORITY]** " if priority else ""
    tail = f" — {description}" if description else ""
    return f"- {marker}[{title}]({link}){tail}"


@dataclass
class Section:
    heading: str  # the heading line as written
    status: Status | None
    intro: list[str] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    outro: list[str] = field(default_factory=list)

    @property
    def title(self) -> str:
        match = _HEADING_RE.match(self.heading)
        return match[2] if match else self.heading

    def lines(self) -> list[str]:
        out = [self.heading, *self.intro, ""]
        if self.entries:
            for entry in self.entries:
                out += [entry.line, *entry.extra]
            out.append("")
        if self.outro:
            out += [*self.outro, ""]
        return out


@dataclass
class Index:
    head: list[str]
    sections: list[Section]

    @classmethod
    def parse(cls, text: str) -> Index:
        head: list[str] = []
        sections: list[Section] = []
        for raw in text.splitlines():
            line = raw.rstrip()
            heading = _HEADING_RE.match(line)
            if heading and (sections or status_for_heading(heading[2])):
                sections.append(Section(line, status_for_heading(heading[2])))
                continue
            if not sections:
                head.append(line)
                continue
            section = sections[-1]
            entry = Entry.parse(line) if section.status else None
            if entry:
                section.entries.append(entry)
            elif line and line[0].isspace() and section.entries:
                section.entries[-1].extra.append(line)
            elif not line:
                continue
            elif section.entries:
                section.outro.append(line)
            else:
                section.intro.append(line)
        return cls(head, sections)

    @classmethod
    def template(cls) -> Index:
        sections = [Section(f"### {s.heading}", s, [s.blurb]) for s in STATUSES]
        return cls(_PREAMBLE.splitlines(), sections)

    def render(self) -> str:
        head = list(self.head)
        while head and not head[-1]:
            head.pop()
        lines = [*head, ""] if head else []
        for section in self.sections:
            lines += section.lines()
        while lines and not lines[-1]:
            lines.pop()
        return "\n".join(lines) + "\n"

    # -- queries --------------------------------------------------------------------------

    def items(self) -> Iterator[tuple[Section, Entry]]:
        for section in self.sections:
            for entry in section.entries:
                yield section, entry

    def section(self, status: Status) -> Section | None:
        return next((s for s in self.sections if s.status == status), None)

    def entries_for(self, plan_path: str) -> list[tuple[Section, Entry]]:
        return [(s, e) for s, e in self.items() if e.plan_path == plan_path]

    # -- edits ----------------------------------------------------------------------------

    def remove(self, plan_path: str) -> list[Entry]:
        """Drop every line linking to this plan; return them in index order."""
        removed = []
        for section in self.sections:
            keep = []
            for entry in section.entries:
                (removed if entry.plan_path == plan_path else keep).append(entry)
            section.entries = keep
        return removed

    def remove_entry(self, target: Entry) -> None:
        for section in self.sections:
            section.entries = [e for e in section.entries if e is not target]

    def append(self, status: Status, entry: Entry) -> None:
        """Add a line at the end of the status's section, creating the section if needed."""
        section = self.section(status)
        if section is None:
            section = Section(f"### {status.heading}", status, [status.blurb])
            later = [
                i
                for i, s in enumerate(self.sections)
                if s.status is not None and s.status.order > status.order
            ]
            self.sections.insert(later[0] if later else len(self.sections), section)
        section.entries.append(entry)

    def replace(self, old: Entry, new: Entry) -> None:
        for section in self.sections:
            section.entries = [new if e is old else e for e in section.entries]
