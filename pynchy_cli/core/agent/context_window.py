"""Keeping a run's conversation inside its model's context window and the socket's cap.

- The room (room_for): the model's window (context_window: [context.windows], else the
  account's context_window, else the table in agent_cores.windows, else
  [context].default_window) less the system prompt, the tool specs and the answer's
  reserve, in tokens estimated conservatively per provider; and the socket's cap
  (limits.max_request_bytes) less a request's envelope, in bytes. The container gets it in
  its run input ("context"), and its runner keeps every model request inside it.
- At run start (RunContext.fit_start): a stored session that would not leave room has its
  oldest turns summarised by the group's model (summarise.Summariser), and a prompt too
  large to fit is trimmed (head and tail, with a note). Both are `compaction` events; the
  session is saved compacted after the run.
- During the run (RunContext.compact): the runner's OP_COMPACT requests. The host only
  summarises the turns it is given, under the socket's cap, through the run's core (budgets
  included), at most 2 x limits.max_turns times a run: a hostile container gains nothing
  it could not get with a model call.
- Results of tools the host serves are trimmed to the room's max_tool_result (trim_result).
"""

from __future__ import annotations

import json
from typing import Any

from pynchy_cli import protocol
from pynchy_cli.core.agent import store
from pynchy_cli.core.agent.prepare import PreparedRun
from pynchy_cli.core.agent.summarise import Summariser
from pynchy_cli.core.agent_cores.base import AgentCore, ModelResult
from pynchy_cli.core.agent_cores.windows import OFFLINE_WINDOW, counting_for, known_window
from pynchy_cli.core.config import Settings
from pynchy_cli.core.errors import PynchyError
from pynchy_cli.core.models import ModelChoice

OUTPUT_RESERVE = 8192  # tokens of the answer: the runner's max_tokens (handlers.run_input)
ENVELOPE_BYTES = 4096  # a model request's JSON besides its messages and tool names
MIN_TOKENS = 2_000  # a window too small for its system prompt still gets this much


def context_window(settings: Settings, choice: ModelChoice) -> int:
    """Tokens the run's model reads at once: configured for the model, else for its
    account, else known, else the configured default."""
    configured = settings.context.windows
    for key in (choice.spec, choice.name):
        if key in configured:
            return configured[key]
    account = settings.accounts.get(choice.account or "")
    if account is not None and account.context_window:
        return account.context_window
    if choice.offline:
        return OFFLINE_WINDOW
    return known_window(choice.name) or settings.context.default_window


def room_for(run: PreparedRun) -> protocol.ContextRoom:
    """The room the messages of one of this run's model requests have."""
    settings, counting = run.settings, counting_for(run.choice.provider)

    def tokens(text: str) -> int:
        return protocol.estimate_tokens(
            text, counting.ascii_chars_per_token, counting.other_char_tokens
        )

    specs = json.dumps(list(run.tool_specs.values()), ensure_ascii=False)
    fixed = tokens(run.system) + tokens(specs) + OUTPUT_RESERVE
    envelope = ENVELOPE_BYTES + len(json.dumps(list(run.tool_specs)).encode())
    room = protocol.ContextRoom(
        {
            "compact": True,
            "limit_tokens": max(context_window(settings, run.choice) - fixed, MIN_TOKENS),
            "limit_bytes": settings.limits.max_request_bytes - envelope,
            "compact_at": settings.context.compact_at,
            "keep": settings.context.keep_recent,
            "ascii_chars_per_token": counting.ascii_chars_per_token,
            "other_char_tokens": counting.other_char_tokens,
        }
    )
    room.max_tool_result = min(settings.context.max_tool_result, room.chars(room.keep / 2))
    return room


def _user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"type": "text", "text": text}]}


def _bytes(messages: list[dict[str, Any]]) -> int:
    return len(json.dumps(messages, ensure_ascii=False).encode())


