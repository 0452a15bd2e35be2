"""Controlling runs from another process: stop one, clean up what a crash left."""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

from pynchy_cli.core.agent import store
from pynchy_cli.core.agent.group_lock import group_busy
from pynchy_cli.core.context import Context
from pynchy_cli.core.errors import UsageError
from pynchy_cli.core.runtimes.base import ContainerHandle, Runtime
from pynchy_cli.core.runtimes.select import get_runtime


def stop_run(ctx: Context, run_id: str) -> dict[str, Any]:
    """Stop a run and the runs it started (its delegates, the successor it handed off to)."""
    run = store.get_run(ctx.db, run_id)
    running = [c for c in store.linked_runs(ctx.db, run["id"]) if c["status"] not in store.FINISHED]
    finished = run["status"] in store.FINISHED  # one that handed off: its successor may run
    if finished and not running:
        raise UsageError(f"run {run['id']} already {run['status']}", "See: pynchy agent ps")
    if not finished:  # marked first: it must not go on once its delegate is gone
        store.update_run(ctx.db, run["id"], status="stopped")
    for child in running:
        with contextlib.suppress(UsageError):  # it ended meanwhile
            stop_run(ctx, child["id"])
    if finished:
        return run
    if run["runtime"] == "process":
        if run["pid"]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(run["pid"], signal.SIGTERM)
    else:
        runtime = get_runtime(ctx.settings, run["runtime"])
        runtime.stop(ContainerHandle(run["container"], run["container"], runtime.name))
    return store.get_run(ctx.db, run["id"])


def settle_orphan(ctx: Context, run_id: str, owner: str) -> None:
    """A run whose host process (`owner`) ended while it ran. Had it answered all it was
    given (its last event is its answer and, in serve, that reply is recorded: it was sent,
    or is sent on restart), it succeeded; otherwise it was interrupted before it answered."""
    db = ctx.db
    events = store.events(db, run_id)
    results = [e["data"] for e in events if e["kind"] == "result"]
    answered = bool(events) and events[-1]["kind"] == "result" and results[-1]["status"] == "ok"
    if answered and owner == "serve" and str(results[-1].get("text") or "").strip():
        key = f"{run_id}:{len(results)}"  # outbox.reply_key of the run's latest answer
        answered = bool(list(db.query("select 1 from outbound where key = ?", [key])))
    if answered:
        store.finish_run(db, run_id, "succeeded", result=results[-1].get("text"), error=None)
        message = f"{owner} ended after the run had answered"
        store.add_event(db, run_id, "error", {"message": message, "warning": True})
    else:
        why = f"interrupted: {owner} ended before the run answered"
        store.finish_run(db, run_id, "interrupted", error=why)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cleanup_orphans(ctx: Context, runtime: Runtime, *, all_running: bool = False) -> list[str]:
    """Remove containers a crash left behind, and record truthfully how their runs ended.

    Only this database's runs are touched: other pynchy homes may share the engine. A run
    is orphaned when the host process that owned it is gone; with `all_running` (serve at
    start) also when no process holds its group's run lock (its pid may have been reused),
    so that a `pynchy agent run` going on beside it is left alone.
    """
    orphaned = [
        r
        for r in ctx.db.query(
            "select id, group_id, owner_pid from runs where status in ('queued', 'running')"
        )
        if not _alive(r["owner_pid"]) or (all_running and not group_busy(ctx.paths, r["group_id"]))
    ]
    for row in orphaned:
        settle_orphan(ctx, row["id"], "serve" if all_running else "its host process")
    finished = {r["id"] for r in ctx.db.query("select id from runs where status != 'running'")}
    live = {run_id for _, run_id, _ in runtime.list_pynchy()}
    return runtime.cleanup_orphans({run_id for run_id in live if run_id not in finished})
