"""Delegate and handoff: one agent starts another agent's run.

`delegate` is a blocking host tool: the agent names a task, the context to pass and
optionally an agent profile (core.agent.profiles); pynchy starts a new run in its own
container (the group's workspace, a fresh session), waits for it, and returns its final
answer as the tool result (its failure or timeout as a tool error).

`handoff` ends the current agent: it chooses what the next agent gets (a summary,
messages of the conversation by number, workspace files) and which profile takes over.
Once the run has ended, the successor answers the person (the first run's own final
text is not delivered) and the group's session becomes the successor's, held by its
agent, so the group's next messages go to it too.

Both pass the policy gate (tier write: a person approves where the security profile
asks, or where the target profile says `ask`) and are limited per run: delegates by depth
and count ([limits] max_delegate_depth and max_delegates, which an agent profile narrows
or, for the count, sets), handoffs by how many follow one another (max_handoffs).
Refusals are tool errors with an audit row. A linked run takes no slot nor group lock of
its own: it runs inside its parent's. The run lifecycle (core.agent.run) provides `start`,
which builds and executes a linked run; the socket handlers provide `conversation`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pynchy_cli import protocol
from pynchy_cli.core.agent import store
from pynchy_cli.core.agent.host_tools import check_arguments
from pynchy_cli.core.agent.profiles import AgentProfile, listing
from pynchy_cli.core.errors import PynchyError, UsageError
from pynchy_cli.core.policy.tiers import register_tool
from pynchy_cli.core.workspace_files import UnsafePath, read_text

DELEGATE, HANDOFF = "delegate", "handoff"
register_tool(DELEGATE, "write")  # starts a run of this group's own agents
register_tool(HANDOFF, "write")

MAX_FILES = 10  # workspace files one handoff passes on
MAX_FILE_BYTES = 50_000  # of each
MAX_MESSAGES = 50

SUBAGENT_NOTE = (
    "You are a sub-agent: another agent delegated a task to you. Your final answer goes "
    "back to that agent as the result of its tool call, not to the group: make it complete "
    "and self-contained."
)
SUCCESSOR_NOTE = (
    "Another agent handed this conversation over to you: you answer from here on, and "
    "your final answer is {where}."
)
STOP = "Handed off to {who}. End your turn now, without another tool call: {who} answers."

# start(request) -> (the linked run's outcome, the taint its gate ended with)
LinkedStart = Callable[[Any], Awaitable[tuple[Any, tuple[str, str] | None]]]


@dataclass(frozen=True)
class Lineage:
    """Where a run sits among linked runs. A run a person or task started has the default."""

    parent_run_id: str | None = None
    link: str | None = None  # delegate | handoff
    depth: int = 0  # delegates down from the run a person or task started
    max_depth: int | None = None  # the depth its delegates may reach; None: [limits]
    handoffs: int = 0  # handoffs in a row that led to this run
    owns_session: bool = True  # its session becomes the group's (a delegate's does not)
    taint: tuple[str, str] | None = None  # what the run it came from had read (trifecta)


@dataclass(frozen=True)
class Handoff:
    agent: str | None  # the profile that takes over; None: the group's own agent
    prompt: str  # what the successor is told


def pick_agent(
    db: Any, request: Any, agents: dict[str, AgentProfile]
) -> tuple[AgentProfile | None, str | None]:
    """(the agent profile a run uses, a warning): the one asked for, else the one holding
    the session it resumes; None for the group's own agent."""
    name = request.agent
    if name is not None and name not in agents:
        known = ", ".join(agents) or "none configured"
        raise UsageError(f"no agent profile {name!r}", f"Agents: {known}; see [agents.NAME]")
    if name is None and request.lineage is None and not request.new_session:
        name = store.session_agent(db, request.group.session_id)
        if name is not None and name not in agents:
            return None, f"the agent {name} holding this session is gone; the group's own answers"
    return (agents[name] if name else None), None


def delegate_prompt(task: str, context: str) -> str:
    return f"{task}\n\n<context>\n{context}\n</context>" if context.strip() else task


