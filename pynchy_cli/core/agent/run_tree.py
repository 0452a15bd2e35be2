"""Linked runs as a tree: the run that started a run, and the delegates and successors a
run started, with their answers (`pynchy agent trace`), and run lists with children
under their parents (`pynchy agent ps`)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlite_utils import Database

from pynchy_cli.core.agent import store

MAX_LEVELS = 20  # deeper than any limit allows; guards against a hand-edited database


def parent_of(db: Database, run: dict[str, Any]) -> dict[str, Any] | None:
    """The run that started this one, and how (link: delegate | handoff), or None."""
    parent_id = run.get("parent_run_id")
    if not parent_id:
        return None
    rows = list(db.query("select id, status, agent, model from runs where id = ?", [parent_id]))
    found = rows[0] if rows else {"id": parent_id, "status": None, "agent": None, "model": None}
    return {**found, "link": run.get("link")}


def children_of(db: Database, run_id: str, _level: int = 0) -> list[dict[str, Any]]:
    """The runs this one started, oldest first, each with its own `children`."""
    if _level >= MAX_LEVELS:
        return []
    return [
        {**child, "children": children_of(db, child["id"], _level + 1)}
        for child in store.linked_runs(db, run_id)
    ]


def nest(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows (newest first) reordered so that each run's children follow it, oldest first,
    each with `level`: 0 for a run whose parent is not among the rows."""
    listed = {r["id"] for r in rows}
    children: dict[str, list[dict[str, Any]]] = defaultdict(list)
    roots = []
    for row in rows:
        parent = row.get("parent_run_id")
        (children[parent] if parent in listed else roots).append(row)
    out: list[dict[str, Any]] = []

    def walk(row: dict[str, Any], level: int) -> None:
        out.append({**row, "level": level})
        for child in reversed(children[row["id"]]):  # oldest first under the parent
            walk(child, level + 1)

    for row in roots:
        walk(row, 0)
    return out
