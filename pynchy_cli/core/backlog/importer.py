"""Turning an existing index (like the seed's TODO.md) into plan files and a working backlog."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from pynchy_cli.core.backlog.index import Entry, Index
from pynchy_cli.core.backlog.model import SLUG_RE, Status, short_slug, short_title, slugify
from pynchy_cli.core.backlog.plans import Plan
from pynchy_cli.core.backlog.store import Backlog, Item
from pynchy_cli.core.errors import NotFoundError, UsageError


def _same(a: str, b: str) -> bool:
    return re.sub(r"\W+", "", a.lower()) == re.sub(r"\W+", "", b.lower())


def plan_from_entry(entry: Entry) -> tuple[str, Plan]:
    """The slug and plan an index line stands for.

    A linked line keeps its link's file name as the slug and its text as the description; an
    unlinked one gets a short title and slug from its first words and keeps its full text.
    """
    meta = {"priority": entry.priority} if entry.priority else {}
    if entry.title:
        stem = Path(entry.plan_path).stem if entry.plan_path else ""
        slug = stem if SLUG_RE.match(stem) else slugify(stem or entry.title)
        return slug, Plan(entry.title, entry.text, meta)
    title = short_title(entry.text)
    description = "" if _same(title, entry.text) else entry.text
    return short_slug(title), Plan(title, description, meta)


@dataclass
class Candidate:
    slug: str
    status: Status
    entry: Entry
    plan: Plan


@dataclass
class Imported:
    created: list[Item] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # slugs already in the backlog
    notes: list[str] = field(default_factory=list)
    initialized: bool = False
    commit: str | None = None


def _collect(entries: list[tuple[Status, Entry]], notes: list[str]) -> list[Candidate]:
    chosen: dict[str, Candidate] = {}
    for status, entry in entries:
        slug, plan = plan_from_entry(entry)
        previous = chosen.get(slug)
        if previous and (previous.entry.plan_path or previous.entry.text) == (
            entry.plan_path or entry.text
        ):
            where = f"{previous.status.name} and {status.name}"
            if status.order >= previous.status.order:
                del chosen[slug]
                chosen[slug] = Candidate(slug, status, entry, plan)
            kept = chosen[slug].status.name
            notes.append(f"{plan.title!r} is listed under {where}; kept one plan, in {kept}")
            continue
        base, n = slug, 2
        while slug in chosen:
            slug, n = f"{base}-{n}", n + 1
        chosen[slug] = Candidate(slug, status, entry, plan)
    return list(chosen.values())


def import_index(backlog: Backlog, source: Path, *, commit: bool = True) -> Imported:
    """Create a plan per item of `source` (stubs, or copies of plans found beside it)."""
    try:
        text = source.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"no file {source}", "Give the path of an existing TODO.md") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {source}: {exc}", "Give a markdown index file") from None
    parsed = Index.parse(text)
    entries = [(s.status, e) for s, e in parsed.items() if s.status]
    if not entries:
        raise UsageError(
            f"no backlog items found in {source}",
            "Expected sections such as '### 1 - Approved' holding '- ' item lines",
        )
    result = Imported()
    written: list[Path] = []
    if not backlog.index_path.exists():
        written += backlog.init()
        result.initialized = True
    existing = {i.slug for i in backlog.items()}
    index = backlog.load_index()
    for cand in _collect(entries, result.notes):
        if cand.slug in existing:
            result.skipped.append(cand.slug)
            continue
        path = backlog.folder / cand.status.folder / f"{cand.slug}.md"
        beside = source.parent / cand.entry.plan_path if cand.entry.plan_path else None
        content = cand.plan.stub()
        if beside and beside.is_file() and beside.resolve() != path.resolve():
            content = beside.read_text(encoding="utf-8", errors="replace")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        item = Item(cand.slug, cand.status, path, cand.plan)
        if cand.status.tracked:
            index.append(cand.status, item.line())
        result.created.append(item)
        written.append(path)
    backlog.write_index(index)
    written.append(backlog.index_path)
    backlog.git.add(*written)
    if commit and result.created:
        message = f"backlog: import {len(result.created)} items from {source.name}"
        result.commit = backlog.commit(message, written)
    return result