class RunContext:
    """One run's context window: its room, its prompt as sent, and its compactions."""

    def __init__(self, run: PreparedRun):
        self.run = run
        self.prompt = run.request.prompt  # as the container gets it (trimmed when too large)
        self.compactions = 0
        self._room: protocol.ContextRoom | None = None

    @property
    def room(self) -> protocol.ContextRoom:
        if self._room is None:
            self._room = room_for(self.run)
        return self._room

    def run_input(self) -> dict[str, Any]:
        """The run input's "context": the room, and that this host summarises."""
        return self.room.as_dict()

    def trim_result(self, content: str) -> str:
        return protocol.trim_text(content, self.room.max_tool_result)

    # --- at run start ------------------------------------------------------------------

    async def fit_start(
        self, core: AgentCore | None, history: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Fit the prompt and the stored session into the room (the system prompt and the
        tools are final now); returns the session to resume."""
        self._room = None
        self.prompt = self.fit_prompt(self.prompt)
        if core is None or not history:
            return history
        room = self.room
        prompt_load = room.load(_user(self.prompt))
        loads = [room.load(m) for m in history]
        if sum(loads) + prompt_load <= room.compact_at:
            return history
        cut = room.cut(history, loads, max(room.keep - prompt_load, 0.0), whole=True)
        try:
            summariser = Summariser(core, room, self._record)
            summary = await summariser.summarise(history[:cut])
        except Exception as exc:
            message = exc.line() if isinstance(exc, PynchyError) else str(exc)
            self.run.events.emit("error", message=f"could not compact the session: {message}")
            raise
        compacted = protocol.with_summary(
            summary, protocol.model_turns(history[:cut]), history[cut:]
        )
        self._event("start", history[:cut], summariser.calls, summary, after=compacted)
        return compacted

    def fit_prompt(self, prompt: str) -> str:
        """The prompt as the container gets it: trimmed (head and tail, with a note) when
        it alone would take more than the share of the room the newest turns keep."""
        room = self.room
        if room.load(_user(prompt)) <= room.keep:
            return prompt
        chars = room.chars(room.keep)
        trimmed = protocol.trim_text(prompt, chars, "prompt")
        while room.load(_user(trimmed)) > room.keep and chars > 1_000:
            chars //= 2
            trimmed = protocol.trim_text(prompt, chars, "prompt")
        before, after = len(prompt.encode()), len(trimmed.encode())
        self.run.events.emit(
            "compaction",
            stage="prompt",
            note=f"the prompt was trimmed from {protocol.human_size(before)} to "
            f"{protocol.human_size(after)} (its head and tail kept): too large for the model",
            bytes_before=before,
            bytes_after=after,
        )
        return trimmed

    # --- during the run ----------------------------------------------------------------

    async def compact(self, core: AgentCore | None, body: dict[str, Any]) -> dict[str, Any]:
        """OP_COMPACT: summarise the oldest turns the runner sends."""
        self.compactions += 1
        if self.compactions > 2 * self.run.settings.limits.max_turns:
            raise protocol.ProtocolError("compaction limit reached")
        messages = protocol.check_messages(body.get("messages"))
        assert core is not None
        summariser = Summariser(core, self.room, self._record)
        try:
            summary = await summariser.summarise(messages)
        except PynchyError as exc:
            self.run.events.warn(f"could not compact the conversation: {exc.line()}")
            raise
        self._event("run", messages, summariser.calls, summary)
        return {"summary": summary}

    # --- records -------------------------------------------------------------------------

    def _record(self, result: ModelResult) -> None:
        """A summarising call's usage, recorded like a model call's."""
        run, usage = self.run, result.usage
        run.events.emit(
            "usage",
            model=result.model,
            **usage.as_dict(),
            cost_usd=result.cost_usd,
            purpose="compaction",
        )
        store.add_usage(
            run.db, run.run_id, usage.all_input_tokens, usage.output_tokens, result.cost_usd
        )

    def _event(
        self,
        stage: str,
        compacted: list[dict[str, Any]],
        calls: int,
        summary: str,
        after: list[dict[str, Any]] | None = None,
    ) -> None:
        before = _bytes(compacted)
        turns = protocol.model_turns(compacted)
        note = (
            f"{len(compacted)} older messages ({turns} model turns, "
            f"{protocol.human_size(before)}) summarised in {calls} call(s)"
        )
        data: dict[str, Any] = {
            "stage": stage,
            "note": note,
            "messages": len(compacted),
            "turns": turns,
            "calls": calls,
            "bytes_before": before,
            "summary": summary,
        }
        if after is not None:
            data["session_bytes_after"] = _bytes(after)
        self.run.events.emit("compaction", **data)
