"""Settings: defaults < config.toml < environment (PYNCHY_*) < flags, validated on load.

Nested keys come from the environment with a double underscore:
`PYNCHY_LIMITS__RUN_TIMEOUT=60`. Provider keys are also read from their usual
variables (ANTHROPIC_API_KEY, OPENAI_API_KEY, and *_BASE_URL) into the accounts
`anthropic` and `openai`, unless config.toml defines those accounts itself.
"""

from __future__ import annotations

import os
import re
import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from pynchy_cli.core.errors import ConfigError, PynchyError
from pynchy_cli.core.logs.settings import LogSettings
from pynchy_cli.core.paths import Paths
from pynchy_cli.core.periodic.settings import PeriodicSettings
from pynchy_cli.core.scaling.settings import RaySettings
from pynchy_cli.core.update.settings import AdminSettings
from pynchy_cli.core.voice.settings import VoiceSettings

Provider = Literal["anthropic", "openai"]
# auto, podman, docker, process, or a runtime a plugin registers (checked by get_runtime)
RuntimeKind = str

DEFAULT_MODELS: dict[str, str] = {
    "anthropic": "claude-sonnet-5-5",
    "openai": "gpt-4.1-mini",
}


class Budget(BaseModel):
    """Spending caps per local calendar day and month, in USD and/or tokens (input, cached
    input included, plus output). Checked on the host before each model call
    (core.budgets); a cap left out is no cap."""

    model_config = {"extra": "forbid"}

    daily_usd: float | None = Field(None, gt=0)
    monthly_usd: float | None = Field(None, gt=0)
    daily_tokens: int | None = Field(None, gt=0)
    monthly_tokens: int | None = Field(None, gt=0)


class Account(BaseModel):
    """Credentials for one provider subscription. They never leave the host."""

    provider: Provider
    api_key: SecretStr | None = None
    base_url: str | None = None
    context_window: int | None = Field(
        None, ge=1_000, description="tokens the account's models read at once (a local server)"
    )
    budget: Budget | None = None
    # Accounts of the same provider to move to when this one is rate limited or out of credit.
    fallbacks: list[str] = []


class PriceSettings(BaseModel):
    """[prices."PROVIDER:MODEL"]: USD per million tokens, for models the built-in table
    does not know or prices differently (core.agent_cores.pricing)."""

    model_config = {"extra": "forbid"}

    input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)
    cache_read_per_mtok: float | None = Field(None, ge=0)  # unset: the input price
    cache_write_per_mtok: float | None = Field(None, ge=0)  # unset: the input price


class Limits(BaseModel):
    cpus: float = Field(1.0, gt=0)
    memory: str = "1g"
    run_timeout: int = Field(600, gt=0, description="seconds before a run is killed")
    idle_timeout: int = Field(60, ge=0, description="seconds a warm container waits")
    max_concurrent: int = Field(4, gt=0)
    max_request_bytes: int = Field(1_048_576, gt=0, description="cap on one socket request")
    max_turns: int = Field(50, gt=0, description="model turns per prompt")
    approval_timeout: int = Field(
        300, gt=0, description="seconds a person has to approve a tool call; then denied"
    )
    max_delegate_depth: int = Field(
        2, ge=0, description="how deep delegates may nest below the run a person started"
    )
    max_delegates: int = Field(5, ge=0, description="delegate calls per run")
    max_handoffs: int = Field(3, ge=0, description="handoffs in a row, one after another")


class ContextSettings(BaseModel):
    """[context]: keeping long conversations inside the model's context window and the
    socket's cap (see core.agent.context_window)."""

    model_config = {"extra": "forbid"}

    compact_at: float = Field(
        0.75, ge=0.2, le=0.95, description="compact older turns past this share of the room"
    )
    keep_recent: float = Field(
        0.35, ge=0.05, le=0.8, description="share of the room the newest turns keep verbatim"
    )
    max_tool_result: int = Field(
        50_000, ge=1_000, le=100_000, description="characters of one tool result kept"
    )
    windows: dict[str, int] = Field(
        {}, description='context window in tokens by model: {"openai:llama3" = 8192}'
    )
    default_window: int = Field(32_000, ge=1_000, description="window of unknown models")

    @model_validator(mode="after")
    def _keep_below_compact(self) -> ContextSettings:
        if self.keep_recent >= self.compact_at:
            raise ValueError("keep_recent must be smaller than compact_at")
        return self


Tier = Literal["read", "write", "external", "destructive"]
Flag = Literal["untrusted_input", "secret_data", "public_sink"]
PROFILE_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


