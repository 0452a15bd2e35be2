"""Controlling runs from another process: stop one, clean up what a crash left."""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

from pynchy_cli.core.agent import store
from pynchy_cli.core.context import Context
from pynchy_cli.core.errors import UsageError
from pynchy_cli.core.runtimes.base import ContainerHandle, Runtime
from pynchy_cli.core.runtimes.select import get_runtime


def stop_run(ctx: Context, run_id: str) -> dict[str, Any]:
    run = store.get_run(ctx.db, run_id)
    if run["status"] in store.FINISHED:
        raise UsageError(f"run {run['id']} already {run['status']}", "See: pynchy agent ps")
    store.update_run(ctx.db, run["id"], status="stopped")
    if run["runtime"] == "process":
        if run["pid"]:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(run["pid"], signal.SIGTERM)
    else:
        runtime = get_runtime(ctx.settings, run["runtime"])
        runtime.stop(ContainerHandle(run["container"], run["container"], runtime.name))
    return store.get_run(ctx.db, run["id"])


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
    """Remove containers a crash left behind, and fail their runs.

    Only this database's runs are touched: other pynchy homes may share the engine. A run
    is orphaned when the host process that owned it is gone; with `all_running` (serve at
    start, which owns every run of its home) every running run is.
    """
    orphaned = [
        r["id"]
        for r in ctx.db.query(
            "select id, owner_pid from runs where status in ('queued', 'running')"
        )
        if all_running or not _alive(r["owner_pid"])
    ]
    for run_id in orphaned:
        store.finish_run(ctx.db, run_id, "failed", error="interrupted: its host process ended")
    finished = {r["id"] for r in ctx.db.query("select id from runs where status != 'running'")}
    live = {run_id for _, run_id, _ in runtime.list_pynchy()}
    return runtime.cleanup_orphans({run_id for run_id in live if run_id not in finished})
