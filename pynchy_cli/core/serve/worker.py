"""One worker per group: at most one agent run at a time, under the global limit.

Messages that arrive while the group's agent runs are handed to that run as
follow-ups (a warm container takes them without a cold start); whatever the run did
not answer is picked up by the next run, from the group's cursor.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pynchy_cli.core import tasks
from pynchy_cli.core.agent.run import AgentRun, RunRequest
from pynchy_cli.core.errors import PynchyError
from pynchy_cli.core.groups import Group, get_group_by_id
from pynchy_cli.core.serve import messages as msgs

if TYPE_CHECKING:
    from pynchy_cli.core.serve.service import Service

log = logging.getLogger("pynchy.serve")


@dataclass
class TaskJob:
    task_id: int
    task_run_id: int
    prompt: str


class GroupWorker:
    def __init__(self, service: Service, group_id: int):
        self.service = service
        self.group_id = group_id
        self.tasks: collections.deque[TaskJob] = collections.deque()
        self.wake = asyncio.Event()
        self.followups: asyncio.Queue[str | None] | None = None  # None in it: stop waiting
        self.watermarks: collections.deque[int] = collections.deque()
        self.offered_upto = 0  # highest message id already handed to the running agent
        self.run: AgentRun | None = None
        self.task: asyncio.Task | None = None

    @property
    def group(self) -> Group:
        return get_group_by_id(self.service.db, self.group_id)

    @property
    def busy(self) -> bool:
        return self.run is not None

    def poke(self) -> None:
        """New input for this group: give it to the running agent or start one."""
        if self.followups is not None:
            self._offer_followup()
        self.wake.set()
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self._loop(), name=f"group-{self.group_id}")
            self.task.add_done_callback(self._report)

    def _report(self, task: asyncio.Task) -> None:
        if not task.cancelled() and task.exception() is not None:
            log.error("group worker failed group=%s", self.group_id, exc_info=task.exception())

    def add_task(self, job: TaskJob) -> None:
        self.tasks.append(job)
        self.end_warm_wait()  # a scheduled run should not wait for a warm container's idle time
        self.poke()

    def end_warm_wait(self) -> None:
        if self.followups is not None:
            self.followups.put_nowait(None)

    def _offer_followup(self) -> None:
        group = self.group
        pending = [
            m for m in msgs.unanswered(self.service.db, group) if m["id"] > self.offered_upto
        ]
        if not pending or not self._wanted(group, pending):
            return
        self.offered_upto = pending[-1]["id"]
        self.watermarks.append(self.offered_upto)
        assert self.followups is not None
        self.followups.put_nowait(msgs.format_prompt(pending))

    def _wanted(self, group: Group, pending: list[dict[str, Any]]) -> bool:
        name = self.service.settings.assistant_name
        return any(
            m["sender_kind"] == "system" or msgs.addressed(group, m["content"], name)
            for m in pending
        )

    async def _loop(self) -> None:
        await self.service.ready.wait()
        while not self.service.stopping:
            self.wake.clear()
            if self.tasks:
                await self._run_task(self.tasks.popleft())
                continue
            group = self.group
            pending = msgs.unanswered(self.service.db, group)
            if not pending or not self._wanted(group, pending):
                return
            await self._run_messages(group, pending)

    async def _run_messages(self, group: Group, pending: list[dict[str, Any]]) -> None:
        watermark = pending[-1]["id"]
        self.offered_upto = watermark
        self.watermarks = collections.deque([watermark])
        self.followups = asyncio.Queue()
        outcome = await self._execute(
            group,
            msgs.format_prompt(pending),
            task=None,
            followup_wait=self.service.settings.limits.idle_timeout,
        )
        self.followups = None
        if outcome is None or outcome.status != "succeeded":
            # Tell the person (a refused run was told already), and do not retry the same
            # messages forever.
            if outcome is not None:
                reason = outcome.error or "the agent failed"
                await self.service.notify(group, f"The agent could not answer: {reason}")
            msgs.advance_cursor(self.service.db, group.id, max(self.watermarks, default=watermark))

    async def _run_task(self, job: TaskJob) -> None:
        group = self.group
        outcome = await self._execute(group, job.prompt, task=job, followup_wait=0)
        ok = outcome is not None and outcome.status == "succeeded"
        error = None if ok else ((outcome.error if outcome else None) or "the run failed")
        tasks.finish_task_run(
            self.service.db,
            job.task_run_id,
            outcome.run_id if outcome else None,
            "succeeded" if ok else "failed",
            error,
        )
        if not ok:
            await self.service.notify(group, f"Scheduled task {job.task_id} failed: {error}")

    async def _execute(
        self, group: Group, prompt: str, *, task: TaskJob | None, followup_wait: int
    ):
        service = self.service
        task_id = task.task_id if task else None
        results: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()

        def on_event(event: dict[str, Any]) -> None:
            service.bus.publish({"type": "run_event", "group": group.name, **event})
            if event["kind"] == "result":
                results.put_nowait((event["run_id"], event["data"]))

        deliverer = asyncio.create_task(self._deliver_results(group, results, task))
        if service.slots.locked():
            service.reclaim_warm(except_worker=self)  # warm containers give their slots back
        async with service.slots:
            try:
                self.run = AgentRun(
                    service.ctx,
                    RunRequest(
                        group=group,
                        prompt=prompt,
                        model=service.model,
                        runtime=service.runtime,
                        task_id=task_id,
                        followup_wait=followup_wait,
                    ),
                    on_event=on_event,
                    deliver=lambda text: service.deliver_now(group, text),
                    followups=self.followups,
                    plugins=service.plugins,
                    approver=service.approvals,
                )
                service.bus.publish(
                    {
                        "type": "run",
                        "group": group.name,
                        "run_id": self.run.run_id,
                        "status": "running",
                    }
                )
                await service.channel_for(group).typing(group, True)
                log.info("run start group=%s run=%s task=%s", group.name, self.run.run_id, task_id)
                outcome = await self.run.execute()
                log.info(
                    "run end group=%s run=%s status=%s", group.name, outcome.run_id, outcome.status
                )
                return outcome
            except PynchyError as exc:
                log.warning("run refused group=%s: %s", group.name, exc.line())
                await service.notify(group, exc.line())
                return None
            finally:
                if self.run is not None:
                    service.bus.publish(
                        {
                            "type": "run",
                            "group": group.name,
                            "run_id": self.run.run_id,
                            "status": "finished",
                        }
                    )
                self.run = None
                await service.channel_for(group).typing(group, False)
                results.put_nowait(None)
                await deliverer

    async def _deliver_results(
        self, group: Group, results: asyncio.Queue, task: TaskJob | None
    ) -> None:
        """Each answer the agent gives (first prompt, then follow-ups) becomes one reply."""
        answers = 0  # numbers a run's replies: the ledger key is <run id>:<number>
        while (item := await results.get()) is not None:
            run_id, data = item
            answers += 1
            watermark = (
                self.watermarks.popleft()
                if self.watermarks and task is None
                else group.last_answered_id
            )
            text = (data.get("text") or "").strip()
            if data.get("status") != "ok":
                await self.service.notify(group, f"The agent stopped early: {text}")
                msgs.advance_cursor(self.service.db, group.id, watermark)
            elif text:
                await self.service.reply(group, run_id, answers, text, watermark)
            else:
                msgs.advance_cursor(self.service.db, group.id, watermark)
            if task is not None and data.get("status") == "ok":
                # Delivered: a crash from here on must not run the task again.
                tasks.finish_task_run(self.service.db, task.task_run_id, run_id, "succeeded", None)
