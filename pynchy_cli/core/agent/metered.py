"""The agent core a run talks to: the provider's core, metered.

Around every model call of a run it
- checks the group's and the paying account's budgets first (core.budgets): a call that
  a cap refuses never reaches the provider, and the run stops with the reason;
- moves to the account's next fallback (same provider) when the provider refuses the
  account for rate limits or credit (sdk_errors.fallback_reason): the switch is a
  `fallback` event in the transcript and the run row names the account that answered;
- prices the answer with the config's [prices] first, else the built-in table, and
  leaves it unknown (None) when neither knows the model;
- gives a budget warning (a `notice` event: serve tells the group) once a cap is 80% spent.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import replace
from typing import Any

from pynchy_cli.core.agent import store
from pynchy_cli.core.agent.prepare import PreparedRun
from pynchy_cli.core.agent_cores import pricing, sdk_errors
from pynchy_cli.core.agent_cores.base import AgentCore, ModelResult
from pynchy_cli.core.agent_cores.registry import make_core
from pynchy_cli.core.budgets import Budgets
from pynchy_cli.core.errors import PynchyError, UnavailableError
from pynchy_cli.core.models import ModelChoice

CHARS_PER_TOKEN = 4  # a rough count of a request's input before it is sent


class MeteredCore:
    def __init__(self, run: PreparedRun, core: AgentCore | None = None):
        self.run = run
        self.choice: ModelChoice = run.choice
        self.core = core or make_core(self.choice, run.settings)
        self.provider = self.core.provider
        self.model = self.core.model
        account = run.settings.accounts.get(self.choice.account or "")
        self.fallbacks = list(account.fallbacks) if account else []
        self.budgets = self._budgets(self.choice.account)

    async def complete(
        self,
        *,
        system: str,
        messages: list[dict[str, Any]],
        tools: list[dict[str, Any]],
        max_tokens: int,
    ) -> ModelResult:
        needed = _estimate_tokens(system, messages, tools)
        while True:
            self._check(needed)
            try:
                result = await self.core.complete(
                    system=system, messages=messages, tools=tools, max_tokens=max_tokens
                )
                break
            except UnavailableError as exc:
                reason = sdk_errors.fallback_reason(exc)
                if reason is None or not await self._fall_back(reason, needed):
                    raise
        result.cost_usd = self._cost(result)
        self._warn(result.usage.all_input_tokens + result.usage.output_tokens, result.cost_usd)
        return result

    async def aclose(self) -> None:
        await self.core.aclose()

    # --- budgets ---------------------------------------------------------------------

    def _budgets(self, account: str | None) -> Budgets:
        return Budgets(self.run.db, self.run.settings, self.run.group, account)

    def _check(self, needed_tokens: int) -> None:
        self._warn(0, 0.0)  # a cap lowered below what was spent is worth a warning too
        self.budgets.check(tokens=needed_tokens)

    def _warn(self, tokens: int, usd: float | None) -> None:
        for text in self.budgets.warnings(tokens=tokens, usd=usd or 0.0):
            self.run.events.emit("notice", text=text)

    # --- fallbacks -------------------------------------------------------------------

    async def _fall_back(self, reason: str, needed_tokens: int) -> bool:
        """Switch to the next fallback account that has room in its budget; False when
        none is left."""
        run = self.run
        while self.fallbacks:
            name = self.fallbacks.pop(0)
            try:
                budgets = self._budgets(name)
                budgets.check(tokens=needed_tokens)
                core = make_core(replace(self.choice, account=name), run.settings)
            except PynchyError as exc:
                run.events.warn(f"fallback account {name} skipped: {exc.message}")
                continue
            previous = self.choice.account
            with contextlib.suppress(Exception):
                await self.core.aclose()
            self.core, self.choice = core, replace(self.choice, account=name)
            self.budgets = budgets
            store.update_run(run.db, run.run_id, account=name)
            run.events.emit("fallback", from_account=previous, to_account=name, reason=reason)
            return True
        return False

    # --- prices ----------------------------------------------------------------------

    def _cost(self, result: ModelResult) -> float | None:
        """Config prices first (for the model that answered, else the one asked for), then
        what the core worked out from the built-in table."""
        table = pricing.configured_prices(self.run.settings.prices, self.choice.provider)
        if table:
            for name in (result.model, self.choice.name):
                cost = pricing.cost_usd(name, result.usage, table) if name else None
                if cost is not None:
                    return cost
        return result.cost_usd


def metered_core(run: PreparedRun, core: AgentCore | None = None) -> MeteredCore:
    """The core for a run's model calls: its provider's (`core`, or made now), behind
    budgets and fallbacks."""
    return MeteredCore(run, core)


def _estimate_tokens(system: str, messages: list[dict[str, Any]], tools: list[Any]) -> int:
    size = len(system) + len(json.dumps(messages)) + len(json.dumps(tools))
    return size // CHARS_PER_TOKEN
