"""Build the model core a run uses from its ModelChoice and the account behind it."""

from __future__ import annotations

from pynchy_cli.core.config import Settings
from pynchy_cli.core.errors import ConfigError
from pynchy_cli.core.models import ModelChoice, account_for
from pynchy_cli.core.providers.base import ModelCore


def make_core(choice: ModelChoice, settings: Settings) -> ModelCore:
    """The core for a choice. The api key is read from the account's SecretStr here and
    handed only to the provider's client."""
    if choice.provider == "echo":
        from pynchy_cli.core.providers.offline import EchoCore

        return EchoCore()
    if choice.provider == "scripted":
        from pynchy_cli.core.providers.offline import ScriptedCore

        return ScriptedCore(choice.name)
    if choice.provider not in ("anthropic", "openai"):
        raise ConfigError(
            f"unknown provider {choice.provider!r}", "Use echo, scripted:PATH, anthropic or openai"
        )
    account = account_for(settings, choice)
    if account is None:
        name = choice.account or choice.provider
        raise ConfigError(
            f"no account {name!r} for model {choice.spec}",
            f"Set {choice.provider.upper()}_API_KEY or add [accounts.{name}] to config.toml",
        )
    if account.provider != choice.provider:
        raise ConfigError(
            f"account {choice.account!r} is for {account.provider}, not {choice.provider}",
            "Pick a model of the account's provider or another account",
        )
    api_key = account.api_key.get_secret_value() if account.api_key is not None else None
    if choice.provider == "anthropic":
        from pynchy_cli.core.providers.anthropic import AnthropicCore

        return AnthropicCore(choice.name, api_key, account.base_url)
    from pynchy_cli.core.providers.openai import OpenAICore

    return OpenAICore(choice.name, api_key, account.base_url)
