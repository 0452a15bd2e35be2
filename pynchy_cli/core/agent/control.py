"""Controlling runs from another process: stop one, clean up what a crash left."""

from __future__ import annotations

import contextlib
import os
import signal
from typing import Any

from pynchy_cli.core.agent import store
from pynchy_cli.core.context import Context
from pynchy_cli.core.errors import UsageError
from pynchy_cli.core.runtimes.base import ContainerHandle
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
