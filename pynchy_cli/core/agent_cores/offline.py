"""Deterministic, offline agent cores: for tests, demos and trying pynchy without a key.

The answer depends only on the messages given (for the scripted core: and on where its run
began), so a retried turn gets the same answer again. Both answer the host's summarising calls
(system prompt starting with SUMMARISE_MARKER) with a short deterministic summary, which
spends no scripted turn.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pynchy_cli import protocol
from pynchy_cli.core.agent_cores.base import SUMMARISE_MARKER, ModelResult, Usage
from pynchy_cli.core.errors import ConfigError

SCRIPT_FINISHED = "(script finished)"


def _blocks(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content", [])
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _words(text: str) -> int:
    return len(text.split())


def _input_words(system: str, messages: list[dict[str, Any]]) -> int:
    total = _words(system)
    for message in messages:
        for block in _blocks(message):
            if block.get("type") == "tool_use":
                total += _words(json.dumps(block.get("input", {})))
            else:
                total += _words(str(block.get("text") or block.get("content") or ""))
    return total


def _result(
    system: str,
    messages: list[dict[str, Any]],
    content: list[dict[str, Any]],
    stop_reason: str,
    model: str,
) -> ModelResult:
    output = sum(
        _words(b.get("text") or b.get("thinking") or json.dumps(b.get("input", {})))
        for b in content
    )
    usage = Usage(input_tokens=max(_input_words(system, messages), 1), output_tokens=output)
    return ModelResult(content=content, stop_reason=stop_reason, usage=usage, model=model)


def _summary(system: str, messages: list[dict[str, Any]], model: str) -> ModelResult | None:
    """The answer to a summarising call: its word count, first and last words. None when
    the call is not one."""
    if not system.startswith(SUMMARISE_MARKER) or not messages:
        return None
    first = _blocks(messages[0])[:1]  # the transcript; the instruction follows it
    words = [w[:40] for w in str(first[0].get("text", "")).split()] if first else []
    head, tail = " ".join(words[:12]), " ".join(words[-12:])
    text = f"{model} summary of {len(words)} words: {head} ... {tail}"
    return _result(system, messages, [{"type": "text", "text": text}], "end_turn", model)


class EchoCore:
    """Answers `echo: <text of the last user text block>`, or `echo: done` when the last
    user turn holds only tool results."""

    provider = "echo"
    model = "echo"

    async def complete(
        self,
        *,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int,
    ) -> ModelResult:
        summary = _summary(system, messages, self.model)
        if summary is not None:
            return summary
        text = "done"
        last_user = next((m for m in reversed(messages) if m.get("role") == "user"), None)
        if last_user is not None:
            texts = [b["text"] for b in _blocks(last_user) if b.get("type") == "text"]
            if texts:
                text = texts[-1]
        answer = [{"type": "text", "text": f"echo: {text}"}]
        return _result(system, messages, answer, "end_turn", self.model)

    async def aclose(self) -> None:
        return None


class ScriptedCore:
    """Replays a JSON script of turns:

        {"turns": [{"text": "...", "thinking": "...",
                    "tool_calls": [{"name": "bash", "input": {"command": "ls"}}]}, ...]}

    The turn played is the number of model turns this run has made so far: every run
    (one core) starts at the first turn, whatever session it resumes, and follow-ups in a
    warm container continue where the run is. Turns a compaction summary stands for count
    (protocol.model_turns). `"replay": "session"` at the top of the script counts the
    resumed session's turns too, so each run of a session plays the next turns. A turn
    with tool calls stops with `tool_use`; its calls get the ids `toolu_<turn>_<i>`. Past the
    end of the script the answer is "(script finished)".
    """

    provider = "scripted"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.model = str(self.path)
        self.turns, self.replay = load_script(self.path)
        self._run_began: int | None = None  # the session's model turns before this run

    async def complete(
        self,
        *,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int,
    ) -> ModelResult:
        summary = _summary(system, messages, "scripted")
        if summary is not None:
            return summary
        index = protocol.model_turns(messages) - self._began(messages)
        if index >= len(self.turns):
            answer = [{"type": "text", "text": SCRIPT_FINISHED}]
            return _result(system, messages, answer, "end_turn", "scripted")
        turn = self.turns[index]
        content: list[dict[str, Any]] = []
        if turn.get("thinking"):
            content.append({"type": "thinking", "thinking": turn["thinking"]})
        if turn.get("text"):
            content.append({"type": "text", "text": turn["text"]})
        calls = turn.get("tool_calls", [])
        for i, call in enumerate(calls):
            content.append(
                {
                    "type": "tool_use",
                    "id": f"toolu_{index}_{i}",
                    "name": call["name"],
                    "input": call.get("input", {}),
                }
            )
        stop = "tool_use" if calls else "end_turn"
        return _result(system, messages, content, stop, "scripted")

    def _began(self, messages: list[dict[str, Any]]) -> int:
        """Model turns of the session before this run's prompt, fixed at the run's first
        call (0 with "replay": "session")."""
        if self.replay == "session":
            return 0
        if self._run_began is None:
            since_prompt = 0
            for message in reversed(messages):
                if message.get("role") == "assistant":
                    since_prompt += 1
                elif any(b.get("type") == "text" for b in _blocks(message)):
                    break  # the prompt this run answers
            self._run_began = protocol.model_turns(messages) - since_prompt
        return self._run_began

    async def aclose(self) -> None:
        return None


_REPLAY = ("run", "session")
_TURN_KEYS = {"text", "thinking", "tool_calls"}
_HINT = 'A script is {"turns": [{"text": ..., "tool_calls": [{"name": ..., "input": {...}}]}]}'


def load_script(path: Path) -> tuple[list[dict[str, Any]], str]:
    """Read and validate a script file: its turns and its "replay" ("run", the default, or
    "session"). Every problem is one ConfigError line."""
    try:
        raw = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"script {path} does not exist", "Check the path given to --model scripted:PATH"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"cannot read script {path} ({reason})", "Check the file") from None
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"script {path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})",
            "Fix the JSON",
        ) from None

    def bad(what: str) -> ConfigError:
        return ConfigError(f"script {path}: {what}", _HINT)

    if not isinstance(data, dict) or not isinstance(data.get("turns"), list):
        raise bad('the top level must be an object with a "turns" list')
    replay = data.get("replay", "run")
    if replay not in _REPLAY:
        raise bad('"replay" must be "run" (each run starts at the first turn) or "session"')
    turns = data["turns"]
    for n, turn in enumerate(turns):
        where = f"turn {n}"
        if not isinstance(turn, dict):
            raise bad(f"{where} must be an object")
        unknown = sorted(set(turn) - _TURN_KEYS)
        if unknown:
            raise bad(f"{where} has unknown key {unknown[0]!r}")
        for key in ("text", "thinking"):
            if key in turn and not isinstance(turn[key], str):
                raise bad(f"{where}: {key} must be a string")
        calls = turn.get("tool_calls", [])
        if not isinstance(calls, list):
            raise bad(f"{where}: tool_calls must be a list")
        if not turn.get("text") and not calls:
            raise bad(f"{where} needs text or tool_calls")
        for i, call in enumerate(calls):
            if not isinstance(call, dict) or not isinstance(call.get("name"), str):
                raise bad(f"{where}: tool call {i} needs a name")
            if not isinstance(call.get("input", {}), dict):
                raise bad(f"{where}: tool call {i}: input must be an object")
    return turns, replay
