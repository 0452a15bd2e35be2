"""Approvals: a person decides on tools of the external and destructive tiers.

The request is recorded, shown on the group's channel as a host notice, and waits for a
person's `approve ID` or `deny ID`. No answer in time means deny. Every decision is kept
in the approvals table and the audit log.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from sqlite_utils import Database

from pynchy_cli.core.agent import store
from pynchy_cli.core.db import utcnow

ANSWER_RE = re.compile(r"^\s*(approve|deny)\s+([a-z0-9]{4,12})\s*[.!]?\s*$", re.IGNORECASE)


class Approver(Protocol):
    async def request(self, run_id: str, group_id: int, tool: str, arguments: dict) -> bool:
        """True when a person approved this call."""


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


def _decide(
    db: Database, approval_id: str, status: str, by: str, run_id: str, group_id: int, tool: str
) -> None:
    db["approvals"].update(
        approval_id, {"status": status, "decided_by": by, "decided_at": utcnow()}
    )
    store.audit(
        db,
        f"approval:{tool}",
        status,
        run_id=run_id,
        group_id=group_id,
        approval=approval_id,
        by=by,
    )


class ChannelApprover:
    """Asks on the group's channel (serve). `answer()` is called by the router when a
    person writes `approve ID` or `deny ID` in that group."""

    def __init__(self, db: Database, notify: Callable[[int, str], Awaitable[None]], timeout: float):
        self.db = db
        self.notify = notify
        self.timeout = timeout
        self._pending: dict[str, tuple[int, asyncio.Future[tuple[bool, str]]]] = {}

    async def request(self, run_id: str, group_id: int, tool: str, arguments: dict) -> bool:
        approval_id = secrets.token_hex(3)
        _record(self.db, approval_id, run_id, group_id, tool, arguments)
        future: asyncio.Future[tuple[bool, str]] = asyncio.get_running_loop().create_future()
        self._pending[approval_id] = (group_id, future)
        await self.notify(
            group_id,
            f"Approval needed for {_describe(tool, arguments)}. "
            f"Reply 'approve {approval_id}' or 'deny {approval_id}' within "
            f"{int(self.timeout)}s.",
        )
        try:
            approved, by = await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            approved, by = False, "timeout"
        finally:
            self._pending.pop(approval_id, None)
        _decide(
            self.db,
            approval_id,
            "approved" if approved else ("expired" if by == "timeout" else "denied"),
            by,
            run_id,
            group_id,
            tool,
        )
        return approved

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
    """Asks on the terminal (pynchy agent run); without one, denies."""

    def __init__(self, db: Database, ask: Callable[[str], bool] | None):
        self.db = db
        self.ask = ask

    async def request(self, run_id: str, group_id: int, tool: str, arguments: dict) -> bool:
        approval_id = secrets.token_hex(3)
        _record(self.db, approval_id, run_id, group_id, tool, arguments)
        if self.ask is None:
            approved, by = False, "no terminal"
        else:
            approved = await asyncio.to_thread(self.ask, f"Allow {_describe(tool, arguments)}?")
            by = "terminal"
        _decide(
            self.db, approval_id, "approved" if approved else "denied", by, run_id, group_id, tool
        )
        return approved
