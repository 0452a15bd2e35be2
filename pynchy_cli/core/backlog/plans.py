"""Plan files: one markdown file per item, in the folder of its status.

The format (also written to the backlog's README.md by `pynchy backlog init`):

    # Title

    One-line description.

    - **By:** human
    - **Priority:** low

    ## Context
    ## Plan
    ## Done

The status is the folder, never a field, so a status change is a pure rename in git.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

README_FILE = "README.md"

_TITLE_RE = re.compile(r"^#\s+(.+?)\s*#*\s*$")
_META_RE = re.compile(r"^[-*]\s+\*\*(?P<key>[A-Za-z][A-Za-z ]*?):\*\*\s*(?P<value>.*?)\s*$")
SECTIONS = ("Context", "Plan", "Done")

_PLACEHOLDERS = {
    "Context": "_Why this matters, what it touches, links._",
    "Plan": "_The steps, once planned._",
    "Done": "_What was done and where (commits, PRs), once completed._",
}


@dataclass
class Plan:
    title: str
    description: str = ""
    meta: dict[str, str] = field(default_factory=dict)  # lowercase keys: by, priority, ...

    @property
    def priority(self) -> str | None:
        return self.meta.get("priority") or None

    @property
    def by(self) -> str | None:
        return self.meta.get("by") or None

    @classmethod
    def parse(cls, text: str, fallback_title: str = "") -> Plan:
        """Title, description and metadata from the part of a plan before its first `##`."""
        title, description, meta = "", "", {}
        for line in text.splitlines():
            stripped = line.strip()
            if stripped.startswith("## "):
                break
            heading = _TITLE_RE.match(stripped)
            if heading and not title:
                title = heading[1]
                continue
            item = _META_RE.match(stripped)
            if item:
                meta[item["key"].strip().lower()] = item["value"]
            elif stripped and title and not description:
                description = stripped
        return cls(title or fallback_title, description, meta)

    def stub(self) -> str:
        lines = [f"# {self.title}", ""]
        if self.description:
            lines += [self.description, ""]
        if self.meta:
            lines += [f"- **{key.capitalize()}:** {value}" for key, value in self.meta.items()]
            lines.append("")
        for name in SECTIONS:
            lines += [f"## {name}", "", _PLACEHOLDERS[name], ""]
        return "\n".join(lines).rstrip() + "\n"


def read_plan(path: Path) -> Plan:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    return Plan.parse(text, fallback_title=path.stem.replace("-", " ").capitalize())


README = """# Backlog folders

`TODO.md` is the index: one line per open item, in the section of its status, linking to the
item's plan file. Each status has a folder, and a plan lives in the folder of its status:

| folder | status | in TODO.md |
|---|---|---|
| `0-proposed/` | agent ideas awaiting human review | yes |
| `1-approved/` | approved (human ideas start here), no plan yet | yes |
| `2-planning/` | a draft plan awaits sign-off | yes |
| `3-ready/` | ready for an agent to pick up | yes |
| `4-in-progress/` | being implemented | yes |
| `5-completed/` | done | no, the line is removed |
| `denied/` | rejected | no, the line is removed |

A status change is a `git mv` of the plan plus moving its line in `TODO.md`, staged together.
`pynchy backlog move ITEM STATUS` (or `approve`, `plan`, `ready`, `start`, `done`, `deny`)
does both; `pynchy backlog check` reports where the index and the folders disagree, and
`pynchy backlog check --fix` repairs what is safe.

## Plan file format

A plan's file name is its slug (lowercase ascii words and hyphens, e.g.
`ray-resource-orchestration.md`); commands find items by slug, title prefix or path.

```markdown
# Ray resource orchestration

Thin Ray integration for resource-aware container scaling.

- **By:** human
- **Priority:** low

## Context

Why this matters, what it touches, links.

## Plan

The steps, once planned.

## Done

What was done and where (commits, PRs), once completed.
```

- `# Title`: the first line, also the link text in `TODO.md`.
- The description: one line under the title, also shown after the link in `TODO.md`.
- Metadata (optional): `- **Key:** value` lines before the first section. `By` is `human` or
  `agent`; `Priority` is e.g. `low` or `high` (shown in `TODO.md` as `**[LOW PRIORITY]**`).
- `## Context`, `## Plan`, `## Done`: free markdown, filled in as the item moves along.

The status is never written in the file: the folder is the status, so every status change is
a pure rename in git's history.
"""
