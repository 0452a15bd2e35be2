"""Runs due tasks exactly once, across restarts and while long runs are going.

A due task is claimed by inserting (task, due time) into task_runs, whose unique index
makes a second claim impossible; the claim and the task's next due time are written in
one transaction. Claims a crash left unfinished are run again, once, on start. A claimed
run is handed over through one callback (serve gives it to the group's worker).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlite_utils import Database

from pynchy_cli.core import tasks
from pynchy_cli.core.periodic.definition import PeriodicAgent
from pynchy_cli.core.periodic.jobs import PeriodicJob, serve_due_jobs, settle_interrupted
from pynchy_cli.core.tasks import TaskJob

log = logging.getLogger("pynchy.scheduler")

TICK = 1.0  # seconds between looks at the tasks table (tasks may be added by other processes)


HandOver = Callable[[int, TaskJob | PeriodicJob], None]  # (group id, claimed run)
PeriodicAgents = Callable[[], dict[str, PeriodicAgent]]  # the current [periodic.NAME] set


class Scheduler:
    def __init__(
        self,
        db: Database,
        hand_over: HandOver,
        periodic: PeriodicAgents | None = None,
        relay: Callable[[], Awaitable[None]] | None = None,
    ):
        """`periodic`: the periodic agents now (serve claims their due times too);
        `relay`: sends what other processes recorded for the groups (a timer's result)."""
        self.db = db
        self._hand_over = hand_over
        self._periodic = periodic
        self._relay = relay
        self._task: asyncio.Task | None = None

    def start(self) -> None:
        # A periodic run a crash cut is not run again: its due time passed (core.periodic.jobs).
        settle_interrupted(self.db)
        for row in self.db.query(
            "select task_runs.id, task_runs.task_id, tasks.prompt, tasks.group_id from task_runs"
            " join tasks on tasks.id = task_runs.task_id where task_runs.status = 'claimed'"
        ):
            self._hand_over(row["group_id"], TaskJob(row["task_id"], row["id"], row["prompt"]))
        self._task = asyncio.create_task(self._loop(), name="scheduler")

    def stop(self) -> None:
        if self._task:
            self._task.cancel()

    async def _loop(self) -> None:
        while True:
            try:
                self.tick()
                if self._relay is not None:
                    await self._relay()
            except sqlite3.OperationalError as exc:  # a busy database: try again next tick
                log.warning("scheduler tick failed: %s", exc)
            await asyncio.sleep(TICK)

    def tick(self, now: datetime | None = None) -> int:
        now = now or datetime.now(UTC)
        due = list(
            self.db.query(
                "select * from tasks where status = 'active' and next_run_at <= ?"
                " order by next_run_at",
                [now.isoformat(timespec="microseconds")],
            )
        )
        claimed = 0
        for task in due:
            job = self._claim(task, now)
            if job:
                claimed += 1
                self._hand_over(task["group_id"], job)
        if self._periodic is not None:
            # Periodic agents: the same due time claimed by a timer is not run again here.
            for group_id, periodic_job in serve_due_jobs(self.db, self._periodic(), now):
                claimed += 1
                self._hand_over(group_id, periodic_job)
        return claimed

    def _claim(self, task: dict[str, Any], now: datetime) -> TaskJob | None:
        due_at = task["next_run_at"]
        if task["kind"] == "once":
            updates: dict[str, Any] = {"status": "done"}
        else:
            # Runs missed while serve was down collapse into this one.
            nxt = tasks.next_run(task["kind"], task["spec"], now)
            updates = {"next_run_at": nxt.isoformat(timespec="microseconds")}
        try:
            with self.db.atomic():
                task_run_id = tasks.start_task_run(self.db, task["id"], due_at)
                self.db["tasks"].update(task["id"], updates)
        except sqlite3.IntegrityError:
            return None  # already claimed
        log.info("task due task=%s group=%s due=%s", task["id"], task["group_id"], due_at)
        return TaskJob(task["id"], task_run_id, task["prompt"])

    def status(self) -> dict[str, Any]:
        active = tasks.list_tasks(self.db)
        last = {
            r["task_id"]: r
            for r in self.db.query(
                "select task_id, status, due_at, finished_at, run_id, error from task_runs"
                " where id in (select max(id) from task_runs group by task_id)"
            )
        }
        return {
            "tasks": [
                {
                    "id": t["id"],
                    "group": t["group_name"],
                    "name": t["name"],
                    "kind": t["kind"],
                    "spec": t["spec"],
                    "status": t["status"],
                    "next_run_at": t["next_run_at"],
                    "last_run": last.get(t["id"]),
                }
                for t in active
            ]
        }
