"""Does TODO.md agree with the status folders? Report where not, and repair what is safe.

The folders are the truth (a status change is a `git mv`, which git records): a line is moved
to the section of its plan's folder, never the other way round. Safe repairs only add or move
lines, drop duplicate lines and lines of completed or denied items, and write stub plans for
lines that have none; two plans with one name, or a line spread over several lines, are left
for a person.
"""

from __future__ import annotations

import posixpath
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from pynchy_cli.core.backlog.importer import plan_from_entry
from pynchy_cli.core.backlog.index import Entry, Index, Section
from pynchy_cli.core.backlog.model import STATUSES
from pynchy_cli.core.backlog.store import KEEP_FILE, Backlog, Item


@dataclass
class Problem:
    kind: str
    message: str
    fixable: bool = True

    def public(self) -> dict[str, Any]:
        return asdict(self)


def _label(entry: Entry) -> str:
    text = entry.title or entry.text
    return repr(text if len(text) <= 50 else text[:49] + "…")


class _Scan:
    """One pass over index and folders: which line belongs to which plan."""

    def __init__(self, items: list[Item]):
        self.items = items
        self.by_rel = {i.rel: i for i in items}
        self.by_name: dict[str, list[Item]] = defaultdict(list)
        for item in items:
            self.by_name[item.path.name].append(item)

    def target(self, entry: Entry) -> Item | None:
        """The plan a line means: its link, or the one plan with the link's file name."""
        path = entry.plan_path
        if path is None:
            return None
        if path in self.by_rel:
            return self.by_rel[path]
        named = self.by_name.get(posixpath.basename(path), [])
        return named[0] if len(named) == 1 else None


def check(backlog: Backlog) -> list[Problem]:
    index = backlog.load_index()
    items = backlog.items(index)
    scan = _Scan(items)
    problems = []
    for status in STATUSES:
        if not (backlog.folder / status.folder).is_dir():
            problems.append(Problem("missing-folder", f"folder {status.folder}/ is missing"))
    for name, same in scan.by_name.items():
        if len(same) > 1:
            where = ", ".join(f"{i.status.folder}/" for i in same)
            problems.append(
                Problem("same-name", f"{name} is in several folders: {where}", fixable=False)
            )
    for section in index.sections:
        bullets = any(line.startswith(("- ", "* ")) for line in section.intro + section.outro)
        if section.status is None and section.heading.startswith("### ") and bullets:
            problems.append(
                Problem(
                    "unknown-section",
                    f"section {section.title!r} is not a status; its lines are ignored",
                    fixable=False,
                )
            )
    lines: dict[str, list[tuple[Section, Entry]]] = defaultdict(list)
    for section, entry in index.items():
        if entry.extra:
            problems.append(
                Problem(
                    "multi-line",
                    f"{_label(entry)} spans {1 + len(entry.extra)} lines; keep one line per item",
                    fixable=False,
                )
            )
        if entry.plan_path is None:
            problems.append(
                Problem("no-plan", f"{_label(entry)} under {section.title} has no plan file")
            )
            continue
        item = scan.target(entry)
        if item is None and posixpath.basename(entry.plan_path) in scan.by_name:
            problems.append(
                Problem(
                    "missing-plan",
                    f"TODO.md links {entry.plan_path}, which does not exist, "
                    "and several plans have its name",
                    fixable=False,
                )
            )
            continue
        if item is None:
            problems.append(
                Problem("missing-plan", f"TODO.md links {entry.plan_path}, which does not exist")
            )
            continue
        if entry.plan_path != item.rel:
            problems.append(
                Problem("stale-link", f"TODO.md links {entry.plan_path}, but it is {item.rel}")
            )
        lines[item.rel].append((section, entry))
    for item in items:
        if len(scan.by_name[item.path.name]) > 1:
            continue  # reported as same-name
        listed = lines.get(item.rel, [])
        if not item.status.tracked:
            if listed:
                problems.append(
                    Problem(
                        "closed-listed",
                        f"{item.slug} is {item.status.name} but still listed in TODO.md",
                    )
                )
            continue
        if not listed:
            problems.append(Problem("orphan", f"{item.rel} has no line in TODO.md"))
            continue
        if len(listed) > 1:
            where = ", ".join(s.title for s, _ in listed)
            problems.append(
                Problem("duplicate", f"{item.slug} is listed {len(listed)} times ({where})")
            )
        if all(s.status != item.status for s, _ in listed):
            problems.append(
                Problem(
                    "wrong-section",
                    f"{item.slug} is listed under {listed[0][0].title}, "
                    f"but its plan is in {item.status.folder}/",
                )
            )
    return problems


