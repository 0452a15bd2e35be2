"""One agent run, host side: from a prompt to a stored transcript.

The host prepares the run (model, system prompt, session, tools), serves the run's
socket, starts the container and waits for it under the run timeout. The container
fetches its input over the socket; model calls come back through here, where the real
credentials are added. Every event is stored before it is passed on.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import shutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pynchy_cli import protocol
from pynchy_cli.core.agent import store
from pynchy_cli.core.agent.approvals import Approver
from pynchy_cli.core.agent.host_socket import RunSocket
from pynchy_cli.core.agent.host_tools import HOST_TOOL_NAMES, HOST_TOOLS, HostToolbox
from pynchy_cli.core.agent.prompt import system_prompt
from pynchy_cli.core.agent.spec import container_spec
from pynchy_cli.core.agent_cores.base import AgentCore
from pynchy_cli.core.agent_cores.registry import make_core
from pynchy_cli.core.context import Context
from pynchy_cli.core.errors import PynchyError
from pynchy_cli.core.groups import Group, ensure_global_memory, update_group
from pynchy_cli.core.models import choose_model
from pynchy_cli.core.plugins.extensions import RunExtensions, load_plugins_safely
from pynchy_cli.core.plugins.lifecycle import RunInfo, ToolResult
from pynchy_cli.core.runtimes.base import Runtime
from pynchy_cli.core.runtimes.select import get_runtime

EventSink = Callable[[dict[str, Any]], None]
Deliver = Callable[[str], Awaitable[None]]

_ALLOWED_CONTAINER_EVENTS = ("tool_result", "result", "error")
_NO_PLUGINS: Any = object()
log = logging.getLogger("pynchy.run")


def _log_warning(message: str) -> None:
    """A warning for the log of `serve`. Without logging set up (`pynchy agent run`) the
    same message reaches the terminal as an error event, so it is not printed twice."""
    if logging.getLogger().handlers or logging.getLogger("pynchy").handlers:
        log.warning(message)


@dataclass
class RunRequest:
    group: Group
    prompt: str
    model: str | None = None  # --model; else the group's, else the default
    runtime: str | None = None  # --runtime; else the configured one
    new_session: bool = False
    task_id: int | None = None
    followup_wait: int = 0  # seconds a warm container waits for follow-ups


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
        plugins: Any = _NO_PLUGINS,
        approver: Approver | None = None,
    ):
        """`plugins`: a loaded plugin set (core.plugins.manager.Plugins) to use, None for
        none; by default the configured plugins are loaded (plugins_for(settings))."""
        self.ctx = ctx
        self.settings = ctx.settings
        self.db = ctx.db
        self.req = request
        self.group = request.group
        self.on_event = on_event
        self.followups = followups
        self.approver = approver  # a person decides on external/destructive tools
        self.run_id = store.new_run_id()
        self.token = secrets.token_urlsafe(32)
        self.choice = choose_model(
            self.settings,
            flag=request.model,
            group_model=self.group.model,
            group_account=self.group.account,
        )
        self.runtime: Runtime = get_runtime(self.settings, request.runtime)
        self.toolbox = HostToolbox(
            self.db, self.group, self.run_id, self.settings.assistant_name, deliver
        )
        if plugins is _NO_PLUGINS:
            plugins = load_plugins_safely(self.settings)
        self.ext = RunExtensions(plugins, self.settings, ctx.paths, self.group, self._hook_failed)
        self.info = RunInfo(
            run_id=self.run_id,
            group=self.group.name,
            folder=self.group.path,
            prompt=request.prompt,
            model=self.choice.spec,
            runtime=self.runtime.name,
            task_id=request.task_id,
            settings=self.settings,
        )
        extra = self.ext.static_specs()
        self.tool_specs = {t["name"]: t for t in [*protocol.LOCAL_TOOLS, *HOST_TOOLS, *extra]}
        self.host_tool_names = {*HOST_TOOL_NAMES, *(t["name"] for t in extra)}
        # Local tools the container asks about first, when a plugin has a before_tool hook.
        self.tool_checks = (
            list(protocol.LOCAL_TOOL_NAMES) if self.ext.hooks.has("pynchy_before_tool") else []
        )
        self.tool_inputs: dict[str, dict[str, Any]] = {}  # tool_use id -> arguments
        self.session_id = (
            None if request.new_session else self.group.session_id
        ) or store.new_session_id()
        self.history = (
            [] if request.new_session else store.load_session(self.db, self.group.session_id)
        )
        self.system = self._system_prompt()
        self.model_calls = 0
        self.result: dict[str, Any] | None = None
        self.error: str | None = None
        self.core: AgentCore | None = None

    # --- events ------------------------------------------------------------------------

    def emit(self, kind: str, **data: Any) -> None:
        event = store.add_event(self.db, self.run_id, kind, data)
        if self.on_event:
            self.on_event(event)

    def _warn(self, message: str) -> None:
        """A problem that costs the run a feature but not the run: logged, audited and
        put in the transcript."""
        _log_warning(f"run {self.run_id}: {message}")
        store.audit(
            self.db, "run", "warning", run_id=self.run_id, group_id=self.group.id, message=message
        )
        self.emit("error", message=message, warning=True)

    def _hook_failed(self, plugin: str, hook: str, exc: BaseException) -> None:
        store.audit(
            self.db,
            f"hook:{hook}",
            "failed",
            run_id=self.run_id,
            group_id=self.group.id,
            plugin=plugin,
            error=f"{type(exc).__name__}: {exc}",
        )
        message = f"plugin {plugin}: {hook} raised {type(exc).__name__}: {exc} (skipped)"
        _log_warning(f"run {self.run_id}: {message}")
        self.emit("error", message=message, warning=True)

    async def _approve(self, tool: str, arguments: dict[str, Any]) -> bool:
        assert self.approver is not None
        return await self.approver.request(self.run_id, self.group.id, tool, arguments)

    def _audit_tool(self, tool: str, decision: str, **detail: Any) -> None:
        store.audit(
            self.db, f"tool:{tool}", decision, run_id=self.run_id, group_id=self.group.id, **detail
        )

    def _system_prompt(self) -> str:
        return system_prompt(
            self.settings.assistant_name,
            self.group,
            ensure_global_memory(self.ctx.paths),
            list(self.tool_specs),
            skills=self.ext.skill_list(),
        )

    def _refused(self, reason: str) -> None:
        store.audit(
            self.db, "socket", "refused", run_id=self.run_id, group_id=self.group.id, reason=reason
        )

    # --- socket requests ---------------------------------------------------------------

    async def _handle(self, op: str, body: dict[str, Any]) -> dict[str, Any]:
        if op == protocol.OP_INPUT:
            return self._run_input()
        if op == protocol.OP_MODEL:
            return await self._model(body)
        if op == protocol.OP_TOOL:
            return await self._tool(body)
        if op == protocol.OP_EVENT:
            return self._container_event(body)
        if op == protocol.OP_TOOL_CHECK:
            return self._tool_check(body)
        return await self._followup(body)

    def _run_input(self) -> dict[str, Any]:
        return {
            "v": protocol.VERSION,
            "run_id": self.run_id,
            "group": self.group.name,
            "prompt": self.req.prompt,
            "history": self.history,
            "tools": list(self.tool_specs),
            "host_tools": sorted(self.host_tool_names),
            "tool_checks": self.tool_checks,
            "limits": {"max_turns": self.settings.limits.max_turns, "max_tokens": 8192},
            "followup_wait": self.req.followup_wait,
        }

    async def _model(self, body: dict[str, Any]) -> dict[str, Any]:
        request = protocol.check_model_request(body)
        unknown = [n for n in request["tools"] if n not in self.tool_specs]
        if unknown:
            raise protocol.ProtocolError(f"tools not allowed in this run: {', '.join(unknown)}")
        self.model_calls += 1
        if self.model_calls > self.settings.limits.max_turns:
            raise protocol.ProtocolError("model turn limit reached")
        assert self.core is not None
        try:
            result = await self.core.complete(
                system=self.system,
                messages=request["messages"],
                tools=[self.tool_specs[n] for n in request["tools"]],
                max_tokens=request["max_tokens"],
            )
        except Exception as exc:
            self.error = exc.line() if isinstance(exc, PynchyError) else str(exc)
            self.emit("error", message=self.error)
            raise
        self.history = [*request["messages"], {"role": "assistant", "content": result.content}]
        self.tool_inputs = {b["id"]: b["input"] for b in result.content if b["type"] == "tool_use"}
        for block in result.content:
            if block["type"] == "text" and block["text"].strip():
                self.emit("text", text=block["text"])
            elif block["type"] == "thinking":
                self.emit("thinking", text=block["thinking"])
            elif block["type"] == "tool_use":
                self.emit("tool_use", id=block["id"], name=block["name"], input=block["input"])
        usage = result.usage.as_dict()
        self.emit("usage", model=result.model, **usage, cost_usd=result.cost_usd)
        store.add_usage(
            self.db, self.run_id, usage["input_tokens"], usage["output_tokens"], result.cost_usd
        )
        return {"content": result.content, "stop_reason": result.stop_reason}

    async def _tool(self, body: dict[str, Any]) -> dict[str, Any]:
        name, arguments = body.get("name"), body.get("input", {})
        if not isinstance(name, str) or name not in self.host_tool_names:
            raise protocol.ProtocolError(f"no host tool {str(name)[:64]!r}")
        if not isinstance(arguments, dict):
            content, is_error = await self.toolbox.call(name, arguments)  # refused there
        else:
            decision = self._before_tool(name, arguments)
            arguments = decision.arguments
            if decision.refused:
                content, is_error = f"refused: {decision.refused}", True
            elif self.ext.owns(name):
                content, is_error = await self.ext.call(
                    name, arguments, self._audit_tool, self._approve if self.approver else None
                )
            else:
                content, is_error = await self.toolbox.call(name, arguments)
            self.ext.hooks.after_tool(self.info, name, arguments, ToolResult(content, is_error))
        self.emit("tool_result", name=name, content=content, is_error=is_error)
        return {"content": content, "is_error": is_error}

    def _before_tool(self, name: str, arguments: dict[str, Any]) -> Any:
        decision = self.ext.hooks.before_tool(self.info, name, arguments)
        if decision.refused:
            self._audit_tool(name, "refused", reason=decision.refused, by="hook")
        elif decision.changed_by:
            self._audit_tool(name, "changed", by=decision.changed_by, arguments=decision.arguments)
        return decision

    def _tool_check(self, body: dict[str, Any]) -> dict[str, Any]:
        """The container asks before it runs a local tool: plugins may change or refuse it."""
        name, arguments, tool_id = body.get("name"), body.get("input", {}), body.get("id")
        if not isinstance(name, str) or name not in self.tool_checks:
            raise protocol.ProtocolError(f"no local tool to check {str(name)[:64]!r}")
        if not isinstance(arguments, dict):
            raise protocol.ProtocolError("tool input must be an object")
        decision = self._before_tool(name, arguments)
        if isinstance(tool_id, str):
            self.tool_inputs[tool_id] = decision.arguments
        if decision.refused:
            return {"allow": False, "reason": decision.refused}
        return {"allow": True, "input": decision.arguments}

    def _container_event(self, body: dict[str, Any]) -> dict[str, Any]:
        event = protocol.check_event(body)
        kind, data = event["kind"], event["data"]
        if kind not in _ALLOWED_CONTAINER_EVENTS:
            raise protocol.ProtocolError(f"the container may not send {kind} events")
        if kind == "tool_result":
            tool_id, name = str(data.get("tool_use_id", ""))[:128], str(data.get("name", ""))[:64]
            content = str(data.get("content", ""))[: protocol.MAX_TOOL_OUTPUT + 200]
            is_error = bool(data.get("is_error"))
            self.emit(kind, tool_use_id=tool_id, name=name, content=content, is_error=is_error)
            if name in protocol.LOCAL_TOOL_NAMES:
                arguments = self.tool_inputs.get(tool_id, {})
                self.ext.hooks.after_tool(self.info, name, arguments, ToolResult(content, is_error))
        elif kind == "result":
            status = "ok" if data.get("status") == "ok" else str(data.get("status", "failed"))[:32]
            self.result = {"status": status, "text": str(data.get("text", ""))}
            self.emit("result", status=status, text=self.result["text"])
        else:
            self.error = str(data.get("message", "agent error"))[:4000]
            self.emit("error", message=self.error)
        return {}

    async def _followup(self, body: dict[str, Any]) -> dict[str, Any]:
        wait = body.get("wait", 0)
        if not isinstance(wait, int) or self.followups is None:
            return {"prompt": None}
        wait = min(max(wait, 0), self.settings.limits.idle_timeout)
        try:
            prompt = await asyncio.wait_for(self.followups.get(), timeout=wait)
        except TimeoutError:
            return {"prompt": None}
        if prompt is None:  # serve is stopping
            return {"prompt": None}
        self.result = None
        return {"prompt": prompt}

    # --- the run -----------------------------------------------------------------------

    async def execute(self) -> RunOutcome:
        self.group.path.mkdir(parents=True, exist_ok=True)
        run_dir = self.ctx.paths.runs_dir / self.run_id
        run_dir.mkdir(parents=True, exist_ok=True)
        os.chmod(run_dir, 0o755)
        spec = container_spec(
            self.settings, self.ctx.paths, self.group, self.run_id, self.token, run_dir
        )
        store.create_run(
            self.db,
            self.run_id,
            self.group.id,
            model=self.choice.spec,
            account=self.choice.account,
            runtime=self.runtime.name,
            container=spec.name,
            session_id=self.session_id,
            prompt=self.req.prompt,
            system_prompt=self.system,
            task_id=self.req.task_id,
        )
        socket = RunSocket(
            run_dir / protocol.SOCKET_NAME,
            token=self.token,
            group=self.group.name,
            max_bytes=self.settings.limits.max_request_bytes,
            handler=self._handle,
            on_refused=self._refused,
        )
        status, exit_code, handle = "failed", None, None
        outcome: RunOutcome | None = None
        try:
            refusal = self.ext.hooks.before_run(self.info)
            if refusal:
                self.error = f"refused by {refusal}"
                store.audit(
                    self.db,
                    "run",
                    "refused",
                    run_id=self.run_id,
                    group_id=self.group.id,
                    reason=refusal,
                )
                self.emit("error", message=self.error)
                return self._outcome(status, exit_code)
            self.core = make_core(self.choice, self.settings)
            await self._add_mcp_tools()
            await socket.start()
            handle = await asyncio.to_thread(self.runtime.start, spec)
            if handle.pid:
                store.update_run(self.db, self.run_id, pid=handle.pid)
            # A stop that came while the container was starting: the finally stops it.
            exit_code = None if self._stopped() else await self._wait(handle)
            status = self._status(exit_code)
        except asyncio.CancelledError:
            status = "stopped"
            raise
        except Exception as exc:
            if not self._stopped():
                self.error = exc.line() if isinstance(exc, PynchyError) else str(exc)
                raise
            status = "stopped"  # the stop raced the start: not an error of the run
        finally:
            if handle is not None:
                if status != "succeeded" and not self.error:
                    self.error = self._tail_logs(handle)
                await asyncio.to_thread(self.runtime.stop, handle)
            await socket.close()
            if self.core is not None:
                with contextlib.suppress(Exception):
                    await self.core.aclose()
            with contextlib.suppress(Exception):
                await self.ext.aclose()
            self._finish(status)
            shutil.rmtree(run_dir, ignore_errors=True)
            outcome = self._outcome(status, exit_code)
            if status != "succeeded":
                self.ext.hooks.on_error(self.info, self.error or status)
            self.ext.hooks.after_run(self.info, outcome)
        return outcome

    def _outcome(self, status: str, exit_code: int | None) -> RunOutcome:
        return RunOutcome(
            self.run_id,
            status,
            text=(self.result or {}).get("text", ""),
            error=self.error,
            exit_code=exit_code,
            messages_sent=list(self.toolbox.sent),
        )

    async def _add_mcp_tools(self) -> None:
        """Start (or recall) the MCP servers this group may use and add their tools."""
        for warning in self.ext.take_warnings():
            self._warn(warning)
        specs = await self.ext.mcp_specs()
        for warning in self.ext.take_warnings():
            self._warn(warning)
        if not specs:
            return
        for spec in specs:
            self.tool_specs[spec["name"]] = spec
            self.host_tool_names.add(spec["name"])
        self.system = self._system_prompt()
        store.update_run(self.db, self.run_id, system_prompt=self.system)

    async def _wait(self, handle: Any) -> int | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.limits.run_timeout
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                self.error = f"timed out after {self.settings.limits.run_timeout}s"
                self.emit("error", message=self.error)
                return None
            code = await asyncio.to_thread(self.runtime.wait, handle, min(remaining, 1.0))
            if code is not None:
                return code

    def _stopped(self) -> bool:
        """`pynchy agent stop` marked this run stopped (from another process)."""
        return store.get_run(self.db, self.run_id)["status"] == "stopped"

    def _status(self, exit_code: int | None) -> str:
        if self._stopped():
            return "stopped"
        if exit_code is None:
            return "timeout"
        ok = exit_code == 0 and self.result is not None and self.result["status"] == "ok"
        return "succeeded" if ok else "failed"

    def _tail_logs(self, handle: Any) -> str | None:
        try:
            lines = list(self.runtime.logs(handle))[-20:]
        except Exception:
            return None
        text = "\n".join(line.rstrip() for line in lines).strip()
        return text[-4000:] or None

    def _finish(self, status: str) -> None:
        store.finish_run(
            self.db,
            self.run_id,
            status,
            result=(self.result or {}).get("text"),
            error=None if status == "succeeded" else self.error,
        )
        if self.toolbox.reset_requested:
            update_group(self.db, self.group.name, session_id=None)
        elif self.history:
            store.save_session(self.db, self.session_id, self.group.id, self.history)
            update_group(self.db, self.group.name, session_id=self.session_id)
