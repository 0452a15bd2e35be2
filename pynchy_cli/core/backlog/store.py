"""A backlog on disk: finding it, its items, adding one, moving one (git mv + index edit)."""

from __future__ import annotations

import difflib
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pynchy_cli.core.backlog.git import Git, find_root
from pynchy_cli.core.backlog.index import INDEX_FILE, Entry, Index, format_line
from pynchy_cli.core.backlog.model import BY_FOLDER, STATUSES, Status, slugify, valid_slug
from pynchy_cli.core.backlog.plans import README, README_FILE, Plan, read_plan
from pynchy_cli.core.errors import ConflictError, NotFoundError, UsageError

DEFAULT_DIR = "backlog"
KEEP_FILE = ".gitkeep"
BY_VALUES = ("human", "agent")


@dataclass
class Item:
    slug: str
    status: Status
    path: Path  # absolute
    plan: Plan

    @property
    def rel(self) -> str:
        """The path as TODO.md links it: "3-ready/x.md"."""
        return f"{self.status.folder}/{self.path.name}"

    @property
    def title(self) -> str:
        return self.plan.title

    def line(self, link: str | None = None) -> Entry:
        """A fresh index line; a description that restates the title is shortened."""
        description = self.plan.description
        if not self.title.endswith("…") and description.lower().startswith(self.title.lower()):
            description = description[len(self.title) :].lstrip(" .:;,!?")
        text = format_line(self.title, link or self.rel, description, self.plan.priority)
        entry = Entry.parse(text)
        assert entry is not None
        return entry

    def public(self, git: Git) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "status": self.status.name,
            "title": self.title,
            "priority": self.plan.priority,
            "by": self.plan.by,
            "description": self.plan.description,
            "path": git.rel(self.path),
        }


@dataclass
class Moved:
    item: Item  # where it is now
    source: Item  # where it was
    commit: str | None = None

    @property
    def changed(self) -> bool:
        return self.item.path != self.source.path


