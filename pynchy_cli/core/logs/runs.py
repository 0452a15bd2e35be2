"""A run's events into its session log (core.agent.events.RunEvents calls this).

The transcript in the database keeps every word; the log keeps what an operator greps for:
the start (model, account, runtime), each tool call with its tier and outcome, usage, the
result, errors and the end, with sizes instead of the texts people and models wrote.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pynchy_cli.core.logs.sessions import SessionLog, run_log
from pynchy_cli.core.paths import Paths

FAILED = {"failed", "timeout"}


def _chars(value: Any) -> int:
    return len(value) if isinstance(value, str) else len(str(value or ""))


class RunLog:
    def __init__(self, session: SessionLog, tier_of: Callable[[str], str] | None = None):
        self.session = session
        self.tier_of = tier_of  # the policy gate's tier of a tool

    @classmethod
    def open(
        cls,
        paths: Paths,
        run_id: str,
        settings: Any = None,
        tier_of: Callable[[str], str] | None = None,
    ) -> RunLog:
        return cls(run_log(paths, run_id, settings=settings), tier_of)

    def _tier(self, name: Any) -> str | None:
        if self.tier_of is None or not isinstance(name, str):
            return None
        try:
            return self.tier_of(name)
        except Exception:  # an unknown tool: the log goes on without its tier
            return None

    def start(self, **fields: Any) -> None:
        prompt = fields.pop("prompt", None)
        self.session.info("run_start", prompt_chars=_chars(prompt), **fields)

    def event(self, kind: str, data: dict[str, Any]) -> None:
        """One transcript event, as a log event named `run_KIND`."""
        s, name = self.session, f"run_{kind}"
        if kind in ("text", "thinking"):
            s.debug(name, chars=_chars(data.get("text")))
        elif kind == "tool_use":
            tool = data.get("name")
            tier = self._tier(tool)
            s.info(name, tool=tool, id=data.get("id"), tier=tier, input=data.get("input"))
        elif kind == "tool_result":
            tool, failed = data.get("name"), bool(data.get("is_error"))
            content = data.get("content")
            outcome = "error" if failed else "ok"
            fields = {"tool": tool, "tier": self._tier(tool), "outcome": outcome}
            fields["chars"] = _chars(content)
            if failed:  # why it failed helps; a successful result's content is the transcript's
                fields["detail"] = content
            (s.warning if failed else s.info)(name, **fields)
        elif kind == "result":
            s.info(name, status=data.get("status"), chars=_chars(data.get("text")), **_rest(data))
        elif kind == "error":
            warning = bool(data.get("warning"))
            (s.warning if warning else s.error)(name, message=data.get("message"))
        else:  # usage, notice, fallback, compaction, ...
            s.info(name, **data)

    def finish(self, status: str, **fields: Any) -> None:
        (self.session.error if status in FAILED else self.session.info)(
            "run_finish", status=status, **fields
        )
        self.session.close()


def _rest(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if k not in ("status", "text")}
