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
from pynchy_cli.core.paths import Paths

Provider = Literal["anthropic", "openai"]
# auto, podman, docker, process, or a runtime a plugin registers (checked by get_runtime)
RuntimeKind = str

DEFAULT_MODELS: dict[str, str] = {
    "anthropic": "claude-sonnet-5-5",
    "openai": "gpt-4.1-mini",
}


class Account(BaseModel):
    """Credentials for one provider subscription. They never leave the host."""

    provider: Provider
    api_key: SecretStr | None = None
    base_url: str | None = None


class Limits(BaseModel):
    cpus: float = Field(1.0, gt=0)
    memory: str = "1g"
    run_timeout: int = Field(600, gt=0, description="seconds before a run is killed")
    idle_timeout: int = Field(60, ge=0, description="seconds a warm container waits")
    max_concurrent: int = Field(4, gt=0)
    max_request_bytes: int = Field(1_048_576, gt=0, description="cap on one socket request")
    max_turns: int = Field(50, gt=0, description="model turns per run")
    approval_timeout: int = Field(
        300, gt=0, description="seconds a person has to approve a tool call; then denied"
    )


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
    api: ApiSettings = ApiSettings()
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
