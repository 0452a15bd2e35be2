"""The policy gate: every tool call of a run passes here, and nowhere else is decided.

`PolicyGate.check(tool, arguments)` decides one call: pynchy's host tools, MCP tools,
plugin tools, and the container's local tools when the container asks (tool_check).
In order:

1. the group's security profile allows the tool (name patterns, MCP server, tier), and so
   does the run's agent profile, if it has one (`narrower`);
2. tool rules: schedule_task must respect the profile's schedule floor and task cap;
   host tools add their own (`tool_checks`: delegate's depth and count limits);
3. the profile's rate limits (sliding windows per group, counted from the audit table);
4. a person approves when the tool's tier is one the profile asks about, or when the run
   has read untrusted content or secret data and the tool writes to a public sink (the
   lethal trifecta); without an approver that is a denial;
5. otherwise the call runs.

Each decision is one audit row; `record_outcome` adds what the call then did. The gate
also says which tools a run is offered (`offers`) so the model never sees the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from pynchy_cli.core.agent.approvals import Approver
from pynchy_cli.core.policy import audit_log, limits
from pynchy_cli.core.policy.profiles import Profile
from pynchy_cli.core.policy.tiers import STRICTEST, TOOL_RULES, ToolRule

_WHAT = {"untrusted_input": "untrusted content", "secret_data": "secret data"}

# A host tool's own rule: arguments -> (why it is refused, why a person must approve).
ToolCheck = Callable[[dict[str, Any]], tuple[str | None, str | None]]


@dataclass
class Decision:
    tool: str
    decision: str  # allowed | approved | refused | denied | expired | rate_limited
    tier: str
    message: str = ""  # what the agent is told when the call does not run
    audit_id: int | None = None

    @property
    def allowed(self) -> bool:
        return self.decision in audit_log.COUNTED


class PolicyGate:
    def __init__(
        self,
        db: Database,
        *,
        run_id: str,
        group_id: int,
        profile: Profile,
        session_id: str | None = None,
        approver: Approver | None = None,
        narrower: Callable[[str], str | None] | None = None,
    ):
        """`session_id`: the session the run resumes; its earlier reads of untrusted
        content or secret data are in the history, so they taint this run too.
        `narrower`: why the run's agent profile does not use a tool (it narrows the
        security profile, never widens it)."""
        self.db = db
        self.run_id = run_id
        self.group_id = group_id
        self.profile = profile
        self.approver = approver  # set by the run's socket handlers
        self.rules: dict[str, ToolRule] = dict(TOOL_RULES)
        self.servers: dict[str, str] = {}  # MCP tool -> its server
        self.narrower = narrower
        self.tool_checks: dict[str, ToolCheck] = {}  # host tools' own rules (delegate, ...)
        self.tainted_by = audit_log.session_taint(db, session_id)  # (tool, flag) or None

    # --- what the run is offered ---------------------------------------------------------

    def add_mcp_rules(self, rules: dict[str, tuple[ToolRule, str]]) -> None:
        """MCP tools' rules, with their server: name -> (rule, server)."""
        for name, (rule, server) in rules.items():
            self.rules[name] = rule
            self.servers[name] = server

    def knows(self, tool: str) -> bool:
        return tool in self.rules

    def rule(self, tool: str) -> ToolRule:
        return self.rules.get(tool, STRICTEST)

    def tier(self, tool: str) -> str:
        return self.profile.tier_override(tool) or self.rule(tool).tier

    def refusal(self, tool: str) -> str | None:
        """Why the profile (or the run's agent) does not allow this tool at all, or None."""
        refusal = self.profile.refusal(tool, self.tier(tool), self.servers.get(tool))
        return refusal or (self.narrower(tool) if self.narrower else None)

    def offers(self, tool: str) -> bool:
        return self.refusal(tool) is None

    def watches(self, tool: str) -> bool:
        """Whether the container must ask before running this local tool."""
        return self.profile.watches(tool) or self.tier(tool) in self.profile.ask

    # --- deciding one call -------------------------------------------------------------

    async def check(self, tool: str, arguments: dict[str, Any]) -> Decision:
        """Decide one call (waiting for a person where needed) and record the decision."""
        tier, rule = self.tier(tool), self.rule(tool)
        detail: dict[str, Any] = {"arguments": arguments, "profile": self.profile.name}
        if tool in self.servers:
            detail["server"] = self.servers[tool]
        refusal, asks = self.refusal(tool) or self._tool_rule(tool, arguments), None
        if not refusal and tool in self.tool_checks:  # e.g. delegate's depth and count
            refusal, asks = self.tool_checks[tool](arguments)
        if refusal:
            return self._decide(tool, "refused", tier, refusal, reason=refusal, **detail)
        limit = limits.over_limit(self.db, self.group_id, tool, self.profile.rate_limits)
        if limit:
            return self._decide(tool, "rate_limited", tier, limit, reason=limit, **detail)
        why = "; ".join(w for w in (self._needs_person(tool, tier, rule), asks) if w)
        decision = "allowed"
        if why:
            if self.approver is None:
                status, by, approval = "denied", "no approver", None
            else:
                verdict = await self.approver.request(
                    self.run_id, self.group_id, tool, arguments, why
                )
                status, by, approval = verdict.status, verdict.by, verdict.approval_id
            detail.update(needs=why, by=by, approval=approval)
            if status != "approved":
                message = f"{tool} needs approval ({why}). It was not run: {_told(status, by)}."
                return self._decide(tool, status, tier, message, reason="not approved", **detail)
            decision = "approved"
        if rule.taint:
            detail["taints"] = rule.taint
            self.tainted_by = self.tainted_by or (tool, rule.taint)
        return self._decide(tool, decision, tier, **detail)

    def inherit_taint(self, taint: tuple[str, str] | None, from_run: str) -> None:
        """Another run's reads reach this one (a delegate's answer, a handoff's context):
        so does its taint, recorded so that a session resumed later carries it too."""
        if taint is None or self.tainted_by is not None:
            return
        self.tainted_by = taint
        tool, flag = taint
        audit_log.record_decision(
            self.db,
            tool,
            "inherited",
            self.tier(tool),
            run_id=self.run_id,
            group_id=self.group_id,
            taints=flag,
            from_run=from_run,
        )

    def refuse(self, tool: str, reason: str, **detail: Any) -> Decision:
        """Record a refusal decided where the tool's schema or a plugin hook lives."""
        return self._decide(tool, "refused", self.tier(tool), reason, reason=reason, **detail)

    def record_outcome(self, decision: Decision, content: str, is_error: bool) -> None:
        """What an allowed call then did (ok, or its error), on the decision's audit row."""
        if decision.allowed and decision.audit_id is not None:
            audit_log.record_outcome(self.db, decision.audit_id, content, is_error)

    def _decide(
        self, tool: str, decision: str, tier: str, message: str = "", **detail: Any
    ) -> Decision:
        audit_id = audit_log.record_decision(
            self.db, tool, decision, tier, run_id=self.run_id, group_id=self.group_id, **detail
        )
        return Decision(tool, decision, tier, message, audit_id)

    def _tool_rule(self, tool: str, arguments: dict[str, Any]) -> str | None:
        if tool == "schedule_task":
            return limits.schedule_problem(
                self.db,
                self.group_id,
                arguments,
                self.profile.min_schedule_interval,
                self.profile.max_active_tasks,
            )
        return None

    def _needs_person(self, tool: str, tier: str, rule: ToolRule) -> str | None:
        """Why a person must approve this call, or None."""
        reasons = []
        if tier in self.profile.ask:
            reasons.append(f"{tool} is a {tier} tool")
        if rule.public_sink and self.tainted_by:
            source, flag = self.tainted_by
            reasons.append(
                f"this run read {_WHAT.get(flag, flag)} from {source}; it now wants to write"
                f" to a public sink via {tool}"
            )
        return "; ".join(reasons) or None


def _told(status: str, by: str) -> str:
    if status == "expired":
        return "no one answered in time"
    if by in ("no approver", "no terminal"):
        return f"no one can approve it in this run ({by})"
    return "a person denied it"
