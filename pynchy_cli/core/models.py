"""Which model a run uses, and with which account.

A model is written `PROVIDER:NAME` (`anthropic:claude-sonnet-5-5`, `openai:gpt-4o-mini`),
a bare provider (its default model), `echo` (deterministic, offline) or
`scripted:PATH` (replays a JSON script of tool calls; for tests and demos).
Precedence: the command's --model, then the group's model, then the configured default,
then whichever provider has a key in the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pynchy_cli.core.config import DEFAULT_MODELS, Account, Settings
from pynchy_cli.core.errors import ConfigError

OFFLINE_PROVIDERS = ("echo", "scripted")
PROVIDERS = ("anthropic", "openai", *OFFLINE_PROVIDERS)

NO_MODEL_HINT = "Set ANTHROPIC_API_KEY or OPENAI_API_KEY, or run with --model echo"


@dataclass(frozen=True)
class ModelChoice:
    provider: str
    name: str
    account: str | None = None

    @property
    def spec(self) -> str:
        return self.provider if self.provider == "echo" else f"{self.provider}:{self.name}"

    @property
    def offline(self) -> bool:
        return self.provider in OFFLINE_PROVIDERS


def parse_model(spec: str) -> tuple[str, str]:
    provider, _, name = spec.strip().partition(":")
    provider = provider.lower()
    if provider not in PROVIDERS:
        raise ConfigError(
            f"unknown model {spec!r}",
            "Use echo, scripted:PATH, anthropic[:NAME] or openai[:NAME]",
        )
    if provider == "scripted":
        if not name:
            raise ConfigError("scripted needs a file: scripted:PATH", "Give the script's path")
        name = str(Path(name).expanduser().resolve())
    elif provider == "echo":
        name = "echo"
    else:
        name = name or DEFAULT_MODELS[provider]
    return provider, name


def choose_model(
    settings: Settings,
    *,
    flag: str | None = None,
    group_model: str | None = None,
    group_account: str | None = None,
) -> ModelChoice:
    spec = flag or group_model or settings.model
    if not spec:
        spec = next((p for p in ("anthropic", "openai") if _has_account_for(settings, p)), None)
    if not spec:
        raise ConfigError("no model configured", NO_MODEL_HINT)
    provider, name = parse_model(spec)
    if provider in OFFLINE_PROVIDERS:
        return ModelChoice(provider, name)
    account_name = group_account or settings.account or provider
    account = settings.accounts.get(account_name)
    if account is None:
        raise ConfigError(
            f"no account {account_name!r} for model {provider}:{name}",
            f"Set {provider.upper()}_API_KEY or add [accounts.{account_name}] to config.toml",
        )
    if account.provider != provider:
        raise ConfigError(
            f"account {account_name!r} is for {account.provider}, not {provider}",
            "Pick a model of the account's provider or another account",
        )
    if account.api_key is None and not account.base_url:
        raise ConfigError(
            f"account {account_name!r} has no api_key",
            f"Set {provider.upper()}_API_KEY or api_key in [accounts.{account_name}]",
        )
    return ModelChoice(provider, name, account_name)


def account_for(settings: Settings, choice: ModelChoice) -> Account | None:
    return settings.accounts.get(choice.account) if choice.account else None


def _has_account_for(settings: Settings, provider: str) -> bool:
    return any(
        a.provider == provider and (a.api_key or a.base_url) for a in settings.accounts.values()
    )
