"""Answering one run's socket requests: the conversation between container and host.

The socket (host_socket.RunSocket) has already checked each request's token, group, size
and shape; RunHandlers answers its op with the run's prepared context (prepare.PreparedRun):
the run input, model calls proxied to the agent core (which adds the account's real
credentials), tool calls served on the host, checks of local tools, the container's own
events and follow-up prompts. Every tool call and check passes the run's policy gate
(core.policy.gate) between the plugins' before_tool hooks and the call. It keeps what
the conversation leaves behind: history, result, error, the arguments of the latest tool
calls and the number of model calls.
"""

from __future__ import annotations

import asyncio
from typing import Any

from pynchy_cli import protocol
from pynchy_cli.core.agent import store
from pynchy_cli.core.agent.approvals import Approver
from pynchy_cli.core.agent.context_window import RunContext
from pynchy_cli.core.agent.prepare import PreparedRun
from pynchy_cli.core.agent_cores.base import AgentCore
from pynchy_cli.core.errors import PynchyError
from pynchy_cli.core.plugins.lifecycle import ToolDecision, ToolResult
from pynchy_cli.core.policy.gate import Decision

_ALLOWED_CONTAINER_EVENTS = ("tool_result", "result", "error")
HANDED_OFF = "(handed off)"


class RunHandlers:
    def __init__(
        self,
        run: PreparedRun,
        *,
        followups: asyncio.Queue[str | None] | None = None,
        approver: Approver | None = None,
    ):
        self.run = run
        self.followups = followups  # the group's next prompts, for a warm container (serve)
        self.gate = run.gate
        self.gate.approver = approver  # a person decides on the calls the gate asks about
        self.events = run.events
        self.core: AgentCore | None = None  # set by the lifecycle once the run may start
        self.history: list[dict[str, Any]] = run.history  # the session, saved after the run
        run.delegation.conversation = lambda: self.history  # what a handoff passes on
        self.context = RunContext(run)  # the room each model request has, and compaction
        self.tool_inputs: dict[str, dict[str, Any]] = {}  # tool_use id -> arguments
        self.local_decisions: dict[str, Decision] = {}  # tool_use id -> the gate's decision
        self.model_calls = 0
        self.message_checker = protocol.MessageChecker()  # each request's new messages only
        self.result: dict[str, Any] | None = None  # the container's result event
        self.error: str | None = None  # why the run failed; the lifecycle sets it too
        self.result_arrived = asyncio.Event()  # set with self.result, cleared by a follow-up
        # The core is built while the container starts: requests wait for it.
        self.ready: asyncio.Future[None] | None = None
        # The runner's last word came (an ok result it ends on, or no follow-up for it):
        # it exits 0 now, so the run need not wait to see the exit.
        self.finished = asyncio.Event()
        # The latest model reply called no tool: a result now is the runner's answer, not
        # one sent from inside a tool (which a hostile workspace can do).
        self.model_answered = False

    async def handle(self, op: str, body: dict[str, Any]) -> dict[str, Any]:
        """The answer to one request (a ProtocolError refuses it)."""
        if self.ready is not None:
            await self.ready
        if op == protocol.OP_INPUT:
            return self.run_input()
        if op == protocol.OP_MODEL:
            return await self.model_call(body)
        if op == protocol.OP_TOOL:
            return await self.tool_call(body)
        if op == protocol.OP_EVENT:
            return self.container_event(body)
        if op == protocol.OP_COMPACT:
            return await self.context.compact(self.core, body)
        if op == protocol.OP_TOOL_CHECK:
            return await self.tool_check(body)
        return await self.followup(body)

    def run_input(self) -> dict[str, Any]:
        """What the container needs to start: prompt, history, tools and limits."""
        run, settings = self.run, self.run.settings
        return {
            "v": protocol.VERSION,
            "run_id": run.run_id,
            "group": run.group.name,
            "prompt": self.context.prompt,
            "context": self.context.run_input(),
            "history": self.history,
            "tools": list(run.tool_specs),
            "host_tools": sorted(run.host_tool_names),
            "tool_checks": run.tool_checks,
            "limits": {"max_turns": settings.limits.max_turns, "max_tokens": 8192},
            "followup_wait": run.request.followup_wait,
        }

    # --- model calls -------------------------------------------------------------------

    async def model_call(self, body: dict[str, Any]) -> dict[str, Any]:
        """Proxy one model call: the host's system prompt and tool specs, the agent core's
        credentials; the reply's blocks and usage are stored as events."""
        run = self.run
        if run.delegation.handoff is not None:  # its turn is over: no need to ask a model
            self.model_answered = True
            return {"content": [{"type": "text", "text": HANDED_OFF}], "stop_reason": "end_turn"}
        request = protocol.check_model_request(body, self.message_checker)
        unknown = [n for n in request["tools"] if n not in run.tool_specs]
        if unknown:
            raise protocol.ProtocolError(f"tools not allowed in this run: {', '.join(unknown)}")
        self.model_calls += 1
        if self.model_calls > run.settings.limits.max_turns:
            raise protocol.ProtocolError(
                f"model turn limit reached ({run.settings.limits.max_turns} per prompt)"
            )
        assert self.core is not None
        try:
            result = await self.core.complete(
                system=run.system,
                messages=request["messages"],
                tools=[run.tool_specs[n] for n in request["tools"]],
                max_tokens=request["max_tokens"],
            )
        except Exception as exc:
            self.error = exc.line() if isinstance(exc, PynchyError) else str(exc)
            self.events.emit("error", message=self.error)
            raise
        self.history = [*request["messages"], {"role": "assistant", "content": result.content}]
        self.tool_inputs = {b["id"]: b["input"] for b in result.content if b["type"] == "tool_use"}
        self.model_answered = not self.tool_inputs
        self._refuse_unoffered(result.content)
        for block in result.content:
            if block["type"] == "text" and block["text"].strip():
                self.events.emit("text", text=block["text"])
            elif block["type"] == "thinking":
                self.events.emit("thinking", text=block["thinking"])
            elif block["type"] == "tool_use":
                self.events.emit(
                    "tool_use", id=block["id"], name=block["name"], input=block["input"]
                )
        usage = result.usage.as_dict()
        self.events.emit("usage", model=result.model, **usage, cost_usd=result.cost_usd)
        # The ledger counts every input token, cached ones too: budgets cap what was processed.
        tokens_in, tokens_out = result.usage.all_input_tokens, usage["output_tokens"]
        store.add_usage(run.db, run.run_id, tokens_in, tokens_out, result.cost_usd)
        return {"content": result.content, "stop_reason": result.stop_reason}

    # --- tool calls --------------------------------------------------------------------

    async def tool_call(self, body: dict[str, Any]) -> dict[str, Any]:
        """Run a tool the host serves (pynchy's own, MCP or plugin tools): the plugins'
        before_tool hooks, the schema check, the policy gate, the call, its outcome on the
        audit row, then the after_tool hooks. Every host tool call goes through here."""
        run = self.run
        name, arguments = body.get("name"), body.get("input", {})
        if not isinstance(name, str) or name not in run.known_host_tools:
            raise protocol.ProtocolError(f"no host tool {str(name)[:64]!r}")
        if not isinstance(arguments, dict):
            content, is_error = "arguments must be an object", True
            self.gate.refuse(name, content)
        else:
            hooked = self._before_tool(name, arguments)
            arguments = hooked.arguments
            problem = None if hooked.refused else run.argument_problem(name, arguments)
            if hooked.refused:
                content, is_error = f"refused: {hooked.refused}", True
            elif problem:
                self.gate.refuse(name, problem)
                content, is_error = problem, True
            else:
                decision = await self.gate.check(name, arguments)
                if decision.allowed:
                    serve = run.server_of(name).call
                    content, is_error = await serve(name, arguments)
                    self.gate.record_outcome(decision, content, is_error)
                else:
                    content, is_error = decision.message, True
            run.ext.hooks.after_tool(run.info, name, arguments, ToolResult(content, is_error))
        content = self.context.trim_result(content)
        self.events.emit("tool_result", name=name, content=content, is_error=is_error)
        return {"content": content, "is_error": is_error}

    async def tool_check(self, body: dict[str, Any]) -> dict[str, Any]:
        """The container asks before it runs a local tool: plugins may change or refuse
        it, then the gate decides (and may ask a person)."""
        name, arguments, tool_id = body.get("name"), body.get("input", {}), body.get("id")
        if not isinstance(name, str) or name not in protocol.LOCAL_TOOL_NAMES:
            raise protocol.ProtocolError(f"no local tool to check {str(name)[:64]!r}")
        if not isinstance(arguments, dict):
            raise protocol.ProtocolError("tool input must be an object")
        tool_id = tool_id[:128] if isinstance(tool_id, str) else None
        if name in self.run.tool_checks:
            hooked = self._before_tool(name, arguments)
            arguments = hooked.arguments
            if tool_id:
                self.tool_inputs[tool_id] = arguments
            if hooked.refused:
                return {"allow": False, "reason": hooked.refused}
        decision = await self.gate.check(name, arguments)
        if not decision.allowed:
            return {"allow": False, "reason": decision.message}
        if tool_id:
            self.local_decisions[tool_id] = decision
        return {"allow": True, "input": arguments}

    def _before_tool(self, name: str, arguments: dict[str, Any]) -> ToolDecision:
        decision = self.run.ext.hooks.before_tool(self.run.info, name, arguments)
        if decision.refused:
            self.gate.refuse(name, decision.refused, by="hook")
        elif decision.changed_by:
            self.events.audit_tool(
                name, "changed", by=decision.changed_by, arguments=decision.arguments
            )
        return decision

    def _refuse_unoffered(self, content: list[dict[str, Any]]) -> None:
        """A model's call of one of pynchy's tools that this run does not offer (its
        profile forbids it) is refused by the container; the host records it."""
        for block in content:
            name = block.get("name")
            if block["type"] != "tool_use" or name in self.run.tool_specs:
                continue
            if self.gate.knows(name):
                self.gate.refuse(name, self.gate.refusal(name) or f"{name} is not offered")

    # --- the container's events and follow-ups -----------------------------------------

    def container_event(self, body: dict[str, Any]) -> dict[str, Any]:
        """Store an event the container reports: a local tool's result, the run's result
        or an error. Other kinds are the host's to write."""
        event = protocol.check_event(body)
        kind, data = event["kind"], event["data"]
        if kind not in _ALLOWED_CONTAINER_EVENTS:
            raise protocol.ProtocolError(f"the container may not send {kind} events")
        if kind == "tool_result":
            tool_id, name = str(data.get("tool_use_id", ""))[:128], str(data.get("name", ""))[:64]
            content = str(data.get("content", ""))[: protocol.MAX_TOOL_OUTPUT + 200]
            is_error = bool(data.get("is_error"))
            self.events.emit(
                kind, tool_use_id=tool_id, name=name, content=content, is_error=is_error
            )
            decision = self.local_decisions.pop(tool_id, None)
            if decision is not None and decision.tool == name:
                self.gate.record_outcome(decision, content, is_error)
            if name in protocol.LOCAL_TOOL_NAMES:
                arguments = self.tool_inputs.get(tool_id, {})
                self.run.ext.hooks.after_tool(
                    self.run.info, name, arguments, ToolResult(content, is_error)
                )
        elif kind == "result":
            if self.result_arrived.is_set():  # each answer is a reply: more would be spam
                raise protocol.ProtocolError("the run already answered this prompt")
            status = "ok" if data.get("status") == "ok" else str(data.get("status", "failed"))[:32]
            self.result = {"status": status, "text": str(data.get("text", ""))}
            if self.run.delegation.handoff is None:
                self.events.emit("result", status=status, text=self.result["text"])
            else:  # it does not answer: stored, not passed on; the successor's is the reply
                text = self.result["text"]
                self.events.record("result", status=status, text=text, handed_off=True)
            self.result_arrived.set()
            if status == "ok" and self.model_answered and self.run.request.followup_wait <= 0:
                self.finished.set()  # the runner exits 0 after an ok result it waits past
        else:
            self.error = str(data.get("message", "agent error"))[:4000]
            self.events.emit("error", message=self.error)
        return {}

    async def followup(self, body: dict[str, Any]) -> dict[str, Any]:
        """A warm container waits (up to idle_timeout) for the group's next prompt."""
        wait = body.get("wait", 0)
        handed_off = self.run.delegation.handoff is not None  # follow-ups go to the successor
        if not isinstance(wait, int) or self.followups is None or handed_off:
            return self._no_followup()
        wait = min(max(wait, 0), self.run.settings.limits.idle_timeout)
        try:
            prompt = await asyncio.wait_for(self.followups.get(), timeout=wait)
        except TimeoutError:
            return self._no_followup()
        if prompt is None:  # serve is stopping
            return self._no_followup()
        self.result = None
        self.result_arrived.clear()
        self.model_answered = False
        self.model_calls = 0  # limits.max_turns is per prompt, not per warm run
        return {"prompt": self.context.fit_prompt(prompt)}

    def _no_followup(self) -> dict[str, Any]:
        if self.model_answered and self.result is not None and self.result["status"] == "ok":
            self.finished.set()  # the runner ends its loop and exits 0
        return {"prompt": None}
