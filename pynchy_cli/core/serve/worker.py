"""One worker per group: at most one agent run at a time, under the slot pool's limit.

Messages that arrive while the group's agent runs are handed to that run as
follow-ups (a warm container takes them without a cold start); whatever the run did
not answer is picked up by the next run, from the group's cursor. Scheduled task runs
queue here too. What the agent says leaves through the outbox.
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlite_utils import Database

from pynchy_cli.core import tasks
from pynchy_cli.core.agent.group_lock import group_run_lock
from pynchy_cli.core.agent.run import AgentRun, RunOutcome, RunRequest
from pynchy_cli.core.budgets import BudgetExceeded
from pynchy_cli.core.errors import PynchyError
from pynchy_cli.core.groups import Group, get_group_by_id
from pynchy_cli.core.paths import Paths
from pynchy_cli.core.periodic import runs as periodic_runs
from pynchy_cli.core.periodic.jobs import PeriodicJob, describe, first_line, run_group
from pynchy_cli.core.serve import messages as msgs
from pynchy_cli.core.serve.bus import Bus
from pynchy_cli.core.serve.outbox import Outbox
from pynchy_cli.core.serve.slots import SlotPool
from pynchy_cli.core.tasks import TaskJob

log = logging.getLogger("pynchy.serve")


class RunFactory(Protocol):
    """Builds the AgentRun for a request; serve adds its model, runtime, plugins and
    approver. May raise PynchyError (no model, runtime unusable): the run is refused."""

    def __call__(
        self,
        request: RunRequest,
        *,
        on_event: Callable[[dict[str, Any]], None],
        deliver: Callable[[str], Awaitable[None]],
        followups: asyncio.Queue[str | None] | None,
    ) -> AgentRun: ...


@dataclass
class WorkerParts:
    """What every group worker shares."""

    db: Database
    bus: Bus  # run events and run starts/ends
    outbox: Outbox
    pool: SlotPool
    make_run: RunFactory
    assistant_name: str
    idle_timeout: int  # seconds a warm container waits for follow-ups
    ready: asyncio.Event  # set once the outbox has resent what a crash left unsent
    stopping: Callable[[], bool]  # serve drains: start nothing new
    paths: Paths  # the group run locks, shared with `pynchy agent run`


class GroupWorker:
    def __init__(self, parts: WorkerParts, group_id: int):
        self.parts = parts
        self.group_id = group_id
        self.tasks: collections.deque[TaskJob | PeriodicJob] = collections.deque()
        self.wake = asyncio.Event()
        self.followups: asyncio.Queue[str | None] | None = None  # None in it: stop waiting
        self.watermarks: collections.deque[int] = collections.deque()
        self.offered_upto = 0  # highest message id already handed to the running agent
        self.run: AgentRun | None = None
        self.task: asyncio.Task | None = None
        self.refusal: PynchyError | None = None  # why the last run was refused, if it was
        self.relayed = 0  # send_message texts since the agent's last answer

    @property
    def group(self) -> Group:
        return get_group_by_id(self.parts.db, self.group_id)

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

    def add_task(self, job: TaskJob | PeriodicJob) -> None:
        self.tasks.append(job)
        self.end_warm_wait()  # a scheduled run should not wait for a warm container's idle time
        self.poke()

    def end_warm_wait(self) -> None:
        """The running agent stops waiting for follow-ups once it has answered."""
        if self.followups is not None:
            self.followups.put_nowait(None)

    def reset_session(self) -> None:
        """A reset word: the running agent stops after its current answer, and its session
        is not saved back over the reset."""
        if self.run is not None:
            self.run.forget_session()
        self.end_warm_wait()

    def _offer_followup(self) -> None:
        group = self.group
        pending = [m for m in msgs.unanswered(self.parts.db, group) if m["id"] > self.offered_upto]
        if not pending or not self._wanted(group, pending):
            return
        self.offered_upto = pending[-1]["id"]
        self.watermarks.append(self.offered_upto)
        assert self.followups is not None
        self.followups.put_nowait(msgs.format_prompt(pending))

    def _wanted(self, group: Group, pending: list[dict[str, Any]]) -> bool:
        name = self.parts.assistant_name
        return any(
            m["sender_kind"] == "system" or msgs.addressed(group, m["content"], name)
            for m in pending
        )

    async def _loop(self) -> None:
        await self.parts.ready.wait()
        while not self.parts.stopping():
            self.wake.clear()
            if self.tasks:
                await self._run_task(self.tasks.popleft())
                continue
            group = self.group
            pending = msgs.unanswered(self.parts.db, group)
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
            followup_wait=self.parts.idle_timeout,
        )
        self.followups = None
        if outcome is not None and outcome.status != "succeeded" and self.parts.pool.retry(group):
            return  # its Ray node was lost: the loop runs what is still unanswered once more
        if outcome is None:  # refused before it started: the person was told why
            upto = max(self.watermarks, default=watermark)
            await self.parts.outbox.settle_without_reply(group, upto)
        elif outcome.status != "succeeded" and self.watermarks:
            # Messages it was given but did not answer: not retried forever, never dropped
            # silently. (Those that came after the last one it was given wait for the next run.)
            await self.parts.outbox.settle_without_reply(
                group, max(self.watermarks), failure_notice(outcome)
            )
        elif outcome.status != "succeeded":
            log.warning(
                "run ended after answering group=%s run=%s status=%s error=%s",
                group.name,
                outcome.run_id,
                outcome.status,
                outcome.error,
            )

    async def _run_task(self, job: TaskJob | PeriodicJob) -> None:
        if isinstance(job, PeriodicJob):
            return await self._run_periodic(job)
        group = self.group
        self.refusal = None
        outcome = await self._execute(group, job.prompt, task=job, followup_wait=0)
        if outcome is None and isinstance(self.refusal, BudgetExceeded):  # the group was told
            why = self.refusal.line()
            tasks.finish_task_run(self.parts.db, job.task_run_id, None, "skipped", why)
            return
        ok = outcome is not None and outcome.status == "succeeded"
        error = None if ok else ((outcome.error if outcome else None) or "the run failed")
        tasks.finish_task_run(
            self.parts.db,
            job.task_run_id,
            outcome.run_id if outcome else None,
            "succeeded" if ok else "failed",
            error,
        )
        if not ok:
            await self.parts.outbox.notify(group, f"Scheduled task {job.task_id} failed: {error}")

    async def _run_periodic(self, job: PeriodicJob) -> None:
        """A periodic agent's due time: its answer goes to the group like a task's; a
        failure is a host message naming the agent."""
        group = self.group
        self.refusal = None
        outcome = await self._execute(group, job.prompt, task=job, followup_wait=0)
        db = self.parts.db
        if outcome is None:  # refused before it started: the group was told why
            why = self.refusal.line() if self.refusal else "the run was refused"
            status = "skipped" if isinstance(self.refusal, BudgetExceeded) else "failed"
            periodic_runs.finish_run(db, job.claim_id, status, why)
            return
        if outcome.status == "succeeded":
            return  # recorded as ok when its answer was delivered
        error = outcome.error or f"the run {outcome.status}"
        periodic_runs.finish_run(db, job.claim_id, "failed", first_line(error), outcome.run_id)
        await self.parts.outbox.notify(group, f"{job.label} failed: {first_line(error)}")

    async def _execute(
        self,
        group: Group,
        prompt: str,
        *,
        task: TaskJob | PeriodicJob | None,
        followup_wait: int,
    ) -> RunOutcome | None:
        """One agent run in a slot; None when it was refused before it started. A run of
        the group in another process (pynchy agent run) finishes first; the group is read
        again after that wait, for the session that run saved."""

        def busy() -> None:
            log.info("group busy group=%s: waiting for its running agent", group.name)

        async with group_run_lock(self.parts.paths, group, on_wait=busy):
            return await self._execute_locked(self.group, prompt, task, followup_wait)

    async def _execute_locked(
        self, group: Group, prompt: str, task: TaskJob | PeriodicJob | None, followup_wait: int
    ) -> RunOutcome | None:
        parts = self.parts
        task_id = task.task_id if task else None
        results: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue()

        def on_event(event: dict[str, Any]) -> None:
            parts.bus.publish({"type": "run_event", "group": group.name, **event})
            if event["kind"] == "result":
                results.put_nowait((event["run_id"], event["data"]))
            elif event["kind"] == "notice":  # the host's word to the group (a budget warning)
                results.put_nowait((event["run_id"], {"notice": event["data"]["text"]}))

        deliverer = asyncio.create_task(self._deliver_results(group, results, task))
        async with parts.pool.slot(group, self.end_warm_wait):
            try:
                self.run = parts.make_run(
                    RunRequest(  # the group read now: a reset may have dropped its session
                        group=run_group(self.group, task.agent)
                        if isinstance(task, PeriodicJob)
                        else self.group,
                        prompt=prompt,
                        task_id=task_id,
                        followup_wait=followup_wait,
                        mcp_servers=tuple(task.agent.mcp_servers)
                        if isinstance(task, PeriodicJob)
                        else (),
                    ),
                    on_event=on_event,
                    deliver=lambda text: self._relay(group, text),
                    followups=self.followups,
                )
                self._publish_run(group, "running")
                await parts.outbox.typing(group, True)
                log.info("run start group=%s run=%s task=%s", group.name, self.run.run_id, task_id)
                outcome = await self.run.execute()
                log.info(
                    "run end group=%s run=%s status=%s", group.name, outcome.run_id, outcome.status
                )
                return outcome
            except PynchyError as exc:
                log.warning("run refused group=%s: %s", group.name, exc.line())
                self.refusal = exc
                notice = exc.line()
                if task is not None and isinstance(exc, BudgetExceeded):
                    notice = f"{describe(task)} skipped: {notice}"
                await parts.outbox.notify(group, notice)
                return None
            finally:
                if self.run is not None:
                    self._publish_run(group, "finished")
                self.run = None
                await parts.outbox.typing(group, False)
                results.put_nowait(None)
                await deliverer

    async def _relay(self, group: Group, text: str) -> None:
        """The agent's send_message: it speaks to the person before its answer."""
        self.relayed += 1
        await self.parts.outbox.relay_sent_message(group, text)

    def _publish_run(self, group: Group, status: str) -> None:
        assert self.run is not None
        self.parts.bus.publish(
            {"type": "run", "group": group.name, "run_id": self.run.run_id, "status": status}
        )

    async def _deliver_results(
        self, group: Group, results: asyncio.Queue, task: TaskJob | PeriodicJob | None
    ) -> None:
        """Each answer the agent gives (first prompt, then follow-ups) becomes one reply."""
        outbox = self.parts.outbox
        answers = 0  # numbers a run's replies: the outbound key is <run id>:<number>
        while (item := await results.get()) is not None:
            run_id, data = item
            if "notice" in data:
                await outbox.notify(group, data["notice"])
                continue
            answers += 1
            watermark = (
                self.watermarks.popleft()
                if self.watermarks and task is None
                else group.last_answered_id
            )
            text = (data.get("text") or "").strip()
            if data.get("status") != "ok":
                await outbox.settle_without_reply(
                    group, watermark, f"The agent stopped early: {text}"
                )
            elif text:
                await outbox.reply(group, run_id, answers, text, watermark)
            else:  # nothing to say: fine after a send_message, else the person is told
                silent = task is None and not self.relayed
                notice = "The agent finished without an answer." if silent else None
                await outbox.settle_without_reply(group, watermark, notice)
            self.relayed = 0
            if isinstance(task, PeriodicJob) and data.get("status") == "ok":
                summary = first_line(text) or "(no answer)"
                periodic_runs.finish_run(self.parts.db, task.claim_id, "ok", summary, run_id)
            elif task is not None and data.get("status") == "ok":
                # Delivered: a crash from here on must not run the task again.
                tasks.finish_task_run(self.parts.db, task.task_run_id, run_id, "succeeded", None)


def failure_notice(outcome: RunOutcome) -> str:
    """What the person is told about messages a run did not answer."""
    if outcome.status == "stopped":
        return "The run was stopped (pynchy agent stop)."
    return f"The agent could not answer: {outcome.error or f'the run {outcome.status}'}"
