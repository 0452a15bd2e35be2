"""Where one run's events and audit rows are stored.

Every event is stored (the run's transcript) before it is passed on to `on_event` (the
terminal of `pynchy agent run`, the bus of `serve`). Audit rows carry the run and its group.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlite_utils import Database

from pynchy_cli.core.agent import store
from pynchy_cli.core.logs.runs import RunLog
from pynchy_cli.core.paths import Paths

EventSink = Callable[[dict[str, Any]], None]

log = logging.getLogger("pynchy.run")


def log_warning(message: str) -> None:
    """A warning for the log of `serve`. Without logging set up (`pynchy agent run`) the
    same message reaches the terminal as an error event, so it is not printed twice."""
    if logging.getLogger().handlers or logging.getLogger("pynchy").handlers:
        log.warning(message)


class RunEvents:
    def __init__(self, db: Database, run_id: str, group_id: int, on_event: EventSink | None):
        self.db = db
        self.run_id = run_id
        self.group_id = group_id
        self.on_event = on_event
        self.session_log: RunLog | None = None  # the run's JSONL log (core.logs), while open

    def open_log(self, paths: Paths, settings: Any, tier_of: Any, **start: Any) -> None:
        self.session_log = RunLog.open(paths, self.run_id, settings, tier_of)
        self.session_log.start(**start)

    def close_log(self, status: str, **end: Any) -> None:
        if self.session_log is not None:
            self.session_log.finish(status, **end)
            self.session_log = None

    def emit(self, kind: str, **data: Any) -> None:
        event = store.add_event(self.db, self.run_id, kind, data)
        if self.session_log is not None:
            self.session_log.event(kind, data)
        if self.on_event:
            self.on_event(event)

    def record(self, kind: str, **data: Any) -> None:
        """Store an event in the transcript without passing it on."""
        store.add_event(self.db, self.run_id, kind, data)
        if self.session_log is not None:
            self.session_log.event(kind, data)

    def audit(self, action: str, decision: str, **detail: Any) -> None:
        store.audit(self.db, action, decision, run_id=self.run_id, group_id=self.group_id, **detail)

    def audit_tool(self, tool: str, decision: str, **detail: Any) -> None:
        self.audit(f"tool:{tool}", decision, **detail)

    def refused(self, reason: str) -> None:
        """The run's socket refused a request."""
        self.audit("socket", "refused", reason=reason)

    def warn(self, message: str) -> None:
        """A problem that costs the run a feature but not the run: logged, audited and
        put in the transcript."""
        log_warning(f"run {self.run_id}: {message}")
        self.audit("run", "warning", message=message)
        self.emit("error", message=message, warning=True)

    def hook_failed(self, plugin: str, hook: str, exc: BaseException) -> None:
        """A plugin's lifecycle hook raised or answered nonsense: it was skipped."""
        self.audit(f"hook:{hook}", "failed", plugin=plugin, error=f"{type(exc).__name__}: {exc}")
        message = f"plugin {plugin}: {hook} raised {type(exc).__name__}: {exc} (skipped)"
        log_warning(f"run {self.run_id}: {message}")
        self.emit("error", message=message, warning=True)