def fix(backlog: Backlog) -> list[Path]:
    """Repair what is safe; return the files written (already staged)."""
    written: list[Path] = []
    for status in STATUSES:
        folder = backlog.folder / status.folder
        if not folder.is_dir():
            folder.mkdir(parents=True)
            (folder / KEEP_FILE).touch()
            written.append(folder / KEEP_FILE)
    index = backlog.load_index()
    items = backlog.items(index)
    taken = {i.slug for i in items}
    scan = _Scan(items)
    shared = {name for name, same in scan.by_name.items() if len(same) > 1}
    # Every line gets a plan: its own, the one its stale link names, or a new stub (in the
    # latest status listing it, when several lines link one missing plan).
    latest: dict[str, Section] = {}
    for section, entry in index.items():
        path = entry.plan_path
        if path and section.status and (path not in latest or _later(section, latest[path])):
            latest[path] = section
    owner: dict[int, Item] = {}
    for section, entry in list(index.items()):
        item = scan.target(entry)
        path = entry.plan_path
        named = path is not None and posixpath.basename(path) in scan.by_name
        if item is None and section.status is not None and not named:
            home = latest[path] if path else section
            item = _stub_for(backlog, home, entry, taken)
            written.append(item.path)
            scan.items.append(item)
            scan.by_name[item.path.name].append(item)
        if item is None or item.path.name in shared:
            continue  # a missing plan without a name to find, or two plans with one name
        if entry.plan_path != item.rel:
            new = entry.relinked(item.rel) if entry.link else item.line()
            index.replace(entry, new)
            entry = new
        owner[id(entry)] = item
    # Then each plan has one line, in its folder's section (none once completed or denied).
    keeper: dict[str, Entry] = {}
    for section, entry in index.items():
        item = owner.get(id(entry))
        if item is None:
            continue
        current = keeper.get(item.rel)
        if current is None or (
            section.status == item.status and _status(index, current) != item.status
        ):
            keeper[item.rel] = entry
    for section in index.sections:
        kept = []
        for entry in section.entries:
            item = owner.get(id(entry))
            if item is None or (
                item.status.tracked  # completed and denied plans leave TODO.md
                and keeper[item.rel] is entry
                and section.status == item.status
            ):
                kept.append(entry)
        section.entries = kept
    for item in scan.items:
        if not item.status.tracked or item.path.name in shared:
            continue
        entry = keeper.get(item.rel)
        if entry is None or _status(index, entry) != item.status:
            index.append(item.status, entry or item.line())
    backlog.write_index(index)
    written.append(backlog.index_path)
    backlog.git.add(*written)
    return written


def _later(a: Section, b: Section) -> bool:
    assert a.status is not None and b.status is not None
    return a.status.order > b.status.order


def _status(index: Index, entry: Entry) -> Any:
    """The status of the section holding this line (None once it is out of the index)."""
    return next((s.status for s, e in index.items() if e is entry), None)


def _stub_for(backlog: Backlog, section: Section, entry: Entry, taken: set[str]) -> Item:
    slug, plan = plan_from_entry(entry)
    base, n = slug, 2
    while slug in taken:
        slug, n = f"{base}-{n}", n + 1
    taken.add(slug)
    assert section.status is not None
    path = backlog.folder / section.status.folder / f"{slug}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(plan.stub(), encoding="utf-8")
    return Item(slug, section.status, path, plan)
