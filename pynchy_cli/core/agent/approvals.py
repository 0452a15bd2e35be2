"""Approvals: a person decides on the calls the policy gate (core.policy.gate) asks about.

The request is recorded, shown with the gate's reason on the group's channel as a host
notice (serve) or asked on the terminal (`pynchy agent run`), and waits for a person's
`approve ID` or `deny ID`. No answer in time means the request expired, which denies the
call. Every request and its answer is kept in the approvals table; the gate records the
decision in the audit log.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlite_utils import Database

from pynchy_cli.core.db import utcnow

ANSWER_RE = re.compile(r"^\s*(approve|deny)\s+([a-z0-9]{4,12})\s*[.!]?\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Verdict:
    status: str  # approved | denied | expired
    by: str  # who answered: a sender, "terminal", "timeout", "no terminal"
    approval_id: str

    @property
    def approved(self) -> bool:
        return self.status == "approved"


class Approver(Protocol):
    async def request(
        self, run_id: str, group_id: int, tool: str, arguments: dict, reason: str
    ) -> Verdict:
        """Ask a person about this call; `reason` says why the gate asks."""


def _describe(tool: str, arguments: dict[str, Any]) -> str:
    text = json.dumps(arguments, ensure_ascii=False)
    return f"{tool} {text if len(text) <= 300 else text[:299] + '…'}"


def _record(
    db: Database, approval_id: str, run_id: str, group_id: int, tool: str, arguments: dict
) -> None:
    db["approvals"].insert(
        {
            "id": approval_id,
            "run_id": run_id,
            "group_id": group_id,
            "tool": tool,
            "arguments": json.dumps(arguments),
            "status": "pending",
            "created_at": utcnow(),
        }
    )


def _decide(db: Database, approval_id: str, status: str, by: str) -> Verdict:
    db["approvals"].update(
        approval_id, {"status": status, "decided_by": by, "decided_at": utcnow()}
    )
    return Verdict(status, by, approval_id)


class ChannelApprover:
    """Asks on the group's channel (serve). `answer()` is called by the router when a
    person writes `approve ID` or `deny ID` in that group."""

    def __init__(self, db: Database, notify: Callable[[int, str], Awaitable[None]], timeout: float):
        self.db = db
        self.notify = notify
        self.timeout = timeout
        self._pending: dict[str, tuple[int, asyncio.Future[tuple[bool, str]]]] = {}
        # What each pending request asks and why, for the web page's approve/deny buttons.
        self.waiting: dict[str, dict[str, Any]] = {}

    async def request(
        self, run_id: str, group_id: int, tool: str, arguments: dict, reason: str
    ) -> Verdict:
        approval_id = secrets.token_hex(3)
        _record(self.db, approval_id, run_id, group_id, tool, arguments)
        future: asyncio.Future[tuple[bool, str]] = asyncio.get_running_loop().create_future()
        self._pending[approval_id] = (group_id, future)
        self.waiting[approval_id] = {
            "id": approval_id,
            "run_id": run_id,
            "group_id": group_id,
            "tool": tool,
            "arguments": arguments,
            "reason": reason,
            "asked_at": utcnow(),
            "timeout": self.timeout,
        }
        try:
            await self.notify(
                group_id,
                f"Approval needed for {_describe(tool, arguments)} ({reason}). "
                f"Reply 'approve {approval_id}' or 'deny {approval_id}' within "
                f"{int(self.timeout)}s.",
            )
            approved, by = await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            return _decide(self.db, approval_id, "expired", "timeout")
        finally:
            self._pending.pop(approval_id, None)
            self.waiting.pop(approval_id, None)
        return _decide(self.db, approval_id, "approved" if approved else "denied", by)

    def answer(self, group_id: int, text: str, sender: str) -> str | None:
        """Resolve a pending approval from a message; returns a notice, or None if the
        message is not an answer to an approval of this group."""
        match = ANSWER_RE.match(text)
        if not match:
            return None
        verb, approval_id = match.group(1).lower(), match.group(2).lower()
        pending = self._pending.get(approval_id)
        if pending is None or pending[0] != group_id:
            return f"No pending approval {approval_id} in this group."
        if not pending[1].done():
            pending[1].set_result((verb == "approve", sender))
        return f"{'Approved' if verb == 'approve' else 'Denied'} {approval_id}."


class TerminalApprover:
    """Asks on the terminal (pynchy agent run); without one, denies.

    `ask(question) -> bool` shows the question and reads the answer; it runs in a daemon
    thread so that no answer within `timeout` seconds expires the request (the thread may
    stay blocked on the terminal; the process does not wait for it). While an expired
    question still waits on the terminal, later requests expire at once."""

    def __init__(
        self, db: Database, ask: Callable[[str], bool] | None, timeout: float | None = None
    ):
        self.db = db
        self.ask = ask
        self.timeout = timeout
        self._asking: threading.Thread | None = None

    async def request(
        self, run_id: str, group_id: int, tool: str, arguments: dict, reason: str
    ) -> Verdict:
        approval_id = secrets.token_hex(3)
        _record(self.db, approval_id, run_id, group_id, tool, arguments)
        if self.ask is None:
            return _decide(self.db, approval_id, "denied", "no terminal")
        if self._asking is not None and self._asking.is_alive():
            return _decide(self.db, approval_id, "expired", "timeout")
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[bool] = loop.create_future()
        ask, question = self.ask, f"Allow {_describe(tool, arguments)}? ({reason})"

        def read() -> None:
            try:
                value: bool | BaseException = bool(ask(question))
            except BaseException as exc:  # EOF, interrupt: no approval
                value = exc
            loop.call_soon_threadsafe(_settle, answer, value)

        self._asking = threading.Thread(target=read, name="approval", daemon=True)
        self._asking.start()
        try:
            approved = await asyncio.wait_for(asyncio.shield(answer), self.timeout)
        except TimeoutError:
            return _decide(self.db, approval_id, "expired", "timeout")
        except Exception:
            approved = False
        return _decide(self.db, approval_id, "approved" if approved else "denied", "terminal")


def _settle(future: asyncio.Future[bool], value: bool | BaseException) -> None:
    if future.done():
        return
    if isinstance(value, BaseException):
        future.set_exception(RuntimeError(f"no answer: {type(value).__name__}"))
    else:
        future.set_result(value)
