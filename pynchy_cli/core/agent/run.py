"""One agent run, host side: the container's lifecycle, from a prompt to a stored transcript.

AgentRun prepares the run (prepare.PreparedRun), asks the plugins' before_run hooks,
creates the run row, serves the run's socket (answered by handlers.RunHandlers), starts
the container and waits for it under the run timeout, then stops it, finishes the run
row, saves the group's session and calls the after_run hooks. A delegate's run and a
handoff's successor are AgentRuns too (`linked`), started by this one
(core.agent.delegation) inside its own slot and group lock: they never take either.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from dataclasses import dataclass, field
from typing import Any

from pynchy_cli import protocol
from pynchy_cli.core.agent import store
from pynchy_cli.core.agent.agent_user import agent_user, hand_over
from pynchy_cli.core.agent.approvals import Approver
from pynchy_cli.core.agent.background import in_daemon_thread, remove_later
from pynchy_cli.core.agent.events import EventSink
from pynchy_cli.core.agent.handlers import RunHandlers
from pynchy_cli.core.agent.host_socket import RunSocket
from pynchy_cli.core.agent.host_tools import Deliver
from pynchy_cli.core.agent.metered import metered_core
from pynchy_cli.core.agent.prepare import CONFIGURED_PLUGINS, PreparedRun, RunRequest
from pynchy_cli.core.agent.spec import container_spec
from pynchy_cli.core.agent_cores.registry import make_core
from pynchy_cli.core.context import Context
from pynchy_cli.core.errors import PynchyError
from pynchy_cli.core.groups import update_group
from pynchy_cli.core.runtimes.base import Runtime

__all__ = ["AgentRun", "RunOutcome", "RunRequest"]

STOPPED = "stopped with pynchy agent stop"
CANCELLED = "stopped by its host process (serve shutting down, or Ctrl-C)"


@dataclass
class RunOutcome:
    run_id: str
    status: str  # succeeded | failed | stopped | timeout
    text: str = ""
    error: str | None = None
    exit_code: int | None = None
    messages_sent: list[str] = field(default_factory=list)


class AgentRun:
    def __init__(
        self,
        ctx: Context,
        request: RunRequest,
        *,
        on_event: EventSink | None = None,
        deliver: Deliver | None = None,
        followups: asyncio.Queue[str | None] | None = None,
        plugins: Any = CONFIGURED_PLUGINS,
        approver: Approver | None = None,
        runtime: Runtime | None = None,
    ):
        """`on_event` sees each event once stored; `deliver` sends send_message texts to the
        group's channel; `followups` feeds a warm container its next prompts; `approver`
        asks a person about external and destructive tools; `plugins`: a loaded plugin
        set, None for none, by default the configured ones; `runtime`: one a scheduler
        placed this run with (scaling = "ray"), else the configured one. Linked runs
        (delegates, a successor) take the configured one: never this run's placement."""
        self.ctx = ctx
        self.prepared = PreparedRun(
            ctx, request, on_event=on_event, deliver=deliver, plugins=plugins, runtime=runtime
        )
        # What a linked run (a delegate, a successor) shares with this one.
        self._shared = {"deliver": deliver, "plugins": plugins, "approver": approver}
        self._on_event, self._followups = on_event, followups
        self.linked = request.lineage is not None  # no slot nor group lock of its own
        self.timeout = ctx.settings.limits.run_timeout
        self.deadline: float | None = None  # loop time the container must end by
        self.successor: AgentRun | None = None  # the run it handed off to, once started
        self.prepared.delegation.start = self._run_linked
        self.handlers = RunHandlers(self.prepared, followups=followups, approver=approver)
        self.run_id = self.prepared.run_id
        self.runtime = self.prepared.runtime
        self.settings = ctx.settings
        self.db = ctx.db
        self.group = request.group
        self.events = self.prepared.events
        self.hooks = self.prepared.ext.hooks
        self.session_forgotten = False  # a reset word came while it ran

    def forget_session(self) -> None:
        """The group was reset while this run ran: it must not save its session back."""
        self.session_forgotten = True
        if self.successor is not None:
            self.successor.forget_session()

    async def execute(self) -> RunOutcome:
        """Run the agent to its end. After a handoff, the successor's outcome: it answered."""
        outcome = await self._run_container()
        return await self.prepared.delegation.take_over(outcome)

    async def _run_linked(self, request: RunRequest) -> tuple[RunOutcome, Any]:
        """Run a delegate or this run's successor: (its outcome, what its gate saw read)."""
        handoff = request.lineage is not None and request.lineage.link == "handoff"
        run = AgentRun(
            self.ctx,
            request,
            # A successor answers the person and takes the follow-ups; a delegate answers
            # this run, in its tool result, and ends before this run's deadline.
            on_event=self._on_event if handoff else None,
            followups=self._followups if handoff else None,
            **self._shared,
        )
        if handoff:
            self.successor = run
            run.session_forgotten = self.session_forgotten
        elif self.deadline is not None:
            left = self.deadline - asyncio.get_running_loop().time()
            run.timeout = max(1, min(run.timeout, int(left) - 5))
        outcome = await run.execute()
        return outcome, run.prepared.gate.tainted_by

    async def _run_container(self) -> RunOutcome:
        run, handlers = self.prepared, self.handlers
        self.group.path.mkdir(parents=True, exist_ok=True)
        user = agent_user(self.settings) if self.runtime.isolated else None
        # A first run may chown a large tree: not on the event loop.
        await asyncio.to_thread(hand_over, user, self.group.path, self.ctx.paths)
        run_dir = self.ctx.paths.runs_dir / self.run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(run_dir, 0o700)  # only the socket inside is mounted into the container
        spec = container_spec(
            self.settings, self.ctx.paths, self.group, self.run_id, run.token, run_dir, user
        )
        store.create_run(
            self.db,
            self.run_id,
            self.group.id,
            model=run.choice.spec,
            account=run.choice.account,
            runtime=self.runtime.name,
            container=spec.name,
            session_id=run.session_id,
            prompt=run.request.prompt,
            system_prompt=run.system,
            task_id=run.request.task_id,
            **run.delegation.run_fields(),
        )
        self.events.open_log(
            self.ctx.paths,
            self.settings,
            run.gate.tier,
            group=self.group.name,
            model=run.choice.spec,
            account=run.choice.account,
            runtime=self.runtime.name,
            prompt=run.request.prompt,
            task_id=run.request.task_id,
        )
        socket = RunSocket(
            run_dir / protocol.SOCKET_NAME,
            token=run.token,
            group=self.group.name,
            max_bytes=self.settings.limits.max_request_bytes,
            handler=handlers.handle,
            on_refused=self.events.refused,
        )
        status, exit_code, handle = "failed", None, None
        outcome: RunOutcome | None = None
        ready: asyncio.Future[None] | None = None
        try:
            refusal = self.hooks.before_run(run.info)
            if refusal:
                handlers.error = f"refused by {refusal}"
                self.events.audit("run", "refused", reason=refusal)
                self.events.emit("error", message=handlers.error)
                return self._outcome(status, exit_code)
            await socket.start()
            # The core (a provider SDK's import: half a second for openai's) is built while
            # the container is created and boots; the socket answers nothing before it.
            ready = handlers.ready = asyncio.ensure_future(self._get_ready())
            handle = await asyncio.to_thread(self.runtime.start, spec)
            if handle.pid or handle.node:
                store.update_run(self.db, self.run_id, pid=handle.pid, node=handle.node)
            await ready  # a core that cannot be built fails the run here, container removed
            # A stop that came while the container was starting: the finally stops it.
            exit_code = None if self._stopped() else await self._wait(handle)
            status = self._status(exit_code)
        except asyncio.CancelledError:
            status = "stopped"
            raise
        except Exception as exc:
            if not self._stopped():
                handlers.error = exc.line() if isinstance(exc, PynchyError) else str(exc)
                raise
            status = "stopped"  # the stop raced the start: not an error of the run
        finally:
            if status == "stopped":  # not whatever the container said as it was killed
                handlers.error = STOPPED if self._stopped() else CANCELLED
            if handle is not None:
                if status != "succeeded" and not handlers.error:
                    handlers.error = self._tail_logs(handle)
                if status == "succeeded" and not handle.node:
                    remove_later(self.runtime, handle)  # it has answered: off the critical path
                else:  # still running, or its changes come back from a node: wait for it
                    await asyncio.to_thread(self.runtime.stop, handle)
            await socket.close()
            if ready is not None:  # still going when no container came (a stop during start)
                await _settle(ready)
            if handlers.core is not None:
                with contextlib.suppress(Exception):
                    await handlers.core.aclose()
            with contextlib.suppress(Exception):
                await run.ext.aclose()
            self._finish(status)
            self.events.close_log(status, exit_code=exit_code, error=handlers.error)
            shutil.rmtree(run_dir, ignore_errors=True)
            outcome = self._outcome(status, exit_code)
            if status != "succeeded":
                self.hooks.on_error(run.info, handlers.error or status)
            self.hooks.after_run(run.info, outcome)
        return outcome

    async def _get_ready(self) -> None:
        """The run's core, its MCP tools and a history that fits, before any request."""
        run, handlers = self.prepared, self.handlers
        # The provider's factory (its SDK's import) in a thread, the rest on the loop.
        core = await asyncio.to_thread(make_core, run.choice, run.settings)
        handlers.core = metered_core(run, core)  # budgets, fallbacks, prices
        await run.add_mcp_tools()
        # A session or prompt too large for the model is compacted before it starts.
        handlers.history = await handlers.context.fit_start(handlers.core, handlers.history)

    def _outcome(self, status: str, exit_code: int | None) -> RunOutcome:
        return RunOutcome(
            self.run_id,
            status,
            text=(self.handlers.result or {}).get("text", ""),
            error=self.handlers.error,
            exit_code=exit_code,
            messages_sent=list(self.prepared.toolbox.sent),
        )

    async def _wait(self, handle: Any) -> int | None:
        """The container's exit code; None when the run timeout passed first. Once the
        runner's last word has come over the socket it exits 0: no need to see it exit."""
        loop = asyncio.get_running_loop()
        self.deadline = deadline = loop.time() + self.timeout
        finished = asyncio.ensure_future(self.handlers.finished.wait())
        try:
            while True:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    self.handlers.error = f"timed out after {self.timeout}s"
                    self.events.emit("error", message=self.handlers.error)
                    return None
                exited = in_daemon_thread(self.runtime.wait, handle, min(remaining, 1.0))
                await asyncio.wait({finished, exited}, return_when=asyncio.FIRST_COMPLETED)
                if finished.done():
                    exited.cancel()
                    return 0
                code = exited.result()
                if code is not None:
                    return code
                if handle.node and self._stopped():  # on a Ray node `agent stop` cannot reach
                    return None
        finally:
            finished.cancel()

    def _stopped(self) -> bool:
        """`pynchy agent stop` marked this run stopped (from another process)."""
        return store.get_run(self.db, self.run_id)["status"] == "stopped"

    def _status(self, exit_code: int | None) -> str:
        if self._stopped():
            return "stopped"
        if exit_code is None:
            return "timeout"
        result = self.handlers.result
        ok = exit_code == 0 and result is not None and result["status"] == "ok"
        return "succeeded" if ok else "failed"

    def _tail_logs(self, handle: Any) -> str | None:
        try:
            lines = list(self.runtime.logs(handle))[-20:]
        except Exception:
            return None
        text = "\n".join(line.rstrip() for line in lines).strip()
        return text[-4000:] or None

    def _finish(self, status: str) -> None:
        """Finish the run row and keep (or drop, after reset_context) the group's session."""
        handlers = self.handlers
        store.finish_run(
            self.db,
            self.run_id,
            status,
            result=(handlers.result or {}).get("text"),
            error=None if status == "succeeded" else handlers.error,
        )
        if not self.prepared.delegation.keeps_session():
            return  # a delegate's session is its own; one that handed off is closed
        if self.prepared.toolbox.reset_requested or self.session_forgotten:
            update_group(self.db, self.group.name, session_id=None)
        elif handlers.history:
            store.save_session(self.db, self.prepared.session_id, self.group.id, handlers.history)
            # The agent holding the session answers the group's next messages too.
            agent = self.prepared.agent.name if self.prepared.agent else None
            store.set_session_agent(self.db, self.prepared.session_id, agent)
            update_group(self.db, self.group.name, session_id=self.prepared.session_id)


async def _settle(ready: asyncio.Future[None]) -> None:
    """Cancel the run's preparation if it is still going, and wait until it has ended: an
    MCP server it was starting is stopped before the run ends, not left half-started for
    asyncio.run's teardown, whose cancel of a server being spawned hung for good."""
    ready.cancel()
    await asyncio.wait({ready})
    if not ready.cancelled():
        ready.exception()  # retrieved: it failed or ended, the run's outcome says so
