"""The long-running service: builds the parts and wires them. Channels in, routing
(`receive`: store, approvals answers, reset words, the trigger rule), one worker per group,
the scheduler, replies out through the outbox; start, drain and /status."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from pynchy_cli.core.agent import store
from pynchy_cli.core.agent.approvals import ChannelApprover
from pynchy_cli.core.agent.control import cleanup_orphans
from pynchy_cli.core.agent.run import AgentRun, RunRequest
from pynchy_cli.core.context import Context
from pynchy_cli.core.db import utcnow
from pynchy_cli.core.errors import PynchyError
from pynchy_cli.core.groups import (
    Group,
    add_group,
    get_group_by_id,
    group_for_chat,
    list_groups,
    update_group,
)
from pynchy_cli.core.logs.serve_session import ServeSession
from pynchy_cli.core.models import choose_model
from pynchy_cli.core.periodic.health import health_report
from pynchy_cli.core.periodic.jobs import PeriodicJob
from pynchy_cli.core.periodic.loading import PeriodicSource
from pynchy_cli.core.periodic.runner import RELAY_PREFIX
from pynchy_cli.core.plugins.manager import plugins_for
from pynchy_cli.core.runtimes.select import get_runtime
from pynchy_cli.core.serve import messages as msgs
from pynchy_cli.core.serve.bus import Bus
from pynchy_cli.core.serve.channels import Channel, TerminalChannel
from pynchy_cli.core.serve.outbox import Outbox
from pynchy_cli.core.serve.scheduler import Scheduler
from pynchy_cli.core.serve.slots import SlotPool
from pynchy_cli.core.serve.worker import GroupWorker, WorkerParts
from pynchy_cli.core.tasks import TaskJob
from pynchy_cli.core.voice.desk import VoiceDesk
from pynchy_cli.core.voice.kit import VoiceNote

log = logging.getLogger("pynchy.serve")

ADMIN_GROUP = "main"


class Service:
    def __init__(self, ctx: Context, *, model: str | None = None, runtime: str | None = None):
        self.ctx = ctx
        self.settings = ctx.settings
        self.db = ctx.db
        self.model = model
        self.runtime = runtime
        self.bus = Bus()
        self.plugins = plugins_for(self.settings)
        self.channels: dict[str, Channel] = {"terminal": TerminalChannel()}
        for name, factory in self.plugins.registry.channels.items():
            try:
                self.channels[name] = factory(self.settings)
            except Exception as exc:  # a channel without credentials must not stop serve
                why = exc.line() if isinstance(exc, PynchyError) else str(exc)
                log.warning("channel %s not started: %s", name, why)
        self.voice = VoiceDesk(self.db, ctx.paths, self.settings)
        self.outbox = Outbox(
            self.db,
            self.channels,
            self.bus,
            self.settings.assistant_name,
            speak=self.voice.speak_reply,
        )
        self.approvals = ChannelApprover(
            self.db,
            lambda group_id, text: self.outbox.notify(self.group_by_id(group_id), text),
            self.settings.limits.approval_timeout,
        )
        self.stopping = False
        self.ready = asyncio.Event()  # set once replies a crash left unsent are resent
        self.started_at: str | None = None
        self.session_log: ServeSession | None = None  # the JSONL log of this start (core.logs)
        self.parts = WorkerParts(
            db=self.db,
            bus=self.bus,
            outbox=self.outbox,
            pool=self._make_pool(),
            make_run=self._make_run,
            assistant_name=self.settings.assistant_name,
            idle_timeout=self.settings.limits.idle_timeout,
            ready=self.ready,
            stopping=lambda: self.stopping,
            paths=ctx.paths,
        )
        self.workers: dict[int, GroupWorker] = {}
        self.scheduler = Scheduler(
            self.db,
            self._hand_over,
            PeriodicSource(ctx.paths, self.settings),
            relay=self._relay_recorded,
        )

    # --- lifecycle ---------------------------------------------------------------------

    async def start(self) -> None:
        # Fail early, with the usual hint, if the runtime is not usable.
        get_runtime(self.settings, self.runtime)
        self.session_log = ServeSession.open(
            self.ctx.paths, self.settings, runtime=self.runtime or self.settings.runtime
        )
        try:
            choose_model(self.settings, flag=self.model)
        except PynchyError as exc:  # groups may still name their own model: warn, go on
            log.warning("%s", exc.line())
        if not list_groups(self.db):
            add_group(self.db, self.ctx.paths, ADMIN_GROUP, admin=True)
            log.info("created admin group %s", ADMIN_GROUP)
        await asyncio.to_thread(self._recover_runs)
        await self.parts.pool.start()  # scaling = "ray": joins or starts Ray (seconds)
        for channel in self.channels.values():
            await channel.start(self)
            log.info("channel connected channel=%s", channel.name)
        # In the background: a channel that is down must not keep serve from starting.
        self._resend = asyncio.create_task(self._resend_then_open(), name="resend")
        for group in list_groups(self.db):
            self.worker(group.id).poke()  # answers what a crash left unanswered
        self.scheduler.start()
        self.started_at = utcnow()
        log.info("serve started groups=%d", len(self.workers))

    def _recover_runs(self) -> None:
        """Runs left 'running' by a crash are failed; their containers are removed."""
        try:
            removed = cleanup_orphans(
                self.ctx, get_runtime(self.settings, self.runtime), all_running=True
            )
        except Exception as exc:  # best effort: serve starts anyway
            log.warning("orphan cleanup failed: %s", exc)
            return
        if removed:
            log.info("removed orphan containers=%d", len(removed))

    async def _resend_then_open(self) -> None:
        await self.outbox.resend_undelivered()
        # Only now may groups run: a reply still unsent would otherwise be answered again.
        self.ready.set()

    async def drain(self, timeout: float) -> None:
        """Stop taking new work and let running agents finish (SIGTERM)."""
        self.stopping = True
        self.scheduler.stop()
        for worker in self.workers.values():  # waiting for a slot too: answer, then exit
            worker.end_warm_wait()
        running = [w.task for w in self.workers.values() if w.task and not w.task.done()]
        if running:
            log.info("draining runs=%d", len(running))
            _, pending = await asyncio.wait(running, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=15)
        for channel in self.channels.values():
            await channel.stop()
            log.info("channel disconnected channel=%s", channel.name)
        await self.parts.pool.close()
        log.info("serve stopped")
        if self.session_log is not None:
            self.session_log.stop()

    # --- the parts' callbacks ---------------------------------------------------------------

    def _make_pool(self) -> Any:
        """Where runs wait for their turn: the local slots, or Ray's resources."""
        if self.settings.scaling == "ray":
            from pynchy_cli.core.scaling import ray_pool

            return ray_pool(self.ctx, runtime=self.runtime)  # imports ray: only when used
        return SlotPool(self.settings.limits.max_concurrent)

    def _make_run(
        self,
        request: RunRequest,
        *,
        on_event: Callable[[dict[str, Any]], None],
        deliver: Callable[[str], Awaitable[None]],
        followups: asyncio.Queue[str | None] | None,
    ) -> AgentRun:
        return AgentRun(
            self.ctx,
            # serve's --model is for groups without their own model (then config's model).
            dataclasses.replace(
                request,
                model=None if request.group.model else self.model,
                runtime=self.runtime,
            ),
            on_event=on_event,
            deliver=deliver,
            followups=followups,
            plugins=self.plugins,
            approver=self.approvals,
            runtime=self.parts.pool.runtime_for(request.group),  # where Ray placed it
        )

    async def _relay_recorded(self) -> None:
        """What a timer's periodic run recorded for its group, sent (after the start's
        resend, which sends it too)."""
        if self.ready.is_set():
            await self.outbox.resend_undelivered(RELAY_PREFIX)

    def _hand_over(self, group_id: int, job: TaskJob | PeriodicJob) -> None:
        self.worker(group_id).add_task(job)

    # --- groups and routing --------------------------------------------------------------

    def group_by_id(self, group_id: int) -> Group:
        return get_group_by_id(self.db, group_id)

    def worker(self, group_id: int) -> GroupWorker:
        if group_id not in self.workers:
            self.workers[group_id] = GroupWorker(self.parts, group_id)
        return self.workers[group_id]

    def group_for_chat(self, channel: str, chat_id: str) -> Group | None:
        return group_for_chat(self.db, channel, str(chat_id))

    def last_platform_id(self, channel: str, chat_id: str) -> str | None:
        group = self.group_for_chat(channel, chat_id)
        if group is None:
            return None
        rows = list(
            self.db.query(
                "select platform_id from messages where group_id = ? and channel = ? and"
                " platform_id is not null order by id desc limit 1",
                [group.id, channel],
            )
        )
        return rows[0]["platform_id"] if rows else None

    async def receive(
        self,
        group: Group,
        sender: str,
        content: str,
        *,
        channel: str,
        platform_id: str | None = None,
        sender_kind: str = "person",
        voice: VoiceNote | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Store (committed) then route. Returns (message, queued). A voice message is
        kept and transcribed first, once per platform id."""
        audio = None
        if voice is not None:
            seen = self.voice.stored(channel, platform_id)
            if seen is not None:
                return seen, False
            content, audio = await self.voice.take(group, voice, content)
        message, created = msgs.store_message(
            self.db,
            group,
            sender,
            content,
            sender_kind=sender_kind,
            channel=channel,
            platform_id=platform_id,
            audio=audio,
        )
        if not created:
            return message, False
        self.bus.publish({"type": "message", "group": group.name, **message})
        log.info("message in group=%s id=%s sender=%s", group.name, message["id"], sender)
        name = self.settings.assistant_name
        if sender_kind == "person":
            answer = msgs.strip_trigger(group, content, name)
            notice = self.approvals.answer(group.id, answer, sender)
            if notice:  # `approve ID` / `deny ID`: for the waiting run, not for a prompt
                msgs.mark_approval_answer(self.db, message["id"])
                await self.outbox.notify(group, notice)
                return message, False
        if (
            sender_kind == "person"
            and msgs.strip_trigger(group, content, name).strip() == "/status"
        ):
            # The health report, from the host: no agent run, nothing for a model to read.
            report = "\n".join(health_report(self.ctx, {"started_at": self.started_at}).lines())
            await self.outbox.settle_without_reply(group, message["id"], report)
            return message, False
        if sender_kind == "person" and msgs.is_reset(group, content, name):
            update_group(self.db, group.name, session_id=None)
            self.worker(group.id).reset_session()  # a warm agent must not go on as before
            await self.outbox.settle_without_reply(group, message["id"], "Started a new session.")
            return message, False
        if self.stopping:
            return message, False
        queued = sender_kind == "system" or msgs.addressed(group, content, name)
        if queued:
            self.worker(group.id).poke()
        return message, queued

    # --- status ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        groups = []
        for group in list_groups(self.db):
            worker = self.workers.get(group.id)
            groups.append(
                {
                    "name": group.name,
                    "admin": group.admin,
                    "channel": group.channel,
                    "running": bool(worker and worker.busy),
                    "run_id": worker.run.run_id if worker and worker.run else None,
                    "queued_tasks": len(worker.tasks) if worker else 0,
                    "last_answered_id": group.last_answered_id,
                }
            )
        return {
            "started_at": self.started_at,
            "stopping": self.stopping,
            "runtime": self.runtime or self.settings.runtime,
            "max_concurrent": self.settings.limits.max_concurrent,
            "scaling": self.parts.pool.status(),
            "groups": groups,
            "runs": store.list_runs(self.db),
            "scheduler": self.scheduler.status(),
            "health": health_report(self.ctx, {"started_at": self.started_at}).as_dict(),
        }
