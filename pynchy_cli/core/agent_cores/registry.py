"""Build the agent core a run uses from its ModelChoice and the account behind it.

Cores are registered by plugins (pynchy_agent_cores: factory(choice, settings) ->
AgentCore); the built-in ones are the factories below.
"""

from __future__ import annotations

from pynchy_cli.core.agent_cores.base import AgentCore
from pynchy_cli.core.config import Settings
from pynchy_cli.core.errors import ConfigError
from pynchy_cli.core.models import ModelChoice, account_for, providers


def make_core(choice: ModelChoice, settings: Settings) -> AgentCore:
    """The core for a choice, from the provider's registered factory."""
    from pynchy_cli.core.plugins.manager import plugins_for

    factory = plugins_for(settings).registry.agent_cores.get(choice.provider)
    if factory is None:
        raise ConfigError(
            f"unknown provider {choice.provider!r}",
            f"Use one of: {', '.join(providers(settings))}",
        )
    return factory(choice, settings)


# --- the built-in cores (registered by core.plugins.builtins) -----------------------------


def echo_core(choice: ModelChoice, settings: Settings) -> AgentCore:
    from pynchy_cli.core.agent_cores.offline import EchoCore

    return EchoCore()


def scripted_core(choice: ModelChoice, settings: Settings) -> AgentCore:
    from pynchy_cli.core.agent_cores.offline import ScriptedCore

    return ScriptedCore(choice.name)


def anthropic_core(choice: ModelChoice, settings: Settings) -> AgentCore:
    from pynchy_cli.core.agent_cores.anthropic import AnthropicCore

    api_key, base_url = _credentials(choice, settings)
    return AnthropicCore(choice.name, api_key, base_url)


def openai_core(choice: ModelChoice, settings: Settings) -> AgentCore:
    from pynchy_cli.core.agent_cores.openai import OpenAICore

    api_key, base_url = _credentials(choice, settings)
    return OpenAICore(choice.name, api_key, base_url)


def _credentials(choice: ModelChoice, settings: Settings) -> tuple[str | None, str | None]:
    """The account's key and base url. The key is read from its SecretStr here and handed
    only to the provider's client."""
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
    return api_key, account.base_url
