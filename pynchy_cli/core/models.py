"""Which model a run uses, and with which account.

A model is written `PROVIDER:NAME` (`anthropic:claude-sonnet-5-5`, `openai:gpt-4o-mini`),
a bare provider (its default model), `echo` (deterministic, offline) or
`scripted:PATH` (replays a JSON script of tool calls; for tests and demos). Providers are
the agent cores plugins register: the built-in four, and any a plugin adds
(`myprovider:NAME`). Plugin providers take no [accounts.X]: they read their own settings
from [plugin.NAME].
Precedence: the command's --model, then the group's model, then the configured default,
then whichever provider has a key in the environment.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pynchy_cli.core.config import DEFAULT_MODELS, Account, Settings
from pynchy_cli.core.errors import ConfigError

OFFLINE_PROVIDERS = ("echo", "scripted")
ACCOUNT_PROVIDERS = ("anthropic", "openai")  # these take an [accounts.X]
UNKNOWN_MODEL_HINT = "Use echo, scripted:PATH, anthropic[:NAME] or openai[:NAME]"

NO_MODEL_HINT = "Set ANTHROPIC_API_KEY or OPENAI_API_KEY, or run with --model echo"


@dataclass(frozen=True)
class ModelChoice:
    provider: str
    name: str
    account: str | None = None

    @property
    def spec(self) -> str:
        if self.provider == "echo" or not self.name:
            return self.provider
        return f"{self.provider}:{self.name}"

    @property
    def offline(self) -> bool:
        return self.provider in OFFLINE_PROVIDERS


def providers(settings: Settings | None = None) -> tuple[str, ...]:
    """Every provider a model can name: the agent cores registered by plugins."""
    from pynchy_cli.core.plugins.manager import plugins_for

    return tuple(plugins_for(settings).registry.agent_cores)


def __getattr__(name: str) -> object:
    if name == "PROVIDERS":  # computed: plugins may add providers
        return providers()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def parse_model(spec: str, settings: Settings | None = None) -> tuple[str, str]:
    provider, _, name = spec.strip().partition(":")
    provider = provider.lower()
    known = providers(settings)
    if provider not in known:
        hint = UNKNOWN_MODEL_HINT
        extra = [p for p in known if p not in (*ACCOUNT_PROVIDERS, *OFFLINE_PROVIDERS)]
        if extra:
            hint += f" (from plugins: {', '.join(f'{p}[:NAME]' for p in extra)})"
        raise ConfigError(f"unknown model {spec!r}", hint)
    if provider == "scripted":
        if not name:
            raise ConfigError("scripted needs a file: scripted:PATH", "Give the script's path")
        name = str(Path(name).expanduser().resolve())
    elif provider == "echo":
        name = "echo"
    elif provider in DEFAULT_MODELS:
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
    provider, name = parse_model(spec, settings)
    if provider not in ACCOUNT_PROVIDERS:  # offline, or a plugin's: no account
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