class Backlog:
    def __init__(self, folder: Path, git: Git):
        self.folder = folder
        self.git = git

    # -- finding the backlog --------------------------------------------------------------

    @classmethod
    def locate(cls, folder: Path | None = None, *, must_exist: bool = True) -> Backlog:
        """The backlog in `folder`: by default ./backlog, ./ if one, or backlog/ at the git root."""
        cwd = Path.cwd()
        if folder is not None:
            chosen = (cwd / folder.expanduser()).resolve()
        else:
            chosen = _default_folder(cwd)
        backlog = cls(chosen, Git(find_root(chosen)))
        if must_exist and not backlog.index_path.is_file():
            raise NotFoundError(
                f"no backlog at {chosen} (no {INDEX_FILE})",
                "Create one with: pynchy backlog init, or import an index with: "
                "pynchy backlog import FILE (or pass --dir)",
            )
        return backlog

    @property
    def index_path(self) -> Path:
        return self.folder / INDEX_FILE

    def display(self, path: Path | None = None) -> str:
        return self.git.rel(path or self.folder)

    def load_index(self) -> Index:
        return Index.parse(self.index_path.read_text(encoding="utf-8"))

    def write_index(self, index: Index) -> None:
        self.index_path.write_text(index.render(), encoding="utf-8")

    # -- items ----------------------------------------------------------------------------

    def items(self, index: Index | None = None) -> list[Item]:
        """Every plan file in a status folder, in pipeline and then index order."""
        index = index or (self.load_index() if self.index_path.is_file() else Index([], []))
        order = {e.plan_path: n for n, (_, e) in enumerate(index.items()) if e.plan_path}
        found = []
        for status in STATUSES:
            folder = self.folder / status.folder
            if not folder.is_dir():
                continue
            for path in folder.glob("*.md"):
                if path.is_file() and path.name != README_FILE:
                    found.append(Item(path.stem, status, path, read_plan(path)))
        big = len(order)
        return sorted(found, key=lambda i: (i.status.order, order.get(i.rel, big), i.slug))

    def find(self, name: str, items: list[Item] | None = None) -> Item:
        """An item by slug, title, unique prefix of either, or path."""
        items = self.items() if items is None else items
        name = name.strip()
        if not name:
            raise UsageError("an item name is required", "List items with: pynchy backlog list")
        if "/" in name or name.endswith(".md"):
            return self._find_path(name, items)
        key = name.lower()
        exact = [i for i in items if key in (i.slug, i.title.lower())]
        if len(exact) == 1:
            return exact[0]
        prefix = slugify(name)
        matches = exact or [
            i
            for i in items
            if i.title.lower().startswith(key) or (prefix and i.slug.startswith(prefix))
        ]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            close = difflib.get_close_matches(prefix, [i.slug for i in items], n=1, cutoff=0.7)
            guess = f"Did you mean {close[0]}? " if close else ""
            raise NotFoundError(
                f"no backlog item matches {name!r}", f"{guess}List items with: pynchy backlog list"
            )
        shown = ", ".join(
            (i.slug if sum(j.slug == i.slug for j in matches) == 1 else i.rel) for i in matches[:8]
        )
        more = f" and {len(matches) - 8} more" if len(matches) > 8 else ""
        raise UsageError(
            f"{name!r} matches {len(matches)} items: {shown}{more}",
            "Name one of them by slug or path",
        )

    def _find_path(self, name: str, items: list[Item]) -> Item:
        tries = {(Path.cwd() / name).resolve(), (self.folder / name).resolve()}
        tries.add((self.git.root / name).resolve())
        for item in items:
            if item.path.resolve() in tries:
                return item
        raise NotFoundError(f"no backlog plan at {name}", "List items with: pynchy backlog list")

    def lines_of(self, index: Index, item: Item) -> list[tuple[Any, Entry]]:
        """The index lines for an item: linking to its plan, or stale links to its file name."""
        found = []
        for section, entry in index.items():
            path = entry.plan_path
            if path == item.rel or (
                path
                and posixpath.basename(path) == item.path.name
                and not (self.folder / path).is_file()
            ):
                found.append((section, entry))
        return found

    # -- changes --------------------------------------------------------------------------

    def init(self) -> list[Path]:
        """Create the folders, TODO.md and README.md; return the files written."""
        if self.index_path.exists():
            raise ConflictError(
                f"a backlog already exists at {self.display()}",
                f"Check it with: pynchy backlog check --dir {self.display()}",
            )
        written = []
        for status in STATUSES:
            folder = self.folder / status.folder
            folder.mkdir(parents=True, exist_ok=True)
            keep = folder / KEEP_FILE
            if not any(folder.iterdir()):
                keep.touch()
                written.append(keep)
        self.write_index(Index.template())
        written.append(self.index_path)
        readme = self.folder / README_FILE
        if not readme.exists():
            readme.write_text(README, encoding="utf-8")
            written.append(readme)
        self.git.add(*written)
        return written

    def add(
        self,
        title: str,
        *,
        by: str = "human",
        description: str = "",
        priority: str | None = None,
        slug: str | None = None,
        status: Status | None = None,
    ) -> Item:
        """Write a stub plan in the folder for `by` (or `status`) and its index line; stage both."""
        title = " ".join(title.split())
        description = " ".join(description.split())
        if not title:
            raise UsageError("the title is empty", 'Give one: pynchy backlog add "Fix the thing"')
        if "[" in title or "]" in title:
            raise UsageError(
                "a title cannot contain [ or ]", "They would break its link in TODO.md"
            )
        if by not in BY_VALUES:
            raise UsageError(f"--by must be human or agent, not {by!r}")
        slug = valid_slug(slug) if slug else slugify(title)
        if not slug:
            raise UsageError(f"cannot make a file name from {title!r}", "Give one with --slug")
        status = status or BY_FOLDER["1-approved" if by == "human" else "0-proposed"]
        items = self.items()
        clash = [i for i in items if i.slug == slug]
        if clash:
            raise ConflictError(
                f"an item named {slug} already exists ({self.display(clash[0].path)})",
                f"Choose another title or --slug, or see it with: pynchy backlog show {slug}",
            )
        meta = {"by": by}
        if priority:
            meta["priority"] = priority.strip().lower()
        item = Item(
            slug, status, self.folder / status.folder / f"{slug}.md", Plan(title, description, meta)
        )
        index = self.load_index()
        item.path.parent.mkdir(parents=True, exist_ok=True)
        item.path.write_text(item.plan.stub(), encoding="utf-8")
        if status.tracked:
            index.append(status, item.line())
            self.write_index(index)
        self.git.add(item.path, self.index_path)
        return item

    def move(self, item: Item, status: Status, *, commit: bool = False) -> Moved:
        """`git mv` the plan to the status's folder and move its line; stage both together."""
        if item.status == status:
            return Moved(item, item)
        states = self.git.status(self.folder)
        state = self.git.require_clean(item.path, states, "plan")
        index_state = states.get(self.git.rel(self.index_path))
        if commit and index_state and index_state.worktree != ".":
            raise ConflictError(
                f"{self.display(self.index_path)} has edits that are not staged",
                "Stage or stash them first, or move without --commit",
            )
        target = Item(item.slug, status, self.folder / status.folder / item.path.name, item.plan)
        if target.path.exists():
            raise ConflictError(
                f"{self.display(target.path)} already exists",
                "Two plans share this name; rename one (git mv) and run pynchy backlog check",
            )
        index = self.load_index()
        lines = self.lines_of(index, item)
        self.git.mv(item.path, target.path)
        try:
            for _, entry in lines:
                index.remove_entry(entry)
            if status.tracked:
                keep = next((e for s, e in lines if s.status == item.status), None)
                keep = keep or (lines[0][1] if lines else None)
                index.append(
                    status, keep.relinked(target.rel) if keep and keep.link else target.line()
                )
            self.write_index(index)
            self.git.add(self.index_path)
        except Exception:
            self.git.mv(target.path, item.path)
            raise
        moved = Moved(target, item)
        if commit:
            origin = state.origin if state and state.origin else self.git.rel(item.path)
            paths = [self.git.rel(self.index_path), self.git.rel(target.path)]
            if self.git.in_head(origin):
                paths.append(origin)
            message = f'backlog: move "{item.title}" to {status.name} (was {item.status.name})'
            moved.commit = self.git.commit(message, paths)
        return moved

    def commit(self, message: str, paths: list[Path]) -> str:
        return self.git.commit(message, [self.git.rel(p) for p in paths])


def _default_folder(cwd: Path) -> Path:
    if (cwd / DEFAULT_DIR / INDEX_FILE).is_file():
        return cwd / DEFAULT_DIR
    if (cwd / INDEX_FILE).is_file() and any((cwd / s.folder).is_dir() for s in STATUSES):
        return cwd
    try:
        root = find_root(cwd)
    except UsageError:
        return cwd / DEFAULT_DIR
    if (root / DEFAULT_DIR / INDEX_FILE).is_file():
        return root / DEFAULT_DIR
    return cwd / DEFAULT_DIR