class ProfileSettings(BaseModel):
    """[profiles.NAME]: a security profile (see core.policy.profiles). Fields left out keep
    the values of the built-in profile of the same name, else of `extends`."""

    model_config = {"extra": "forbid"}

    extends: str | None = None
    description: str | None = None
    tools: list[str] | None = None  # allowed tools: names or patterns (mcp__git__*)
    mcp_servers: list[str] | None = None  # allowed MCP servers: names or patterns
    tiers: dict[str, Tier] | None = None  # tier overrides by full tool name or pattern
    ask: list[Tier] | None = None  # tiers a person approves
    refuse: list[Tier] | None = None  # tiers never offered nor run
    rate_limits: dict[str, str] | None = None  # tool pattern -> "20/minute"
    network: bool | None = None  # groups with this profile may have --network
    min_schedule_interval: str | None = None  # tasks agents schedule fire at most this often
    max_active_tasks: int | None = Field(None, ge=0)

    @field_validator("rate_limits")
    @classmethod
    def _rates(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        from pynchy_cli.core.policy.limits import parse_rate

        for rate in (value or {}).values():
            parse_rate(rate)
        return value

    @field_validator("min_schedule_interval")
    @classmethod
    def _interval(cls, value: str | None) -> str | None:
        if value is not None:
            from pynchy_cli.core.tasks import parse_interval

            try:
                parse_interval(value)
            except PynchyError as exc:
                raise ValueError(exc.message) from None
        return value


class AgentSettings(BaseModel):
    """[agents.NAME]: an agent profile that delegate and handoff can name (see
    core.agent.profiles). Fields left out: the group's (model, account, security profile)
    or the defaults in [limits]."""

    model_config = {"extra": "forbid"}

    description: str = ""  # shown to the agents that may call it
    model: str | None = None
    account: str | None = None
    tools: list[str] | None = None  # allowed tools: names or patterns; unset: all offered
    system_prompt: str | None = None
    system_prompt_file: str | None = None  # relative to the config folder
    security_profile: str | None = None  # a [profiles.X] name
    max_depth: int | None = Field(None, ge=0)  # levels it may delegate below itself
    max_children: int | None = Field(None, ge=0)  # delegate calls per run of it
    ask: bool = False  # a person approves each delegate or handoff to it
    groups: list[str] | None = None  # groups that may use it; unset: every group

    @model_validator(mode="after")
    def _one_prompt(self) -> AgentSettings:
        if self.system_prompt is not None and self.system_prompt_file is not None:
            raise ValueError("give system_prompt or system_prompt_file, not both")
        return self


class McpServerSettings(BaseModel):
    """[mcp.NAME]: an MCP server the host runs for agents (see core.plugins.mcp)."""

    model_config = {"extra": "forbid"}

    command: list[str] | None = None
    url: str | None = None
    env: dict[str, str] = {}
    headers: dict[str, str] = {}
    groups: list[str] | None = None
    # The tier of tools that carry no MCP annotations; unset: destructive (core.policy.tiers).
    risk: Tier | None = None
    tiers: dict[str, Tier] = Field({}, description="per-tool tiers, e.g. {git_status = 'read'}")
    flags: list[Flag] = Field([], description="trifecta flags of every tool of the server")
    tool_flags: dict[str, list[Flag]] = Field({}, description="per-tool trifecta flags")
    description: str = ""
    cwd: str | None = None
    timeout: float = Field(120.0, gt=0)
    enabled: bool = True
    # Servers that see the workspace (checked by core.plugins.mcp.check_placement).
    container: bool = Field(False, description="run it in its own container, /workspace mounted")
    image: str | None = Field(None, description="container: its image (default: the agent's)")
    network: bool = Field(False, description="container: a network, if the profile allows it")
    map_paths: bool = Field(False, description="on the host: map /workspace/... arguments")
    idle_stop: float | None = Field(None, gt=0, description="seconds unused before it stops")
    shareable: bool = Field(False, description="one server for every group, no workspace")

    @model_validator(mode="after")
    def _command_or_url(self) -> McpServerSettings:
        if self.enabled and (self.command is None) == (self.url is None):
            raise ValueError("give either command or url")
        if self.command is not None and not self.command:
            raise ValueError("command must not be empty")
        return self


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8787, gt=0, lt=65536)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PYNCHY_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    assistant_name: str = "Pynchy"
    model: str | None = Field(
        None, description="default model, e.g. echo, anthropic:claude-sonnet-5-5, openai:gpt-4o"
    )
    account: str | None = Field(None, description="default account name")
    runtime: RuntimeKind = "auto"
    allow_process_runtime: bool = False
    container_socket: str | None = None
    image: str = "localhost/pynchy-agent:latest"
    agent_uid: int = Field(
        10001, gt=0, description="uid (and gid) agents run as when pynchy runs as root"
    )
    limits: Limits = Limits()
    # local: an asyncio semaphore (limits.max_concurrent); ray: Ray places runs (docs/scaling.md)
    scaling: Literal["local", "ray"] = "local"
    ray: RaySettings = RaySettings()
    context: ContextSettings = ContextSettings()
    voice: VoiceSettings = VoiceSettings()  # voice messages in, spoken replies out
    api: ApiSettings = ApiSettings()
    admin: AdminSettings = AdminSettings()  # POST /admin/update, off unless admin.listen
    logs: LogSettings = LogSettings()  # per-session JSONL logs (core.logs): rotation, pruning
    accounts: dict[str, Account] = {}
    plugin: dict[str, dict[str, Any]] = Field(
        {}, description="per-plugin settings: [plugin.NAME], with enabled = false to disable"
    )
    mcp: dict[str, McpServerSettings] = Field(
        {}, description="MCP servers the host runs for agents: [mcp.NAME]"
    )
    profiles: dict[str, ProfileSettings] = Field(
        {}, description="security profiles groups are given: [profiles.NAME]"
    )
    agents: dict[str, AgentSettings] = Field(
        {}, description="agent profiles for delegate and handoff: [agents.NAME]"
    )
    prices: dict[str, PriceSettings] = Field(
        {}, description='model prices in USD per million tokens: [prices."PROVIDER:MODEL"]'
    )
    periodic: dict[str, PeriodicSettings] = Field(
        {}, description="periodic agents, or changes to shipped ones: [periodic.NAME]"
    )

    @field_validator("prices")
    @classmethod
    def _price_keys(cls, value: dict[str, PriceSettings]) -> dict[str, PriceSettings]:
        for key in value:
            provider, _, model = key.partition(":")
            if not provider or not model:
                raise ValueError(f"price key {key!r}: write it as PROVIDER:MODEL")
        return value

    @field_validator("agents")
    @classmethod
    def _agent_names(cls, value: dict[str, AgentSettings]) -> dict[str, AgentSettings]:
        for name in value:
            if not PROFILE_NAME_RE.match(name):
                raise ValueError(f"agent name {name!r}: use lowercase letters, digits, - or _")
        return value

    @field_validator("profiles")
    @classmethod
    def _profile_names(cls, value: dict[str, ProfileSettings]) -> dict[str, ProfileSettings]:
        for name in value:
            if not PROFILE_NAME_RE.match(name):
                raise ValueError(f"profile name {name!r}: use lowercase letters, digits, - or _")
        return value

    @field_validator("assistant_name")
    @classmethod
    def _name_is_a_word(cls, value: str) -> str:
        if not value or not value.replace("-", "").replace("_", "").isalnum():
            raise ValueError("must be a single word of letters, digits, - or _")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = InitSettingsSource(settings_cls, init_kwargs=_toml_data.get({}))
        return (init_settings, env_settings, toml)