def conversation_texts(history: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(role, text) of the conversation's messages that hold text, oldest first, without
    the newest assistant turn (the one that is handing off)."""
    if history and history[-1].get("role") == "assistant":
        history = history[:-1]
    found = []
    for message in history:
        blocks = message.get("content", [])
        if isinstance(blocks, str):
            blocks = [{"type": "text", "text": blocks}]
        text = "\n".join(b["text"] for b in blocks if b.get("type") == "text").strip()
        if text:
            found.append(("person" if message.get("role") == "user" else "assistant", text))
    return found


class Delegation:
    def __init__(
        self,
        *,
        settings: Any,
        run_id: str,
        group: Any,
        request: Any,
        lineage: Lineage,
        agent: AgentProfile | None,
        agents: dict[str, AgentProfile],
        gate: Any,
        events: Any,
    ):
        """`group`: the group as stored (a linked run applies its own agent to it);
        `agents`: the profiles this group may use; `gate`: the run's policy gate."""
        limits = settings.limits
        self.run_id, self.group, self.request = run_id, group, request
        self.lineage, self.agent, self.agents = lineage, agent, agents
        self.gate, self.events = gate, events
        inherited = limits.max_delegate_depth if lineage.max_depth is None else lineage.max_depth
        self.max_depth = inherited
        if agent is not None and agent.max_depth is not None:
            self.max_depth = min(inherited, lineage.depth + agent.max_depth)
        own = agent.max_children if agent is not None else None
        self.max_children = limits.max_delegates if own is None else own
        self.max_handoffs = limits.max_handoffs
        self.delegates = 0  # delegate calls this run made
        self.handoff: Handoff | None = None
        self.start: LinkedStart | None = None  # set by the run's lifecycle
        self.conversation: Callable[[], list[dict[str, Any]]] = list  # set by the handlers
        self.specs = self._specs()
        gate.tool_checks[DELEGATE] = self._delegate_rule
        gate.tool_checks[HANDOFF] = self._handoff_rule
        if lineage.taint is not None:
            gate.inherit_taint(lineage.taint, lineage.parent_run_id or "")

    # --- what the run is offered ---------------------------------------------------------

    def _handoff_targets(self) -> list[str]:
        own = self.agent.name if self.agent else None
        return [name for name in self.agents if name != own]

    def _specs(self) -> dict[str, dict[str, Any]]:
        listed = f"\nAgents you can name:\n{listing(self.agents)}" if self.agents else ""
        properties: dict[str, Any] = {
            "task": {"type": "string", "description": "what to do, self-contained"},
            "context": {
                "type": "string",
                "description": "what it needs to know: findings, facts, workspace paths",
            },
        }
        if self.agents:
            properties["agent"] = {
                "type": "string",
                "enum": list(self.agents),
                "description": "the agent profile to ask; leave out for a plain sub-agent",
            }
        specs = {
            DELEGATE: protocol.tool_spec(
                DELEGATE,
                "Give a task to another agent and wait for its answer, which comes back as "
                "this tool's result. It runs in its own container on this group's workspace "
                "with a fresh conversation: it knows only the task and the context you pass. "
                "Without agent, a plain sub-agent of this group does it." + listed,
                properties,
                ["task"],
            )
        }
        targets = self._handoff_targets()
        if targets or self.agent is not None:
            others = {n: self.agents[n] for n in targets}
            back = " Leave agent out to hand back to the group's own assistant."
            back = back if self.agent else ""
            specs[HANDOFF] = protocol.tool_spec(
                HANDOFF,
                "Hand this conversation over to another agent and end your turn: it answers "
                "the person from now on, and your own final text is not sent. You choose what "
                "it gets: a summary, messages of this conversation, workspace files."
                + back
                + (f"\nAgents:\n{listing(others)}" if others else ""),
                {
                    "agent": {"type": "string", "enum": targets} if targets else {"type": "string"},
                    "summary": {"type": "string", "description": "what it needs to know"},
                    "messages": {
                        "type": "array",
                        "items": {"type": "integer"},
                        "description": "messages of this conversation to pass on as they "
                        "are: 1 is the first, -1 the newest (the request you are answering)",
                    },
                    "files": {
                        "type": "array",
                        "items": {"type": "string"},
                        "description": "workspace paths of files to pass on",
                    },
                },
                ["summary"],
            )
        return specs

    def owns(self, name: str) -> bool:
        return name in self.specs

    def prompt_note(self) -> str:
        """What the run's system prompt adds: its profile's prompt and its place."""
        parts = []
        if self.agent is not None:
            text = self.agent.prompt_text().strip()
            described = f" ({self.agent.description})" if self.agent.description else ""
            parts.append(f"You are the agent {self.agent.name}{described}.")
            if text:
                parts.append(f'<agent_profile name="{self.agent.name}">\n{text}\n</agent_profile>')
        if self.lineage.link == HANDOFF:
            where = "sent to the group"
            if not self.lineage.owns_session:
                where = "returned to the agent that delegated the task"
            parts.append(SUCCESSOR_NOTE.format(where=where))
        elif not self.lineage.owns_session:
            parts.append(SUBAGENT_NOTE)
        return "\n\n".join(parts)

    def keeps_session(self) -> bool:
        """Whether the run's session becomes the group's: not a delegate's, and not one
        that handed off (its successor's does)."""
        return self.lineage.owns_session and self.handoff is None

    def run_fields(self) -> dict[str, Any]:
        """The run row's links."""
        return {
            "parent_run_id": self.lineage.parent_run_id,
            "link": self.lineage.link,
            "agent": self.agent.name if self.agent else None,
            "depth": self.lineage.depth,
        }

    # --- the gate's rules and the schema -------------------------------------------------

    def check(self, name: str, arguments: Any) -> str | None:
        """Why these arguments do not fit, or None."""
        problem = check_arguments(self.specs[name], arguments)
        if problem:
            return problem
        agent = arguments.get("agent")
        if agent is not None and agent not in self.agents:
            return f"no agent {agent!r}; agents: {', '.join(self.agents) or 'none'}"
        if name == HANDOFF:
            if agent is None and self.agent is None:
                return "name the agent to hand off to"
            if self.agent is not None and agent == self.agent.name:
                return f"you are the agent {agent} already"
            numbers = arguments.get("messages", [])
            if not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
                return "messages must be a list of message numbers"
            if len(numbers) > MAX_MESSAGES or len(arguments.get("files", [])) > MAX_FILES:
                return f"at most {MAX_MESSAGES} messages and {MAX_FILES} files"
            if not all(isinstance(p, str) for p in arguments.get("files", [])):
                return "files must be a list of workspace paths"
        return None

    def _asks(self, agent: str | None, what: str) -> str | None:
        profile = self.agents.get(agent) if agent else None
        if profile is not None and profile.ask:
            return f"{what} the agent {agent}, whose profile asks a person first"
        return None

    def _delegate_rule(self, arguments: dict[str, Any]) -> tuple[str | None, str | None]:
        if self.handoff is not None:
            return "this run has handed the conversation off: end your turn", None
        if self.lineage.depth + 1 > self.max_depth:
            return (
                f"delegate refused: this run is {self.lineage.depth} delegates deep and"
                f" delegates may go {self.max_depth} deep (limits.max_delegate_depth)",
                None,
            )
        if self.delegates >= self.max_children:
            return (
                f"delegate refused: this run has delegated {self.delegates} tasks, at most"
                f" {self.max_children} per run (limits.max_delegates)",
                None,
            )
        return None, self._asks(arguments.get("agent"), "delegating to")

    def _handoff_rule(self, arguments: dict[str, Any]) -> tuple[str | None, str | None]:
        if self.handoff is not None:
            return "this run has handed the conversation off already: end your turn", None
        if self.lineage.handoffs >= self.max_handoffs:
            return (
                f"handoff refused: the conversation was handed off {self.lineage.handoffs}"
                f" times in a row, at most {self.max_handoffs} (limits.max_handoffs)",
                None,
            )
        return None, self._asks(arguments.get("agent"), "handing off to")

    # --- the calls the gate allowed ------------------------------------------------------

    async def call(self, name: str, arguments: dict[str, Any]) -> tuple[str, bool]:
        if name == DELEGATE:
            return await self._delegate(**arguments)
        return self._handoff(**arguments)

    def _linked_request(self, prompt: str, agent: str | None, link: str) -> Any:
        delegate = link == DELEGATE
        lineage = Lineage(
            parent_run_id=self.run_id,
            link=link,
            depth=self.lineage.depth + (1 if delegate else 0),
            # A delegate is bound by this run's limit; a successor takes this run's place.
            max_depth=self.max_depth if delegate else self.lineage.max_depth,
            handoffs=0 if delegate else self.lineage.handoffs + 1,
            owns_session=False if delegate else self.lineage.owns_session,
            taint=self.gate.tainted_by,
        )
        return dataclasses.replace(
            self.request,
            group=self.group,
            prompt=prompt,
            new_session=True,
            agent=agent,
            lineage=lineage,
            followup_wait=0 if delegate else self.request.followup_wait,
        )

    async def _delegate(self, task: str, context: str = "", agent: str | None = None):
        assert self.start is not None, "the run's lifecycle sets start"
        self.delegates += 1
        request = self._linked_request(delegate_prompt(task, context), agent, DELEGATE)
        try:
            outcome, taint = await self.start(request)
        except PynchyError as exc:
            return f"the delegate could not start: {exc.line()}", True
        self.gate.inherit_taint(taint, outcome.run_id)  # its answer carries what it read
        if outcome.status == "succeeded":
            answer = outcome.text or "(the delegate finished without an answer)"
            return answer[: protocol.MAX_TOOL_OUTPUT], False
        why = outcome.error or "no answer"
        return f"the delegate run {outcome.run_id} {outcome.status}: {why}", True

    def _handoff(
        self,
        summary: str,
        agent: str | None = None,
        messages: list[int] | None = None,
        files: list[str] | None = None,
    ) -> tuple[str, bool]:
        try:
            prompt = self._handoff_prompt(summary, agent, messages or [], files or [])
        except _NotPassed as exc:
            return f"handoff not done: {exc}", True
        self.handoff = Handoff(agent, prompt)
        return STOP.format(who=f"the agent {agent}" if agent else "the group's assistant"), False

    def _handoff_prompt(
        self, summary: str, agent: str | None, numbers: list[int], files: list[str]
    ) -> str:
        texts = conversation_texts(self.conversation())
        parts = [
            f"The agent {self.agent.name if self.agent else 'of this group'} handed this "
            "conversation over to you.",
            f"<handoff_summary>\n{summary}\n</handoff_summary>",
        ]
        chosen = []
        for n in numbers:
            index = n - 1 if n > 0 else len(texts) + n
            if n == 0 or not 0 <= index < len(texts):
                raise _NotPassed(f"no message {n}: the conversation has {len(texts)}")
            role, text = texts[index]
            chosen.append(f'<message n="{n}" from="{role}">\n{text}\n</message>')
        if chosen:
            parts.append("<messages>\n" + "\n".join(chosen) + "\n</messages>")
        for path in files:
            parts.append(self._file_part(path))
        latest = next((t for role, t in reversed(texts) if role == "person"), None)
        parts.append(f"The request to answer:\n{latest or self.request.prompt}")
        return "\n\n".join(parts)

    def _file_part(self, path: str) -> str:
        """A workspace file as it is now, read without following the container's links."""
        rel = path.removeprefix(protocol.WORKSPACE).lstrip("/") if path.startswith("/") else path
        try:
            text, cut = read_text(self.group.path, rel, max_bytes=MAX_FILE_BYTES)
        except FileNotFoundError:
            raise _NotPassed(f"no file {path} in the workspace") from None
        except UnsafePath as exc:
            raise _NotPassed(exc.message) from None
        except OSError as exc:
            raise _NotPassed(f"cannot read {path} ({exc.strerror or exc})") from None
        note = f"\n[... cut at {MAX_FILE_BYTES} bytes]" if cut else ""
        return f'<file path="{rel}">\n{text}{note}\n</file>'

    # --- after the run -----------------------------------------------------------------

    async def take_over(self, outcome: Any) -> Any:
        """The outcome the caller sees: after a handoff, the successor's."""
        if self.handoff is None or outcome.status != "succeeded":
            return outcome
        assert self.start is not None, "the run's lifecycle sets start"
        request = self._linked_request(self.handoff.prompt, self.handoff.agent, HANDOFF)
        try:
            successor, taint = await self.start(request)
        except PynchyError as exc:
            who = self.handoff.agent or "the group's assistant"
            error = f"the handoff to {who} failed: {exc.line()}"
            self.events.emit("error", message=error)
            return dataclasses.replace(outcome, status="failed", text="", error=error)
        self.gate.tainted_by = self.gate.tainted_by or taint  # for a delegate that handed off
        return successor


class _NotPassed(ValueError):
    """Context a handoff asked for that cannot be passed on (no such message or file)."""
