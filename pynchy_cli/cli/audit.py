"""`pynchy audit`: what the policy gate decided about tool calls, and what they then did."""

from __future__ import annotations

import typer

from pynchy_cli.cli.common import JSON_OPTION, context
from pynchy_cli.cli.output import emit_table
from pynchy_cli.core.policy import audit_log

_COLUMNS = ["id", "at", "group_name", "run_id", "action", "decision", "tier", "reason"]
_COLUMNS += ["outcome", "error"]


def audit(
    ctx: typer.Context,
    group: str | None = typer.Option(None, "--group", "-g", help="Only this group's rows."),
    tool: str | None = typer.Option(
        None, "--tool", "-t", help="Only this tool's decisions; a pattern like mcp__git__* works."
    ),
    decision: str | None = typer.Option(
        None,
        "--decision",
        "-d",
        help="Only this decision: " + ", ".join(audit_log.DECISIONS) + ", ...",
    ),
    since: str | None = typer.Option(
        None, "--since", help="Only rows since an ISO time or an age: 30m, 2h, 1d."
    ),
    limit: int = typer.Option(100, "--limit", "-n", min=1, help="At most this many (newest)."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List audit rows, oldest first: tool decisions and refused socket requests.

    Each tool decision with its tier, reason and the call's outcome, and every socket
    request a container sent that was refused."""
    from pynchy_cli.core.groups import get_group

    c = context(ctx)
    after = audit_log.parse_since(since) if since else None  # a bad value fails first
    group_id = get_group(c.db, group).id if group else None
    rows = audit_log.list_rows(
        c.db, group_id=group_id, tool=tool, decision=decision, since=after, limit=limit
    )
    emit_table(rows, _COLUMNS, as_json=as_json, empty="no audit rows match")