_toml_data: ContextVar[dict[str, Any]] = ContextVar("_toml_data")

_SECRET_KEY = re.compile(r"token|key|secret|password", re.IGNORECASE)

_PROVIDER_ENV = {
    "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL"),
    "openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL"),
}


def read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{path} is not valid TOML ({exc})",
            "Fix the file or move it aside; nothing was changed",
        ) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path} ({exc.strerror})", "Check its permissions") from exc


def load_settings(paths: Paths, overrides: dict[str, Any] | None = None) -> Settings:
    """Load and validate settings. `overrides` are the command line's flags (highest)."""
    data = read_toml(paths.config_file)
    flags = {k: v for k, v in (overrides or {}).items() if v is not None}
    token = _toml_data.set(data)
    try:
        settings = Settings(**flags)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "config"
        raise ConfigError(
            f"invalid setting {where}: {err['msg']}",
            f"Check {paths.config_file} and PYNCHY_* variables",
        ) from exc
    finally:
        _toml_data.reset(token)
    _add_env_accounts(settings)
    _check_fallbacks(settings, paths)
    return settings


def _add_env_accounts(settings: Settings) -> None:
    for provider, (key_var, url_var) in _PROVIDER_ENV.items():
        if provider in settings.accounts:
            continue
        key, url = os.environ.get(key_var), os.environ.get(url_var)
        if key or url:
            settings.accounts[provider] = Account(
                provider=provider,  # type: ignore[arg-type]
                api_key=SecretStr(key) if key else None,
                base_url=url or None,
            )


def _check_fallbacks(settings: Settings, paths: Paths) -> None:
    """Fallbacks name other accounts of the same provider (after the environment's)."""
    for name, account in settings.accounts.items():
        for other in account.fallbacks:
            target = settings.accounts.get(other)
            problem = None
            if other == name:
                problem = "names the account itself"
            elif target is None:
                problem = f"names no account {other!r}"
            elif target.provider != account.provider:
                problem = f"names {other!r}, an account of {target.provider}"
            if problem:
                raise ConfigError(
                    f"invalid setting accounts.{name}.fallbacks: {problem}",
                    f"Fallbacks are other [accounts.NAME] of {account.provider}; "
                    f"check {paths.config_file}",
                )


def masked(settings: Settings) -> dict[str, Any]:
    """Settings as plain data with every secret replaced, safe to print or log."""
    data = settings.model_dump(mode="json")
    for account in data.get("accounts", {}).values():
        if account.get("api_key"):
            account["api_key"] = "**** (set)"
    for table in data.get("plugin", {}).values():
        for key in table:
            if _SECRET_KEY.search(key) and table[key]:
                table[key] = "**** (set)"
    for server in data.get("mcp", {}).values():  # MCP credentials live in env and headers
        for part in ("env", "headers"):
            for key in server.get(part) or {}:
                server[part][key] = "**** (set)"
    return data
