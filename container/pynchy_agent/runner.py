"""The agent loop: fetch the run input, then model <-> tools until the model is done.

Model calls and pynchy's own tools go to the host over the socket; file and shell tools
run here, inside the container. After answering, the runner may wait for follow-ups
(a warm container) before it exits.
"""

from __future__ import annotations

import contextlib
import os
import sys
import traceback
from typing import Any

from pynchy_agent.client import HostClient, HostError
from pynchy_agent.context import ConversationFitter
from pynchy_agent.tools import Workspace, run_local_tool
from pynchy_cli import protocol


def _text_of(content: list[dict[str, Any]]) -> str:
    return "\n".join(b["text"] for b in content if b.get("type") == "text").strip()


class Agent:
    def __init__(self, host: HostClient, run_input: dict[str, Any], workspace: Workspace):
        self.host = host
        self.input = run_input
        self.workspace = workspace
        self.tools: list[str] = list(run_input.get("tools", []))
        self.host_tools = set(run_input.get("host_tools", []))
        # Local tools the host's plugins want to see (and may change or refuse) first.
        self.tool_checks = set(run_input.get("tool_checks", []))
        limits = run_input.get("limits", {})
        self.max_turns = int(limits.get("max_turns", 50))
        self.max_tokens = int(limits.get("max_tokens", 4096))
        self.messages: list[dict[str, Any]] = list(run_input.get("history", []))
        # How much each model request may hold; older hosts send no "context".
        self.room = protocol.ContextRoom(run_input.get("context"))
        self.fitter = ConversationFitter(host, self.room)

    def answer(self, prompt: str) -> tuple[str, str]:
        """Run the loop for one prompt; returns (status, final text)."""
        self._add_prompt(prompt)
        for _ in range(self.max_turns):
            self.messages = self.fitter.fit(self.messages)
            reply = self.host.call(
                protocol.OP_MODEL,
                {"messages": self.messages, "tools": self.tools, "max_tokens": self.max_tokens},
            )
            content = reply.get("content", [])
            self.messages.append({"role": "assistant", "content": content})
            if reply.get("stop_reason") != "tool_use":
                return "ok", _text_of(content)
            results = [self._call_tool(b) for b in content if b.get("type") == "tool_use"]
            self.messages.append({"role": "user", "content": results})
        return "max_turns", f"stopped after {self.max_turns} model turns"

    def _add_prompt(self, prompt: str) -> None:
        """A new user turn, or the prompt joins a trailing user turn without tool results
        (the summary a compacted session ends with), so that turns keep alternating."""
        block = {"type": "text", "text": prompt}
        last = self.messages[-1] if self.messages else None
        if last is not None and last["role"] == "user" and not protocol.has_tool_result(last):
            self.messages[-1] = {"role": "user", "content": [*protocol.blocks_of(last), block]}
        else:
            self.messages.append({"role": "user", "content": [block]})
        self.fitter.request, self.fitter.prompt = self.messages[-1], prompt

    def _check(self, tool_id: str, name: str, arguments: Any) -> tuple[bool, Any, str]:
        """(allowed, arguments to use, refusal) from the host, for tools it wants to check.
        A failed check refuses the call: the host asked to be asked."""
        if name not in self.tool_checks:
            return True, arguments, ""
        body = {"id": tool_id, "name": name, "input": arguments}
        try:
            reply = self.host.call(protocol.OP_TOOL_CHECK, body)
        except HostError as exc:
            return False, arguments, f"refused by the host: {exc}"
        if not reply.get("allow"):
            return False, arguments, f"refused by the host: {reply.get('reason') or 'refused'}"
        new = reply.get("input", arguments)
        return True, new if isinstance(new, dict) else arguments, ""

    def _call_tool(self, block: dict[str, Any]) -> dict[str, Any]:
        name, arguments = block["name"], block.get("input", {})
        if name in self.host_tools:
            try:
                reply = self.host.call(protocol.OP_TOOL, {"name": name, "input": arguments})
                content, is_error = str(reply.get("content", "")), bool(reply.get("is_error"))
            except HostError as exc:
                content, is_error = f"refused by the host: {exc}", True
        elif name in self.tools:
            allowed, arguments, refusal = self._check(block["id"], name, arguments)
            if allowed:
                content, is_error = run_local_tool(self.workspace, name, arguments)
            else:
                content, is_error = refusal, True
        else:
            content, is_error = f"tool {name} is not available in this run", True
        content = protocol.trim_text(content, self.room.max_tool_result)
        if name not in self.host_tools:  # the host records the results of its own tools
            self.host.event(
                "tool_result",
                tool_use_id=block["id"],
                name=name,
                content=content,
                is_error=is_error,
            )
        return {
            "type": "tool_result",
            "tool_use_id": block["id"],
            "content": content,
            "is_error": is_error,
        }


def main() -> int:
    try:
        host = HostClient.from_env()
    except (KeyError, OSError) as exc:
        print(f"pynchy-agent: cannot reach the host socket: {exc}", file=sys.stderr)
        return 2
    try:
        run_input = host.call(protocol.OP_INPUT)
        workspace = Workspace(os.environ.get(protocol.ENV_WORKSPACE, protocol.WORKSPACE))
        agent = Agent(host, run_input, workspace)
        prompt: str | None = run_input["prompt"]
        wait = int(run_input.get("followup_wait", 0))
        while prompt is not None:
            status, text = agent.answer(prompt)
            host.event("result", status=status, text=text)
            if status != "ok" or wait <= 0:
                return 0 if status == "ok" else 1
            prompt = host.call(protocol.OP_FOLLOWUP, {"wait": wait}).get("prompt")
        return 0
    except HostError as exc:
        print(f"pynchy-agent: {exc}", file=sys.stderr)
        return 1
    except Exception as exc:  # report anything unexpected as the run's error, then fail
        detail = "".join(traceback.format_exception_only(exc)).strip()
        with contextlib.suppress(HostError, OSError):
            host.event("error", message=detail)
        traceback.print_exc()
        return 1
    finally:
        host.close()
